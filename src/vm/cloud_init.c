/*
 * --cloud-init: the NoCloud seed cloud-init looks for, a volume labelled
 * "cidata" holding user-data, meta-data and (optionally) network-config,
 * as cloud-localds makes it.  xorriso (Debian's xorriso package) writes
 * it as ISO 9660 with Rock Ridge and Joliet names into a temporary
 * directory that is gone again before the guest starts; the VM keeps
 * the open file and sees it as one more read-only virtio disk.
 *
 * Without meta-data wirt writes one whose instance-id is a hash of the
 * user-data: the same configuration is the same instance on every boot
 * (cloud-init runs its per-instance steps once), a changed one is new.
 */
#include "vm/cloud_init.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/file.h"
#include "util/log.h"

#define SEED_FILE_MAX (16u << 20)

extern char **environ;

/* Copy the user's file (or data) to dir/name. */
static int put_file(const char *dir, const char *name, const char *from,
		    const void *data, size_t len)
{
	char path[4096];
	void *buf = NULL;
	int fd, ret = 0;

	if (from) {
		ret = file_read_all(from, SEED_FILE_MAX, &buf, &len);
		if (ret) {
			log_error("--cloud-init: cannot read %s '%s': %s", name,
				  from, strerror(-ret));
			return ret;
		}
		data = buf;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
	} else {
		ssize_t n = write(fd, data, len);

		if (n != (ssize_t)len)
			ret = n < 0 ? -errno : -EIO;
		close(fd);
	}
	free(buf);
	if (ret)
		log_error("--cloud-init: cannot write %s: %s", path, strerror(-ret));
	return ret;
}

/* A stable instance-id for a user-data file: FNV-1a of its bytes. */
static int default_meta_data(const char *user_data, char *out, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *p;
	size_t n, i;
	void *buf;
	int ret;

	ret = file_read_all(user_data, SEED_FILE_MAX, &buf, &n);
	if (ret) {
		log_error("--cloud-init: cannot read user-data '%s': %s",
			  user_data, strerror(-ret));
		return ret;
	}
	for (p = buf, i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	free(buf);
	snprintf(out, len, "instance-id: iid-wirt-%016llx\n",
		 (unsigned long long)h);
	return 0;
}

static int run_xorriso(const char *iso, const char *files)
{
	char *argv[] = { "xorriso", "-as", "mkisofs", "-quiet", "-o",
			 (char *)iso, "-V", "cidata", "-J", "-R",
			 (char *)files, NULL };
	posix_spawn_file_actions_t fa;
	int status, ret;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 2, 1);
	ret = posix_spawnp(&pid, "xorriso", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret) {
		log_error("--cloud-init: cannot run xorriso (%s); install Debian's xorriso package (apt-get install xorriso)",
			  strerror(ret));
		return -ret;
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		log_error("--cloud-init: xorriso could not write the seed volume");
		return -EIO;
	}
	return 0;
}

static void remove_tree(const char *dir)
{
	static const char *const names[] = {
		"files/user-data", "files/meta-data", "files/network-config",
		"files", "seed.iso",
	};
	char path[4200];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path) && errno == EISDIR)
			rmdir(path);
	}
	rmdir(dir);
}

int cloud_init_seed_build(const struct cloud_init_config *c)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096], files[4200], iso[4200], meta[64];
	int ret, fd = -1;

	snprintf(dir, sizeof(dir), "%s/wirt-cidata-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		ret = -errno;
		log_error("--cloud-init: cannot make a temporary directory: %s",
			  strerror(errno));
		return ret;
	}
	snprintf(files, sizeof(files), "%s/files", dir);
	snprintf(iso, sizeof(iso), "%s/seed.iso", dir);
	ret = mkdir(files, 0700) ? -errno : 0;
	if (!ret)
		ret = put_file(files, "user-data", c->user_data, NULL, 0);
	if (!ret && !c->meta_data) {
		ret = default_meta_data(c->user_data, meta, sizeof(meta));
		if (!ret)
			ret = put_file(files, "meta-data", NULL, meta, strlen(meta));
	} else if (!ret) {
		ret = put_file(files, "meta-data", c->meta_data, NULL, 0);
	}
	if (!ret && c->network_config)
		ret = put_file(files, "network-config", c->network_config, NULL, 0);
	if (!ret)
		ret = run_xorriso(iso, files);
	if (!ret) {
		fd = open(iso, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			ret = -errno;
	}
	remove_tree(dir);
	return ret ? ret : fd;
}

/* --cloud-init: the NoCloud seed volume (vm/cloud_init.h). */
#include "vm/cloud_init.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/vfat_writer.h"
#include "hw/disk_spec.h"
#include "hw/virtio/virtio.h"
#include "util/file.h"
#include "util/log.h"
#include "util/parse.h"

/* The names NoCloud reads, in enum cloud_init_file order. */
static char *const file_names[] = {
	"user-data", "meta-data", "network-config", "vendor-data", NULL
};

int cloud_init_parse_option(struct cloud_init_config *c, const char *arg,
			    char *err, size_t err_len)
{
	size_t len = strlen(arg) + 1, dir_len;
	char *opts, *value;
	struct stat st;
	int i;

	if (c->set)
		return errorf(err, err_len, -EINVAL, "--cloud-init: give it once");
	if (!*arg)
		return errorf(err, err_len, -EINVAL,
			      "--cloud-init: give user-data=FILE[,meta-data=FILE]... or a directory");
	if (!strchr(arg, '=')) {
		/* A seed directory: the files of the known names it has. */
		if (stat(arg, &st) || !S_ISDIR(st.st_mode))
			return errorf(err, err_len, -EINVAL,
				      "--cloud-init %s: not a directory (or give user-data=FILE,...)",
				      arg);
		dir_len = strlen(arg);
		opts = c->storage;
		for (i = 0; file_names[i]; i++) {
			size_t need = dir_len + strlen(file_names[i]) + 2;

			if (need > sizeof(c->storage) - (size_t)(opts - c->storage))
				return errorf(err, err_len, -EINVAL,
					      "--cloud-init %s: the path is too long", arg);
			snprintf(opts, need, "%s/%s", arg, file_names[i]);
			if (!access(opts, F_OK)) {
				c->paths[i] = opts;
				opts += need;
			}
		}
		if (!c->paths[CLOUD_INIT_USER_DATA])
			return errorf(err, err_len, -EINVAL,
				      "--cloud-init %s: the directory has no user-data file", arg);
		c->set = true;
		return 0;
	}
	if (len > sizeof(c->storage))
		return errorf(err, err_len, -EINVAL, "--cloud-init: the option is too long");
	opts = memcpy(c->storage, arg, len);
	while (*opts) {
		char *start = opts;

		i = getsubopt(&opts, file_names, &value);
		if (i < 0)
			return errorf(err, err_len, -EINVAL,
				      "--cloud-init: unknown key '%s' (known: user-data, "
				      "meta-data, network-config, vendor-data)", start);
		if (!value || !*value)
			return errorf(err, err_len, -EINVAL,
				      "--cloud-init: %s needs a file name", file_names[i]);
		if (access(value, R_OK))
			return errorf(err, err_len, -EINVAL, "--cloud-init: %s=%s: %s",
				      file_names[i], value, strerror(errno));
		c->paths[i] = value;
	}
	if (!c->paths[CLOUD_INIT_USER_DATA])
		return errorf(err, err_len, -EINVAL,
			      "--cloud-init: user-data=FILE is required");
	c->set = true;
	return 0;
}

/* FNV-1a: a stable instance-id for the same user-data. */
static uint32_t fnv1a(uint32_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/*
 * The seed in a memory file: the user's files, and when meta-data is not
 * given, one with an instance-id that stays the same as long as the other
 * files do (cloud-init runs its once-per-instance steps again when the
 * instance-id changes).
 */
static int seed_build(const struct cloud_init_config *c, int *out_fd)
{
	struct vfat_file files[CLOUD_INIT_NFILES];
	void *data[CLOUD_INIT_NFILES] = { 0 };
	char meta[64];
	uint32_t id = 2166136261u;
	unsigned n = 0, i;
	int fd = -1, ret = 0;

	for (i = 0; i < CLOUD_INIT_NFILES && !ret; i++) {
		size_t len;

		if (!c->paths[i])
			continue;
		ret = file_read_all(c->paths[i], VFAT_MAX_BYTES, &data[i], &len);
		if (ret) {
			log_error("--cloud-init: %s %s: %s", file_names[i], c->paths[i],
				  ret == -EFBIG ? "larger than a seed can hold (15 MiB)"
						: strerror(-ret));
			break;
		}
		files[n++] = (struct vfat_file){ file_names[i], data[i], len };
		id = fnv1a(id, data[i], len);
	}
	if (!ret && !c->paths[CLOUD_INIT_META_DATA]) {
		snprintf(meta, sizeof(meta), "instance-id: iid-wirt-%08x\n", id);
		files[n++] = (struct vfat_file){ "meta-data", meta, strlen(meta) };
	}
	if (!ret) {
		fd = memfd_create("cidata", MFD_CLOEXEC);
		ret = fd < 0 ? -errno : vfat_write(fd, "cidata", files, n);
		if (ret)
			log_error("--cloud-init: cannot write the seed: %s",
				  ret == -EFBIG ? "the files are larger than 15 MiB together"
						: strerror(-ret));
	}
	for (i = 0; i < CLOUD_INIT_NFILES; i++)
		free(data[i]);
	if (ret && fd >= 0)
		close(fd);
	else
		*out_fd = fd;
	return ret;
}

int cloud_init_attach(struct vm *vm, const struct cloud_init_config *c)
{
	char path[32], format[] = "raw";
	struct disk_spec ds = {
		.path = path, .format = format, .read_only = true,
		.iface = DISK_IF_VIRTIO, .bootindex = -1, .serial = "cidata",
	};
	int fd, ret;

	ret = seed_build(c, &fd);
	if (ret)
		return ret;
	/* The disk layer opens files by name: this one's is in /proc. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ret = virtio_blk_create(vm, &ds);
	close(fd);
	return ret;
}

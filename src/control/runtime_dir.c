/* Runtime directories of named VMs (runtime_dir.h). */
#include "control/runtime_dir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

static struct {
	char dir[256];
	int pid_fd;
	bool claimed;
} rt = { .pid_fd = -1 };

bool vm_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n > VM_NAME_MAX || !isalnum((unsigned char)name[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

int runtime_base(char *buf, size_t len)
{
	const char *env = getenv("WIRT_RUNTIME_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/wirt");
	else if (xdg && *xdg)
		n = snprintf(buf, len, "%s/wirt", xdg);
	else
		n = snprintf(buf, len, "/tmp/wirt-%u", (unsigned)geteuid());
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * Lock fd's whole file for writing; 0, or the pid that holds it (> 0).
 * A POSIX record lock goes when its process closes any descriptor of the
 * file: the VM's process must never open its pid file a second time.
 */
static pid_t lock_file(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK && fl.l_pid > 0)
		return fl.l_pid;
	return 1; /* held, holder unknown */
}

/* Remove the files of a directory (not subdirectories) and the directory. */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	if (d) {
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* Make path (mode) and its missing parents (0755: a --runas user must get
 * through them to its own directory). */
static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[256];
	char *p;

	if (strlen(path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	strcpy(tmp, path);
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/*
 * Remove the stale directories beside ours (wirts killed or ended by the
 * sandbox leave theirs), so that they do not pile up.  Never opens our
 * own pid file: closing it would drop our lock.
 */
static void sweep(const char *base, const char *own)
{
	DIR *d = opendir(base);
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, own) ||
		    !vm_name_valid(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
		runtime_dir_check(path);
	}
	closedir(d);
}

/* Is the file open on fd the one at path (not unlinked meanwhile)? */
static bool still_linked(int fd, const char *path)
{
	struct stat a, b;

	return !fstat(fd, &a) && !stat(path, &b) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void release_at_exit(void)
{
	/* Only the main thread: the sandbox gives other threads no unlink
	 * (a die() there leaves a stale directory, cleaned later). */
	if (gettid() == getpid())
		runtime_dir_release();
}

int runtime_dir_claim(const char *name, char *dir, size_t len)
{
	char base[200], path[300], buf[32];
	pid_t holder;
	int fd, ret, n, attempt;

	ret = runtime_base(base, sizeof(base));
	if (!ret && snprintf(dir, len, "%s/%s", base, name) >= (int)len)
		ret = -ENAMETOOLONG;
	if (!ret)
		ret = mkdir_p(dir, 0700);
	if (ret) {
		log_error("cannot create the runtime directory %s: %s "
			  "(WIRT_RUNTIME_DIR names another place)", dir, strerror(-ret));
		return ret;
	}
	snprintf(path, sizeof(path), "%s/pid", dir);
	for (attempt = 0;; attempt++) {
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 && errno == ENOENT && !mkdir_p(dir, 0700))
			/* wirt ls removed it as stale in between: once more */
			fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			ret = -errno;
			log_error("cannot open %s: %s", path, strerror(errno));
			return ret;
		}
		/* Another wirt sweeping stale directories holds the lock for
		 * an instant (runtime_dir_check): only a lock that stays is a
		 * VM. */
		for (n = 0; (holder = lock_file(fd)) && n < 20; n++)
			usleep(10000);
		/* A sweep may have removed the (still stale-looking) file
		 * between our open and our lock: a lock on an unlinked file
		 * would hide this VM from wirt ls.  Then claim it anew. */
		if (holder || attempt == 10 || still_linked(fd, path))
			break;
		close(fd);
		mkdir_p(dir, 0700);
	}
	if (holder) {
		close(fd);
		log_error("--name %s: a VM of that name is already running "
			  "(pid %d); choose another name", name, (int)holder);
		return -EEXIST;
	}
	/* Ours now; whatever else is here was left by a killed wirt. */
	rt.pid_fd = fd;
	snprintf(rt.dir, sizeof(rt.dir), "%s", dir);
	rt.claimed = true;
	snprintf(path, sizeof(path), "%s/qmp.sock", dir);
	unlink(path);
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, n, 0) != n) {
		ret = -errno;
		log_error("cannot write %s/pid: %s", dir, strerror(errno));
		runtime_dir_release();
		return ret;
	}
	/* die() and other exits that skip run_control_end clean up too. */
	atexit(release_at_exit);
	sweep(base, name);
	return 0;
}

int runtime_dir_write_info(const char *json)
{
	char path[300], tmp[310];
	FILE *f;

	if (!rt.claimed)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/info", rt.dir);
	snprintf(tmp, sizeof(tmp), "%s/info.tmp", rt.dir);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%s\n", json);
	if (fclose(f) || rename(tmp, path) < 0)
		return -errno;
	return 0;
}

void runtime_dir_chown(uid_t uid, gid_t gid, const char *path)
{
	static const char *const files[] = { "", "/pid", "/info", "/qmp.sock",
					      "/console.sock", "/log" };
	char p[300];
	size_t i;

	if (path && lchown(path, uid, gid) < 0 && errno != ENOENT)
		log_warn("cannot hand %s to the --runas user: %s", path, strerror(errno));
	if (!rt.claimed)
		return;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", rt.dir, files[i]);
		if (lchown(p, uid, gid) < 0 && errno != ENOENT)
			log_warn("cannot hand %s to the --runas user: %s", p,
				 strerror(errno));
	}
}

void runtime_dir_release(void)
{
	char path[300];

	if (!rt.claimed)
		return;
	rt.claimed = false;
	/* The lock goes last: nobody takes the name while we clean up. */
	snprintf(path, sizeof(path), "%s/info", rt.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/qmp.sock", rt.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/console.sock", rt.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/log", rt.dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/pid", rt.dir);
	unlink(path);
	rmdir(rt.dir);
	close(rt.pid_fd);
	rt.pid_fd = -1;
}

pid_t runtime_dir_check(const char *dir)
{
	char path[512];
	struct stat st;
	pid_t holder;
	int fd;

	snprintf(path, sizeof(path), "%s/pid", dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		/* No pid file: a directory half removed, or one a wirt is
		 * making this instant (left alone for a while). */
		if (!stat(dir, &st) && time(NULL) - st.st_mtime > 10)
			remove_dir(dir);
		return 0;
	}
	/* An empty pid file is one a wirt made this instant and has not
	 * locked yet (it writes its pid once it holds the lock): left alone
	 * for a while, as a directory without one. */
	if (!fstat(fd, &st) && st.st_size == 0 && time(NULL) - st.st_mtime <= 10) {
		close(fd);
		return 0;
	}
	holder = lock_file(fd);
	if (!holder)
		remove_dir(dir); /* stale: its wirt was killed */
	close(fd);
	return holder;
}

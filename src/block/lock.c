/*
 * Image locking: one writer or many readers per image file, across
 * processes, and compatible with QEMU so that wirt and QEMU refuse each
 * other too.
 *
 * The scheme is QEMU's (observed in /proc/locks with QEMU 7.2): shared
 * open-file-description (OFD) locks on single bytes of the image file.
 * Each permission an opener holds is a read lock on byte 100 + n, each
 * permission it will not let others hold a read lock on byte 200 + n,
 * where n is 0 for a consistent read, 1 for write, 3 for resize.  Taking
 * permission n is refused while another description locks 200 + n;
 * refusing it to others is refused while another locks 100 + n.  Locks
 * are placed first and checked after, so of two racing openers neither
 * gets in unnoticed.  They go away when the file is closed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block_driver.h"
#include "util/log.h"

#define LOCK_PERM_BASE		100
#define LOCK_SHARED_BASE	200

enum {
	PERM_READ = 1u << 0,	/* consistent read */
	PERM_WRITE = 1u << 1,
	PERM_RESIZE = 1u << 3,
};
#define PERM_BITS	4

static int lock_byte(int fd, short type, off_t byte)
{
	struct flock fl = {
		.l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1,
	};

	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* Does another open file description hold a lock on byte? */
static int byte_locked_elsewhere(int fd, off_t byte)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1,
	};

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

/*
 * Name the other processes that have the file open, for the error
 * message: "pid 1234 (qemu-system-x86)".  Sees only the processes /proc
 * lets us look into; empty if none.
 */
static void describe_holders(int fd, char *out, size_t len)
{
	struct stat img, st;
	struct dirent *p, *f;
	char path[600], comm[64];
	size_t used = 0;
	DIR *procs, *fds;
	FILE *cf;

	out[0] = 0;
	if (fstat(fd, &img) < 0 || !(procs = opendir("/proc")))
		return;
	while ((p = readdir(procs)) && used + 64 < len) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9' ||
		    atoi(p->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd", p->d_name);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((f = readdir(fds))) {
			snprintf(path, sizeof(path), "/proc/%s/fd/%s", p->d_name,
				 f->d_name);
			if (f->d_name[0] == '.' || stat(path, &st) < 0 ||
			    st.st_dev != img.st_dev || st.st_ino != img.st_ino)
				continue;
			snprintf(path, sizeof(path), "/proc/%s/comm", p->d_name);
			comm[0] = 0;
			cf = fopen(path, "r");
			if (cf) {
				if (fgets(comm, sizeof(comm), cf))
					comm[strcspn(comm, "\n")] = 0;
				fclose(cf);
			}
			used += snprintf(out + used, len - used, "%spid %s (%s)",
					 used ? ", " : "", p->d_name, comm);
			break;
		}
		closedir(fds);
	}
	closedir(procs);
}

/* What another holder of permission bit may do, for messages. */
static const char *const perm_verbs[PERM_BITS] = {
	"read", "write to", "write to", "resize",
};

static void say_conflict(struct block_dev *bs, unsigned bit, bool we_need_it,
			 bool read_only)
{
	char who[256], by[300];

	describe_holders(bs->fd, who, sizeof(who));
	snprintf(by, sizeof(by), " by %s", who[0] ? who :
		 "another opener (this process has it open twice?)");
	if (we_need_it)
		log_error("'%s' is in use%s, which does not let others %s it; "
			  "close it first", bs->filename, by, perm_verbs[bit]);
	else
		log_error("'%s' is in use%s, which may %s it; close it first%s",
			  bs->filename, by, perm_verbs[bit], read_only ?
			  ", or read it anyway with -U (--force-share)" : "");
}

int block_lock_image(struct block_dev *bs, unsigned flags, bool share_write)
{
	unsigned perms = PERM_READ, unshared = PERM_WRITE | PERM_RESIZE, i;
	int ret;

	if (flags & BLOCK_O_FORCE_SHARE) {
		if (flags & BLOCK_O_RDWR) {
			log_error("'%s': -U (--force-share) is only for images "
				  "opened read-only", bs->filename);
			return -EINVAL;
		}
		unshared = 0;
	}
	if (flags & BLOCK_O_RDWR)
		perms |= PERM_WRITE | PERM_RESIZE;
	if (share_write)
		unshared = 0;
	for (i = 0; i < PERM_BITS; i++) {
		ret = 0;
		if (perms & (1u << i))
			ret = lock_byte(bs->fd, F_RDLCK, LOCK_PERM_BASE + i);
		if (!ret && (unshared & (1u << i)))
			ret = lock_byte(bs->fd, F_RDLCK, LOCK_SHARED_BASE + i);
		if (ret == -EINVAL || ret == -ENOLCK || ret == -EOPNOTSUPP) {
			log_warn("'%s': the file system does not support OFD "
				 "locks; the image is not protected against "
				 "other users", bs->filename);
			return 0;
		}
		if (ret < 0) {
			log_error("'%s': cannot lock the image: %s",
				  bs->filename, strerror(-ret));
			return ret;
		}
	}
	for (i = 0; i < PERM_BITS; i++) {
		if (perms & (1u << i)) {
			ret = byte_locked_elsewhere(bs->fd, LOCK_SHARED_BASE + i);
			if (ret) {
				if (ret > 0)
					say_conflict(bs, i, true, !(flags & BLOCK_O_RDWR));
				return ret > 0 ? -EBUSY : ret;
			}
		}
		if (unshared & (1u << i)) {
			ret = byte_locked_elsewhere(bs->fd, LOCK_PERM_BASE + i);
			if (ret) {
				if (ret > 0)
					say_conflict(bs, i, false, !(flags & BLOCK_O_RDWR));
				return ret > 0 ? -EBUSY : ret;
			}
		}
	}
	return 0;
}

void block_unlock_image(struct block_dev *bs)
{
	unsigned i;

	for (i = 0; i < PERM_BITS; i++) {
		lock_byte(bs->fd, F_UNLCK, LOCK_PERM_BASE + i);
		lock_byte(bs->fd, F_UNLCK, LOCK_SHARED_BASE + i);
	}
}

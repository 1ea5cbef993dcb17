/* Raw image driver: regular files and host block devices, byte for byte. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block_driver.h"
#include "block/file_io.h"
#include "util/log.h"

static int raw_probe(const uint8_t *buf, size_t len)
{
	return 1;	/* anything is a raw image; every other format wins */
}

static bool is_blockdev(int fd)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISBLK(st.st_mode);
}

static int raw_open(struct block_dev *bs, unsigned flags)
{
	int ret = file_size(bs->fd, &bs->size);

	if (ret < 0) {
		log_error("%s: not a regular file or block device", bs->filename);
		return ret;
	}
	return 0;
}

static int raw_read(struct block_dev *bs, uint64_t off, void *buf, size_t len)
{
	return file_pread_zero(bs->fd, buf, len, off);
}

static int raw_write(struct block_dev *bs, uint64_t off, const void *buf,
		     size_t len)
{
	return file_pwrite_all(bs->fd, buf, len, off);
}

static int raw_flush(struct block_dev *bs)
{
	if (fdatasync(bs->fd) < 0)
		return -errno;
	return 0;
}

static int raw_discard(struct block_dev *bs, uint64_t off, uint64_t len)
{
	uint64_t range[2];

	if (!is_blockdev(bs->fd)) {
		file_punch_hole(bs->fd, off, len);
		return 0;
	}
	range[0] = align_up(off, 512);
	if (off + len < range[0] + 512)
		return 0;
	range[1] = ((off + len) & ~511ULL) - range[0];
	if (ioctl(bs->fd, BLKDISCARD, range) < 0 && errno != EOPNOTSUPP)
		return -errno;
	return 0;
}

static void raw_close(struct block_dev *bs)
{
}

static int raw_create(const char *path, uint64_t size,
		      const struct block_create_opts *opts)
{
	uint64_t have;
	int fd, ret = 0;

	if (opts->backing_file) {
		log_error("%s: raw images cannot have a backing file", path);
		return -EINVAL;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		log_error("cannot create '%s': %s", path, strerror(errno));
		return ret;
	}
	if (is_blockdev(fd)) {
		ret = file_size(fd, &have);
		if (!ret && have < size) {
			log_error("%s: device holds only %llu bytes", path,
				  (unsigned long long)have);
			ret = -ENOSPC;
		}
	} else if (ftruncate(fd, 0) < 0 || ftruncate(fd, size) < 0) {
		ret = -errno;
		log_error("cannot size '%s': %s", path, strerror(errno));
	}
	close(fd);
	return ret;
}

static int raw_status(struct block_dev *bs, uint64_t off, uint64_t len,
		      uint64_t *pnum)
{
	off_t data, hole;

	if (is_blockdev(bs->fd))
		return BLOCK_STATUS_DATA;
	data = lseek(bs->fd, off, SEEK_DATA);
	if (data < 0) {
		/* ENXIO: no data after off, the rest is a hole. */
		if (errno == ENXIO) {
			*pnum = len;
			return BLOCK_STATUS_ZERO;
		}
		return BLOCK_STATUS_DATA;
	}
	if ((uint64_t)data > off) {
		*pnum = (uint64_t)data - off;
		return BLOCK_STATUS_ZERO;
	}
	hole = lseek(bs->fd, off, SEEK_HOLE);
	if (hole > (off_t)off)
		*pnum = (uint64_t)hole - off;
	return BLOCK_STATUS_DATA;
}

/* Every byte is where the guest sees it; holes are left to raw_status. */
static int raw_map(struct block_dev *bs, uint64_t off, uint64_t len,
		   struct block_mapping *m)
{
	m->len = len;
	m->host = off;
	m->fd = bs->fd;
	m->flags = BLOCK_MAP_ALLOCATED | BLOCK_MAP_HOST |
		   (bs->read_only ? 0 : BLOCK_MAP_WRITABLE);
	return 0;
}

static int raw_resize(struct block_dev *bs, uint64_t size, bool shrink)
{
	if (is_blockdev(bs->fd)) {
		log_error("%s: cannot resize a block device", bs->filename);
		return -ENOTSUP;
	}
	if (ftruncate(bs->fd, size) < 0)
		return -errno;
	bs->size = size;
	return 0;
}

const struct block_driver block_raw = {
	.name = "raw",
	.probe = raw_probe,
	.open = raw_open,
	.read = raw_read,
	.write = raw_write,
	.flush = raw_flush,
	.discard = raw_discard,
	.close = raw_close,
	.create = raw_create,
	.status = raw_status,
	.resize = raw_resize,
	.map = raw_map,
};

/*
 * Generic block layer: format probing, opening images and their backing
 * chains, bounds checks and locking around the drivers.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"
#include "block/file_io.h"
#include "util/log.h"

/* Deepest backing chain we follow; deeper ones are most likely loops. */
#define BACKING_DEPTH_MAX 32

static const struct block_driver *const drivers[] = {
	&block_qcow2,
	&block_vmdk,
	&block_vdi,
	&block_raw,
};

#define NR_DRIVERS (sizeof(drivers) / sizeof(drivers[0]))

static __thread int backing_depth;

const struct block_driver *block_find_driver(const char *name)
{
	size_t i;

	for (i = 0; i < NR_DRIVERS; i++)
		if (!strcmp(drivers[i]->name, name))
			return drivers[i];
	return NULL;
}

const char *block_driver_names(void)
{
	return "raw, qcow2, vmdk, vdi";
}

static int probe_fd(int fd, const struct block_driver **drv)
{
	uint8_t buf[4096];
	int best = -1, score, ret;
	size_t i;

	ret = file_pread_zero(fd, buf, sizeof(buf), 0);
	if (ret < 0)
		return ret;
	for (i = 0; i < NR_DRIVERS; i++) {
		score = drivers[i]->probe ? drivers[i]->probe(buf, sizeof(buf)) : 0;
		if (score > best) {
			best = score;
			*drv = drivers[i];
		}
	}
	return 0;
}

int block_probe(const char *path, const struct block_driver **drv)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = probe_fd(fd, drv);
	close(fd);
	return ret;
}

static bool is_image_file(int fd)
{
	struct stat st;

	return !fstat(fd, &st) && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
}

static void free_dev(struct block_dev *bs)
{
	if (bs->fd >= 0)
		close(bs->fd);
	pthread_mutex_destroy(&bs->lock);
	free(bs->filename);
	free(bs);
}

int block_open(struct block_dev **out, const char *path, const char *format,
	       unsigned flags)
{
	const struct block_driver *drv = NULL;
	struct block_dev *bs;
	int ret;

	if (format) {
		drv = block_find_driver(format);
		if (!drv) {
			log_error("unknown image format '%s' (known: %s)",
				  format, block_driver_names());
			return -EINVAL;
		}
	}
	bs = calloc(1, sizeof(*bs));
	if (!bs)
		return -ENOMEM;
	pthread_mutex_init(&bs->lock, NULL);
	bs->read_only = !(flags & BLOCK_O_RDWR);
	bs->unsafe = flags & BLOCK_O_UNSAFE;
	bs->filename = strdup(path);
	bs->fd = open(path, (bs->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (!bs->filename || bs->fd < 0) {
		ret = bs->filename ? -errno : -ENOMEM;
		log_error("cannot open '%s': %s", path, strerror(-ret));
		free_dev(bs);
		return ret;
	}
	if (!is_image_file(bs->fd)) {
		log_error("'%s' is not a regular file or block device", path);
		free_dev(bs);
		return -EINVAL;
	}
	if (!drv) {
		ret = probe_fd(bs->fd, &drv);
		if (ret < 0) {
			log_error("cannot read '%s': %s", path, strerror(-ret));
			free_dev(bs);
			return ret;
		}
	}
	bs->drv = drv;
	ret = drv->open(bs, flags);
	if (ret < 0) {
		if (bs->backing)
			block_close(bs->backing);
		free_dev(bs);
		return ret;
	}
	*out = bs;
	return 0;
}

void block_close(struct block_dev *bs)
{
	if (!bs)
		return;
	bs->drv->close(bs);
	if (bs->backing)
		block_close(bs->backing);
	free_dev(bs);
}

/* Resolve name relative to the directory holding the image at path. */
static char *backing_path(const char *path, const char *name)
{
	char *copy, *dir, *full;

	if (name[0] == '/')
		return strdup(name);
	copy = strdup(path);
	if (!copy)
		return NULL;
	dir = dirname(copy);
	if (asprintf(&full, "%s/%s", dir, name) < 0)
		full = NULL;
	free(copy);
	return full;
}

int block_open_backing(struct block_dev *bs, const char *name,
		       const char *format)
{
	char *full;
	int ret;

	if (backing_depth >= BACKING_DEPTH_MAX) {
		log_error("%s: backing chain deeper than %d images (a loop?)",
			  bs->filename, BACKING_DEPTH_MAX);
		return -ELOOP;
	}
	full = backing_path(bs->filename, name);
	if (!full)
		return -ENOMEM;
	if (format && !format[0])
		format = NULL;
	/* block_open() says what is wrong with the backing file. */
	backing_depth++;
	ret = block_open(&bs->backing, full, format, 0);
	backing_depth--;
	free(full);
	return ret;
}

int block_read_backing(struct block_dev *bs, uint64_t off, void *buf,
		       size_t len)
{
	uint64_t bsize;
	size_t part;

	if (!bs->backing) {
		memset(buf, 0, len);
		return 0;
	}
	bsize = bs->backing->size;
	part = off >= bsize ? 0 : (bsize - off < len ? bsize - off : len);
	memset((char *)buf + part, 0, len - part);
	if (!part)
		return 0;
	return block_read(bs->backing, off, buf, part);
}

static int check_range(struct block_dev *bs, uint64_t off, uint64_t len)
{
	if (off > bs->size || len > bs->size - off)
		return -EINVAL;
	return 0;
}

int block_read(struct block_dev *bs, uint64_t off, void *buf, size_t len)
{
	int ret = check_range(bs, off, len);

	if (ret < 0 || !len)
		return ret;
	pthread_mutex_lock(&bs->lock);
	ret = bs->drv->read(bs, off, buf, len);
	pthread_mutex_unlock(&bs->lock);
	return ret;
}

int block_write(struct block_dev *bs, uint64_t off, const void *buf,
		size_t len)
{
	int ret = check_range(bs, off, len);

	if (ret < 0 || !len)
		return ret;
	if (bs->read_only)
		return -EROFS;
	pthread_mutex_lock(&bs->lock);
	ret = bs->drv->write(bs, off, buf, len);
	pthread_mutex_unlock(&bs->lock);
	return ret;
}

int block_flush(struct block_dev *bs)
{
	int ret;

	if (bs->read_only)
		return 0;
	pthread_mutex_lock(&bs->lock);
	ret = bs->drv->flush(bs);
	pthread_mutex_unlock(&bs->lock);
	return ret;
}

int block_discard(struct block_dev *bs, uint64_t off, uint64_t len)
{
	int ret = check_range(bs, off, len);

	if (ret < 0 || !len)
		return ret;
	if (bs->read_only)
		return -EROFS;
	if (!bs->drv->discard)
		return 0;
	pthread_mutex_lock(&bs->lock);
	ret = bs->drv->discard(bs, off, len);
	pthread_mutex_unlock(&bs->lock);
	return ret;
}

int block_get_info(struct block_dev *bs, struct block_info *info)
{
	int ret;

	memset(info, 0, sizeof(*info));
	info->format = bs->drv->name;
	info->virtual_size = bs->size;
	info->allocated_size = file_allocated(bs->fd);
	if (file_size(bs->fd, &info->file_size) < 0)
		info->file_size = 0;
	if (!bs->drv->get_info)
		return 0;
	pthread_mutex_lock(&bs->lock);
	ret = bs->drv->get_info(bs, info);
	pthread_mutex_unlock(&bs->lock);
	return ret;
}

/*
 * How the range starting at off reads: returns BLOCK_STATUS_DATA or
 * BLOCK_STATUS_ZERO and sets *pnum to the length (>0) with that status.
 */
int block_status(struct block_dev *bs, uint64_t off, uint64_t len,
		 uint64_t *pnum)
{
	int ret = check_range(bs, off, len);

	if (ret < 0)
		return ret;
	*pnum = len;
	if (!len || !bs->drv->status)
		return BLOCK_STATUS_DATA;
	pthread_mutex_lock(&bs->lock);
	ret = bs->drv->status(bs, off, len, pnum);
	pthread_mutex_unlock(&bs->lock);
	if (ret >= 0 && (*pnum == 0 || *pnum > len))
		*pnum = len;
	return ret;
}

int block_create(const char *format, const char *path, uint64_t size,
		 const struct block_create_opts *opts)
{
	const struct block_driver *drv = block_find_driver(format);
	struct block_create_opts none = { 0 };

	if (!drv) {
		log_error("unknown image format '%s' (known: %s)", format,
			  block_driver_names());
		return -EINVAL;
	}
	if (size > (uint64_t)INT64_MAX) {
		log_error("%s: size too large", path);
		return -EFBIG;
	}
	return drv->create(path, size, opts ? opts : &none);
}

int block_resize(struct block_dev *bs, uint64_t size, bool shrink)
{
	int ret;

	if (bs->read_only)
		return -EROFS;
	if (!bs->drv->resize) {
		log_error("%s: resizing %s images is not supported",
			  bs->filename, bs->drv->name);
		return -ENOTSUP;
	}
	if (size < bs->size && !shrink) {
		log_error("%s: refusing to shrink without --shrink", bs->filename);
		return -EINVAL;
	}
	pthread_mutex_lock(&bs->lock);
	ret = bs->drv->resize(bs, size, shrink);
	pthread_mutex_unlock(&bs->lock);
	return ret;
}

int block_check(struct block_dev *bs, struct block_check *res, bool repair)
{
	int ret;

	memset(res, 0, sizeof(*res));
	if (!bs->drv->check)
		return -ENOTSUP;
	pthread_mutex_lock(&bs->lock);
	ret = bs->drv->check(bs, res, repair);
	pthread_mutex_unlock(&bs->lock);
	return ret;
}

static int snapshot_supported(struct block_dev *bs)
{
	if (bs->drv->snapshot_list)
		return 0;
	log_error("%s: %s images have no internal snapshots", bs->filename,
		  bs->drv->name);
	return -ENOTSUP;
}

int block_snapshot_list(struct block_dev *bs, struct block_snapshot **list,
			int *count)
{
	int ret = snapshot_supported(bs);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&bs->lock);
	ret = bs->drv->snapshot_list(bs, list, count);
	pthread_mutex_unlock(&bs->lock);
	return ret;
}

/* Run one of the snapshot operations that change the image. */
static int snapshot_op(struct block_dev *bs, const char *name,
		       int (*op)(struct block_dev *, const char *))
{
	int ret = snapshot_supported(bs);

	if (ret < 0)
		return ret;
	if (bs->read_only)
		return -EROFS;
	if (!name[0]) {
		log_error("%s: snapshot name must not be empty", bs->filename);
		return -EINVAL;
	}
	pthread_mutex_lock(&bs->lock);
	ret = op(bs, name);
	if (!ret)
		ret = bs->drv->flush(bs);
	pthread_mutex_unlock(&bs->lock);
	return ret;
}

int block_snapshot_create(struct block_dev *bs, const char *name)
{
	return snapshot_op(bs, name, bs->drv->snapshot_create);
}

int block_snapshot_delete(struct block_dev *bs, const char *name)
{
	return snapshot_op(bs, name, bs->drv->snapshot_delete);
}

int block_snapshot_apply(struct block_dev *bs, const char *name)
{
	return snapshot_op(bs, name, bs->drv->snapshot_apply);
}

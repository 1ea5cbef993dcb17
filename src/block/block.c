/*
 * Generic block layer: format probing, opening images and their backing
 * chains, bounds checks and locking around the drivers.
 *
 * Locking: bs->lock serialises driver calls.  Reads and writes of bytes
 * a driver maps to a plain host range (block_map()) are done outside it,
 * so requests to allocated data run in parallel; they hold io_lock shared,
 * and every call that may free or move clusters holds it exclusively.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block_driver.h"
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

bool block_format_known(const char *name)
{
	return block_find_driver(name) != NULL;
}

const char *block_driver_names(void)
{
	return "raw, qcow2, vmdk, vdi";
}

uint64_t block_size(const struct block_dev *bs)
{
	return bs->size;
}

bool block_read_only(const struct block_dev *bs)
{
	return bs->read_only;
}

const char *block_filename(const struct block_dev *bs)
{
	return bs->filename;
}

const char *block_format(const struct block_dev *bs)
{
	return bs->drv->name;
}

struct block_dev *block_backing(const struct block_dev *bs)
{
	return bs->backing;
}

bool block_is_nocache(const struct block_dev *bs)
{
	return bs->nocache;
}

bool block_has(const struct block_dev *bs, enum block_ability what)
{
	switch (what) {
	case BLOCK_CAN_SNAPSHOT:
		return bs->drv->snapshot_list;
	case BLOCK_CAN_CHECK:
		return bs->drv->check;
	case BLOCK_CAN_SET_BACKING:
		return bs->drv->set_backing;
	}
	return false;
}

/* The format whose signature buf (the start of an image) carries best. */
static const struct block_driver *probe_buf(const uint8_t *buf, size_t len)
{
	const struct block_driver *drv = &block_raw;
	int best = -1, score;
	size_t i;

	for (i = 0; i < NR_DRIVERS; i++) {
		score = drivers[i]->probe ? drivers[i]->probe(buf, len) : 0;
		if (score > best) {
			best = score;
			drv = drivers[i];
		}
	}
	return drv;
}

static int probe_fd(int fd, const struct block_driver **drv)
{
	uint8_t buf[4096];
	int ret;

	ret = file_pread_zero(fd, buf, sizeof(buf), 0);
	if (ret < 0)
		return ret;
	*drv = probe_buf(buf, sizeof(buf));
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
	pthread_mutex_destroy(&bs->guard_lock);
	pthread_rwlock_destroy(&bs->io_lock);
	free(bs->filename);
	free(bs);
}

static void init_locks(struct block_dev *bs)
{
	pthread_rwlockattr_t a;

	pthread_mutex_init(&bs->lock, NULL);
	pthread_mutex_init(&bs->guard_lock, NULL);
	/* Allocating writes must not starve behind a stream of readers. */
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&bs->io_lock, &a);
	pthread_rwlockattr_destroy(&a);
}

/* Exclusive access for driver calls that may free or move clusters. */
static void lock_excl(struct block_dev *bs)
{
	pthread_rwlock_wrlock(&bs->io_lock);
	pthread_mutex_lock(&bs->lock);
}

static void unlock_excl(struct block_dev *bs)
{
	pthread_mutex_unlock(&bs->lock);
	pthread_rwlock_unlock(&bs->io_lock);
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
	init_locks(bs);
	bs->read_only = !(flags & BLOCK_O_RDWR);
	bs->unsafe = flags & BLOCK_O_UNSAFE;
	bs->nocache = flags & BLOCK_O_NOCACHE;
	bs->filename = strdup(path);
	bs->fd = open(path, (bs->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC |
		      (bs->nocache ? O_DIRECT : 0));
	if (bs->fd < 0 && bs->nocache && errno == EINVAL) {
		log_error("cannot open '%s' without the host cache: the file "
			  "system does not support O_DIRECT (use -t writeback)",
			  path);
		free_dev(bs);
		return -EINVAL;
	}
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
	bs->open_flags = flags;
	bs->share_write = backing_depth && (flags & BLOCK_O_BACKING_SHARE_WRITE);
	bs->inactive = block_activation_deferred();
	/* Before anything is read: a driver may repair what it reads.  An
	 * image another wirt still runs (incoming migration) is only read
	 * until block_activate. */
	ret = bs->inactive ? 0 : block_lock_image(bs, flags, bs->share_write);
	if (ret < 0) {
		free_dev(bs);
		return ret;
	}
	bs->share_flags = flags & (BLOCK_O_FORCE_SHARE |
				   BLOCK_O_BACKING_SHARE_WRITE);
	if (!drv) {
		ret = probe_fd(bs->fd, &drv);
		if (ret < 0) {
			log_error("cannot read '%s': %s", path, strerror(-ret));
			free_dev(bs);
			return ret;
		}
		bs->probed_raw = drv == &block_raw;
	}
	bs->drv = drv;
	ret = drv->open(bs, bs->inactive ? flags & ~BLOCK_O_RDWR : flags);
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
	if (!bs->drv_closed)
		bs->drv->close(bs);
	if (bs->backing)
		block_close(bs->backing);
	free_dev(bs);
}

/* Resolve name relative to the directory holding the image at path. */
char *block_backing_path(const char *path, const char *name)
{
	char *copy, *dir, *full;

	if (name[0] == '/')
		return strdup(name);
	copy = strdup(path);
	if (!copy)
		return NULL;
	dir = dirname(copy);
	if (!strcmp(dir, "."))
		full = strdup(name);
	else if (asprintf(&full, "%s/%s", dir, name) < 0)
		full = NULL;
	free(copy);
	return full;
}

/*
 * A backing file whose format the image does not record was opened by
 * guessing it, without its own backing file: a guessed format may lead
 * no further.  Were the guess wrong (a raw disk a guest wrote an image
 * header into), following its backing file would read a file the guest
 * chose.
 */
static int check_guessed_backing(struct block_dev *bs)
{
	struct block_info info;
	int ret = block_get_info(bs->backing, &info);

	if (!ret && info.backing_file[0]) {
		log_error("%s: its backing file '%s' has no recorded format and "
			  "names a backing file of its own, which wirt does not "
			  "follow from a guessed format; record it with 'wirt img "
			  "rebase -u -b %s -F %s %s'", bs->filename,
			  bs->backing->filename, bs->backing->filename,
			  bs->backing->drv->name, bs->filename);
		ret = -EINVAL;
	}
	if (ret < 0) {
		block_close(bs->backing);
		bs->backing = NULL;
	}
	return ret;
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
	full = block_backing_path(bs->filename, name);
	if (!full)
		return -ENOMEM;
	if (format && !format[0])
		format = NULL;
	/* block_open() says what is wrong with the backing file. */
	backing_depth++;
	ret = block_open(&bs->backing, full, format,
			 (bs->nocache ? BLOCK_O_NOCACHE : 0) | bs->share_flags |
			 (format ? 0 : BLOCK_O_NO_BACKING));
	backing_depth--;
	free(full);
	if (!ret && !format)
		ret = check_guessed_backing(bs);
	return ret;
}

int block_for_each_piece(struct block_dev *bs, uint64_t off, void *buf,
			 uint64_t len, uint64_t unit, block_piece_fn *piece,
			 void *opaque)
{
	uint8_t *p = buf;
	uint64_t max;
	int64_t n;

	while (len) {
		max = unit ? unit - off % unit : len;
		if (max > len)
			max = len;
		n = piece(bs, off, p, max, opaque);
		if (n < 0)
			return (int)n;
		off += n;
		p += n;
		len -= n;
	}
	return 0;
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

/*
 * The driver's map hook; a driver that cannot map this image (-ENOTSUP)
 * leaves the whole range to its read and write functions.
 */
static int drv_map(struct block_dev *bs, uint64_t off, uint64_t len,
		   struct block_mapping *m)
{
	int ret = bs->drv->map(bs, off, len, m);

	if (ret == -ENOTSUP) {
		m->len = len;
		m->flags = BLOCK_MAP_ALLOCATED;
		return 0;
	}
	if (ret >= 0 && (!m->len || m->len > len))
		m->len = len;
	return ret;
}

/* One run of a read: plain host bytes outside bs->lock, else the driver. */
static int read_run(struct block_dev *bs, uint64_t off, uint8_t *buf,
		    size_t len, size_t *done)
{
	struct block_mapping m;
	int ret;

	pthread_mutex_lock(&bs->lock);
	ret = drv_map(bs, off, len, &m);
	if (ret >= 0 && !(m.flags & BLOCK_MAP_HOST))
		ret = bs->drv->read(bs, off, buf, m.len);
	pthread_mutex_unlock(&bs->lock);
	if (ret < 0)
		return ret;
	*done = m.len;
	if (m.flags & BLOCK_MAP_HOST)
		ret = file_pread_zero(m.fd, buf, m.len, m.host);
	return ret;
}

int block_read(struct block_dev *bs, uint64_t off, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t n;
	int ret = check_range(bs, off, len);

	if (ret < 0 || !len)
		return ret;
	if (!bs->drv->map) {
		pthread_mutex_lock(&bs->lock);
		ret = bs->drv->read(bs, off, buf, len);
		pthread_mutex_unlock(&bs->lock);
		return ret;
	}
	pthread_rwlock_rdlock(&bs->io_lock);
	while (len && ret >= 0) {
		ret = read_run(bs, off, p, len, &n);
		off += n;
		p += n;
		len -= n;
	}
	pthread_rwlock_unlock(&bs->io_lock);
	return ret;
}

/*
 * The leading part of [off, off + len) that can be written in place
 * without touching metadata, written with io_lock held shared; *done is
 * 0 if the range starts where the driver has to allocate.
 */
static int write_in_place(struct block_dev *bs, uint64_t off,
			  const uint8_t *buf, size_t len, size_t *done)
{
	struct block_mapping m;
	int ret;

	*done = 0;
	pthread_rwlock_rdlock(&bs->io_lock);
	pthread_mutex_lock(&bs->lock);
	ret = drv_map(bs, off, len, &m);
	pthread_mutex_unlock(&bs->lock);
	/*
	 * An unaligned O_DIRECT write is a read-modify-write of whole blocks
	 * that another in-place write could interleave with: driver path.
	 */
	if (ret >= 0 && (m.flags & BLOCK_MAP_WRITABLE) && !(bs->nocache &&
	    (((uintptr_t)buf | m.len | m.host) & (FILE_DIRECT_ALIGN - 1)))) {
		*done = m.len;
		ret = file_pwrite_all(m.fd, buf, *done, m.host);
	}
	pthread_rwlock_unlock(&bs->io_lock);
	return ret;
}

static int write_alloc(struct block_dev *bs, uint64_t off, const uint8_t *buf,
		       size_t len, size_t *done)
{
	struct block_mapping m;
	int ret;

	lock_excl(bs);
	ret = drv_map(bs, off, len, &m);
	if (ret >= 0) {
		*done = m.len;
		ret = bs->drv->write(bs, off, buf, *done);
	}
	unlock_excl(bs);
	return ret;
}

static int write_range(struct block_dev *bs, uint64_t off, const void *buf,
		       size_t len);

/*
 * A guessed-raw image must not become, by a write, a file whose next
 * open guesses another format: a guest could write a qcow2 header naming
 * any host file as its backing file.  Every write reaching the first
 * sector is checked against the sector it would leave, one at a time so
 * that no two writes can put a header together between them.
 */
static int guarded_write(struct block_dev *bs, uint64_t off, const void *buf,
			 size_t len)
{
	uint8_t sector[GUARD_BYTES];
	const struct block_driver *looks;
	size_t head = GUARD_BYTES - off < len ? GUARD_BYTES - off : len;
	int ret;

	pthread_mutex_lock(&bs->guard_lock);
	memset(sector, 0, sizeof(sector));
	ret = block_read(bs, 0, sector, bs->size < GUARD_BYTES ? bs->size :
			 GUARD_BYTES);
	memcpy(sector + off, buf, head);
	looks = probe_buf(sector, sizeof(sector));
	if (!ret && looks != &block_raw) {
		if (!bs->guard_said)
			log_error("'%s': refused a write that would make this "
				  "guessed-raw image look like a %s image (if it "
				  "is raw, say so: format=raw or -f raw)",
				  bs->filename, looks->name);
		bs->guard_said = true;
		ret = -EPERM;
	}
	if (!ret)
		ret = write_range(bs, off, buf, len);
	pthread_mutex_unlock(&bs->guard_lock);
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
	if (bs->probed_raw && off < GUARD_BYTES)
		return guarded_write(bs, off, buf, len);
	return write_range(bs, off, buf, len);
}

static int write_range(struct block_dev *bs, uint64_t off, const void *buf,
		       size_t len)
{
	const uint8_t *p = buf;
	size_t n;
	int ret;

	if (!bs->drv->map) {
		lock_excl(bs);
		ret = bs->drv->write(bs, off, buf, len);
		unlock_excl(bs);
		return ret;
	}
	while (len) {
		ret = write_in_place(bs, off, p, len, &n);
		if (!ret && !n)
			ret = write_alloc(bs, off, p, len, &n);
		if (ret < 0)
			return ret;
		off += n;
		p += n;
		len -= n;
	}
	return 0;
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
	lock_excl(bs);
	ret = bs->drv->discard(bs, off, len);
	unlock_excl(bs);
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
	lock_excl(bs);
	ret = bs->drv->resize(bs, size, shrink);
	unlock_excl(bs);
	return ret;
}

int block_check(struct block_dev *bs, struct block_check *res, bool repair)
{
	int ret;

	memset(res, 0, sizeof(*res));
	if (!bs->drv->check)
		return -ENOTSUP;
	lock_excl(bs);
	ret = bs->drv->check(bs, res, repair);
	unlock_excl(bs);
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
	lock_excl(bs);
	ret = op(bs, name);
	if (!ret)
		ret = bs->drv->flush(bs);
	unlock_excl(bs);
	return ret;
}

static int create_plain(struct block_dev *bs, const char *name)
{
	return bs->drv->snapshot_create(bs, name, 0, 0);
}

int block_snapshot_create(struct block_dev *bs, const char *name)
{
	return snapshot_op(bs, name, create_plain);
}

int block_snapshot_create_vm(struct block_dev *bs, const char *name,
			     uint64_t vm_state_size, uint64_t vm_clock_nsec)
{
	int ret = snapshot_supported(bs);

	if (ret < 0)
		return ret;
	if (bs->read_only)
		return -EROFS;
	lock_excl(bs);
	ret = bs->drv->snapshot_create(bs, name, vm_state_size, vm_clock_nsec);
	if (!ret)
		ret = bs->drv->flush(bs);
	unlock_excl(bs);
	return ret;
}

int block_vmstate_io(struct block_dev *bs, uint64_t pos, void *buf, size_t len,
		     bool write)
{
	int ret;

	if (!bs->drv->vmstate_io)
		return -ENOTSUP;
	if (write && bs->read_only)
		return -EROFS;
	lock_excl(bs);
	ret = bs->drv->vmstate_io(bs, pos, buf, len, write);
	unlock_excl(bs);
	return ret;
}

int block_snapshot_delete(struct block_dev *bs, const char *name)
{
	return snapshot_op(bs, name, bs->drv->snapshot_delete);
}

int block_snapshot_apply(struct block_dev *bs, const char *name)
{
	return snapshot_op(bs, name, bs->drv->snapshot_apply);
}

int block_snapshot_load_tmp(struct block_dev *bs, const char *id, const char *name)
{
	int ret = snapshot_supported(bs);

	if (ret < 0)
		return ret;
	if (!bs->read_only) {
		log_error("%s: a snapshot is read only with the image opened read-only",
			  bs->filename);
		return -EINVAL;
	}
	lock_excl(bs);
	ret = bs->drv->snapshot_load_tmp(bs, id, name);
	unlock_excl(bs);
	return ret;
}

int block_map(struct block_dev *bs, uint64_t off, uint64_t len,
	      struct block_mapping *m)
{
	uint64_t pnum;
	int ret = check_range(bs, off, len);

	if (ret < 0)
		return ret;
	memset(m, 0, sizeof(*m));
	m->fd = -1;
	m->len = len;
	m->filename = bs->filename;	/* extents name their own files */
	if (!len)
		return 0;
	if (bs->drv->map) {
		pthread_mutex_lock(&bs->lock);
		ret = bs->drv->map(bs, off, len, m);
		pthread_mutex_unlock(&bs->lock);
		if (ret != -ENOTSUP) {
			if (ret >= 0 && (m->len == 0 || m->len > len))
				m->len = len;
			return ret < 0 ? ret : 0;
		}
	}
	ret = block_status(bs, off, len, &pnum);
	if (ret < 0)
		return ret;
	m->len = pnum;
	m->flags = BLOCK_MAP_ALLOCATED |
		   (ret == BLOCK_STATUS_ZERO ? BLOCK_MAP_ZERO : 0);
	return 0;
}

int block_write_compressed(struct block_dev *bs, uint64_t off,
			   const void *buf, size_t len)
{
	int ret = check_range(bs, off, len);

	if (ret < 0 || !len)
		return ret;
	if (bs->read_only)
		return -EROFS;
	if (!bs->drv->write_compressed)
		return -ENOTSUP;
	lock_excl(bs);
	ret = bs->drv->write_compressed(bs, off, buf, len);
	unlock_excl(bs);
	return ret;
}

int block_set_backing(struct block_dev *bs, const char *name,
		      const char *format)
{
	int ret;

	if (bs->read_only)
		return -EROFS;
	if (!bs->drv->set_backing) {
		log_error("%s: %s images cannot name a backing file",
			  bs->filename, bs->drv->name);
		return -ENOTSUP;
	}
	if (name && !name[0])
		name = NULL;
	if (name && strlen(name) >= BLOCK_PATH_MAX) {
		log_error("%s: backing file name too long", bs->filename);
		return -ENAMETOOLONG;
	}
	lock_excl(bs);
	ret = bs->drv->set_backing(bs, name, format && format[0] ? format : NULL);
	if (!ret)
		ret = bs->drv->flush(bs);
	unlock_excl(bs);
	return ret;
}

/*
 * Host file I/O for the image drivers: full reads/writes, sizes, barriers.
 * Files opened with O_DIRECT need aligned buffers, offsets and lengths;
 * unaligned requests on them go through an aligned bounce buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block_driver.h"
#include "block/file_io.h"

static bool unaligned(const void *buf, size_t len, uint64_t off)
{
	return ((uintptr_t)buf | len | off) & (FILE_DIRECT_ALIGN - 1);
}

/* Only asked for unaligned requests, so aligned I/O costs no syscall. */
static bool is_direct(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && (fl & O_DIRECT);
}

static ssize_t pread_loop(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return -EINVAL;
	while (done < len) {
		n = pread(fd, (char *)buf + done, len - done, off + done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += n;
		/* O_DIRECT: a short read that is not aligned is the end. */
		if (done < len && (done & (FILE_DIRECT_ALIGN - 1)))
			break;
	}
	return done;
}

/* The aligned span [*start, *start + *span) covering [off, off + len). */
static void direct_span(uint64_t off, size_t len, uint64_t *start,
			size_t *span)
{
	*start = off & ~(uint64_t)(FILE_DIRECT_ALIGN - 1);
	*span = align_up(off + len, FILE_DIRECT_ALIGN) - *start;
}

static ssize_t pread_bounce(int fd, void *buf, size_t len, uint64_t off)
{
	uint64_t start;
	size_t span, got;
	ssize_t n;
	void *b;

	direct_span(off, len, &start, &span);
	if (posix_memalign(&b, FILE_DIRECT_ALIGN, span))
		return -ENOMEM;
	n = pread_loop(fd, b, span, start);
	if (n >= 0) {
		got = (size_t)n > off - start ? n - (off - start) : 0;
		if (got > len)
			got = len;
		memcpy(buf, (char *)b + (off - start), got);
		n = got;
	}
	free(b);
	return n;
}

/* Returns bytes read (short only at end of file) or negative errno. */
static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return -EINVAL;
	if (unaligned(buf, len, off) && is_direct(fd))
		return pread_bounce(fd, buf, len, off);
	return pread_loop(fd, buf, len, off);
}

int file_pread_exact(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread_full(fd, buf, len, off);

	if (n < 0)
		return n;
	if ((size_t)n < len)
		return -EIO;
	return 0;
}

int file_pread_zero(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = pread_full(fd, buf, len, off);

	if (n < 0)
		return n;
	memset((char *)buf + n, 0, len - n);
	return 0;
}

static int pwrite_loop(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(fd, (const char *)buf + done, len - done, off + done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += n;
	}
	return 0;
}

/*
 * Read-modify-write of the aligned span around an unaligned write; the
 * file keeps its length if the span reaches past its end.  Callers hold
 * the device lock, so no other write touches the span meanwhile.
 */
static int pwrite_bounce(int fd, const void *buf, size_t len, uint64_t off)
{
	uint64_t start, fsize;
	size_t span;
	ssize_t n;
	void *b;
	int ret;

	ret = file_size(fd, &fsize);
	if (ret < 0)
		return ret;
	direct_span(off, len, &start, &span);
	if (posix_memalign(&b, FILE_DIRECT_ALIGN, span))
		return -ENOMEM;
	n = pread_loop(fd, b, span, start);
	ret = n < 0 ? n : 0;
	if (!ret) {
		memset((char *)b + n, 0, span - n);
		memcpy((char *)b + (off - start), buf, len);
		ret = pwrite_loop(fd, b, span, start);
	}
	free(b);
	if (!ret && start + span > fsize &&
	    ftruncate(fd, fsize > off + len ? fsize : off + len) < 0)
		ret = -errno;
	return ret;
}

int file_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	if (off > (uint64_t)INT64_MAX || len > (uint64_t)INT64_MAX - off)
		return -EFBIG;
	if (unaligned(buf, len, off) && is_direct(fd))
		return pwrite_bounce(fd, buf, len, off);
	return pwrite_loop(fd, buf, len, off);
}

int file_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0)
			return -errno;
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = st.st_size;
	return 0;
}

uint64_t file_allocated(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return 0;
	if (S_ISBLK(st.st_mode)) {
		uint64_t size;

		return file_size(fd, &size) ? 0 : size;
	}
	return (uint64_t)st.st_blocks * 512;
}

int file_barrier(struct block_dev *bs)
{
	if (bs->unsafe)
		return 0;
	if (fdatasync(bs->fd) < 0)
		return -errno;
	return 0;
}

void file_punch_hole(int fd, uint64_t off, uint64_t len)
{
	/* Advisory: a file system without hole punching keeps the bytes. */
	(void)!fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 off, len);
}

bool buf_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len && ((uintptr_t)p & 7)) {
		if (*p++)
			return false;
		len--;
	}
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		if (v)
			return false;
		p += 8;
		len -= 8;
	}
	while (len--)
		if (*p++)
			return false;
	return true;
}

/*
 * Disk-image fuzzing harness shared by the targets in this directory.
 *
 * The input becomes an image file in a private directory (on tmpfs when
 * there is one, so backing-file names in the input resolve there).  It is
 * opened read-only and driven through info, check, snapshot listing,
 * allocation status and reads spread across the whole virtual disk; the
 * file must come out byte for byte unchanged.  Then a copy is opened for
 * writing and gets a few writes, reads, a discard, a flush, a repairing
 * check and a grow, all steered by the input's own bytes, and is checked
 * once more read-only.  Internal snapshots are created, applied and
 * deleted now and then.  Errors are expected; crashes, sanitizer reports,
 * leaked image descriptors and writes to a read-only image are findings.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"
#include "block/file_io.h"
#include "fuzz_image.h"
#include "util/log.h"

#define CHUNK		(64u << 10)
#define HEAD_BYTES	(1u << 20)	/* read all of the first MiB */
#define SAMPLES		32		/* and this many chunks spread out */
#define STATUS_STEPS	64
#define WRITES		4

static char dir[64];
static char ro_path[96], rw_path[96];
static uint8_t *buf, *buf2;
static FILE *report;		/* stderr before we silenced it */

static void cleanup(void)
{
	unlink(ro_path);
	unlink(rw_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(dir, sizeof(dir), "%s/wirt-fuzz-XXXXXX", base);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(ro_path, sizeof(ro_path), "%s/image", dir);
	snprintf(rw_path, sizeof(rw_path), "%s/copy", dir);
	atexit(cleanup);
	buf = malloc(CHUNK);
	buf2 = malloc(CHUNK);
	if (!buf || !buf2)
		exit(1);
	/* Error lines are expected on almost every input; libFuzzer keeps
	 * its own copy of the stream for its reports. */
	report = stderr;
	if (!getenv("FUZZ_VERBOSE")) {
		log_threshold = LOG_ERROR;
		stderr = fopen("/dev/null", "w");
		if (!stderr)
			exit(1);
	}
	return 0;
}

static void put_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);

	if (fd < 0 || (size && file_pwrite_all(fd, data, size, 0) < 0)) {
		fprintf(report, "%s: %s\n", path, strerror(errno));
		abort();
	}
	close(fd);
}

/*
 * Every image file an input opened must be closed again.  Only files in
 * our directory count: libFuzzer's own threads open files at any time.
 */
static void assert_no_fd_leak(void)
{
	DIR *d = opendir("/proc/self/fd");
	char link[300], target[256];
	struct dirent *e;
	ssize_t n;

	if (!d)
		return;
	while ((e = readdir(d))) {
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (!strncmp(target, dir, strlen(dir))) {
			fprintf(report, "file descriptor %s (%s) leaked\n",
				e->d_name, target);
			abort();
		}
	}
	closedir(d);
}

/* The read-only pass must leave the file exactly as it was. */
static void assert_unchanged(const char *path, const uint8_t *data,
			     size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *now = malloc(size + 1);
	uint64_t fsize;

	if (fd < 0 || !now || file_size(fd, &fsize) < 0) {
		fprintf(report, "%s: %s\n", path, strerror(errno));
		abort();
	}
	if (fsize != size || file_pread_exact(fd, now, size, 0) < 0 ||
	    memcmp(now, data, size)) {
		fprintf(report, "image opened read-only was modified\n");
		abort();
	}
	free(now);
	close(fd);
}

static uint64_t mix(uint64_t *state)
{
	/* splitmix64: cheap, and spreads the input's hash over all bits. */
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t hash(const uint8_t *data, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ULL;
	return h;
}

static void read_range(struct block_dev *bs, uint64_t off, uint64_t len)
{
	uint64_t n;

	while (len && off < block_size(bs)) {
		n = len < CHUNK ? len : CHUNK;
		if (n > block_size(bs) - off)
			n = block_size(bs) - off;
		block_read(bs, off, buf, n);
		off += n;
		len -= n;
	}
}

/* Reads over the head of the disk and samples across all of it. */
static void read_across(struct block_dev *bs)
{
	uint64_t i, step = block_size(bs) / SAMPLES;

	read_range(bs, 0, HEAD_BYTES);
	for (i = 1; step && i < SAMPLES; i++)
		read_range(bs, i * step, CHUNK);
	if (block_size(bs) > CHUNK)
		read_range(bs, block_size(bs) - CHUNK, CHUNK);
}

static void walk_status(struct block_dev *bs)
{
	uint64_t off = 0, pnum;
	int i;

	for (i = 0; i < STATUS_STEPS && off < block_size(bs); i++) {
		if (block_status(bs, off, block_size(bs) - off, &pnum) < 0 || !pnum)
			break;
		off += pnum;
	}
}

static void inspect(struct block_dev *bs)
{
	struct block_info info;
	struct block_check res;
	struct block_snapshot *list;
	int n;

	block_get_info(bs, &info);
	block_check(bs, &res, false);
	if (block_snapshot_list(bs, &list, &n) == 0)
		free(list);
	walk_status(bs);
	read_across(bs);
}

static uint64_t pick_offset(struct block_dev *bs, uint64_t *st)
{
	uint64_t r = mix(st);

	/* Mostly near the start, where the seeds keep their data. */
	if (r & 1)
		return (r >> 8) % (block_size(bs) < HEAD_BYTES ? block_size(bs) : HEAD_BYTES);
	return (r >> 8) % block_size(bs);
}

static void modify(struct block_dev *bs, uint64_t *st)
{
	struct block_snapshot *list;
	struct block_check res;
	uint64_t off, len;
	int i, n;

	for (i = 0; i < WRITES && block_size(bs); i++) {
		off = pick_offset(bs, st);
		len = 1 + mix(st) % (CHUNK / 8);
		if (len > block_size(bs) - off)
			len = block_size(bs) - off;
		memset(buf2, 0x41 + i, len);
		block_write(bs, off, buf2, len);
		block_read(bs, off, buf, len);
	}
	if (block_size(bs)) {
		off = pick_offset(bs, st);
		block_discard(bs, off, (block_size(bs) - off) / 4);
	}
	block_flush(bs);
	/* Internal snapshots (qcow2): the seeds carry some to revert to. */
	switch (mix(st) % 8) {
	case 0:
		block_snapshot_create(bs, "fuzz");
		break;
	case 1:
		if (block_snapshot_list(bs, &list, &n) == 0) {
			if (n)
				block_snapshot_apply(bs, list[n - 1].id);
			free(list);
		}
		break;
	case 2:
		if (block_snapshot_list(bs, &list, &n) == 0) {
			if (n)
				block_snapshot_delete(bs, list[0].id);
			free(list);
		}
		break;
	}
	block_check(bs, &res, mix(st) & 1);
	if (mix(st) % 4 == 0)
		block_resize(bs, block_size(bs) + (mix(st) % 4 + 1) * 65536, false);
	block_flush(bs);
}

int fuzz_image(const uint8_t *data, size_t size, const char *format)
{
	struct block_dev *bs;
	uint64_t st = hash(data, size);
	unsigned flags = BLOCK_O_RDWR | BLOCK_O_UNSAFE;

	put_file(ro_path, data, size);
	if (block_open(&bs, ro_path, format, 0) == 0) {
		inspect(bs);
		block_close(bs);
	}
	assert_unchanged(ro_path, data, size);

	put_file(rw_path, data, size);
	if (st & (1ULL << 63))
		flags |= BLOCK_O_REPAIR;
	if (block_open(&bs, rw_path, format, flags) == 0) {
		modify(bs, &st);
		block_close(bs);
		if (block_open(&bs, rw_path, format, 0) == 0) {
			inspect(bs);
			block_close(bs);
		}
	}
	assert_no_fd_leak();
	return 0;
}

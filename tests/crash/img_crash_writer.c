/*
 * Crash-test writer for disk images (tests/integration/test_img_crash.py):
 * random writes and a few discards to an image, as fast as the block layer
 * takes them, with a flush every few operations, until it is killed.
 *
 * Usage: img_crash_writer IMAGE LOG PATTERN SEED
 *
 * Before each operation it appends "B seq kind offset length" to LOG
 * (kind w: write, d: discard), and after each completed flush "F seq":
 * every operation up to seq is durable.  Write seq stores the bytes of
 * PATTERN (a file of at least 128 KiB) from (seq * 4099) mod 64 KiB on,
 * so the test can rebuild what each write put there.  Discards cover whole
 * 64 KiB-aligned ranges, whole clusters for any cluster size up to that.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/block.h"
#include "block/file_io.h"

#define MAX_WRITE	16384
#define FLUSH_EVERY	16
#define DISCARD_UNIT	65536

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void log_line(int fd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The log survives the kill: the page cache keeps what write() took. */
static void log_line(int fd, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(fd, line, n) != n) {
		perror("log");
		exit(1);
	}
}

static int discard(struct block_dev *bs, int log, uint64_t seq, uint64_t *st)
{
	uint64_t units = block_size(bs) / DISCARD_UNIT, off, len;

	if (!units)
		return 0;
	off = rnd(st) % units * DISCARD_UNIT;
	len = (1 + rnd(st) % 4) * DISCARD_UNIT;
	if (len > block_size(bs) - off)
		len = block_size(bs) - off;
	log_line(log, "B %llu d %llu %llu\n", (unsigned long long)seq,
		 (unsigned long long)off, (unsigned long long)len);
	return block_discard(bs, off, len);
}

static int write_one(struct block_dev *bs, int log, uint64_t seq, uint64_t *st,
		     const uint8_t *pattern)
{
	uint64_t off = rnd(st) % block_size(bs), len = 1 + rnd(st) % MAX_WRITE;

	if (len > block_size(bs) - off)
		len = block_size(bs) - off;
	log_line(log, "B %llu w %llu %llu\n", (unsigned long long)seq,
		 (unsigned long long)off, (unsigned long long)len);
	return block_write(bs, off, pattern + (seq * 4099) % 65536, len);
}

int main(int argc, char **argv)
{
	struct block_dev *bs;
	uint8_t pattern[2 * 65536];
	uint64_t seq, st;
	int log, fd, ret;

	if (argc != 5) {
		fprintf(stderr, "usage: %s IMAGE LOG PATTERN SEED\n", argv[0]);
		return 2;
	}
	st = strtoull(argv[4], NULL, 0) * 2654435761u + 1;
	fd = open(argv[3], O_RDONLY);
	if (fd < 0 || file_pread_exact(fd, pattern, sizeof(pattern), 0) < 0) {
		fprintf(stderr, "%s: cannot read the pattern\n", argv[3]);
		return 1;
	}
	close(fd);
	log = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (log < 0 || block_open(&bs, argv[1], NULL, BLOCK_O_RDWR) < 0)
		return 1;
	for (seq = 1;; seq++) {
		if (rnd(&st) % 20 == 0)
			ret = discard(bs, log, seq, &st);
		else
			ret = write_one(bs, log, seq, &st, pattern);
		if (ret < 0) {
			fprintf(stderr, "operation %llu failed: %s\n",
				(unsigned long long)seq, strerror(-ret));
			return 1;
		}
		if (seq % FLUSH_EVERY)
			continue;
		ret = block_flush(bs);
		if (ret < 0) {
			fprintf(stderr, "flush failed: %s\n", strerror(-ret));
			return 1;
		}
		log_line(log, "F %llu\n", (unsigned long long)seq);
	}
}

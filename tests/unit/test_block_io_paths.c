/*
 * Block layer I/O paths: O_DIRECT opens (BLOCK_O_NOCACHE) with unaligned
 * buffers, offsets and lengths through the bounce buffers; many threads
 * reading and writing one qcow2 image at once through the lock-free path
 * for mapped clusters while others allocate; block_map() of raw and qcow2.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"

static char tmpdir[64];

static const char *tpath(const char *name)
{
	static char buf[4][256];
	static int n;

	n = (n + 1) % 4;
	snprintf(buf[n], sizeof(buf[n]), "%s/%s", tmpdir, name);
	return buf[n];
}

static int setup(void **state)
{
	/* Not /tmp: it may be a tmpfs without O_DIRECT. */
	snprintf(tmpdir, sizeof(tmpdir), "build/wirt-io-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 9));
}

/* Odd offsets, lengths and buffer addresses on an O_DIRECT raw file. */
static void test_nocache_unaligned_raw(void **state)
{
	static uint8_t model[1 << 20];
	uint8_t *buf = malloc(70001), *got = malloc(70001);
	struct block_dev *bs, *plain;
	struct stat st;
	const uint64_t size = (1 << 20) - 1000;	/* not a multiple of 4096 */
	uint64_t off;
	unsigned i;
	size_t n;

	memset(model, 0, sizeof(model));
	assert_int_equal(block_create("raw", tpath("d.raw"), size, NULL), 0);
	assert_int_equal(block_open(&bs, tpath("d.raw"), "raw",
				    BLOCK_O_RDWR | BLOCK_O_NOCACHE), 0);
	assert_true(block_is_nocache(bs));
	for (i = 0; i < 40; i++) {
		off = (i * 104729u) % (size - 70001);
		n = 1 + (i * 7919u) % 70000;
		fill(buf + 1, n, i);
		assert_int_equal(block_write(bs, off, buf + 1, n), 0);
		memcpy(model + off, buf + 1, n);
	}
	/* The last bytes of the file, so the bounce span passes its end. */
	fill(buf, 333, 99);
	assert_int_equal(block_write(bs, size - 333, buf, 333), 0);
	memcpy(model + size - 333, buf, 333);
	for (i = 0; i < 40; i++) {
		off = (i * 65537u) % (size - 70001);
		n = 1 + (i * 3571u) % 70000;
		assert_int_equal(block_read(bs, off, got + 3, n), 0);
		assert_memory_equal(got + 3, model + off, n);
	}
	block_close(bs);
	assert_int_equal(stat(tpath("d.raw"), &st), 0);
	assert_int_equal(st.st_size, size);
	assert_int_equal(block_open(&plain, tpath("d.raw"), "raw", 0), 0);
	for (off = 0; off < size; off += 65536) {
		n = size - off < 65536 ? size - off : 65536;
		assert_int_equal(block_read(plain, off, got, n), 0);
		assert_memory_equal(got, model + off, n);
	}
	block_close(plain);
	free(buf);
	free(got);
}

/* A qcow2 image written and read with O_DIRECT reads back through the cache. */
static void test_nocache_qcow2(void **state)
{
	struct block_create_opts o = { .cluster_size = 4096 };
	uint8_t *buf = malloc(100000), *got = malloc(100000);
	struct block_dev *bs;
	struct block_check res;

	assert_int_equal(block_create("qcow2", tpath("d.qcow2"), 8 << 20, &o), 0);
	assert_int_equal(block_open(&bs, tpath("d.qcow2"), NULL,
				    BLOCK_O_RDWR | BLOCK_O_NOCACHE), 0);
	fill(buf, 100000, 5);
	assert_int_equal(block_write(bs, 12345, buf + 1, 99999), 0);
	assert_int_equal(block_write(bs, 7 << 20, buf, 4096), 0);
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("d.qcow2"), NULL, 0), 0);
	assert_int_equal(block_read(bs, 12345, got, 99999), 0);
	assert_memory_equal(got, buf + 1, 99999);
	assert_int_equal(block_read(bs, 7 << 20, got, 4096), 0);
	assert_memory_equal(got, buf, 4096);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_int_equal(res.corruptions + res.leaks, 0);
	block_close(bs);
	free(buf);
	free(got);
}

#define THREADS 8
#define SLICE (512u << 10)

struct worker {
	struct block_dev *bs;
	unsigned id;
	int failures;
};

/*
 * Each thread owns one slice: it writes it in small pieces (the first
 * write of a cluster allocates, later ones go in place), reading back
 * after every write, while the other threads do the same elsewhere.
 */
static void *worker(void *arg)
{
	struct worker *w = arg;
	uint8_t *model = calloc(1, SLICE), buf[3000], got[3000];
	uint64_t base = (uint64_t)w->id * SLICE, off;
	unsigned i, seed = w->id * 1000 + 1;
	size_t n;

	for (i = 0; i < 600; i++) {
		seed = seed * 1103515245 + 12345;
		off = (seed >> 8) % (SLICE - sizeof(buf));
		n = 1 + (seed >> 3) % sizeof(buf);
		fill(buf, n, seed);
		if (block_write(w->bs, base + off, buf, n) < 0)
			w->failures++;
		memcpy(model + off, buf, n);
		if (block_read(w->bs, base + off, got, n) < 0 ||
		    memcmp(got, model + off, n))
			w->failures++;
	}
	for (off = 0; off < SLICE; off += sizeof(buf)) {
		n = SLICE - off < sizeof(buf) ? SLICE - off : sizeof(buf);
		if (block_read(w->bs, base + off, got, n) < 0 ||
		    memcmp(got, model + off, n))
			w->failures++;
	}
	free(model);
	return NULL;
}

static void test_parallel_qcow2(void **state)
{
	struct block_create_opts o = { .cluster_size = 4096 };
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct block_dev *bs;
	struct block_check res;
	unsigned i;

	assert_int_equal(block_create("qcow2", tpath("p.qcow2"),
				      THREADS * SLICE, &o), 0);
	assert_int_equal(block_open(&bs, tpath("p.qcow2"), NULL, BLOCK_O_RDWR), 0);
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .bs = bs, .id = i };
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_int_equal(res.corruptions + res.leaks, 0);
	block_close(bs);
}

#define SECTORS_PER_BLOCK 8
#define BLOCKS 32
#define ROUNDS 40

struct sector_writer {
	struct block_dev *bs;
	unsigned id;
	int failures;
};

/* Thread id owns sector id of every 4 KiB block; rewrites it each round. */
static void *sector_writer(void *arg)
{
	struct sector_writer *w = arg;
	uint8_t buf[512];
	unsigned r, b;

	for (r = 0; r < ROUNDS; r++)
		for (b = 0; b < BLOCKS; b++) {
			memset(buf, w->id * 16 + r % 16 + 1, sizeof(buf));
			if (block_write(w->bs, b * 4096 + w->id * 512, buf,
					sizeof(buf)) < 0)
				w->failures++;
		}
	return NULL;
}

/*
 * Unaligned O_DIRECT writes are read-modify-writes of whole blocks: two
 * threads writing different sectors of one block must not undo each other.
 */
static void test_nocache_concurrent_sectors(void **state)
{
	struct sector_writer w[SECTORS_PER_BLOCK];
	pthread_t t[SECTORS_PER_BLOCK];
	const char *fmts[] = { "raw", "qcow2" };
	struct block_create_opts o = { .cluster_size = 65536 };
	struct block_dev *bs;
	uint8_t got[512], want;
	unsigned i, b, f;

	for (f = 0; f < 2; f++) {
		assert_int_equal(block_create(fmts[f], tpath("s.img"),
					      BLOCKS * 4096, &o), 0);
		assert_int_equal(block_open(&bs, tpath("s.img"), fmts[f],
					    BLOCK_O_RDWR | BLOCK_O_NOCACHE |
					    BLOCK_O_UNSAFE), 0);
		/* Allocate first, so qcow2 writes go in place too. */
		memset(got, 0, sizeof(got));
		for (b = 0; b < BLOCKS * 8; b++)
			assert_int_equal(block_write(bs, b * 512ULL, got, 512), 0);
		for (i = 0; i < SECTORS_PER_BLOCK; i++) {
			w[i] = (struct sector_writer){ .bs = bs, .id = i };
			assert_int_equal(pthread_create(&t[i], NULL,
							sector_writer, &w[i]), 0);
		}
		for (i = 0; i < SECTORS_PER_BLOCK; i++) {
			pthread_join(t[i], NULL);
			assert_int_equal(w[i].failures, 0);
		}
		for (b = 0; b < BLOCKS; b++)
			for (i = 0; i < SECTORS_PER_BLOCK; i++) {
				want = i * 16 + (ROUNDS - 1) % 16 + 1;
				assert_int_equal(block_read(bs, b * 4096 + i * 512,
							    got, 512), 0);
				assert_int_equal(got[0], want);
				assert_int_equal(got[511], want);
			}
		block_close(bs);
	}
}

static void test_map(void **state)
{
	struct block_create_opts o = { .cluster_size = 65536 };
	struct block_mapping m;
	struct block_dev *bs;
	uint8_t buf[65536];

	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(block_create("qcow2", tpath("m.qcow2"), 1 << 20, &o), 0);
	assert_int_equal(block_open(&bs, tpath("m.qcow2"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_map(bs, 0, 1 << 20, &m), 0);
	assert_int_equal(m.flags, 0);
	assert_int_equal(m.len, 1 << 20);
	assert_int_equal(block_write(bs, 131072, buf, sizeof(buf)), 0);
	assert_int_equal(block_write(bs, 196608, buf, sizeof(buf)), 0);
	assert_int_equal(block_map(bs, 0, 1 << 20, &m), 0);
	assert_int_equal(m.len, 131072);
	assert_int_equal(block_map(bs, 131072, (1 << 20) - 131072, &m), 0);
	assert_int_equal(m.flags, BLOCK_MAP_ALLOCATED | BLOCK_MAP_HOST |
			 BLOCK_MAP_WRITABLE);
	assert_int_equal(m.len, 131072);
	assert_int_equal(m.host % 65536, 0);
	assert_int_equal(block_map(bs, 131072 + 100, 10, &m), 0);
	assert_int_equal(m.len, 10);
	block_close(bs);

	assert_int_equal(block_create("raw", tpath("m.raw"), 1 << 20, NULL), 0);
	assert_int_equal(block_open(&bs, tpath("m.raw"), NULL, 0), 0);
	assert_int_equal(block_map(bs, 4096, 8192, &m), 0);
	assert_int_equal(m.flags, BLOCK_MAP_ALLOCATED | BLOCK_MAP_HOST);
	assert_int_equal(m.host, 4096);
	assert_int_equal(m.len, 8192);
	assert_int_equal(block_map(bs, 4096, 1 << 20, &m), -EINVAL);
	block_close(bs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nocache_unaligned_raw),
		cmocka_unit_test(test_nocache_qcow2),
		cmocka_unit_test(test_parallel_qcow2),
		cmocka_unit_test(test_nocache_concurrent_sectors),
		cmocka_unit_test(test_map),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

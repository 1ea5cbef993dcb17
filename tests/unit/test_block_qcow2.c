/*
 * qcow2 driver: random I/O against an in-memory model (several cluster
 * sizes, refcount widths and both versions), backing files, discard,
 * growing, snapshots, compressed clusters, and the consistency check
 * finding (and repairing) leaks and corruption.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "block/block.h"
#include "block/file_io.h"
#include "block/qcow2.h"

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
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wirt-qcow2-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint32_t rnd(uint32_t *seed)
{
	*seed = *seed * 1103515245 + 12345;
	return *seed >> 8;
}

static void fill(uint8_t *b, size_t n, uint32_t *seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = rnd(seed);
}

static struct block_dev *open_rw(const char *p)
{
	struct block_dev *bs;

	assert_int_equal(block_open(&bs, p, NULL, BLOCK_O_RDWR), 0);
	return bs;
}

static void assert_contents(struct block_dev *bs, const uint8_t *model,
			    uint64_t size)
{
	uint8_t *got = malloc(size);

	assert_non_null(got);
	assert_int_equal(block_read(bs, 0, got, size), 0);
	assert_memory_equal(got, model, size);
	free(got);
}

static void assert_clean(const char *p)
{
	struct block_dev *bs;
	struct block_check res;

	assert_int_equal(block_open(&bs, p, NULL, BLOCK_O_NO_BACKING), 0);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(res.leaks, 0);
	block_close(bs);
}

/* Random writes and reads at odd offsets, compared with a flat buffer. */
static void random_io(int version, uint32_t cluster, int refbits, uint32_t seed)
{
	struct block_create_opts o = { .version = version, .cluster_size = cluster,
				       .refcount_bits = refbits };
	const uint64_t size = 8 << 20;
	uint8_t *model = calloc(1, size), *buf = malloc(256 << 10);
	struct block_dev *bs;
	uint64_t off, len;
	int i;

	assert_non_null(model);
	assert_non_null(buf);
	assert_int_equal(block_create("qcow2", tpath("r.qcow2"), size, &o), 0);
	bs = open_rw(tpath("r.qcow2"));
	assert_string_equal(bs->drv->name, "qcow2");
	for (i = 0; i < 300; i++) {
		off = rnd(&seed) % size;
		len = 1 + rnd(&seed) % (200 << 10);
		if (len > size - off)
			len = size - off;
		if (rnd(&seed) % 4 == 0) {
			assert_int_equal(block_read(bs, off, buf, len), 0);
			assert_memory_equal(buf, model + off, len);
			continue;
		}
		fill(buf, len, &seed);
		assert_int_equal(block_write(bs, off, buf, len), 0);
		memcpy(model + off, buf, len);
	}
	assert_contents(bs, model, size);
	assert_int_equal(block_flush(bs), 0);
	block_close(bs);
	bs = open_rw(tpath("r.qcow2"));
	assert_contents(bs, model, size);
	block_close(bs);
	assert_clean(tpath("r.qcow2"));
	free(model);
	free(buf);
}

static void test_random_io_v3_64k(void **state)
{
	random_io(3, 65536, 16, 1);
}

static void test_random_io_v2(void **state)
{
	random_io(2, 65536, 16, 2);
}

static void test_random_io_small_clusters(void **state)
{
	random_io(3, 512, 16, 3);	/* grows the refcount table */
}

static void test_random_io_refcount_widths(void **state)
{
	random_io(3, 4096, 1, 4);
	random_io(3, 4096, 4, 5);
	random_io(3, 1024, 64, 6);
	random_io(3, 2 << 20, 8, 7);
}

static void test_out_of_range_and_read_only(void **state)
{
	struct block_dev *bs;
	uint8_t b[16] = { 0 };

	assert_int_equal(block_create("qcow2", tpath("o.qcow2"), 1 << 20, NULL), 0);
	bs = open_rw(tpath("o.qcow2"));
	assert_int_equal(block_read(bs, (1 << 20) - 8, b, 16), -EINVAL);
	assert_int_equal(block_write(bs, UINT64_MAX - 4, b, 16), -EINVAL);
	assert_int_equal(block_write(bs, (1 << 20) - 16, b, 16), 0);
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("o.qcow2"), "qcow2", 0), 0);
	assert_int_equal(block_write(bs, 0, b, 16), -EROFS);
	block_close(bs);
}

static void test_backing_chain(void **state)
{
	struct block_create_opts o = { .backing_file = "base.raw" };
	const uint64_t size = 4 << 20;
	uint8_t *model = malloc(size), buf[5000];
	uint32_t seed = 9;
	struct block_dev *bs;
	int fd;

	fill(model, size - 4096, &seed);	/* base is 4 KiB shorter */
	memset(model + size - 4096, 0, 4096);
	fd = open(tpath("base.raw"), O_CREAT | O_TRUNC | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(file_pwrite_all(fd, model, size - 4096, 0), 0);
	close(fd);
	/* Size 0 takes the backing file's size. */
	assert_int_equal(block_create("qcow2", tpath("top.qcow2"), 0, &o), 0);
	bs = open_rw(tpath("top.qcow2"));
	assert_int_equal(bs->size, size - 4096);
	assert_int_equal(block_resize(bs, size, false), 0);
	assert_non_null(bs->backing);
	assert_contents(bs, model, size);
	fill(buf, sizeof(buf), &seed);
	assert_int_equal(block_write(bs, 70000, buf, sizeof(buf)), 0);
	memcpy(model + 70000, buf, sizeof(buf));
	assert_int_equal(block_write(bs, size - 4100, buf, 100), 0);
	memcpy(model + size - 4100, buf, 100);
	assert_contents(bs, model, size);
	block_close(bs);
	bs = open_rw(tpath("top.qcow2"));
	assert_contents(bs, model, size);
	block_close(bs);
	assert_clean(tpath("top.qcow2"));
	free(model);
}

static void test_discard_reads_zero_and_frees(void **state)
{
	const uint64_t size = 2 << 20;
	uint8_t *model = malloc(size);
	struct block_dev *bs;
	struct block_info info;
	uint64_t before, pnum;
	uint32_t seed = 11;

	fill(model, size, &seed);
	assert_int_equal(block_create("qcow2", tpath("d.qcow2"), size, NULL), 0);
	bs = open_rw(tpath("d.qcow2"));
	assert_int_equal(block_write(bs, 0, model, size), 0);
	assert_int_equal(block_get_info(bs, &info), 0);
	before = info.allocated_size;
	/* Only whole clusters are discarded: [64K, 1M) here. */
	assert_int_equal(block_discard(bs, 1000, (1 << 20) - 1000), 0);
	memset(model + 65536, 0, (1 << 20) - 65536);
	assert_contents(bs, model, size);
	assert_int_equal(block_status(bs, 65536, 4096, &pnum), BLOCK_STATUS_ZERO);
	assert_int_equal(block_status(bs, 0, 4096, &pnum), BLOCK_STATUS_DATA);
	assert_int_equal(block_get_info(bs, &info), 0);
	assert_true(info.allocated_size < before);
	block_close(bs);
	assert_clean(tpath("d.qcow2"));
	free(model);
}

static void test_grow_l1(void **state)
{
	struct block_create_opts o = { .cluster_size = 512 };
	struct block_dev *bs;
	uint8_t buf[3000], got[3000];
	uint32_t seed = 12;

	assert_int_equal(block_create("qcow2", tpath("g.qcow2"), 1 << 20, &o), 0);
	bs = open_rw(tpath("g.qcow2"));
	fill(buf, sizeof(buf), &seed);
	assert_int_equal(block_write(bs, 5000, buf, sizeof(buf)), 0);
	assert_int_equal(block_resize(bs, 64 << 20, false), 0);
	assert_int_equal(block_write(bs, (64 << 20) - 3000, buf, 3000), 0);
	block_close(bs);
	bs = open_rw(tpath("g.qcow2"));
	assert_int_equal(bs->size, 64 << 20);
	assert_int_equal(block_read(bs, 5000, got, sizeof(got)), 0);
	assert_memory_equal(got, buf, sizeof(buf));
	assert_int_equal(block_read(bs, (64 << 20) - 3000, got, 3000), 0);
	assert_memory_equal(got, buf, 3000);
	assert_int_equal(block_resize(bs, 1 << 20, true), -ENOTSUP);
	block_close(bs);
	assert_clean(tpath("g.qcow2"));
}

static void test_snapshots(void **state)
{
	const uint64_t size = 1 << 20;
	uint8_t *a = malloc(size), *b = malloc(size);
	struct block_snapshot *list;
	struct block_dev *bs;
	uint32_t seed = 13;
	int n;

	fill(a, size, &seed);
	memcpy(b, a, size);
	assert_int_equal(block_create("qcow2", tpath("s.qcow2"), size, NULL), 0);
	bs = open_rw(tpath("s.qcow2"));
	assert_int_equal(block_write(bs, 0, a, size), 0);
	assert_int_equal(block_snapshot_create(bs, "one"), 0);
	assert_int_equal(block_snapshot_create(bs, "one"), -EEXIST);
	fill(b + 1000, 100000, &seed);
	assert_int_equal(block_write(bs, 1000, b + 1000, 100000), 0);
	assert_contents(bs, b, size);
	assert_int_equal(block_snapshot_create(bs, "two"), 0);
	assert_int_equal(block_snapshot_list(bs, &list, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "one");
	assert_string_equal(list[1].id, "2");
	free(list);
	block_close(bs);
	assert_clean(tpath("s.qcow2"));

	bs = open_rw(tpath("s.qcow2"));
	assert_int_equal(block_snapshot_apply(bs, "one"), 0);
	assert_contents(bs, a, size);
	assert_int_equal(block_snapshot_delete(bs, "missing"), -ENOENT);
	assert_int_equal(block_snapshot_delete(bs, "1"), 0);	/* by ID */
	block_close(bs);
	assert_clean(tpath("s.qcow2"));

	bs = open_rw(tpath("s.qcow2"));
	assert_contents(bs, a, size);
	assert_int_equal(block_snapshot_apply(bs, "two"), 0);
	assert_contents(bs, b, size);
	assert_int_equal(block_snapshot_delete(bs, "two"), 0);
	assert_int_equal(block_write(bs, 0, a, 4096), 0);
	memcpy(b, a, 4096);
	assert_contents(bs, b, size);
	block_close(bs);
	assert_clean(tpath("s.qcow2"));
	free(a);
	free(b);
}

/* Put a hand-made compressed cluster at guest cluster 0. */
static void write_compressed(const char *p, bool zstd, const uint8_t *data)
{
	struct block_dev *bs;
	struct qcow2 *s;
	uint8_t out[70000], l2e[8];
	uint64_t clen = sizeof(out), host, l2;
	z_stream z = { 0 };
	uint32_t x;

	if (zstd) {
		clen = ZSTD_compress(out, sizeof(out), data, 65536, 3);
		assert_false(ZSTD_isError(clen));
	} else {
		assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -12, 9,
					      Z_DEFAULT_STRATEGY), Z_OK);
		z.next_in = (uint8_t *)data;
		z.avail_in = 65536;
		z.next_out = out;
		z.avail_out = sizeof(out);
		assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
		clen = z.total_out;
		deflateEnd(&z);
	}
	/* Write a normal cluster first so the image has an L2 table. */
	bs = open_rw(p);
	assert_int_equal(block_write(bs, 0, data, 512), 0);
	s = bs->opaque;
	l2 = s->l1[0] & QCOW2_OFFSET_MASK;
	/* Two clusters with refcount 1 hold the data, not sector aligned. */
	assert_int_equal(qcow2_alloc_clusters(bs, 2, &host), 0);
	host += 100;
	assert_int_equal(file_pwrite_all(bs->fd, out, clen, host), 0);
	x = 62 - (s->cluster_bits - 8);
	put_be64(l2e, QCOW2_OFLAG_COMPRESSED | host |
		 ((div_round_up((host & 511) + clen, 512) - 1) << x));
	assert_int_equal(file_pwrite_all(bs->fd, l2e, 8, l2), 0);
	block_close(bs);
}

static void compressed(const char *name, bool zstd)
{
	struct block_create_opts o = { .zstd = zstd };
	uint8_t *data = malloc(65536), buf[1000];
	struct block_dev *bs;
	uint32_t seed = 14;
	int i;

	for (i = 0; i < 65536; i++)
		data[i] = i % 251 == 0 ? rnd(&seed) : (uint32_t)i / 1000;
	assert_int_equal(block_create("qcow2", tpath(name), 1 << 20, &o), 0);
	write_compressed(tpath(name), zstd, data);
	bs = open_rw(tpath(name));
	assert_int_equal(block_read(bs, 30000, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, data + 30000, sizeof(buf));
	/* Writing into a compressed cluster copies it into a normal one. */
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(block_write(bs, 100, buf, sizeof(buf)), 0);
	memcpy(data + 100, buf, sizeof(buf));
	assert_contents(bs, data, 65536);
	block_close(bs);
	free(data);
}

static void test_compressed_zlib(void **state)
{
	compressed("cz.qcow2", false);
}

static void test_compressed_zstd(void **state)
{
	compressed("cs.qcow2", true);
}

static void set_refcount(const char *p, uint64_t cluster, uint64_t value)
{
	struct block_dev *bs = open_rw(p);
	struct qcow2 *s = bs->opaque;
	uint64_t rb = s->rt[cluster >> s->rb_bits] & QCOW2_RT_OFFSET_MASK;
	uint8_t *blk = malloc(s->cluster_size);

	assert_int_equal(file_pread_exact(bs->fd, blk, s->cluster_size, rb), 0);
	qcow2_refcount_set_entry(s, blk, cluster & ((1ULL << s->rb_bits) - 1),
				 value);
	assert_int_equal(file_pwrite_all(bs->fd, blk, s->cluster_size, rb), 0);
	free(blk);
	block_close(bs);
}

static void check_counts(const char *p, bool repair, uint64_t corrupt,
			 uint64_t leaks)
{
	struct block_dev *bs;
	struct block_check res;

	assert_int_equal(block_open(&bs, p, NULL, repair ?
				    BLOCK_O_RDWR | BLOCK_O_REPAIR : 0), 0);
	assert_int_equal(block_check(bs, &res, repair), 0);
	assert_int_equal(res.corruptions, corrupt);
	assert_int_equal(res.leaks, leaks);
	block_close(bs);
}

static void test_check_finds_and_repairs(void **state)
{
	struct block_dev *bs;
	uint8_t buf[65536];
	uint64_t data_cluster, fsize;
	struct qcow2 *s;
	uint8_t l2[8];

	memset(buf, 7, sizeof(buf));
	assert_int_equal(block_create("qcow2", tpath("c.qcow2"), 1 << 20, NULL), 0);
	bs = open_rw(tpath("c.qcow2"));
	assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), 0);
	s = bs->opaque;
	assert_int_equal(file_pread_exact(bs->fd, l2, 8,
					  s->l1[0] & QCOW2_OFFSET_MASK), 0);
	data_cluster = (get_be64(l2) & QCOW2_OFFSET_MASK) >> s->cluster_bits;
	assert_int_equal(file_size(bs->fd, &fsize), 0);
	block_close(bs);
	check_counts(tpath("c.qcow2"), false, 0, 0);

	/* A leak: a cluster nobody uses with refcount 1. */
	assert_int_equal(truncate(tpath("c.qcow2"), fsize + 65536), 0);
	set_refcount(tpath("c.qcow2"), fsize >> 16, 1);
	check_counts(tpath("c.qcow2"), false, 0, 1);
	check_counts(tpath("c.qcow2"), true, 0, 0);
	check_counts(tpath("c.qcow2"), false, 0, 0);

	/* Corruption: a used data cluster with refcount 0 (copied flag
	 * then disagrees too). */
	set_refcount(tpath("c.qcow2"), data_cluster, 0);
	bs = NULL;
	assert_int_equal(block_open(&bs, tpath("c.qcow2"), NULL, 0), 0);
	{
		struct block_check res;

		assert_int_equal(block_check(bs, &res, false), 0);
		assert_true(res.corruptions >= 1);
	}
	block_close(bs);
	check_counts(tpath("c.qcow2"), true, 0, 0);
	bs = open_rw(tpath("c.qcow2"));
	assert_contents(bs, buf, sizeof(buf));
	block_close(bs);
}

static void test_dirty_image_needs_repair(void **state)
{
	struct block_dev *bs;
	uint8_t inc[8];

	assert_int_equal(block_create("qcow2", tpath("dirty.qcow2"), 1 << 20,
				      NULL), 0);
	bs = open_rw(tpath("dirty.qcow2"));
	put_be64(inc, QCOW2_INCOMPAT_DIRTY);
	assert_int_equal(file_pwrite_all(bs->fd, inc, 8, QH_INCOMPAT), 0);
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("dirty.qcow2"), NULL, BLOCK_O_RDWR),
			 -EROFS);
	check_counts(tpath("dirty.qcow2"), true, 0, 0);
	bs = open_rw(tpath("dirty.qcow2"));
	block_close(bs);
}

static void test_copy_keeps_sparse(void **state)
{
	struct block_dev *in, *out;
	struct block_info info;
	uint8_t buf[4096];
	uint32_t seed = 15;

	fill(buf, sizeof(buf), &seed);
	assert_int_equal(block_create("qcow2", tpath("cp.qcow2"), 256 << 20,
				      NULL), 0);
	in = open_rw(tpath("cp.qcow2"));
	assert_int_equal(block_write(in, 100 << 20, buf, sizeof(buf)), 0);
	assert_int_equal(block_create("qcow2", tpath("cp2.qcow2"), 256 << 20,
				      NULL), 0);
	out = open_rw(tpath("cp2.qcow2"));
	assert_int_equal(block_copy(in, out, true), 0);
	assert_int_equal(block_get_info(out, &info), 0);
	assert_true(info.file_size < (1 << 20));
	assert_int_equal(block_read(out, 100 << 20, buf, sizeof(buf)), 0);
	block_close(out);
	block_close(in);
	assert_clean(tpath("cp2.qcow2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_io_v3_64k),
		cmocka_unit_test(test_random_io_v2),
		cmocka_unit_test(test_random_io_small_clusters),
		cmocka_unit_test(test_random_io_refcount_widths),
		cmocka_unit_test(test_out_of_range_and_read_only),
		cmocka_unit_test(test_backing_chain),
		cmocka_unit_test(test_discard_reads_zero_and_frees),
		cmocka_unit_test(test_grow_l1),
		cmocka_unit_test(test_snapshots),
		cmocka_unit_test(test_compressed_zlib),
		cmocka_unit_test(test_compressed_zstd),
		cmocka_unit_test(test_check_finds_and_repairs),
		cmocka_unit_test(test_dirty_image_needs_repair),
		cmocka_unit_test(test_copy_keeps_sparse),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

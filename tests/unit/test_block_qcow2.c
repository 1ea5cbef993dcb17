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

/* Undefined behaviour fails the test instead of scrolling past. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

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
	assert_string_equal(block_format(bs), "qcow2");
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
	assert_int_equal(block_size(bs), size - 4096);
	assert_int_equal(block_resize(bs, size, false), 0);
	assert_non_null(block_backing(bs));
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
	assert_int_equal(block_size(bs), 64 << 20);
	assert_int_equal(block_read(bs, 5000, got, sizeof(got)), 0);
	assert_memory_equal(got, buf, sizeof(buf));
	assert_int_equal(block_read(bs, (64 << 20) - 3000, got, 3000), 0);
	assert_memory_equal(got, buf, 3000);
	/* Back to 1 MiB: the data near 64 MiB goes, the rest stays. */
	assert_int_equal(block_resize(bs, 1 << 20, true), 0);
	block_close(bs);
	assert_clean(tpath("g.qcow2"));
	bs = open_rw(tpath("g.qcow2"));
	assert_int_equal(block_size(bs), 1 << 20);
	assert_int_equal(block_read(bs, 5000, got, sizeof(got)), 0);
	assert_memory_equal(got, buf, sizeof(buf));
	block_close(bs);
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

static uint8_t *slurp(const char *p, size_t *len)
{
	int fd = open(p, O_RDONLY);
	uint64_t size;
	uint8_t *buf;

	assert_true(fd >= 0);
	assert_int_equal(file_size(fd, &size), 0);
	buf = malloc(size + 1);
	assert_non_null(buf);
	assert_int_equal(file_pread_exact(fd, buf, size, 0), 0);
	close(fd);
	*len = size;
	return buf;
}

static uint64_t header_incompat(const char *p)
{
	uint8_t h[8];
	int fd = open(p, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(file_pread_exact(fd, h, 8, QH_INCOMPAT), 0);
	close(fd);
	return get_be64(h);
}

/*
 * An image left dirty (a crash with lazy refcounts) opens read-only as it
 * is, untouched, and is repaired when opened for writing, as qemu does.
 */
static void test_dirty_image_repaired_on_write_open(void **state)
{
	struct block_dev *bs;
	struct block_check res;
	uint8_t data[4096], *before, *after;
	size_t len, len2;

	memset(data, 0x3c, sizeof(data));
	assert_int_equal(block_create("qcow2", tpath("dirty.qcow2"), 1 << 20,
				      NULL), 0);
	bs = open_rw(tpath("dirty.qcow2"));
	assert_int_equal(block_write(bs, 0, data, sizeof(data)), 0);
	block_close(bs);
	/* A lost refcount decrement (a leak) and the dirty bit. */
	set_refcount(tpath("dirty.qcow2"), 40, 1);
	bs = open_rw(tpath("dirty.qcow2"));
	assert_int_equal(qcow2_set_incompat(bs, QCOW2_INCOMPAT_DIRTY), 0);
	block_close(bs);
	assert_int_equal(header_incompat(tpath("dirty.qcow2")),
			 QCOW2_INCOMPAT_DIRTY);

	before = slurp(tpath("dirty.qcow2"), &len);
	assert_int_equal(block_open(&bs, tpath("dirty.qcow2"), NULL, 0), 0);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_int_equal(res.leaks, 1);
	assert_int_equal(block_read(bs, 0, data, sizeof(data)), 0);
	block_close(bs);
	after = slurp(tpath("dirty.qcow2"), &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(before, after, len);

	bs = open_rw(tpath("dirty.qcow2"));
	block_close(bs);
	assert_int_equal(header_incompat(tpath("dirty.qcow2")), 0);
	check_counts(tpath("dirty.qcow2"), false, 0, 0);
	free(before);
	free(after);
}

static void write_all(const char *p, const void *data, size_t len)
{
	int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);

	assert_true(fd >= 0);
	assert_int_equal(file_pwrite_all(fd, data, len, 0), 0);
	close(fd);
}

/* ---- Interoperation with qemu-img / qemu-io (skipped without them) ---- */

static bool have_qemu(void)
{
	return system("command -v qemu-img >/dev/null && "
		      "command -v qemu-io >/dev/null") == 0;
}

/* Run a shell command with the test directory as working directory. */
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	int n;
	va_list ap;

	n = snprintf(cmd, sizeof(cmd), "cd %s && ", tmpdir);
	va_start(ap, fmt);
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void qemu_check_clean(const char *name)
{
	assert_int_equal(sh("qemu-img check -q %s", name), 0);
}

/* The whole disk of name read through wirt equals qemu-img's raw copy. */
static void assert_same_as_qemu(const char *name, uint64_t size)
{
	struct block_dev *bs;
	uint8_t *got = malloc(size), *want;
	size_t len;

	assert_int_equal(sh("qemu-img convert -O raw %s expect.raw", name), 0);
	want = slurp(tpath("expect.raw"), &len);
	assert_int_equal(len, size);
	assert_int_equal(block_open(&bs, tpath(name), NULL, 0), 0);
	assert_int_equal(block_read(bs, 0, got, size), 0);
	block_close(bs);
	assert_memory_equal(got, want, size);
	free(got);
	free(want);
}

/* Extended L2 entries: data, zero and unallocated subclusters over a
 * backing file, and a compressed cluster, read as qemu reads them. */
static void test_extl2_read(void **state)
{
	struct block_dev *bs;
	struct block_check res;
	uint8_t back[1 << 18];
	uint32_t seed = 77;

	if (!have_qemu())
		skip();
	fill(back, sizeof(back), &seed);
	write_all(tpath("xback.raw"), back, sizeof(back));
	assert_int_equal(sh("qemu-img create -q -f qcow2 -o extended_l2=on,"
			    "cluster_size=64K -b xback.raw -F raw x.qcow2 1M"), 0);
	assert_int_equal(sh("qemu-io -c 'write -P 0xaa 2048 2048' "
			    "-c 'write -z 8192 4096' -c 'write -P 0xbb 70000 1000' "
			    "-c 'write -c -P 0xcc 131072 65536' "
			    "-c 'write -P 0xdd 600000 100000' "
			    "-c 'write -z 630000 9000' x.qcow2 >/dev/null"), 0);
	assert_same_as_qemu("x.qcow2", 1 << 20);
	assert_int_equal(block_open(&bs, tpath("x.qcow2"), NULL, 0), 0);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(res.leaks, 0);
	block_close(bs);
	/* Writing is not supported: one clear refusal. */
	assert_int_equal(block_open(&bs, tpath("x.qcow2"), NULL, BLOCK_O_RDWR),
			 -ENOTSUP);
}

/* Discarded clusters go back to the free pool and qemu-img agrees. */
static void test_discard_frees_for_qemu(void **state)
{
	struct block_create_opts o = { .cluster_size = 4096 };
	struct block_dev *bs;
	struct block_check res;
	uint8_t buf[1 << 16];
	uint32_t seed = 5;

	if (!have_qemu())
		skip();
	fill(buf, sizeof(buf), &seed);
	assert_int_equal(block_create("qcow2", tpath("d.qcow2"), 4 << 20, &o), 0);
	bs = open_rw(tpath("d.qcow2"));
	assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), 0);
	assert_int_equal(block_write(bs, 3 << 20, buf, sizeof(buf)), 0);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_int_equal(res.allocated_clusters, 32);
	assert_int_equal(block_discard(bs, 4096, 8192), 0);
	assert_int_equal(block_discard(bs, 3 << 20, 1 << 16), 0);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_int_equal(res.allocated_clusters, 14);
	assert_int_equal(res.leaks, 0);
	assert_int_equal(res.corruptions, 0);
	/* Freed clusters are reused rather than the file growing. */
	assert_int_equal(block_write(bs, 2 << 20, buf, 8192), 0);
	block_close(bs);
	qemu_check_clean("d.qcow2");
	assert_int_equal(sh("qemu-io -c 'read -P 0 4096 8192' d.qcow2 "
			    "| grep -q 'read 8192/8192'"), 0);
	assert_int_equal(sh("qemu-io -c 'read -P 0 3145728 65536' d.qcow2 "
			    "| grep -q 'read 65536/65536'"), 0);
}

/* Shrinking: refused while data lies past the new end unless asked to
 * discard it; afterwards the freed clusters are gone for qemu-img too. */
static void test_shrink(void **state)
{
	struct block_create_opts o = { .cluster_size = 4096 };
	struct block_dev *bs;
	uint8_t buf[20000], got[20000];
	uint32_t seed = 9;
	size_t n;

	fill(buf, sizeof(buf), &seed);
	assert_int_equal(block_create("qcow2", tpath("sh.qcow2"), 8 << 20, &o), 0);
	bs = open_rw(tpath("sh.qcow2"));
	assert_int_equal(block_write(bs, 1000, buf, sizeof(buf)), 0);
	assert_int_equal(block_write(bs, 5 << 20, buf, sizeof(buf)), 0);
	assert_int_equal(block_write(bs, (8 << 20) - 100, buf, 100), 0);
	/* Without --shrink: fine over unallocated space only. */
	assert_int_equal(bs->drv->resize(bs, 5 << 20, false), -EBUSY);
	assert_int_equal(block_size(bs), 8 << 20);
	block_close(bs);
	assert_clean(tpath("sh.qcow2"));
	bs = open_rw(tpath("sh.qcow2"));
	assert_int_equal(block_resize(bs, 4 << 20, true), 0);
	assert_int_equal(block_size(bs), 4 << 20);
	assert_int_equal(bs->drv->resize(bs, 2 << 20, false), 0);
	/* Growing back: what lay past the end reads as zeros. */
	assert_int_equal(block_resize(bs, 8 << 20, false), 0);
	assert_int_equal(block_read(bs, 5 << 20, got, sizeof(got)), 0);
	for (n = 0; n < sizeof(got); n++)
		assert_int_equal(got[n], 0);
	assert_int_equal(block_read(bs, 1000, got, sizeof(got)), 0);
	assert_memory_equal(got, buf, sizeof(got));
	block_close(bs);
	assert_clean(tpath("sh.qcow2"));
	if (have_qemu()) {
		qemu_check_clean("sh.qcow2");
		/* An image qemu wrote, shrunk by wirt, checked by qemu. */
		assert_int_equal(sh("qemu-img create -q -f qcow2 q.qcow2 16M && "
				    "qemu-io -c 'write -P 0x11 0 1M' "
				    "-c 'write -P 0x22 10M 3M' q.qcow2 >/dev/null"), 0);
		bs = open_rw(tpath("q.qcow2"));
		assert_int_equal(block_resize(bs, 11 << 20, true), 0);
		block_close(bs);
		qemu_check_clean("q.qcow2");
		assert_int_equal(sh("qemu-img info q.qcow2 | grep -q "
				    "'virtual size: 11 MiB'"), 0);
		assert_int_equal(sh("qemu-io -c 'read -P 0x22 10M 1M' "
				    "-c 'read -P 0x11 0 1M' q.qcow2 | "
				    "grep -c 'read 1048576' | grep -q 2"), 0);
	}
}

/* Lazy refcounts: dirty while open for writing, clean after close; an
 * image qemu left dirty (it aborted) is repaired when wirt opens it. */
static void test_lazy_refcounts(void **state)
{
	struct block_dev *bs;
	uint8_t buf[8192];

	if (!have_qemu())
		skip();
	memset(buf, 0x6b, sizeof(buf));
	assert_int_equal(sh("qemu-img create -q -f qcow2 -o lazy_refcounts=on "
			    "l.qcow2 4M"), 0);
	bs = open_rw(tpath("l.qcow2"));
	assert_int_equal(header_incompat(tpath("l.qcow2")), QCOW2_INCOMPAT_DIRTY);
	assert_int_equal(block_write(bs, 4096, buf, sizeof(buf)), 0);
	block_close(bs);
	assert_int_equal(header_incompat(tpath("l.qcow2")), 0);
	qemu_check_clean("l.qcow2");
	/* Read-only opens leave the bit alone. */
	assert_int_equal(block_open(&bs, tpath("l.qcow2"), NULL, 0), 0);
	assert_int_equal(header_incompat(tpath("l.qcow2")), 0);
	block_close(bs);

	/* qemu-io's abort command kills qemu-io mid-session. */
	sh("qemu-io -c 'write -P 0x5a 1M 256K' -c abort l.qcow2 "
	   ">/dev/null 2>&1");
	assert_true(header_incompat(tpath("l.qcow2")) & QCOW2_INCOMPAT_DIRTY);
	assert_int_not_equal(sh("qemu-img check -q l.qcow2 >/dev/null 2>&1"), 0);
	bs = open_rw(tpath("l.qcow2"));
	assert_int_equal(header_incompat(tpath("l.qcow2")), QCOW2_INCOMPAT_DIRTY);
	block_close(bs);
	assert_int_equal(header_incompat(tpath("l.qcow2")), 0);
	qemu_check_clean("l.qcow2");
	assert_int_equal(sh("qemu-io -c 'read -P 0x5a 1M 256K' -c "
			    "'read -P 0x6b 4096 8192' l.qcow2 | "
			    "grep -c '^read' | grep -q 2"), 0);
	/* Created by wirt with the option, seen by qemu-img. */
	{
		struct block_create_opts o = { .lazy_refcounts = true };

		assert_int_equal(block_create("qcow2", tpath("lw.qcow2"), 1 << 20,
					      &o), 0);
		assert_int_equal(sh("qemu-img info lw.qcow2 | grep -q "
				    "'lazy refcounts: true'"), 0);
		bs = open_rw(tpath("lw.qcow2"));
		assert_int_equal(header_incompat(tpath("lw.qcow2")),
				 QCOW2_INCOMPAT_DIRTY);
		assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), 0);
		block_close(bs);
		qemu_check_clean("lw.qcow2");
	}
}

/* A corrupt-marked image opens read-only only; check -r clears the mark. */
static void test_corrupt_bit(void **state)
{
	struct block_dev *bs;
	struct block_check res;
	uint8_t buf[512];

	memset(buf, 0x21, sizeof(buf));
	assert_int_equal(block_create("qcow2", tpath("cb.qcow2"), 1 << 20, NULL), 0);
	bs = open_rw(tpath("cb.qcow2"));
	assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), 0);
	assert_int_equal(qcow2_set_incompat(bs, QCOW2_INCOMPAT_CORRUPT), 0);
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("cb.qcow2"), NULL, BLOCK_O_RDWR),
			 -EROFS);
	assert_int_equal(block_open(&bs, tpath("cb.qcow2"), NULL, 0), 0);
	assert_int_equal(block_read(bs, 0, buf, sizeof(buf)), 0);
	assert_int_equal(buf[100], 0x21);
	block_close(bs);
	assert_int_equal(header_incompat(tpath("cb.qcow2")), QCOW2_INCOMPAT_CORRUPT);
	assert_int_equal(block_open(&bs, tpath("cb.qcow2"), NULL,
				    BLOCK_O_RDWR | BLOCK_O_REPAIR), 0);
	assert_int_equal(block_check(bs, &res, true), 0);
	block_close(bs);
	assert_int_equal(header_incompat(tpath("cb.qcow2")), 0);
	bs = open_rw(tpath("cb.qcow2"));
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
		cmocka_unit_test(test_dirty_image_repaired_on_write_open),
		cmocka_unit_test(test_copy_keeps_sparse),
		cmocka_unit_test(test_extl2_read),
		cmocka_unit_test(test_discard_frees_for_qemu),
		cmocka_unit_test(test_shrink),
		cmocka_unit_test(test_lazy_refcounts),
		cmocka_unit_test(test_corrupt_bit),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

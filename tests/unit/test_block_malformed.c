/*
 * Malformed images must fail cleanly, never crash: truncated files, bad
 * magic, huge sizes, tables past the end of the file, unsupported feature
 * bits, and a seeded mutation run over qcow2 metadata that opens, reads,
 * writes, snapshots and checks every damaged image (under ASan/UBSan).
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
#include <time.h>
#include <unistd.h>

#include "block/block.h"
#include "block/file_io.h"
#include "block/qcow2.h"

/* Undefined behaviour fails the test instead of scrolling past. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

/* A hostile size must not make the drivers ask for gigabytes: such a
 * request fails here (and the code must cope with the NULL). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "max_allocation_size_mb=1024:allocator_may_return_null=1";
}

static char tmpdir[64];
static FILE *real_stderr;

static const char *tpath(const char *name)
{
	static char buf[4][256];
	static int n;

	n = (n + 1) % 4;
	snprintf(buf[n], sizeof(buf[n]), "%s/%s", tmpdir, name);
	return buf[n];
}

/* Error messages are expected by the hundred: send them to /dev/null (the
 * sanitizers write to file descriptor 2 directly and stay visible) unless
 * WIRT_TEST_VERBOSE is set (then cmocka's failure reports show too). */
static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wirt-malformed-XXXXXX");
	real_stderr = stderr;
	if (!getenv("WIRT_TEST_VERBOSE"))
		stderr = fopen("/dev/null", "w");
	return mkdtemp(tmpdir) && stderr ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	if (stderr != real_stderr)
		fclose(stderr);
	stderr = real_stderr;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint32_t rnd(uint32_t *seed)
{
	*seed = *seed * 1103515245 + 12345;
	return *seed >> 8;
}

static void write_file(const char *p, const void *data, size_t len)
{
	int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644);

	assert_true(fd >= 0);
	assert_int_equal(file_pwrite_all(fd, data, len, 0), 0);
	close(fd);
}

static uint8_t *read_file(const char *p, size_t *len)
{
	int fd = open(p, O_RDONLY);
	uint64_t size;
	uint8_t *buf;

	assert_true(fd >= 0);
	assert_int_equal(file_size(fd, &size), 0);
	buf = malloc(size);
	assert_non_null(buf);
	assert_int_equal(file_pread_exact(fd, buf, size, 0), 0);
	close(fd);
	*len = size;
	return buf;
}

/* A small qcow2 image with 512-byte clusters, data, a snapshot, backing. */
static uint8_t *base_image(size_t *len)
{
	struct block_create_opts o = { .cluster_size = 512,
				       .backing_file = "back.raw" };
	struct block_dev *bs;
	uint8_t data[20000];
	uint32_t seed = 1, i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = rnd(&seed);
	write_file(tpath("back.raw"), data, sizeof(data));
	assert_int_equal(block_create("qcow2", tpath("base.qcow2"), 256 << 10, &o), 0);
	assert_int_equal(block_open(&bs, tpath("base.qcow2"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write(bs, 3000, data, 9000), 0);
	assert_int_equal(block_snapshot_create(bs, "s"), 0);
	assert_int_equal(block_write(bs, 100000, data, 20000), 0);
	assert_int_equal(block_write(bs, 5000, data, 100), 0);
	block_close(bs);
	return read_file(tpath("base.qcow2"), len);
}

static int open_image(const uint8_t *img, size_t len, const char *fmt,
		      unsigned flags)
{
	struct block_dev *bs;
	int ret;

	write_file(tpath("m.img"), img, len);
	ret = block_open(&bs, tpath("m.img"), fmt, flags);
	if (ret == 0)
		block_close(bs);
	return ret;
}

static void test_truncated_qcow2(void **state)
{
	size_t len, cut[] = { 0, 4, 8, 71, 104 };
	uint8_t *img = base_image(&len);
	unsigned i;

	for (i = 0; i < sizeof(cut) / sizeof(cut[0]); i++)
		assert_true(open_image(img, cut[i], "qcow2", 0) < 0);
	/* Cut inside the metadata: opening or reading fails, no crash. */
	assert_true(open_image(img, 600, "qcow2", 0) < 0);
	free(img);
}

static void test_bad_magic_probes_as_raw(void **state)
{
	struct block_dev *bs;
	size_t len;
	uint8_t *img = base_image(&len);

	img[3] = 0;
	write_file(tpath("magic.img"), img, len);
	assert_int_equal(block_open(&bs, tpath("magic.img"), NULL, 0), 0);
	assert_string_equal(block_format(bs), "raw");
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("magic.img"), "qcow2", 0), -EINVAL);
	free(img);
}

struct header_case {
	uint32_t offset;
	int width;
	uint64_t value;
	int err;
};

static void test_bad_header_fields(void **state)
{
	static const struct header_case cases[] = {
		{ QH_VERSION, 4, 1, -ENOTSUP },
		{ QH_VERSION, 4, 4, -ENOTSUP },
		{ QH_CLUSTER_BITS, 4, 8, -EINVAL },
		{ QH_CLUSTER_BITS, 4, 63, -EINVAL },
		{ QH_CLUSTER_BITS, 4, 0xffffffff, -EINVAL },
		{ QH_SIZE, 8, 1ULL << 62, -EINVAL },
		{ QH_SIZE, 8, ~0ULL, -EINVAL },
		{ QH_CRYPT, 4, 2, -ENOTSUP },
		{ QH_L1_SIZE, 4, 0xffffffff, -EFBIG },
		{ QH_L1_OFFSET, 8, 1ULL << 50, -EINVAL },
		{ QH_L1_OFFSET, 8, 513, -EINVAL },
		{ QH_RT_OFFSET, 8, 1ULL << 50, -EINVAL },
		{ QH_RT_OFFSET, 8, 0, -EINVAL },
		{ QH_RT_CLUSTERS, 4, 0, -EINVAL },
		{ QH_RT_CLUSTERS, 4, 0xffffffff, -EINVAL },
		{ QH_NB_SNAPSHOTS, 4, 0xffffffff, -EIO },
		{ QH_SNAPSHOTS_OFFSET, 8, 1ULL << 50, -EIO },
		{ QH_INCOMPAT, 8, 1ULL << 40, -ENOTSUP },
		{ QH_INCOMPAT, 8, QCOW2_INCOMPAT_DATA_FILE, -ENOTSUP },
		/* Subclusters of 512-byte clusters would be 16 bytes. */
		{ QH_INCOMPAT, 8, QCOW2_INCOMPAT_EXTL2, -EINVAL },
		{ QH_INCOMPAT, 8, QCOW2_INCOMPAT_COMPRESSION, 0 },	/* zlib */
		{ QH_REFCOUNT_ORDER, 4, 7, -EINVAL },
		{ QH_HEADER_LEN, 4, 50, -EINVAL },
		{ QH_HEADER_LEN, 4, 0xfffffff0, -EINVAL },
		{ QH_BACKING_SIZE, 4, 5000, -EINVAL },
		{ QH_BACKING_OFFSET, 8, ~0ULL, -EINVAL },
	};
	size_t len, i;
	uint8_t *img = base_image(&len), *copy = malloc(len);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(copy, img, len);
		if (cases[i].width == 4)
			put_be32(copy + cases[i].offset, cases[i].value);
		else
			put_be64(copy + cases[i].offset, cases[i].value);
		print_message("case %zu\n", i);
		assert_int_equal(open_image(copy, len, NULL, 0), cases[i].err);
	}
	/* A compression type that does not exist. */
	memcpy(copy, img, len);
	put_be64(copy + QH_INCOMPAT, QCOW2_INCOMPAT_COMPRESSION);
	copy[QH_COMPRESSION] = 7;
	assert_int_equal(open_image(copy, len, NULL, 0), -ENOTSUP);
	/* Corrupt and dirty images open read-only only. */
	memcpy(copy, img, len);
	put_be64(copy + QH_INCOMPAT, QCOW2_INCOMPAT_CORRUPT);
	assert_int_equal(open_image(copy, len, NULL, 0), 0);
	assert_int_equal(open_image(copy, len, NULL, BLOCK_O_RDWR), -EROFS);
	free(img);
	free(copy);
}

static void test_bad_table_entries(void **state)
{
	struct block_dev *bs;
	struct block_check res;
	size_t len;
	uint8_t *img = base_image(&len), buf[4096];
	uint64_t l1 = get_be64(img + QH_L1_OFFSET);

	/* L1 entry past the end of the file, then unaligned. */
	put_be64(img + l1, QCOW2_OFLAG_COPIED | (1ULL << 40));
	write_file(tpath("l1.img"), img, len);
	assert_int_equal(block_open(&bs, tpath("l1.img"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_read(bs, 0, buf, sizeof(buf)), -EIO);
	assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), -EIO);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_true(res.corruptions > 0);
	block_close(bs);
	/* Data clusters overlapping the refcount table, or unaligned. */
	free(img);
	img = base_image(&len);
	l1 = get_be64(img + get_be64(img + QH_L1_OFFSET)) & QCOW2_OFFSET_MASK;
	assert_true(l1 != 0);
	put_be64(img + l1 + 8 * 6, QCOW2_OFLAG_COPIED | 512);
	write_file(tpath("l2.img"), img, len);
	assert_int_equal(block_open(&bs, tpath("l2.img"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write(bs, 6 * 512, buf, 512), -EIO);
	block_close(bs);
	free(img);
	/* 64 KiB clusters: an L2 entry 512 bytes off a cluster boundary. */
	assert_int_equal(block_create("qcow2", tpath("u.img"), 1 << 20, NULL), 0);
	assert_int_equal(block_open(&bs, tpath("u.img"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write(bs, 0, buf, 512), 0);
	block_close(bs);
	img = read_file(tpath("u.img"), &len);
	l1 = get_be64(img + get_be64(img + QH_L1_OFFSET)) & QCOW2_OFFSET_MASK;
	put_be64(img + l1, get_be64(img + l1) + 512);
	write_file(tpath("u.img"), img, len);
	assert_int_equal(block_open(&bs, tpath("u.img"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_read(bs, 0, buf, 512), -EIO);
	assert_int_equal(block_write(bs, 0, buf, 512), -EIO);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_true(res.corruptions > 0);
	block_close(bs);
	free(img);
}

static void test_garbage_compressed_cluster(void **state)
{
	struct block_dev *bs;
	size_t len;
	uint8_t *img = base_image(&len), buf[512];
	uint64_t l2 = get_be64(img + get_be64(img + QH_L1_OFFSET)) &
		      QCOW2_OFFSET_MASK;

	/* Guest cluster 0 compressed, pointing at refcount garbage. */
	put_be64(img + l2, QCOW2_OFLAG_COMPRESSED | 700);
	write_file(tpath("cz.img"), img, len);
	assert_int_equal(block_open(&bs, tpath("cz.img"), NULL, 0), 0);
	assert_int_equal(block_read(bs, 0, buf, sizeof(buf)), -EIO);
	block_close(bs);
	/* Same with zstd as the compression type. */
	put_be64(img + QH_INCOMPAT, QCOW2_INCOMPAT_COMPRESSION);
	img[QH_COMPRESSION] = 1;
	write_file(tpath("cz.img"), img, len);
	assert_int_equal(block_open(&bs, tpath("cz.img"), NULL, 0), 0);
	assert_int_equal(block_read(bs, 0, buf, sizeof(buf)), -EIO);
	block_close(bs);
	free(img);
}

/* An image named as its own backing file: the depth limit stops the loop
 * when the format is recorded; a guessed backing file may lead no further
 * anyway. */
static void test_backing_loop(void **state)
{
	struct block_create_opts o = { .backing_file = "loop2.qcow2",
				       .backing_format = "qcow2" };
	struct block_dev *bs;
	size_t len, off;
	uint8_t *img;

	assert_int_equal(block_create("qcow2", tpath("loop2.qcow2"), 1 << 20, NULL), 0);
	assert_int_equal(block_create("qcow2", tpath("loop.qcow2"), 1 << 20, &o), 0);
	/* Make the image its own backing file: "loop2.qcow2" -> "loop.qcow2". */
	img = read_file(tpath("loop.qcow2"), &len);
	off = get_be64(img + QH_BACKING_OFFSET);
	assert_memory_equal(img + off, "loop2.qcow2", 11);
	memcpy(img + off, "loop.qcow2", 10);
	put_be32(img + QH_BACKING_SIZE, 10);
	write_file(tpath("loop.qcow2"), img, len);
	assert_int_equal(block_open(&bs, tpath("loop.qcow2"), NULL, 0), -ELOOP);
	/* Drop the backing format extension (first after the header). */
	assert_int_equal(get_be32(img + 112), QCOW2_EXT_BACKING_FORMAT);
	put_be32(img + 112, 0x12345678);
	write_file(tpath("loop.qcow2"), img, len);
	assert_int_equal(block_open(&bs, tpath("loop.qcow2"), NULL, 0), -EINVAL);
	free(img);
}

/* Error lines written to the capture file cap, which is closed. */
static int count_errors(FILE *cap)
{
	char line[512];
	int n = 0;

	rewind(cap);
	while (fgets(line, sizeof(line), cap))
		if (strstr(line, "error: "))
			n++;
	fclose(cap);
	return n;
}

/* Run open (and a read) with log lines captured; returns how many errors. */
static int errors_of_open(const uint8_t *img, size_t len, const char *fmt,
			  unsigned flags, int *ret)
{
	FILE *saved = stderr, *cap = tmpfile();

	assert_non_null(cap);
	stderr = cap;
	*ret = open_image(img, len, fmt, flags);
	stderr = saved;
	return count_errors(cap);
}

/* Bad headers give exactly one error line, and the file is not touched. */
static void test_one_error_no_write(void **state)
{
	static const struct header_case cases[] = {
		{ QH_VERSION, 4, 7, -ENOTSUP },
		{ QH_CLUSTER_BITS, 4, 40, -EINVAL },
		{ QH_SIZE, 8, ~0ULL, -EINVAL },
		{ QH_L1_SIZE, 4, 0x7fffffff, -EFBIG },
		{ QH_L1_OFFSET, 8, 1ULL << 40, -EINVAL },
		{ QH_RT_OFFSET, 8, 1ULL << 40, -EINVAL },
		{ QH_RT_CLUSTERS, 4, 1u << 30, -EINVAL },
		{ QH_NB_SNAPSHOTS, 4, 100000, -EIO },
		{ QH_INCOMPAT, 8, 1ULL << 33, -ENOTSUP },
	};
	size_t len, len2, i;
	uint8_t *img = base_image(&len), *copy = malloc(len), *after;
	int ret;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memcpy(copy, img, len);
		if (cases[i].width == 4)
			put_be32(copy + cases[i].offset, cases[i].value);
		else
			put_be64(copy + cases[i].offset, cases[i].value);
		print_message("case %zu\n", i);
		assert_int_equal(errors_of_open(copy, len, NULL, BLOCK_O_RDWR,
						&ret), 1);
		assert_int_equal(ret, cases[i].err);
		after = read_file(tpath("m.img"), &len2);
		assert_int_equal(len2, len);
		assert_memory_equal(after, copy, len);
		free(after);
	}
	free(img);
	free(copy);
}

/* A file of zeros is no image of any format, and says so once. */
static void test_zero_filled(void **state)
{
	static const char *const fmts[] = { "qcow2", "vmdk", "vdi" };
	uint8_t *zero = calloc(1, 1 << 16);
	struct block_dev *bs;
	size_t i;
	int ret;

	for (i = 0; i < 3; i++) {
		assert_int_equal(errors_of_open(zero, 1 << 16, fmts[i], 0,
						&ret), 1);
		assert_true(ret < 0);
		assert_int_equal(errors_of_open(zero, 300, fmts[i], 0, &ret), 1);
		assert_true(ret < 0);
	}
	/* Probing it finds raw data. */
	write_file(tpath("z.img"), zero, 1 << 16);
	assert_int_equal(block_open(&bs, tpath("z.img"), NULL, 0), 0);
	assert_string_equal(block_format(bs), "raw");
	block_close(bs);
	free(zero);
}

/* A image whose header is intact but whose first cluster is zeroed. */
static void test_zeroed_tables(void **state)
{
	struct block_dev *bs;
	struct block_check res;
	size_t len;
	uint8_t *img = base_image(&len), buf[4096];
	uint64_t rt = get_be64(img + QH_RT_OFFSET);
	uint64_t rb = get_be64(img + rt);

	/* Refcount block gone: the image reads, check finds corruption. */
	memset(img + rb, 0, 512);
	write_file(tpath("zt.img"), img, len);
	assert_int_equal(block_open(&bs, tpath("zt.img"), NULL, 0), 0);
	assert_int_equal(block_read(bs, 0, buf, sizeof(buf)), 0);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_true(res.corruptions > 0);
	block_close(bs);
	free(img);
}

/* Fuzzer finding: a check over a refcount table whose entries all name one
 * full refcount block walked billions of clusters past the end of file. */
static void test_hostile_refcount_table_bounded(void **state)
{
	struct block_create_opts o = { .cluster_size = 512, .refcount_bits = 1 };
	struct block_dev *bs;
	struct block_check res;
	uint8_t data[2048];
	uint64_t rt_clusters = 1024, i, rt, rb;
	size_t len, total;
	uint8_t *img, *big;
	time_t t0;

	memset(data, 0x5a, sizeof(data));
	assert_int_equal(block_create("qcow2", tpath("hr.qcow2"), 1 << 20, &o), 0);
	assert_int_equal(block_open(&bs, tpath("hr.qcow2"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write(bs, 0, data, sizeof(data)), 0);
	block_close(bs);
	img = read_file(tpath("hr.qcow2"), &len);
	rt = align_up(len, 512);
	rb = rt + rt_clusters * 512;
	total = rb + 512;
	big = calloc(1, total);
	memcpy(big, img, len);
	memset(big + rb, 0xff, 512);
	for (i = 0; i < rt_clusters * 64; i++)
		put_be64(big + rt + i * 8, rb);
	put_be64(big + QH_RT_OFFSET, rt);
	put_be32(big + QH_RT_CLUSTERS, rt_clusters);
	write_file(tpath("hr.qcow2"), big, total);

	t0 = time(NULL);
	assert_int_equal(block_open(&bs, tpath("hr.qcow2"), NULL, 0), 0);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_true(res.corruptions > 0);
	block_close(bs);
	/* Allocation gives up with an error rather than scanning forever. */
	assert_int_equal(block_open(&bs, tpath("hr.qcow2"), NULL,
				    BLOCK_O_RDWR | BLOCK_O_UNSAFE), 0);
	assert_int_equal(block_write(bs, 600000, data, 512), -EIO);
	block_close(bs);
	assert_true(time(NULL) - t0 < 20);
	free(img);
	free(big);
}

/* Fuzzer finding: a vmdk capacity whose grain directory size did not fit
 * in 32 bits gave a short directory and writes far outside it. */
static void test_vmdk_directory_size_overflow(void **state)
{
	struct block_create_opts o = { .cluster_size = 4096 };
	size_t len;
	uint8_t *img;
	int ret;

	assert_int_equal(block_create("vmdk", tpath("gd.vmdk"), 1 << 20, &o), 0);
	img = read_file(tpath("gd.vmdk"), &len);
	put_le64(img + 12, 1ULL << 40);		/* capacity, sectors */
	put_le64(img + 20, 1);			/* grain, sectors */
	put_le32(img + 44, 1);			/* entries per grain table */
	assert_int_equal(errors_of_open(img, len, "vmdk", BLOCK_O_RDWR, &ret), 1);
	assert_int_equal(ret, -EFBIG);
	free(img);
}

/* a.qcow2 -> b.qcow2 -> a.qcow2: one clear error, whichever is opened. */
static void test_backing_loop_two_images(void **state)
{
	struct block_create_opts ob = { .backing_file = "b.qcow2",
					.backing_format = "qcow2" };
	struct block_create_opts oa = { .backing_file = "a.qcow2",
					.backing_format = "qcow2" };
	uint8_t *img;
	size_t len;
	int ret;

	assert_int_equal(block_create("qcow2", tpath("b.qcow2"), 1 << 20, NULL), 0);
	assert_int_equal(block_create("qcow2", tpath("a.qcow2"), 1 << 20, &ob), 0);
	assert_int_equal(block_create("qcow2", tpath("b.qcow2"), 1 << 20, &oa), 0);
	img = read_file(tpath("a.qcow2"), &len);
	assert_int_equal(errors_of_open(img, len, NULL, 0, &ret), 1);
	/* errors_of_open wrote a copy to m.img, whose backing is b.qcow2,
	 * whose backing is a.qcow2, whose backing is b.qcow2 again. */
	assert_int_equal(ret, -ELOOP);
	free(img);
	img = read_file(tpath("b.qcow2"), &len);
	assert_int_equal(errors_of_open(img, len, NULL, BLOCK_O_RDWR, &ret), 1);
	assert_int_equal(ret, -ELOOP);
	free(img);
}

/* The L1 table inside the refcount table: refused at open. */
static void test_overlapping_tables(void **state)
{
	size_t len;
	uint8_t *img = base_image(&len);
	int ret;

	put_be64(img + QH_L1_OFFSET, get_be64(img + QH_RT_OFFSET));
	assert_int_equal(errors_of_open(img, len, NULL, 0, &ret), 1);
	assert_int_equal(ret, -EINVAL);
	free(img);
	/* An L2 table on top of the refcount table: writes never reach the
	 * table (reads return what it says, harmlessly). */
	img = base_image(&len);
	{
		uint64_t l1 = get_be64(img + QH_L1_OFFSET);
		uint64_t rt = get_be64(img + QH_RT_OFFSET);
		struct block_dev *bs;
		uint8_t buf[512], *after;
		size_t len2;

		put_be64(img + l1, rt | QCOW2_OFLAG_COPIED);
		write_file(tpath("ov.img"), img, len);
		assert_int_equal(block_open(&bs, tpath("ov.img"), NULL,
					    BLOCK_O_RDWR), 0);
		block_read(bs, 0, buf, sizeof(buf));
		memset(buf, 0xee, sizeof(buf));
		assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), -EIO);
		block_close(bs);
		after = read_file(tpath("ov.img"), &len2);
		assert_memory_equal(after + rt, img + rt, 512);
		free(after);
	}
	free(img);
}

/* A reference more than the refcount width holds: the operation fails
 * with one error and the image stays consistent. */
static void test_refcount_overflow(void **state)
{
	struct block_create_opts o = { .cluster_size = 512, .refcount_bits = 1 };
	struct block_dev *bs;
	struct block_check res;
	uint8_t buf[2048], got[2048];
	FILE *saved = stderr;

	memset(buf, 0x99, sizeof(buf));
	assert_int_equal(block_create("qcow2", tpath("ro.qcow2"), 1 << 20, &o), 0);
	assert_int_equal(block_open(&bs, tpath("ro.qcow2"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), 0);
	/* A snapshot needs a second reference to every cluster. */
	stderr = tmpfile();
	assert_non_null(stderr);
	assert_int_equal(block_snapshot_create(bs, "s"), -ERANGE);
	assert_int_equal(count_errors(stderr), 1);
	stderr = saved;
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("ro.qcow2"), NULL, 0), 0);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(block_read(bs, 0, got, sizeof(got)), 0);
	assert_memory_equal(got, buf, sizeof(buf));
	block_close(bs);
}

struct le_case {
	uint32_t offset;
	int width;
	uint64_t value;
};

/* Open a damaged copy read-only and for writing: one error line each
 * time, and the file exactly as it was. */
static void assert_refused(const uint8_t *img, size_t len, const char *fmt)
{
	uint8_t *after;
	size_t len2;
	int ret;

	assert_int_equal(errors_of_open(img, len, fmt, 0, &ret), 1);
	assert_true(ret < 0);
	assert_int_equal(errors_of_open(img, len, fmt, BLOCK_O_RDWR, &ret), 1);
	assert_true(ret < 0);
	after = read_file(tpath("m.img"), &len2);
	assert_int_equal(len2, len);
	assert_memory_equal(after, img, len);
	free(after);
}

static void refuse_cases(const char *fmt, const uint8_t *img, size_t len,
			 const struct le_case *cases, size_t n)
{
	uint8_t *copy = malloc(len);
	size_t i;

	for (i = 0; i < n; i++) {
		memcpy(copy, img, len);
		if (cases[i].width == 4)
			put_le32(copy + cases[i].offset, cases[i].value);
		else
			put_le64(copy + cases[i].offset, cases[i].value);
		print_message("%s case %zu\n", fmt, i);
		assert_refused(copy, len, fmt);
	}
	free(copy);
}

static uint8_t *small_sparse(const char *fmt, size_t *len)
{
	struct block_create_opts o = { .cluster_size = 4096 };
	struct block_dev *bs;
	uint8_t data[5000];

	memset(data, 0x31, sizeof(data));
	assert_int_equal(block_create(fmt, tpath("sp.img"), 1 << 20, &o), 0);
	assert_int_equal(block_open(&bs, tpath("sp.img"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write(bs, 3000, data, sizeof(data)), 0);
	block_close(bs);
	return read_file(tpath("sp.img"), len);
}

/* VDI: truncated, wrong signature, absurd sizes, map past the end. */
static void test_vdi_bad_headers(void **state)
{
	static const struct le_case cases[] = {
		{ 64, 4, 0x12345678 },		/* signature */
		{ 68, 4, 0x00020000 },		/* version 2.0 */
		{ 76, 4, 9 },			/* image type */
		{ 376, 4, 0 },			/* block size */
		{ 376, 4, 3000 },		/* not a power of two */
		{ 376, 4, 1u << 31 },
		{ 384, 4, 0xffffffff },		/* block count */
		{ 368, 8, ~0ULL },		/* disk size */
		{ 368, 8, 1ULL << 40 },		/* more than the blocks hold */
		{ 340, 4, 0 },			/* map offset */
		{ 340, 4, 0xfffffff0 },		/* map past the end */
		{ 344, 4, 512 },		/* data on top of the map */
	};
	size_t len;
	uint8_t *img = small_sparse("vdi", &len);

	refuse_cases("vdi", img, len, cases, sizeof(cases) / sizeof(cases[0]));
	assert_refused(img, 0, "vdi");
	assert_refused(img, 100, "vdi");
	assert_refused(img, 400, "vdi");
	free(img);
}

/* VMDK: truncated, wrong magic, absurd sizes, directory past the end. */
static void test_vmdk_bad_headers(void **state)
{
	static const struct le_case cases[] = {
		{ 0, 4, 0x12345678 },		/* magic */
		{ 4, 4, 9 },			/* version */
		{ 12, 8, ~0ULL },		/* capacity */
		{ 20, 8, 0 },			/* grain */
		{ 20, 8, 3 },			/* grain not a power of two */
		{ 20, 8, 1ULL << 40 },
		{ 44, 4, 0 },			/* grain table entries */
		{ 44, 4, 1u << 30 },
		{ 56, 8, 1ULL << 50 },		/* directory past the end */
		{ 56, 8, ~0ULL - 1 },
	};
	size_t len;
	uint8_t *img = small_sparse("vmdk", &len);

	refuse_cases("vmdk", img, len, cases, sizeof(cases) / sizeof(cases[0]));
	assert_refused(img, 0, "vmdk");
	assert_refused(img, 100, "vmdk");
	assert_refused(img, 511, "vmdk");
	free(img);
}

/* Fuzzer finding: an L2 entry far past the end of the file, marked as
 * owned, made a write grow the file to 64 GiB (and the next check crawl
 * through it).  Now the write fails and the file keeps its size. */
static void test_write_past_end_refused(void **state)
{
	struct block_dev *bs;
	size_t len, len2;
	uint8_t *img = base_image(&len), *after, buf[512];
	uint64_t l2 = get_be64(img + get_be64(img + QH_L1_OFFSET)) &
		      QCOW2_OFFSET_MASK;

	put_be64(img + l2 + 8 * 3, QCOW2_OFLAG_COPIED | (1ULL << 36));
	write_file(tpath("far.img"), img, len);
	assert_int_equal(block_open(&bs, tpath("far.img"), NULL, BLOCK_O_RDWR), 0);
	memset(buf, 0x44, sizeof(buf));
	assert_int_equal(block_write(bs, 3 * 512, buf, sizeof(buf)), -EIO);
	block_close(bs);
	after = read_file(tpath("far.img"), &len2);
	assert_int_equal(len2, len);
	free(after);
	free(img);
}

/* Fuzzer finding: growing an image of size 0 (no L1 table at all) copied
 * from a null table. */
static void test_grow_empty_image(void **state)
{
	struct block_create_opts o = { .cluster_size = 512 };
	struct block_dev *bs;
	struct block_check res;
	uint8_t buf[1000], got[1000];

	memset(buf, 0x17, sizeof(buf));
	assert_int_equal(block_create("qcow2", tpath("e.qcow2"), 0, &o), 0);
	assert_int_equal(block_open(&bs, tpath("e.qcow2"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_size(bs), 0);
	assert_int_equal(block_resize(bs, 1 << 20, false), 0);
	assert_int_equal(block_write(bs, 70000, buf, sizeof(buf)), 0);
	assert_int_equal(block_read(bs, 70000, got, sizeof(got)), 0);
	assert_memory_equal(got, buf, sizeof(buf));
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_int_equal(res.corruptions + res.leaks, 0);
	block_close(bs);
}

/* Fuzzer finding: vmdk check sized its grain list by the capacity, 4 GiB
 * for a header claiming 2^30 sectors over a 1 MiB grain directory. */
static void test_vmdk_check_memory_bounded(void **state)
{
	struct block_create_opts o = { .cluster_size = 4096 };
	struct block_dev *bs;
	struct block_check res;
	size_t len, total;
	uint8_t *img, *big;
	uint64_t gd;

	assert_int_equal(block_create("vmdk", tpath("cap.vmdk"), 1 << 20, &o), 0);
	img = read_file(tpath("cap.vmdk"), &len);
	gd = align_up(len, 512);
	total = gd + (1 << 20);
	big = calloc(1, total);
	memcpy(big, img, len);
	put_le64(big + 12, 1ULL << 30);		/* capacity, sectors */
	put_le64(big + 20, 1);			/* grain, sectors */
	put_le32(big + 44, 4096);		/* entries per grain table */
	put_le64(big + 56, gd / 512);		/* grain directory */
	put_le32(big + 8, get_le32(big + 8) & ~2u);	/* no redundant one */
	write_file(tpath("cap.vmdk"), big, total);
	assert_int_equal(block_open(&bs, tpath("cap.vmdk"), NULL, 0), 0);
	assert_int_equal(block_check(bs, &res, false), 0);
	block_close(bs);
	free(img);
	free(big);
}

/* An L1 table naming one L2 table 131072 times made check and its repair
 * walk it each time (a billion entries); now every table is walked once. */
static void test_check_shared_l2_bounded(void **state)
{
	struct block_create_opts o = { .refcount_bits = 64 };
	struct block_dev *bs;
	struct block_check res;
	uint8_t buf[512];
	uint64_t l1, l2, i;
	size_t len;
	uint8_t *img;
	time_t t0;

	memset(buf, 0x61, sizeof(buf));
	assert_int_equal(block_create("qcow2", tpath("sl.qcow2"), 1ULL << 46,
				      &o), 0);
	assert_int_equal(block_open(&bs, tpath("sl.qcow2"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), 0);
	block_close(bs);
	img = read_file(tpath("sl.qcow2"), &len);
	l1 = get_be64(img + QH_L1_OFFSET);
	assert_int_equal(get_be32(img + QH_L1_SIZE), 131072);
	l2 = get_be64(img + l1);
	for (i = 1; i < 131072; i++)
		put_be64(img + l1 + i * 8, l2);
	write_file(tpath("sl.qcow2"), img, len);
	t0 = time(NULL);
	assert_int_equal(block_open(&bs, tpath("sl.qcow2"), NULL, 0), 0);
	assert_int_equal(block_check(bs, &res, false), 0);
	assert_true(res.corruptions > 0);
	block_close(bs);
	/* Repairing it (64-bit refcounts hold the 131072 references) fixes
	 * the copied flags of each table once too. */
	assert_int_equal(block_open(&bs, tpath("sl.qcow2"), NULL,
				    BLOCK_O_RDWR | BLOCK_O_REPAIR), 0);
	assert_int_equal(block_check(bs, &res, true), 0);
	block_close(bs);
	assert_true(time(NULL) - t0 < 20);
	free(img);
}

/* Whatever happens to the image, every operation returns; none crashes. */
static void exercise(const char *p, uint32_t *seed)
{
	struct block_dev *bs;
	struct block_check res;
	struct block_snapshot *list;
	uint8_t buf[8192];
	uint64_t off, pnum;
	int i, n;

	if (block_open(&bs, p, NULL, 0) == 0) {
		for (off = 0; off < block_size(bs); off += sizeof(buf))
			block_read(bs, off, buf, block_size(bs) - off < sizeof(buf) ?
				   block_size(bs) - off : sizeof(buf));
		block_status(bs, 0, block_size(bs), &pnum);
		block_check(bs, &res, false);
		if (block_snapshot_list(bs, &list, &n) == 0)
			free(list);
		block_close(bs);
	}
	if (block_open(&bs, p, NULL, BLOCK_O_RDWR | BLOCK_O_REPAIR |
		       BLOCK_O_UNSAFE) != 0)
		return;
	for (i = 0; i < 4 && block_size(bs); i++) {
		off = rnd(seed) % block_size(bs);
		n = 1 + rnd(seed) % sizeof(buf);
		if ((uint64_t)n > block_size(bs) - off)
			n = block_size(bs) - off;
		memset(buf, i, n);
		block_write(bs, off, buf, n);
		block_read(bs, off, buf, n);
	}
	block_discard(bs, 0, block_size(bs) / 2);
	if (rnd(seed) % 4 == 0)
		block_snapshot_create(bs, "fuzz");
	if (rnd(seed) % 4 == 0)
		block_snapshot_apply(bs, "s");
	if (rnd(seed) % 4 == 0)
		block_snapshot_delete(bs, "s");
	if (rnd(seed) % 8 == 0)
		block_resize(bs, block_size(bs) + (1 << 20), false);
	block_check(bs, &res, rnd(seed) % 2);
	block_close(bs);
}

static void test_mutated_qcow2(void **state)
{
	size_t len, meta, i, k;
	uint8_t *img = base_image(&len), *copy = malloc(len);
	uint32_t seed = 12345;

	/* Header, refcount structures and L1 live in the first clusters. */
	meta = len < 16384 ? len : 16384;
	for (i = 0; i < 1500; i++) {
		memcpy(copy, img, len);
		for (k = 1 + rnd(&seed) % 6; k; k--) {
			size_t at = rnd(&seed) % 4 ? rnd(&seed) % meta :
				    rnd(&seed) % len;

			copy[at] ^= 1u << (rnd(&seed) % 8);
			if (rnd(&seed) % 8 == 0)
				copy[at] = rnd(&seed);
		}
		write_file(tpath("fuzz.qcow2"), copy, len);
		exercise(tpath("fuzz.qcow2"), &seed);
	}
	free(img);
	free(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncated_qcow2),
		cmocka_unit_test(test_bad_magic_probes_as_raw),
		cmocka_unit_test(test_bad_header_fields),
		cmocka_unit_test(test_bad_table_entries),
		cmocka_unit_test(test_garbage_compressed_cluster),
		cmocka_unit_test(test_backing_loop),
		cmocka_unit_test(test_one_error_no_write),
		cmocka_unit_test(test_zero_filled),
		cmocka_unit_test(test_zeroed_tables),
		cmocka_unit_test(test_hostile_refcount_table_bounded),
		cmocka_unit_test(test_vmdk_directory_size_overflow),
		cmocka_unit_test(test_backing_loop_two_images),
		cmocka_unit_test(test_overlapping_tables),
		cmocka_unit_test(test_refcount_overflow),
		cmocka_unit_test(test_vdi_bad_headers),
		cmocka_unit_test(test_vmdk_bad_headers),
		cmocka_unit_test(test_write_past_end_refused),
		cmocka_unit_test(test_grow_empty_image),
		cmocka_unit_test(test_vmdk_check_memory_bounded),
		cmocka_unit_test(test_check_shared_l2_bounded),
		cmocka_unit_test(test_mutated_qcow2),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

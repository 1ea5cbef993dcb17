/*
 * Block layer pieces behind `wirt img convert/rebase`, under the
 * sanitizers: compressed qcow2 cluster writes (zlib, zstd, narrow
 * refcounts, small clusters, a partial last cluster), changing a qcow2
 * backing file, writing a streamOptimized VMDK, and VMDK descriptor files
 * with flat, sparse and zero extents (and broken ones).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wirt-fmt-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Text that compresses, random bytes that do not, and zeros. */
static void fill(uint8_t *p, size_t n)
{
	uint32_t x = 12345;
	size_t i;

	for (i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		if ((i >> 14) % 3 == 0)
			p[i] = "compressible "[i % 13];
		else if ((i >> 14) % 3 == 1)
			p[i] = x >> 16;
		else
			p[i] = 0;
	}
}

static void check_clean(struct block_dev *bs)
{
	struct block_check res;

	assert_int_equal(block_check(bs, &res, false), 0);
	assert_int_equal(res.corruptions, 0);
	assert_int_equal(res.leaks, 0);
}

static void compressed_roundtrip(struct block_create_opts *o, uint64_t size)
{
	uint8_t *data = malloc(size), *got = malloc(size);
	struct block_dev *bs;

	fill(data, size);
	assert_int_equal(block_create("qcow2", tpath("c.qcow2"), size, o), 0);
	assert_int_equal(block_open(&bs, tpath("c.qcow2"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write_compressed(bs, 0, data, size), 0);
	/* Not cluster aligned: refused. */
	assert_int_equal(block_write_compressed(bs, 100, data, 512), -EINVAL);
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("c.qcow2"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_read(bs, 0, got, size), 0);
	assert_memory_equal(got, data, size);
	check_clean(bs);
	/* Overwriting part of a compressed cluster copies the rest. */
	memset(data + 1000, 0xee, 5000);
	assert_int_equal(block_write(bs, 1000, data + 1000, 5000), 0);
	assert_int_equal(block_read(bs, 0, got, size), 0);
	assert_memory_equal(got, data, size);
	check_clean(bs);
	block_close(bs);
	free(data);
	free(got);
}

static void test_compressed_writes(void **state)
{
	struct block_create_opts zlib = { 0 };
	struct block_create_opts zstd = { .zstd = true, .cluster_size = 4096 };
	struct block_create_opts narrow = { .refcount_bits = 1 };
	struct block_create_opts tiny = { .cluster_size = 512, .refcount_bits = 2 };

	compressed_roundtrip(&zlib, (3 << 20) + 1536);	/* partial last cluster */
	compressed_roundtrip(&zstd, 1 << 20);
	compressed_roundtrip(&narrow, 1 << 20);
	compressed_roundtrip(&tiny, 256 << 10);
}

static void test_raw_has_no_compression(void **state)
{
	struct block_dev *bs;
	uint8_t buf[4096] = { 1 };

	assert_int_equal(block_create("raw", tpath("r.raw"), 65536, NULL), 0);
	assert_int_equal(block_open(&bs, tpath("r.raw"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write_compressed(bs, 0, buf, sizeof(buf)),
			 -ENOTSUP);
	assert_int_equal(block_set_backing(bs, "x", NULL), -ENOTSUP);
	block_close(bs);
}

static void test_set_backing(void **state)
{
	struct block_create_opts o = { .backing_file = "b1.qcow2",
				       .backing_format = "qcow2" };
	struct block_info info;
	struct block_dev *bs;
	uint8_t buf[512], got[512];
	char name[1100];

	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(block_create("qcow2", tpath("b1.qcow2"), 1 << 20, NULL), 0);
	assert_int_equal(block_create("qcow2", tpath("b2.qcow2"), 1 << 20, NULL), 0);
	assert_int_equal(block_open(&bs, tpath("b2.qcow2"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), 0);
	block_close(bs);
	assert_int_equal(block_create("qcow2", tpath("t.qcow2"), 1 << 20, &o), 0);
	assert_int_equal(block_open(&bs, tpath("t.qcow2"), NULL,
				    BLOCK_O_RDWR | BLOCK_O_NO_BACKING), 0);
	assert_int_equal(block_set_backing(bs, "b2.qcow2", "qcow2"), 0);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	assert_int_equal(block_set_backing(bs, name, NULL), -ENAMETOOLONG);
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("t.qcow2"), NULL, 0), 0);
	assert_int_equal(block_get_info(bs, &info), 0);
	assert_string_equal(info.backing_file, "b2.qcow2");
	assert_string_equal(info.backing_format, "qcow2");
	assert_int_equal(block_read(bs, 0, got, sizeof(got)), 0);
	assert_memory_equal(got, buf, sizeof(got));
	check_clean(bs);
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("t.qcow2"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_set_backing(bs, NULL, NULL), 0);
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("t.qcow2"), NULL, 0), 0);
	assert_null(block_backing(bs));
	assert_int_equal(block_get_info(bs, &info), 0);
	assert_string_equal(info.backing_file, "");
	block_close(bs);
}

static void test_vmdk_stream(void **state)
{
	struct block_create_opts o = { .subformat = "streamOptimized" };
	const uint64_t size = (2 << 20) + 4096;
	uint8_t *data = malloc(size), *got = malloc(size);
	struct block_dev *bs;

	fill(data, size);
	assert_int_equal(block_create("vmdk", tpath("s.vmdk"), size, &o), 0);
	assert_int_equal(block_open(&bs, tpath("s.vmdk"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write(bs, 0, data, 100000), 0);
	/* The grain still held in memory reads back before the flush. */
	assert_int_equal(block_read(bs, 99000, got, 1000), 0);
	assert_memory_equal(got, data + 99000, 1000);
	assert_int_equal(block_write(bs, 100000, data + 100000, size - 100000), 0);
	assert_int_equal(block_write(bs, 0, data, 512), -ENOTSUP);	/* backwards */
	assert_int_equal(block_flush(bs), 0);
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("s.vmdk"), NULL, 0), 0);
	assert_int_equal(block_size(bs), size);
	assert_int_equal(block_read(bs, 0, got, size), 0);
	assert_memory_equal(got, data, size);
	check_clean(bs);
	block_close(bs);
	/* A stream with data cannot be opened to write again. */
	assert_int_equal(block_open(&bs, tpath("s.vmdk"), NULL, BLOCK_O_RDWR),
			 -EROFS);
	free(data);
	free(got);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_vmdk_descriptor(void **state)
{
	struct block_dev *bs;
	uint8_t buf[8192], got[8192];
	uint64_t pnum;

	assert_int_equal(block_create("raw", tpath("f1.raw"), 1 << 20, NULL), 0);
	assert_int_equal(block_create("raw", tpath("f2.raw"), 2 << 20, NULL), 0);
	assert_int_equal(block_create("vmdk", tpath("sp.vmdk"), 1 << 20, NULL), 0);
	write_text(tpath("d.vmdk"),
		   "# Disk DescriptorFile\nversion=1\n"
		   "createType=\"twoGbMaxExtentFlat\"\n"
		   "RW 2048 FLAT \"f1.raw\" 0\n"
		   "RW 1024 FLAT \"f2.raw\" 2048\n"
		   "RDONLY 2048 ZERO\n"
		   "RW 2048 SPARSE\n");
	/* A SPARSE extent needs its file. */
	assert_int_equal(block_open(&bs, tpath("d.vmdk"), NULL, 0), -EINVAL);
	write_text(tpath("d.vmdk"),
		   "# Disk DescriptorFile\nversion=1\n"
		   "createType=\"twoGbMaxExtentFlat\"\n"
		   "RW 2048 FLAT \"f1.raw\" 0\n"
		   "RW 1024 FLAT \"f2.raw\" 2048\n"
		   "RDONLY 2048 ZERO\n"
		   "RW 2048 SPARSE \"sp.vmdk\"\n");
	assert_int_equal(block_open(&bs, tpath("d.vmdk"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_size(bs), (1 << 20) + (512 << 10) + (1 << 20) + (1 << 20));
	memset(buf, 0x5a, sizeof(buf));
	/* Across the flat/flat and the zero/sparse boundaries. */
	assert_int_equal(block_write(bs, (1 << 20) - 4096, buf, sizeof(buf)), 0);
	assert_int_equal(block_write(bs, (3 << 19) + 100, buf, 3000), -EROFS);
	assert_int_equal(block_write(bs, (5 << 19) + 100, buf, 3000), 0);
	assert_int_equal(block_read(bs, (1 << 20) - 4096, got, sizeof(got)), 0);
	assert_memory_equal(got, buf, sizeof(got));
	assert_int_equal(block_read(bs, (5 << 19) + 100, got, 3000), 0);
	assert_memory_equal(got, buf, 3000);
	assert_int_equal(block_read(bs, 3 << 19, got, 4096), 0);
	assert_true(got[0] == 0 && got[4095] == 0);
	assert_int_equal(block_status(bs, 3 << 19, 4096, &pnum),
			 BLOCK_STATUS_ZERO);
	check_clean(bs);
	block_close(bs);
	/* The second flat extent starts 2048 sectors into its file. */
	assert_int_equal(block_open(&bs, tpath("f2.raw"), NULL, 0), 0);
	assert_int_equal(block_read(bs, 1 << 20, got, 4096), 0);
	assert_memory_equal(got, buf, 4096);
	block_close(bs);
}

static void test_vmdk_bad_descriptors(void **state)
{
	static const char *const bad[] = {
		"RW 2048 FLAT \"missing.raw\" 0\n",
		"RW 99999999 FLAT \"f1.raw\" 0\n",		/* file too short */
		"RW x FLAT \"f1.raw\"\n",
		"RW 2048 VMFS \"f1.raw\"\n",
		"NOACCESS 2048 FLAT \"f1.raw\" 0\n",
		"RW 2048 SPARSE \"f1.raw\"\n",			/* not a vmdk */
		"RW 2048 SPARSE \"self.vmdk\"\n",		/* itself */
		"# nothing\n",
		"RW 0 FLAT \"f1.raw\" 0\n",
	};
	struct block_dev *bs;
	char text[512];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "# Disk DescriptorFile\nversion=1\n"
			 "createType=\"monolithicFlat\"\n%s", bad[i]);
		write_text(tpath("self.vmdk"), text);
		assert_true(block_open(&bs, tpath("self.vmdk"), NULL, 0) < 0);
	}
	write_text(tpath("self.vmdk"), "# Disk DescriptorFile\n"
		   "createType=\"monolithicFlat\"\nparentFileNameHint=\"p\"\n"
		   "RW 2048 FLAT \"f1.raw\" 0\n");
	assert_int_equal(block_open(&bs, tpath("self.vmdk"), NULL, 0), -ENOTSUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compressed_writes),
		cmocka_unit_test(test_raw_has_no_compression),
		cmocka_unit_test(test_set_backing),
		cmocka_unit_test(test_vmdk_stream),
		cmocka_unit_test(test_vmdk_descriptor),
		cmocka_unit_test(test_vmdk_bad_descriptors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * VMDK (monolithicSparse) and VDI (dynamic, fixed) drivers: random I/O
 * against an in-memory model, reopening, zero status, growing VDI, and
 * malformed images (truncated, bad magic, huge sizes, tables past the end
 * of the file, seeded mutations) failing cleanly under ASan/UBSan.
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

#include "block/block.h"
#include "block/file_io.h"

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

/* Expected error messages go to /dev/null unless WIRT_TEST_VERBOSE is set;
 * the sanitizers write to file descriptor 2 directly and stay visible. */
static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wirt-sparse-XXXXXX");
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
	buf = malloc(size + 1);
	assert_non_null(buf);
	assert_int_equal(file_pread_exact(fd, buf, size, 0), 0);
	close(fd);
	*len = size;
	return buf;
}

static void assert_contents(struct block_dev *bs, const uint8_t *model,
			    uint64_t size)
{
	uint8_t *got = malloc(size);

	assert_int_equal(block_read(bs, 0, got, size), 0);
	assert_memory_equal(got, model, size);
	free(got);
}

static void random_io(const char *fmt, uint32_t cluster, bool fixed,
		      uint32_t seed)
{
	struct block_create_opts o = { .cluster_size = cluster, .fixed = fixed };
	const uint64_t size = 6 << 20;
	uint8_t *model = calloc(1, size), *buf = malloc(300000);
	struct block_dev *bs;
	uint64_t off, len, pnum, i;
	int k;

	assert_int_equal(block_create(fmt, tpath("r.img"), size, &o), 0);
	assert_int_equal(block_open(&bs, tpath("r.img"), NULL, BLOCK_O_RDWR), 0);
	assert_string_equal(block_format(bs), fmt);
	assert_int_equal(block_size(bs), size);
	if (!fixed)
		assert_int_equal(block_status(bs, 0, size, &pnum),
				 BLOCK_STATUS_ZERO);
	for (k = 0; k < 150; k++) {
		off = rnd(&seed) % size;
		len = 1 + rnd(&seed) % 300000;
		if (len > size - off)
			len = size - off;
		for (i = 0; i < len; i++)
			buf[i] = rnd(&seed);
		assert_int_equal(block_write(bs, off, buf, len), 0);
		memcpy(model + off, buf, len);
	}
	assert_contents(bs, model, size);
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("r.img"), NULL, 0), 0);
	assert_contents(bs, model, size);
	block_close(bs);
	free(model);
	free(buf);
}

static void test_vmdk_random_io(void **state)
{
	random_io("vmdk", 0, false, 1);
	random_io("vmdk", 4096, false, 2);
}

static void test_vdi_random_io(void **state)
{
	random_io("vdi", 0, false, 3);
	random_io("vdi", 65536, false, 4);
	random_io("vdi", 0, true, 5);
}

static void test_vdi_grow(void **state)
{
	struct block_dev *bs;
	uint8_t buf[100] = "tail";

	assert_int_equal(block_create("vdi", tpath("g.vdi"), 3 << 20, NULL), 0);
	assert_int_equal(block_open(&bs, tpath("g.vdi"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_resize(bs, 50 << 20, false), 0);
	assert_int_equal(block_write(bs, (50 << 20) - 100, buf, 100), 0);
	/* The map has room for 1 MiB - 512 bytes of entries. */
	assert_int_equal(block_resize(bs, 1ULL << 40, false), -ENOSPC);
	block_close(bs);
	assert_int_equal(block_open(&bs, tpath("g.vdi"), NULL, 0), 0);
	assert_int_equal(block_size(bs), 50 << 20);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(block_read(bs, (50 << 20) - 100, buf, 100), 0);
	assert_string_equal((char *)buf, "tail");
	block_close(bs);
}

static void test_vmdk_cannot_resize(void **state)
{
	struct block_dev *bs;

	assert_int_equal(block_create("vmdk", tpath("n.vmdk"), 1 << 20, NULL), 0);
	assert_int_equal(block_open(&bs, tpath("n.vmdk"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_resize(bs, 2 << 20, false), -ENOTSUP);
	block_close(bs);
}

static int open_bytes(const uint8_t *img, size_t len, const char *fmt)
{
	struct block_dev *bs;
	int ret;

	write_file(tpath("m.img"), img, len);
	ret = block_open(&bs, tpath("m.img"), fmt, 0);
	if (!ret)
		block_close(bs);
	return ret;
}

static uint8_t *small_image(const char *fmt, size_t *len)
{
	struct block_dev *bs;
	uint8_t data[3000];

	memset(data, 0x77, sizeof(data));
	assert_int_equal(block_create(fmt, tpath("s.img"), 4 << 20, NULL), 0);
	assert_int_equal(block_open(&bs, tpath("s.img"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_write(bs, 70000, data, sizeof(data)), 0);
	block_close(bs);
	return read_file(tpath("s.img"), len);
}

static void test_vmdk_malformed(void **state)
{
	size_t len;
	uint8_t *img = small_image("vmdk", &len), *c = malloc(len);
	uint8_t buf[512];
	struct block_dev *bs;
	uint64_t gd, gt;

	assert_true(open_bytes(img, 100, "vmdk") < 0);
	memcpy(c, img, len);
	c[0] = 'X';
	assert_int_equal(open_bytes(c, len, "vmdk"), -ENOTSUP);
	memcpy(c, img, len);
	put_le64(c + 12, ~0ULL);		/* capacity */
	assert_int_equal(open_bytes(c, len, "vmdk"), -EINVAL);
	memcpy(c, img, len);
	put_le64(c + 20, 3);			/* grain not a power of 2 */
	assert_int_equal(open_bytes(c, len, "vmdk"), -EINVAL);
	memcpy(c, img, len);
	put_le32(c + 44, 0);			/* GTEs per GT */
	assert_int_equal(open_bytes(c, len, "vmdk"), -EINVAL);
	memcpy(c, img, len);
	put_le64(c + 56, 1ULL << 40);		/* directory past EOF */
	assert_int_equal(open_bytes(c, len, "vmdk"), -EINVAL);
	memcpy(c, img, len);
	put_le32(c + 8, 1u << 16);		/* compressed grains */
	assert_int_equal(open_bytes(c, len, "vmdk"), -ENOTSUP);	/* algorithm 0 */
	/* Grains that claim to be compressed but hold garbage. */
	put_le16(c + 77, 1);
	write_file(tpath("z.vmdk"), c, len);
	assert_int_equal(block_open(&bs, tpath("z.vmdk"), NULL, BLOCK_O_RDWR),
			 -EROFS);
	assert_int_equal(block_open(&bs, tpath("z.vmdk"), NULL, 0), 0);
	assert_int_equal(block_read(bs, 70000, buf, sizeof(buf)), -EIO);
	assert_int_equal(block_read(bs, 1 << 20, buf, sizeof(buf)), 0);
	block_close(bs);
	/* A footer-only header without a footer. */
	memcpy(c, img, len);
	put_le64(c + 56, ~0ULL);
	assert_int_equal(open_bytes(c, len, "vmdk"), -EINVAL);
	/* Grain table past the end of the file: reads fail cleanly. */
	memcpy(c, img, len);
	gd = get_le64(c + 56) * 512;
	put_le32(c + gd, 0x7fffffff);
	write_file(tpath("gt.vmdk"), c, len);
	assert_int_equal(block_open(&bs, tpath("gt.vmdk"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_read(bs, 0, buf, sizeof(buf)), -EIO);
	assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), -EIO);
	block_close(bs);
	/* A grain inside the metadata. */
	memcpy(c, img, len);
	gt = get_le32(c + gd) * 512ULL;
	put_le32(c + gt, 2);
	write_file(tpath("gt.vmdk"), c, len);
	assert_int_equal(block_open(&bs, tpath("gt.vmdk"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_read(bs, 0, buf, sizeof(buf)), -EIO);
	assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), -EIO);
	block_close(bs);
	free(img);
	free(c);
}

static void test_vdi_malformed(void **state)
{
	size_t len;
	uint8_t *img = small_image("vdi", &len), *c = malloc(len);
	uint8_t buf[512];
	struct block_dev *bs;

	assert_true(open_bytes(img, 300, "vdi") < 0);
	memcpy(c, img, len);
	put_le32(c + 64, 0);			/* signature */
	assert_int_equal(open_bytes(c, len, "vdi"), -EINVAL);
	memcpy(c, img, len);
	put_le32(c + 76, 4);			/* differencing */
	assert_int_equal(open_bytes(c, len, "vdi"), -ENOTSUP);
	memcpy(c, img, len);
	put_le64(c + 368, 1ULL << 60);		/* disk size */
	assert_int_equal(open_bytes(c, len, "vdi"), -EINVAL);
	memcpy(c, img, len);
	put_le32(c + 376, 1000);		/* block size */
	assert_int_equal(open_bytes(c, len, "vdi"), -EINVAL);
	memcpy(c, img, len);
	put_le32(c + 384, 0xffffffff);		/* block count */
	assert_int_equal(open_bytes(c, len, "vdi"), -EINVAL);
	memcpy(c, img, len);
	put_le32(c + 340, 0x7ffffff0);		/* map past EOF */
	assert_int_equal(open_bytes(c, len, "vdi"), -EINVAL);
	/* A map entry out of range. */
	memcpy(c, img, len);
	put_le32(c + 512, 1000);
	write_file(tpath("e.vdi"), c, len);
	assert_int_equal(block_open(&bs, tpath("e.vdi"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_read(bs, 0, buf, sizeof(buf)), -EIO);
	assert_int_equal(block_write(bs, 0, buf, sizeof(buf)), -EIO);
	block_close(bs);
	free(img);
	free(c);
}

static void mutate_and_use(const char *fmt, uint32_t seed)
{
	size_t len, i, k, at, meta;
	uint8_t *img = small_image(fmt, &len), *c = malloc(len), buf[4096];
	struct block_dev *bs;
	uint64_t off, pnum;

	meta = len < 65536 ? len : 65536;
	for (i = 0; i < 400; i++) {
		memcpy(c, img, len);
		for (k = 1 + rnd(&seed) % 4; k; k--) {
			at = rnd(&seed) % 2 ? rnd(&seed) % 512 : rnd(&seed) % meta;
			c[at] = rnd(&seed);
		}
		write_file(tpath("f.img"), c, len);
		if (block_open(&bs, tpath("f.img"), fmt,
			       BLOCK_O_RDWR | BLOCK_O_UNSAFE))
			continue;
		for (off = 0; off < block_size(bs) && off < (64 << 20);
		     off += 65536 + 512) {
			block_read(bs, off, buf, block_size(bs) - off < sizeof(buf) ?
				   block_size(bs) - off : sizeof(buf));
			block_status(bs, off, block_size(bs) - off, &pnum);
		}
		if (block_size(bs) > sizeof(buf)) {
			off = rnd(&seed) % (block_size(bs) - sizeof(buf));
			block_write(bs, off, buf, sizeof(buf));
		}
		block_close(bs);
	}
	free(img);
	free(c);
}

static void test_mutated_images(void **state)
{
	mutate_and_use("vmdk", 7);
	mutate_and_use("vdi", 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vmdk_random_io),
		cmocka_unit_test(test_vdi_random_io),
		cmocka_unit_test(test_vdi_grow),
		cmocka_unit_test(test_vmdk_cannot_resize),
		cmocka_unit_test(test_vmdk_malformed),
		cmocka_unit_test(test_vdi_malformed),
		cmocka_unit_test(test_mutated_images),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * Generic block layer and raw driver: format probing, byte-granular I/O,
 * bounds, read-only opens, hole detection, discard, resize.
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
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"
#include "block/file_io.h"

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
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/wirt-raw-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_create_and_byte_io(void **state)
{
	struct block_dev *bs;
	uint8_t buf[10000], got[10000];
	unsigned i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i * 7;
	assert_int_equal(block_create("raw", tpath("a.raw"), 1 << 20, NULL), 0);
	assert_int_equal(block_open(&bs, tpath("a.raw"), NULL, BLOCK_O_RDWR), 0);
	assert_string_equal(block_format(bs), "raw");
	assert_int_equal(block_size(bs), 1 << 20);
	assert_int_equal(block_write(bs, 12345, buf, sizeof(buf)), 0);
	assert_int_equal(block_write(bs, 3, buf, 1), 0);
	assert_int_equal(block_read(bs, 12345, got, sizeof(got)), 0);
	assert_memory_equal(got, buf, sizeof(buf));
	assert_int_equal(block_read(bs, 3, got, 1), 0);
	assert_int_equal(got[0], buf[0]);
	assert_int_equal(block_read(bs, (1 << 20) - 1, got, 2), -EINVAL);
	assert_int_equal(block_write(bs, 1 << 20, buf, 1), -EINVAL);
	assert_int_equal(block_read(bs, 1 << 20, got, 0), 0);
	assert_int_equal(block_flush(bs), 0);
	block_close(bs);

	assert_int_equal(block_open(&bs, tpath("a.raw"), "raw", 0), 0);
	assert_int_equal(block_write(bs, 0, buf, 1), -EROFS);
	assert_int_equal(block_discard(bs, 0, 4096), -EROFS);
	block_close(bs);
}

static void test_holes_and_discard(void **state)
{
	struct block_dev *bs;
	uint8_t buf[65536], got[65536];
	uint64_t pnum;

	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(block_create("raw", tpath("h.raw"), 8 << 20, NULL), 0);
	assert_int_equal(block_open(&bs, tpath("h.raw"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_status(bs, 0, 8 << 20, &pnum), BLOCK_STATUS_ZERO);
	assert_int_equal(pnum, 8 << 20);
	assert_int_equal(block_write(bs, 4 << 20, buf, sizeof(buf)), 0);
	assert_int_equal(block_status(bs, 0, 8 << 20, &pnum), BLOCK_STATUS_ZERO);
	assert_true(pnum <= 4 << 20);
	assert_int_equal(block_status(bs, 4 << 20, 4 << 20, &pnum),
			 BLOCK_STATUS_DATA);
	assert_true(pnum >= sizeof(buf) && pnum < 4 << 20);
	assert_int_equal(block_discard(bs, 4 << 20, sizeof(buf)), 0);
	assert_int_equal(block_read(bs, 4 << 20, got, sizeof(got)), 0);
	memset(buf, 0, sizeof(buf));
	assert_memory_equal(got, buf, sizeof(got));
	block_close(bs);
}

static void test_resize(void **state)
{
	struct block_dev *bs;
	struct stat st;

	assert_int_equal(block_create("raw", tpath("r.raw"), 4096, NULL), 0);
	assert_int_equal(block_open(&bs, tpath("r.raw"), NULL, BLOCK_O_RDWR), 0);
	assert_int_equal(block_resize(bs, 1 << 20, false), 0);
	assert_int_equal(block_size(bs), 1 << 20);
	assert_int_equal(block_resize(bs, 512, false), -EINVAL);
	assert_int_equal(block_resize(bs, 512, true), 0);
	block_close(bs);
	assert_int_equal(stat(tpath("r.raw"), &st), 0);
	assert_int_equal(st.st_size, 512);
}

static void test_unknown_format_and_missing_file(void **state)
{
	struct block_dev *bs;
	struct block_create_opts o = { .backing_file = "x" };

	assert_int_equal(block_open(&bs, tpath("nope"), NULL, 0), -ENOENT);
	assert_int_equal(block_open(&bs, tpath("nope"), "qcow9", 0), -EINVAL);
	assert_int_equal(block_create("qcow9", tpath("n"), 1, NULL), -EINVAL);
	assert_int_equal(block_create("raw", tpath("n"), 1, &o), -EINVAL);
	assert_int_equal(block_open(&bs, tmpdir, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_byte_io),
		cmocka_unit_test(test_holes_and_discard),
		cmocka_unit_test(test_resize),
		cmocka_unit_test(test_unknown_format_and_missing_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

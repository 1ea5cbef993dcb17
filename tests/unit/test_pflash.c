/* The CFI flash holding the UEFI variable store (hw/pflash.c): the command
 * set OVMF uses, where reads come from in each mode, the store file, and
 * random command sequences. */
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
#include "hw/bus.h"
#include "hw/pflash.h"
#include "vm/memory.h"
#include "vm/vm.h"

#define SIZE (8 * PFLASH_BLOCK_SIZE)
#define BASE (GMEM_4G - (1 << 20) - SIZE)

static struct vm vm;
static uint8_t image[SIZE];
static char path[] = "/tmp/wirt-test-pflash-XXXXXX";

static void make_vm(struct block_dev *store)
{
	memset(&vm, 0, sizeof(vm));
	bus_init(&vm.mmio, "MMIO");
	assert_int_equal(gmem_init(&vm.mem, 32 << 20), 0);
	for (unsigned i = 0; i < SIZE; i++)
		image[i] = i * 7 + 1;
	assert_int_equal(pflash_create(&vm, BASE, image, SIZE, store, "pflash"), 0);
}

static void free_vm(void)
{
	for (unsigned i = 0; i < vm.ndevices; i++)
		vm.devices[i].destroy(vm.devices[i].opaque);
	gmem_destroy(&vm.mem);
	bus_destroy(&vm.mmio);
}

/* A guest access: memory while the flash is mapped, else the device. */
static uint8_t rd(uint64_t off)
{
	uint8_t v;

	if (gmem_read(&vm.mem, BASE + off, &v, 1) == 0)
		return v;
	assert_int_equal(bus_read(&vm.mmio, BASE + off, &v, 1), 1);
	return v;
}

static void wr(uint64_t off, uint8_t v)
{
	assert_int_equal(bus_write(&vm.mmio, BASE + off, &v, 1), 1);
}

static bool mapped(void)
{
	return gmem_find(&vm.mem, BASE, 1) != NULL;
}

/* OVMF's probe: clear status leaves read-array mode, read status then
 * gives the cleared status (so the flash is neither RAM nor ROM). */
static void test_ovmf_probe(void **state)
{
	make_vm(NULL);
	assert_true(mapped());
	assert_int_equal(rd(16), image[16]);
	wr(16, 0x50);
	assert_true(mapped());
	assert_int_equal(rd(16), image[16]);
	wr(16, 0x70);
	assert_false(mapped());
	assert_int_equal(rd(16), 0x00);
	wr(16, 0xff);
	assert_true(mapped());
	assert_int_equal(rd(16), image[16]);
	free_vm();
}

/* Program clears bits only; erase sets a 4 KiB block to FFh; the store
 * gets both when the guest goes back to read-array mode. */
static void test_program_erase_and_store(void **state)
{
	struct block_dev *bs;
	uint8_t buf[SIZE];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	for (unsigned i = 0; i < SIZE; i++)
		image[i] = i * 7 + 1;
	assert_int_equal(write(fd, image, SIZE), SIZE);
	close(fd);
	assert_int_equal(block_open(&bs, path, "raw", BLOCK_O_RDWR), 0);
	make_vm(bs);

	wr(100, 0x10);
	assert_false(mapped());
	wr(100, 0x0f);
	assert_int_equal(rd(100), 0x80); /* status: ready */
	wr(PFLASH_BLOCK_SIZE + 5, 0x20);
	wr(PFLASH_BLOCK_SIZE + 5, 0xd0);
	assert_int_equal(rd(0), 0x80);
	/* Not yet in the file: OVMF has not finished. */
	fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, buf, SIZE, 0), SIZE);
	assert_int_equal(buf[100], image[100]);
	wr(0, 0xff);
	assert_true(mapped());
	assert_int_equal(rd(100), image[100] & 0x0f);
	assert_int_equal(rd(PFLASH_BLOCK_SIZE), 0xff);
	assert_int_equal(rd(2 * PFLASH_BLOCK_SIZE - 1), 0xff);
	assert_int_equal(rd(2 * PFLASH_BLOCK_SIZE), image[2 * PFLASH_BLOCK_SIZE]);
	assert_int_equal(pread(fd, buf, SIZE, 0), SIZE);
	assert_int_equal(buf[100], image[100] & 0x0f);
	assert_int_equal(buf[PFLASH_BLOCK_SIZE + 77], 0xff);
	assert_int_equal(buf[99], image[99]);
	/* A program left unfinished is saved at reset and at exit. */
	wr(200, 0x40);
	wr(200, 0x00);
	vm.devices[0].reset(vm.devices[0].opaque);
	assert_true(mapped());
	assert_int_equal(pread(fd, buf, SIZE, 0), SIZE);
	assert_int_equal(buf[200], 0);
	close(fd);
	free_vm();
	unlink(path);
}

/* Identifier and CFI query; a bad erase confirm is a sequence error. */
static void test_query_and_errors(void **state)
{
	make_vm(NULL);
	wr(0, 0x90);
	assert_int_equal(rd(0), 0x89);
	wr(0, 0x98);
	assert_int_equal(rd(0x10), 'Q');
	assert_int_equal(rd(0x11), 'R');
	assert_int_equal(rd(0x12), 'Y');
	assert_int_equal(rd(0x2c), 1);
	assert_int_equal(rd(0x2d) | rd(0x2e) << 8, SIZE / PFLASH_BLOCK_SIZE - 1);
	wr(0, 0x20);
	wr(0, 0x55);
	assert_int_equal(rd(0) & 0x30, 0x30);
	assert_int_equal(rd(1), rd(0)); /* every byte reads the status */
	wr(0, 0x50);
	assert_int_equal(rd(0), image[0]); /* nothing erased */
	/* A command it lacks (buffered program): back to read array. */
	wr(0, 0xe8);
	assert_true(mapped());
	free_vm();
}

/* Any sequence of accesses, of any size at any offset: no crash, and
 * the flash ends in read-array mode with FFh/AND-only changes. */
static void test_random_commands(void **state)
{
	static const uint8_t cmds[] = { 0xff, 0x10, 0x40, 0x20, 0xd0, 0x50,
					0x70, 0x90, 0x98, 0x00, 0xe8, 0x60 };
	unsigned sizes[] = { 1, 2, 4, 8 };
	uint64_t v;

	make_vm(NULL);
	srand(1234);
	for (unsigned i = 0; i < 200000; i++) {
		unsigned size = sizes[rand() % 4];
		uint64_t off = (uint64_t)rand() % (SIZE + 16);

		v = rand() % 3 ? cmds[rand() % sizeof(cmds)] : (uint64_t)rand() << 20 | rand();
		if (rand() % 2)
			bus_write(&vm.mmio, BASE + off, &v, size);
		else if (!mapped())
			bus_read(&vm.mmio, BASE + off, &v, size);
	}
	wr(0, 0xff); /* program data, or read array */
	wr(0, 0xff);
	assert_true(mapped());
	free_vm();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ovmf_probe),
		cmocka_unit_test(test_program_erase_and_store),
		cmocka_unit_test(test_query_and_errors),
		cmocka_unit_test(test_random_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

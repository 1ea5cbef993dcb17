/* Guest memory layout, bounds-checked access, and the e820 map. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "vm/e820.h"
#include "vm/memory.h"

static uint64_t e820_total(const struct e820_entry *map, int n, uint32_t type)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < n; i++)
		if (map[i].type == type)
			sum += map[i].size;
	return sum;
}

/* Sorted, non-overlapping, RAM never in the PCI hole, all RAM listed. */
static void check_map(const struct guest_memory *gm)
{
	struct e820_entry map[E820_MAX_ENTRIES];
	int n = e820_build(gm, map, E820_MAX_ENTRIES), i;
	uint64_t ram = e820_total(map, n, E820_RAM);

	assert_true(n > 0);
	for (i = 1; i < n; i++)
		assert_true(map[i - 1].addr + map[i - 1].size <= map[i].addr);
	for (i = 0; i < n; i++) {
		if (map[i].type != E820_RAM)
			continue;
		assert_true(map[i].addr + map[i].size <= GMEM_PCI_HOLE_START ||
			    map[i].addr >= GMEM_4G);
		/* Every RAM byte the map promises is backed. */
		assert_true(gmem_is_ram(gm, map[i].addr, map[i].size));
	}
	/* RAM listed = RAM asked for, less the legacy area below 1 MiB. */
	assert_int_equal(ram, gm->ram_size - (GMEM_1M - 0x9fc00));
}

static void test_many_sizes(void **state)
{
	static const uint64_t mib[] = {
		16, 17, 64, 128, 511, 512, 1024, 2047, 3072, 3073, 4096,
		5000, 8192, 65536,
	};
	unsigned i;

	for (i = 0; i < sizeof(mib) / sizeof(mib[0]); i++) {
		struct guest_memory gm;

		assert_int_equal(gmem_init(&gm, mib[i] << 20), 0);
		check_map(&gm);
		if ((mib[i] << 20) > GMEM_PCI_HOLE_START) {
			assert_int_equal(gm.low_end, GMEM_PCI_HOLE_START);
			assert_int_equal(gm.high_size, (mib[i] << 20) - GMEM_PCI_HOLE_START);
		} else {
			assert_int_equal(gm.high_size, 0);
		}
		gmem_destroy(&gm);
	}
}

static void test_bad_sizes(void **state)
{
	struct guest_memory gm;

	assert_int_equal(gmem_init(&gm, 15 << 20), -22);
	assert_int_equal(gmem_init(&gm, (1ULL << 40) + 1), -22);
}

static void test_bounds(void **state)
{
	struct guest_memory gm;
	uint8_t buf[16] = { 1, 2, 3 };
	uint64_t top;

	assert_int_equal(gmem_init(&gm, 64 << 20), 0);
	top = gm.low_end;
	assert_int_equal(gmem_write(&gm, top - 16, buf, 16), 0);
	assert_int_equal(gmem_write(&gm, top - 15, buf, 16), -14);
	assert_int_equal(gmem_read(&gm, top, buf, 1), -14);
	/* The VGA window and the PCI hole are not RAM. */
	assert_int_equal(gmem_read(&gm, 0xb8000, buf, 1), -14);
	assert_null(gmem_ptr(&gm, 0xfec00000, 4));
	/* A range crossing from low RAM into the VGA window is refused. */
	assert_null(gmem_ptr(&gm, 0x9fff0, 32));
	/* Lengths that would wrap around are refused. */
	assert_null(gmem_ptr(&gm, 0x1000, UINT64_MAX));
	assert_null(gmem_ptr(&gm, UINT64_MAX - 3, 8));
	gmem_destroy(&gm);
}

static void test_firmware(void **state)
{
	static uint8_t rom[64 << 10];
	struct guest_memory gm;
	uint8_t b;

	rom[0] = 0x11;
	rom[sizeof(rom) - 16] = 0xea; /* the reset vector */
	assert_int_equal(gmem_init(&gm, 64 << 20), 0);
	assert_int_equal(gmem_add_firmware(&gm, rom, 1000), -22);
	assert_int_equal(gmem_add_firmware(&gm, rom, sizeof(rom)), 0);
	assert_int_equal(gmem_read(&gm, 0xfffffff0, &b, 1), 0);
	assert_int_equal(b, 0xea);
	assert_int_equal(gmem_read(&gm, 0xffff0, &b, 1), 0);
	assert_int_equal(b, 0xea);
	assert_int_equal(gmem_read(&gm, 0xf0000, &b, 1), 0);
	assert_int_equal(b, 0x11);
	/* ROM is readable but never writable by the guest or devices. */
	assert_int_equal(gmem_write(&gm, 0xf0000, &b, 1), -14);
	assert_false(gmem_is_ram(&gm, 0xffff0, 1));
	check_map(&gm);
	gmem_destroy(&gm);
}

/* A lower PCI hole (firmware with much RAM): low RAM stops there, the
 * rest is above 4 GiB; a hole above 3 GiB or below 16 MiB is refused. */
static void test_lower_hole(void **state)
{
	struct guest_memory gm;

	assert_int_equal(gmem_init_hole(&gm, 3ULL << 30, GMEM_FW_PCI_HOLE_START), 0);
	assert_int_equal(gm.low_end, GMEM_FW_PCI_HOLE_START);
	assert_int_equal(gm.high_size, (3ULL << 30) - GMEM_FW_PCI_HOLE_START);
	assert_false(gmem_is_ram(&gm, 0xb0000000, 4096));
	assert_true(gmem_is_ram(&gm, GMEM_4G, 4096));
	check_map(&gm);
	gmem_destroy(&gm);
	assert_int_equal(gmem_init_hole(&gm, 1ULL << 30, GMEM_4G), -22);
	assert_int_equal(gmem_init_hole(&gm, 1ULL << 30, 1 << 20), -22);
}

static unsigned remaps;

static void count_remap(void *opaque, uint64_t gpa, uint64_t len)
{
	remaps++;
}

/*
 * PAM: 0xE0000-0xFFFFF reads the firmware until a segment reads RAM;
 * RE alone is read-only RAM, RE|WE writable RAM; 0xC0000-0xDFFFF is
 * nothing at all until its segments read RAM.  A change is announced.
 */
static void test_pam(void **state)
{
	static uint8_t image[256 << 10];
	struct guest_memory gm;
	uint8_t b = 0;

	memset(image, 0xab, sizeof(image));
	image[sizeof(image) - 0x10000] = 0x5a;	/* what 0xF0000 shows */
	assert_int_equal(gmem_init(&gm, 64 << 20), 0);
	assert_int_equal(gmem_add_firmware(&gm, image, sizeof(image)), 0);
	gm.map_notify = count_remap;
	assert_int_equal(gmem_read(&gm, 0xf0000, &b, 1), 0);
	assert_int_equal(b, 0x5a);
	assert_int_equal(gmem_read(&gm, 0xe0000, &b, 1), 0);
	assert_int_equal(b, 0xab);
	assert_null(gmem_ptr(&gm, 0xc0000, 1));
	assert_null(gmem_ptr(&gm, 0xdc000, 1));
	assert_int_equal(gmem_write(&gm, 0xf0000, "x", 1), -14);

	gmem_set_pam(&gm, 0, GMEM_PAM_RE | GMEM_PAM_WE);
	assert_int_equal(remaps, 1);
	assert_int_equal(gmem_write(&gm, 0xf0000, "x", 1), 0);
	assert_int_equal(gmem_read(&gm, 0xf0000, &b, 1), 0);
	assert_int_equal(b, 'x');
	gmem_set_pam(&gm, 0, GMEM_PAM_RE);
	assert_int_equal(gmem_write(&gm, 0xf0000, "y", 1), -14);
	assert_int_equal(gmem_read(&gm, 0xf0000, &b, 1), 0);
	assert_int_equal(b, 'x');
	gmem_set_pam(&gm, 0, GMEM_PAM_RE);	/* no change, no notice */
	assert_int_equal(remaps, 2);

	gmem_set_pam(&gm, 1, GMEM_PAM_RE | GMEM_PAM_WE);	/* 0xC0000 */
	assert_non_null(gmem_ptr_rw(&gm, 0xc0000, 0x4000));
	assert_null(gmem_ptr(&gm, 0xc4000, 1));
	gmem_reset_pam(&gm);
	assert_null(gmem_ptr(&gm, 0xc0000, 1));
	assert_int_equal(gmem_read(&gm, 0xf0000, &b, 1), 0);
	assert_int_equal(b, 0x5a);
	gmem_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_sizes),
		cmocka_unit_test(test_bad_sizes),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_firmware),
		cmocka_unit_test(test_pam),
		cmocka_unit_test(test_lower_hole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * The virtio PCI transport against a hostile driver, on a machine with
 * guest RAM, the PCI host and a virtio-rng but no CPU: the test plays the
 * driver through config space and BAR0 MMIO.  Bad queue sizes, rings
 * outside RAM, notifications before set-up, legacy drivers, odd access
 * sizes and out-of-range selectors must leave wirt running and touching
 * nothing outside guest RAM (AddressSanitizer watches); a correct set-up
 * afterwards must work, with the interrupt delivered as MSI-X.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "hw/pci.h"
#include "hw/virtio/virtio.h"
#include "vm/vm.h"

#define RAM      (16ull << 20)
#define DESC     0x10000ull
#define AVAIL    0x11000ull
#define USED     0x12000ull
#define BUF      0x20000ull
#define SLOT     1            /* slot 0 is the host bridge */

/* BAR0 layout of wirt's virtio devices (virtio_pci.c). */
#define COMMON   0x0000
#define ISR      0x1000
#define NOTIFY   0x3000
#define MSIX     0x4000

static struct vm vm;
static const struct accel_ops no_accel = { .name = "none" };
static int msi_count, line_level;
static uint64_t bar;

static void count_msi(void *opaque, uint64_t addr, uint32_t data) { msi_count++; }
static void set_line(void *opaque, unsigned gsi, int level) { line_level = level; }

static void w(uint64_t off, uint64_t v, unsigned size)
{
	bus_write(&vm.mmio, bar + off, &v, size);
}

static uint64_t r(uint64_t off, unsigned size)
{
	uint64_t v = 0;

	bus_read(&vm.mmio, bar + off, &v, size);
	return v;
}

static uint8_t status(void)
{
	return r(COMMON + 20, 1);
}

static int setup(void **state)
{
	memset(&vm, 0, sizeof(vm));
	vm.accel = &no_accel;
	vm.irq_ops.send_msi = count_msi;
	vm.irq_ops.set_line = set_line;
	assert_int_equal(gmem_init(&vm.mem, RAM), 0);
	bus_init(&vm.pio, "port I/O");
	bus_init(&vm.mmio, "MMIO");
	assert_int_equal(pci_host_create(&vm), 0);
	assert_int_equal(virtio_rng_create(&vm), 0);
	assert_int_equal(pci_config_read(&vm, SLOT, 0, PCI_DEVICE_ID, 2), 0x1044);
	bar = pci_config_read(&vm, SLOT, 0, PCI_BAR0, 4) & ~0xfull;
	msi_count = line_level = 0;
	return 0;
}

static int teardown(void **state)
{
	unsigned i;

	for (i = vm.ndevices; i > 0; i--)
		if (vm.devices[i - 1].destroy)
			vm.devices[i - 1].destroy(vm.devices[i - 1].opaque);
	gmem_destroy(&vm.mem);
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
	return 0;
}

/* Driver steps up to FEATURES_OK with the given feature words. */
static void negotiate(uint32_t lo, uint32_t hi)
{
	w(COMMON + 20, 0, 1);
	w(COMMON + 20, 1 | 2, 1);
	w(COMMON + 8, 0, 4);
	w(COMMON + 12, lo, 4);
	w(COMMON + 8, 1, 4);
	w(COMMON + 12, hi, 4);
	w(COMMON + 20, 1 | 2 | 8, 1);
}

static void set_queue(uint16_t size, uint64_t desc, uint64_t avail, uint64_t used)
{
	w(COMMON + 22, 0, 2);
	w(COMMON + 24, size, 2);
	w(COMMON + 32, desc, 8);
	w(COMMON + 40, avail, 8);
	w(COMMON + 48, used, 8);
}

static void test_legacy_driver_refused(void **state)
{
	negotiate(0, 0);  /* no VIRTIO_F_VERSION_1 */
	assert_false(status() & 8);
	/* Features offered include VERSION_1 (bit 32). */
	w(COMMON + 0, 1, 4);
	assert_true(r(COMMON + 4, 4) & 1);
}

static void test_bad_queue_setups_need_reset(void **state)
{
	static const struct { uint16_t size; uint64_t desc, avail, used; } bad[] = {
		{ 3, DESC, AVAIL, USED },               /* not a power of two */
		{ 1024, DESC, AVAIL, USED },            /* larger than offered */
		{ 8, RAM - 16, AVAIL, USED },           /* table past RAM */
		{ 8, DESC, 0xfffffffffffffff0ull, USED },
		{ 8, DESC + 4, AVAIL, USED },           /* misaligned */
		{ 8, DESC, AVAIL, 0xe0000000ull },      /* MMIO (ECAM), not RAM */
	};
	unsigned i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		negotiate(0, 1);
		assert_true(status() & 8);
		set_queue(bad[i].size, bad[i].desc, bad[i].avail, bad[i].used);
		w(COMMON + 28, 1, 2);
		assert_int_equal(r(COMMON + 28, 2), 0);      /* not enabled */
		assert_true(status() & 0x40);                /* NEEDS_RESET */
		w(NOTIFY, 0, 2);                             /* and a kick */
	}
	/* Reset clears it. */
	w(COMMON + 20, 0, 1);
	assert_int_equal(status(), 0);
}

static void test_odd_accesses_ignored(void **state)
{
	/* Wrong widths, out-of-range selectors, past-the-end offsets. */
	w(COMMON + 20, 0xff, 4);
	assert_int_equal(status(), 0);
	w(COMMON + 22, 7, 2);                      /* queue 7 does not exist */
	assert_int_equal(r(COMMON + 24, 2), 0);
	w(COMMON + 24, 8, 2);
	w(COMMON + 28, 1, 2);
	assert_int_equal(r(COMMON + 26, 2), 0xffff);
	w(COMMON + 0, 99, 4);
	assert_int_equal(r(COMMON + 4, 4), 0);
	w(ISR + 3, 1, 1);
	w(NOTIFY + 0x100, 1, 2);                   /* notify a queue past the end */
	w(MSIX + 16 * 100, 1, 4);                  /* vector 100 of 2 */
	assert_int_equal(r(MSIX + 16 * 100, 4), 0);
	w(0x7ff8, ~0ull, 8);
	r(0x7ff8, 8);
	/* Config space: writes to read-only fields stick nowhere. */
	pci_config_write(&vm, SLOT, 0, PCI_VENDOR_ID, 0x1234, 2);
	assert_int_equal(pci_config_read(&vm, SLOT, 0, PCI_VENDOR_ID, 2), 0x1af4);
	pci_config_write(&vm, SLOT, 0, 0xfe, 0xffff, 4);   /* misaligned */
	assert_int_equal(pci_config_read(&vm, SLOT, 0, 0x100, 4), 0);
}

static void test_request_served_with_msix(void **state)
{
	uint8_t desc[16];
	uint64_t addr = BUF;
	uint32_t len = 64;
	uint16_t flags = 2, next = 0, head = 0, idx = 1, used_idx = 0;
	uint32_t used_len = 0;
	uint8_t data[64];
	int i;

	/* MSI-X on: vector 1 for queue 0, then unmask it. */
	pci_config_write(&vm, SLOT, 0, PCI_COMMAND, PCI_COMMAND_MEMORY |
			 PCI_COMMAND_MASTER, 2);
	for (i = 0x40; i; i = pci_config_read(&vm, SLOT, 0, i + 1, 1))
		if (pci_config_read(&vm, SLOT, 0, i, 1) == PCI_CAP_ID_MSIX)
			break;
	assert_true(i);
	pci_config_write(&vm, SLOT, 0, i + 2, 0x8000, 2);
	w(MSIX + 16, 0xfee00000, 4);
	w(MSIX + 24, 0x41, 4);
	w(MSIX + 28, 0, 4);

	negotiate(0, 1);
	set_queue(8, DESC, AVAIL, USED);
	w(COMMON + 26, 1, 2);
	assert_int_equal(r(COMMON + 26, 2), 1);
	w(COMMON + 28, 1, 2);
	assert_int_equal(r(COMMON + 28, 2), 1);
	w(COMMON + 20, 1 | 2 | 4 | 8, 1);

	memcpy(desc, &addr, 8);
	memcpy(desc + 8, &len, 4);
	memcpy(desc + 12, &flags, 2);
	memcpy(desc + 14, &next, 2);
	gmem_write(&vm.mem, DESC, desc, 16);
	memset(data, 0, sizeof(data));
	gmem_write(&vm.mem, BUF, data, sizeof(data));
	gmem_write(&vm.mem, AVAIL + 4, &head, 2);
	gmem_write(&vm.mem, AVAIL + 2, &idx, 2);
	w(NOTIFY, 0, 2);
	for (i = 0; i < 500 && used_idx != 1; i++) {
		usleep(10000);
		gmem_read(&vm.mem, USED + 2, &used_idx, 2);
	}
	assert_int_equal(used_idx, 1);
	gmem_read(&vm.mem, USED + 8, &used_len, 4);
	assert_int_equal(used_len, 64);
	gmem_read(&vm.mem, BUF, data, sizeof(data));
	for (i = 0; i < 64 && !data[i]; i++)
		;
	assert_true(i < 64);                 /* random bytes arrived */
	for (i = 0; i < 100 && !msi_count; i++)
		usleep(10000);
	assert_true(msi_count >= 1);
	assert_int_equal(line_level, 0);     /* no INTx while MSI-X is on */
}

/* The vendor capability of the given virtio cfg_type; 0 if none. */
static unsigned find_virtio_cap(uint8_t type)
{
	unsigned c = pci_config_read(&vm, SLOT, 0, PCI_CAP_PTR, 1);

	for (; c; c = pci_config_read(&vm, SLOT, 0, c + 1, 1))
		if (pci_config_read(&vm, SLOT, 0, c, 1) == PCI_CAP_ID_VNDR &&
		    pci_config_read(&vm, SLOT, 0, c + 3, 1) == type)
			return c;
	return 0;
}

static void window(unsigned cap, uint8_t bar_no, uint32_t off, uint32_t len)
{
	pci_config_write(&vm, SLOT, 0, cap + 4, bar_no, 1);
	pci_config_write(&vm, SLOT, 0, cap + 8, off, 4);
	pci_config_write(&vm, SLOT, 0, cap + 12, len, 4);
}

/* PCI_CFG (virtio 1.x 4.1.4.9): BAR0 reached through config space. */
static void test_pci_cfg_window(void **state)
{
	unsigned cap = find_virtio_cap(5);

	assert_int_not_equal(cap, 0);
	assert_int_equal(pci_config_read(&vm, SLOT, 0, cap + 2, 1), 20);
	/* device_feature word 1 holds VERSION_1 (bit 32). */
	window(cap, 0, COMMON + 0, 4);
	pci_config_write(&vm, SLOT, 0, cap + 16, 1, 4);
	window(cap, 0, COMMON + 4, 4);
	assert_int_equal(pci_config_read(&vm, SLOT, 0, cap + 16, 4) & 1, 1);
	/* A byte write of the status, seen through MMIO too. */
	window(cap, 0, COMMON + 20, 1);
	pci_config_write(&vm, SLOT, 0, cap + 16, 1 | 2, 4);
	assert_int_equal(status(), 1 | 2);
	assert_int_equal(pci_config_read(&vm, SLOT, 0, cap + 16, 1), 1 | 2);
	/* Bad windows do nothing: another BAR, odd lengths, misaligned, past the end. */
	window(cap, 1, COMMON + 20, 1);
	pci_config_write(&vm, SLOT, 0, cap + 16, 0, 4);
	window(cap, 0, COMMON + 20, 3);
	pci_config_write(&vm, SLOT, 0, cap + 16, 0, 4);
	window(cap, 0, COMMON + 21, 2);
	pci_config_write(&vm, SLOT, 0, cap + 16, 0, 4);
	window(cap, 0, 0xfffffffc, 4);
	pci_config_write(&vm, SLOT, 0, cap + 16, 0, 4);
	pci_config_read(&vm, SLOT, 0, cap + 16, 4);
	assert_int_equal(status(), 1 | 2);
}

/* A machine reset puts BARs, command and MSI-X back as wirt set them up. */
static void test_machine_reset_restores_config(void **state)
{
	uint32_t bar0 = pci_config_read(&vm, SLOT, 0, PCI_BAR0, 4);
	uint16_t cmd = pci_config_read(&vm, SLOT, 0, PCI_COMMAND, 2);
	unsigned i;

	pci_config_write(&vm, SLOT, 0, PCI_BAR0, 0xd0000000, 4);
	pci_config_write(&vm, SLOT, 0, PCI_COMMAND, 0, 2);
	w(MSIX + 12, 0, 4);    /* would be unreachable now: BAR moved, off */
	assert_int_equal(r(COMMON + 20, 1), 0xff);  /* nothing decodes */
	for (i = 0; i < vm.ndevices; i++)
		if (vm.devices[i].reset)
			vm.devices[i].reset(vm.devices[i].opaque);
	assert_int_equal(pci_config_read(&vm, SLOT, 0, PCI_BAR0, 4), bar0);
	assert_int_equal(pci_config_read(&vm, SLOT, 0, PCI_COMMAND, 2), cmd);
	assert_int_equal(r(MSIX + 12, 4), 1);       /* vector masked again */
	negotiate(0, 1);
	assert_int_equal(status(), 1 | 2 | 8);      /* BAR0 answers again */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_legacy_driver_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_queue_setups_need_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_odd_accesses_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_served_with_msix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_machine_reset_restores_config, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

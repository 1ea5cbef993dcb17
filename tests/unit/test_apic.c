/*
 * The local APIC and IOAPIC register models (hw/lapic.c, hw/ioapic.c)
 * without a CPU, for what one tiny guest cannot reach: several APICs on
 * one bus (x2APIC logical clusters, a globally disabled APIC off the bus,
 * a software-disabled one still taking NMIs), and the IOAPIC's Remote IRR
 * against EOI broadcasts, EOI-broadcast suppression and the EOI register.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hw/ioapic.h"
#include "hw/lapic.h"
#include "vm/vm.h"

#define NCPUS 18
#define IOAPIC_BASE 0xfec00000ULL

struct fake_cpu {
	unsigned kicks, inits, sipis, nmis;
};

static struct vm vm;
static struct apic_bus *bus;
static struct lapic *apic[NCPUS];
static struct fake_cpu cpu[NCPUS];
static struct ioapic *io;
static uint64_t tsc_offset;

static void kick(void *c) { ((struct fake_cpu *)c)->kicks++; }
static void init(void *c) { ((struct fake_cpu *)c)->inits++; }
static void sipi(void *c, uint8_t v) { (void)v; ((struct fake_cpu *)c)->sipis++; }
static void nmi(void *c) { ((struct fake_cpu *)c)->nmis++; }
static const struct lapic_cpu_ops ops = { kick, init, sipi, nmi };

static int setup(void **state)
{
	(void)state;
	memset(&vm, 0, sizeof(vm));
	memset(cpu, 0, sizeof(cpu));
	bus_init(&vm.mmio, "MMIO");
	bus = apic_bus_create(NCPUS);
	assert_non_null(bus);
	for (unsigned i = 0; i < NCPUS; i++) {
		apic[i] = lapic_create(bus, i, &ops, &cpu[i], &tsc_offset);
		assert_non_null(apic[i]);
		lapic_write(apic[i], 0xf0, 0x1ff); /* software-enabled */
	}
	io = ioapic_create(&vm, bus);
	assert_non_null(io);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < vm.ndevices; i++)
		if (vm.devices[i].destroy)
			vm.devices[i].destroy(vm.devices[i].opaque);
	apic_bus_destroy(bus);
	bus_destroy(&vm.mmio);
	return 0;
}

static void to_x2apic(unsigned i)
{
	assert_true(lapic_set_base(apic[i], 0xfee00c00));
	assert_true(lapic_x2apic_mode(apic[i]));
}

static uint32_t io_read(uint32_t reg)
{
	uint64_t v = 0;
	uint32_t r = reg;

	assert_int_equal(bus_write(&vm.mmio, IOAPIC_BASE, &(uint64_t){ r }, 4), 1);
	assert_int_equal(bus_read(&vm.mmio, IOAPIC_BASE + 0x10, &v, 4), 1);
	return v;
}

static void io_write(uint32_t reg, uint32_t val)
{
	assert_int_equal(bus_write(&vm.mmio, IOAPIC_BASE, &(uint64_t){ reg }, 4), 1);
	assert_int_equal(bus_write(&vm.mmio, IOAPIC_BASE + 0x10, &(uint64_t){ val }, 4), 1);
}

static void test_x2apic_ldr_and_clusters(void **state)
{
	uint64_t v;

	(void)state;
	for (unsigned i = 0; i < NCPUS; i++)
		to_x2apic(i);
	/* ID 17: cluster 1, member bit 1. */
	assert_int_equal(lapic_msr_read(apic[17], 0x80d, &v), 0);
	assert_int_equal(v, 0x10002);
	assert_int_equal(lapic_msr_read(apic[17], 0x802, &v), 0);
	assert_int_equal(v, 17);
	/* Logical IPI from CPU 0 to cluster 1, members 0 and 1: IDs 16, 17. */
	assert_int_equal(lapic_msr_write(apic[0], 0x830, (0x10003ULL << 32) | 0x850), 0);
	for (unsigned i = 0; i < NCPUS; i++)
		assert_int_equal(lapic_has_interrupt(apic[i]), i == 16 || i == 17);
	assert_int_equal(lapic_ack(apic[16]), 0x50);
	assert_int_equal(lapic_ack(apic[17]), 0x50);
	/* Physical broadcast 0xffffffff reaches all; physical 5 only 5. */
	assert_int_equal(lapic_msr_write(apic[0], 0x830, (5ULL << 32) | 0x4400), 0);
	for (unsigned i = 0; i < NCPUS; i++)
		assert_int_equal(cpu[i].nmis, i == 5);
	assert_int_equal(lapic_msr_write(apic[0], 0x830, (0xffffffffULL << 32) | 0x4400), 0);
	for (unsigned i = 0; i < NCPUS; i++)
		assert_int_equal(cpu[i].nmis, 1u + (i == 5));
}

static void test_disabled_apic_off_the_bus(void **state)
{
	(void)state;
	/* CPU 1 globally disabled: no NMI, INIT, fixed or MSI reaches it. */
	assert_true(lapic_set_base(apic[1], 0xfee00000));
	assert_false(lapic_hw_enabled(apic[1]));
	lapic_write(apic[0], 0x310, 1u << 24);
	lapic_write(apic[0], 0x300, 0x4400); /* NMI */
	lapic_write(apic[0], 0x300, 0x4500); /* INIT */
	lapic_write(apic[0], 0x300, 0x4060); /* fixed 0x60 */
	apic_bus_deliver(bus, 1, false, 0, 0x61, false);
	assert_int_equal(cpu[1].nmis, 0);
	assert_int_equal(cpu[1].inits, 0);
	assert_false(lapic_has_interrupt(apic[1]));
	/* Software-disabled (SVR): NMI and INIT still, fixed not. */
	assert_true(lapic_set_base(apic[1], 0xfee00800));
	assert_int_equal(lapic_read(apic[1], 0xf0), 0xff); /* power-up state */
	lapic_write(apic[0], 0x300, 0x4400);
	lapic_write(apic[0], 0x300, 0x4500);
	lapic_write(apic[0], 0x300, 0x4060);
	assert_int_equal(cpu[1].nmis, 1);
	assert_int_equal(cpu[1].inits, 1);
	assert_false(lapic_has_interrupt(apic[1]));
	/* Lowest priority passes over the disabled CPU 2 to CPU 3. */
	assert_true(lapic_set_base(apic[2], 0xfee00000));
	lapic_write(apic[3], 0xd0, 0x06000000); /* logical IDs: bits 1, 2 */
	lapic_write(apic[2], 0xd0, 0x06000000);
	apic_bus_deliver(bus, 0x06, true, 1, 0x70, false);
	assert_false(lapic_has_interrupt(apic[2]));
	assert_int_equal(lapic_ack(apic[3]), 0x70);
}

static void test_base_transitions(void **state)
{
	(void)state;
	assert_false(lapic_set_base(apic[0], 0xfee00400));       /* EXTD without EN */
	assert_false(lapic_set_base(apic[0], 0x10000000900ULL));  /* past MAXPHYADDR */
	assert_true(lapic_set_base(apic[0], 0xfee00c00));         /* to x2APIC */
	assert_false(lapic_set_base(apic[0], 0xfee00800));        /* back directly */
	assert_true(lapic_set_base(apic[0], 0xfee00000));         /* disabled */
	assert_false(lapic_set_base(apic[0], 0xfee00c00));        /* to x2APIC directly */
	assert_true(lapic_set_base(apic[0], 0xfee00800));
	/* The BSP flag cannot be written. */
	assert_int_equal(lapic_get_base(apic[0]), 0xfee00900);
	assert_int_equal(lapic_get_base(apic[1]), 0xfee00800);
}

/* Pin 9 level-triggered, vector 0x40, to APIC 0. */
static void level_pin(void)
{
	io_write(0x10 + 2 * 9, 0x8040);
	io_write(0x11 + 2 * 9, 0);
}

static void test_remote_irr(void **state)
{
	(void)state;
	level_pin();
	ioapic_set_irq(io, 9, 1);
	assert_true(io_read(0x10 + 2 * 9) & 0x4000);
	assert_int_equal(lapic_ack(apic[0]), 0x40);
	assert_true(lapic_read(apic[0], 0x180 + 0x20) & 1); /* TMR bit 64 */
	/* Still asserted, Remote IRR set: no second message. */
	ioapic_set_irq(io, 9, 1);
	assert_false(lapic_has_interrupt(apic[0]));
	/* EOI broadcast: cleared, the line is high, sent again. */
	lapic_write(apic[0], 0xb0, 0);
	assert_true(io_read(0x10 + 2 * 9) & 0x4000);
	assert_int_equal(lapic_ack(apic[0]), 0x40);
	/* Line low, then EOI: Remote IRR clear, nothing sent. */
	ioapic_set_irq(io, 9, 0);
	lapic_write(apic[0], 0xb0, 0);
	assert_false(io_read(0x10 + 2 * 9) & 0x4000);
	assert_false(lapic_has_interrupt(apic[0]));
}

static void test_eoi_suppression_and_eoi_register(void **state)
{
	(void)state;
	assert_int_equal(io_read(1) & 0xff, 0x20);
	assert_true(lapic_read(apic[0], 0x30) & (1u << 24));
	lapic_write(apic[0], 0xf0, 0x11ff); /* suppress EOI broadcasts */
	level_pin();
	ioapic_set_irq(io, 9, 1);
	assert_int_equal(lapic_ack(apic[0]), 0x40);
	ioapic_set_irq(io, 9, 0);
	lapic_write(apic[0], 0xb0, 0);
	assert_true(io_read(0x10 + 2 * 9) & 0x4000); /* no broadcast */
	/* The EOI register: a write of another vector does nothing. */
	assert_int_equal(bus_write(&vm.mmio, IOAPIC_BASE + 0x40, &(uint64_t){ 0x41 }, 4), 1);
	assert_true(io_read(0x10 + 2 * 9) & 0x4000);
	assert_int_equal(bus_write(&vm.mmio, IOAPIC_BASE + 0x40, &(uint64_t){ 0x40 }, 4), 1);
	assert_false(io_read(0x10 + 2 * 9) & 0x4000);
	/* Turning the pin to edge clears a stale Remote IRR. */
	ioapic_set_irq(io, 9, 1);
	assert_int_equal(lapic_ack(apic[0]), 0x40);
	assert_true(io_read(0x10 + 2 * 9) & 0x4000);
	io_write(0x10 + 2 * 9, 0x10040);
	assert_false(io_read(0x10 + 2 * 9) & 0x4000);
}

static void test_x2apic_msr_rules(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(lapic_msr_read(apic[0], 0x802, &v), -1); /* xAPIC mode */
	to_x2apic(0);
	assert_int_equal(lapic_msr_read(apic[0], 0x803, &v), 0);
	assert_int_equal(v, lapic_read(apic[0], 0x30));
	assert_int_equal(lapic_msr_write(apic[0], 0x828, 0), 0);   /* ESR */
	assert_int_equal(lapic_msr_write(apic[0], 0x828, 1), -1);
	assert_int_equal(lapic_msr_write(apic[0], 0x83f, 0x100), -1);
	assert_int_equal(lapic_msr_write(apic[0], 0x839, 0), -1);  /* TMCCT */
	assert_int_equal(lapic_msr_read(apic[0], 0x809, &v), -1);  /* no APR */
	assert_int_equal(lapic_msr_write(apic[0], 0x808, 0x30), 0);
	assert_int_equal(lapic_msr_read(apic[0], 0x808, &v), 0);
	assert_int_equal(v, 0x30);
	/* SELF IPI below the TPR's class waits; above it comes. */
	assert_int_equal(lapic_msr_write(apic[0], 0x83f, 0x35), 0);
	assert_false(lapic_has_interrupt(apic[0]));
	assert_int_equal(lapic_msr_write(apic[0], 0x83f, 0x45), 0);
	assert_int_equal(lapic_ack(apic[0]), 0x45);
}

static void test_init_reset(void **state)
{
	uint64_t v;

	(void)state;
	to_x2apic(17);
	assert_int_equal(lapic_msr_write(apic[17], 0x808, 0x20), 0);
	assert_int_equal(lapic_msr_write(apic[17], 0x83f, 0x80), 0);
	lapic_init_reset(apic[17]);
	/* The mode and ID stay, the registers are at power-up. */
	assert_true(lapic_x2apic_mode(apic[17]));
	assert_int_equal(lapic_msr_read(apic[17], 0x808, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(lapic_msr_read(apic[17], 0x80f, &v), 0);
	assert_int_equal(v, 0xff);
	assert_int_equal(lapic_msr_read(apic[17], 0x80d, &v), 0);
	assert_int_equal(v, 0x10002);
	assert_false(lapic_has_interrupt(apic[17]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_x2apic_ldr_and_clusters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disabled_apic_off_the_bus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_base_transitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_irr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eoi_suppression_and_eoi_register, setup, teardown),
		cmocka_unit_test_setup_teardown(test_x2apic_msr_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_reset, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

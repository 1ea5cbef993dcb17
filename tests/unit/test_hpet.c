/*
 * The HPET's register model (hw/hpet.c) through the MMIO bus: capabilities,
 * read-only bits, the counter halted and running, comparators in 64- and
 * 32-bit mode, VAL_SET in periodic mode, interrupt status, legacy and IOAPIC
 * routes, edge and level lines, and guest nonsense that must not hurt.
 * Interrupts are waited for (with a generous bound), never timed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "hw/hpet.h"
#include "util/event_loop.h"
#include "vm/vm.h"

#define CAP 0x000
#define CONFIG 0x010
#define ISR 0x020
#define COUNTER 0x0f0
#define TCFG(n) (0x100 + 0x20 * (n))
#define TCMP(n) (0x108 + 0x20 * (n))

static struct vm vm;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int level[32];
static unsigned rises[32];

static void record_line(void *opaque, unsigned gsi, int lv)
{
	pthread_mutex_lock(&lock);
	if (gsi < 32) {
		if (lv && !level[gsi])
			rises[gsi]++;
		level[gsi] = lv;
	}
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

/* Wait (at most 10 s, a bound, not a measurement) for n rises on gsi. */
static unsigned wait_rises(unsigned gsi, unsigned n)
{
	struct timespec ts;
	unsigned got;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&lock);
	while (rises[gsi] < n && pthread_cond_timedwait(&cond, &lock, &ts) == 0)
		;
	got = rises[gsi];
	pthread_mutex_unlock(&lock);
	return got;
}

static int line(unsigned gsi)
{
	int v;

	pthread_mutex_lock(&lock);
	v = level[gsi];
	pthread_mutex_unlock(&lock);
	return v;
}

static uint64_t rd(uint64_t off, unsigned size)
{
	uint64_t v = 0;

	assert_int_equal(bus_read(&vm.mmio, HPET_BASE + off, &v, size), 1);
	return v;
}

static void wr(uint64_t off, unsigned size, uint64_t v)
{
	assert_int_equal(bus_write(&vm.mmio, HPET_BASE + off, &v, size), 1);
}

static int setup(void **state)
{
	memset(&vm, 0, sizeof(vm));
	memset(level, 0, sizeof(level));
	memset(rises, 0, sizeof(rises));
	bus_init(&vm.pio, "port I/O");
	bus_init(&vm.mmio, "MMIO");
	vm.loop = event_loop_create();
	assert_non_null(vm.loop);
	vm.irq_ops.set_line = record_line;
	assert_int_equal(hpet_create(&vm), 0);
	assert_int_equal(event_loop_start(vm.loop), 0);
	return 0;
}

static int teardown(void **state)
{
	event_loop_stop(vm.loop);
	for (unsigned i = vm.ndevices; i > 0; i--)
		vm.devices[i - 1].destroy(vm.devices[i - 1].opaque);
	event_loop_destroy(vm.loop);
	bus_destroy(&vm.mmio);
	bus_destroy(&vm.pio);
	return 0;
}

static void test_capabilities(void **state)
{
	uint64_t cap = rd(CAP, 8);

	assert_int_equal(cap >> 32, 10000000);          /* 10 ns in fs */
	assert_int_equal(cap & 0xff, 1);                /* revision */
	assert_int_equal((cap >> 8) & 0x1f, 2);         /* 3 timers */
	assert_true(cap & (1 << 13));                   /* 64-bit counter */
	assert_true(cap & (1 << 15));                   /* legacy route */
	assert_int_equal((cap >> 16) & 0xffff, 0x8086);
	assert_int_equal(rd(CAP + 4, 4), 10000000);     /* 32-bit halves */
	wr(CAP, 8, 0);                                  /* read-only */
	assert_int_equal(rd(CAP, 8), cap);
	for (unsigned n = 0; n < 3; n++) {
		uint64_t c = rd(TCFG(n), 8);

		assert_true(c & (1 << 4) && c & (1 << 5));  /* periodic, 64-bit */
		assert_false(c & (1 << 15));                /* no FSB delivery */
		assert_int_equal(c >> 32, 0x00f00000);      /* pins 20-23 */
		assert_int_equal(rd(TCMP(n), 8), ~0ULL);    /* reset value */
	}
	wr(TCFG(0), 8, ~0ULL);                          /* only writable bits stick */
	assert_int_equal(rd(TCFG(0), 8) & 0xffff, 0x3f7e);  /* no FSB enable */
}

static void test_counter(void **state)
{
	uint64_t a, b;

	/* Halted: writable and frozen. */
	wr(COUNTER, 8, 0x123456789aULL);
	assert_int_equal(rd(COUNTER, 8), 0x123456789aULL);
	usleep(1000);
	assert_int_equal(rd(COUNTER, 8), 0x123456789aULL);
	wr(COUNTER + 4, 4, 0xabc);                      /* the high half alone */
	assert_int_equal(rd(COUNTER, 8), 0xabc3456789aULL);
	assert_int_equal(rd(COUNTER, 4), 0x3456789a);
	/* Running: goes up from there. */
	wr(CONFIG, 8, 1);
	a = rd(COUNTER, 8);
	usleep(1000);
	b = rd(COUNTER, 8);
	assert_true(a >= 0xabc3456789aULL && b > a);
	/* Halted again: stays where it stopped. */
	wr(CONFIG, 8, 0);
	a = rd(COUNTER, 8);
	usleep(1000);
	assert_int_equal(rd(COUNTER, 8), a);
	assert_int_equal(rd(CONFIG, 8), 0);
	wr(CONFIG, 8, ~0ULL);
	assert_int_equal(rd(CONFIG, 8), 3);             /* enable, legacy only */
}

static void test_comparator_modes(void **state)
{
	/* 32-bit mode: the comparator holds 32 bits. */
	wr(TCFG(2), 8, 1 << 8);
	wr(TCMP(2), 8, 0x1122334455667788ULL);
	assert_int_equal(rd(TCMP(2), 8), 0x55667788);
	/* 64-bit: both halves, each writable alone. */
	wr(TCFG(2), 8, 0);
	wr(TCMP(2), 8, 0x1122334455667788ULL);
	wr(TCMP(2) + 4, 4, 0xaabbccdd);
	assert_int_equal(rd(TCMP(2), 8), 0xaabbccdd55667788ULL);
	/* Periodic: VAL_SET makes the next write the match, then clears;
	 * later writes change only the period. */
	wr(TCFG(2), 8, (1 << 3) | (1 << 6));
	wr(TCMP(2), 8, 5000);
	assert_false(rd(TCFG(2), 8) & (1 << 6));
	wr(TCMP(2), 8, 100);
	assert_int_equal(rd(TCMP(2), 8), 5000);
	/* 64-bit comparator written as two halves with VAL_SET: both halves
	 * reach the comparator, the next write is the period again. */
	wr(TCFG(2), 8, (1 << 3) | (1 << 6));
	wr(TCMP(2), 4, 0x1000);
	wr(TCMP(2) + 4, 4, 0);
	assert_int_equal(rd(TCMP(2), 8), 0x1000);
	assert_false(rd(TCFG(2), 8) & (1 << 6));
	wr(TCMP(2), 4, 0x2000);
	assert_int_equal(rd(TCMP(2), 8), 0x1000);
}

/* Legacy replacement: timer 0 pulses IRQ 0, periodically. */
static void test_legacy_periodic(void **state)
{
	wr(TCFG(0), 8, (1 << 2) | (1 << 3) | (1 << 6));
	wr(TCMP(0), 8, 100000);         /* 1 ms */
	wr(TCMP(0), 8, 100000);         /* period 1 ms */
	wr(CONFIG, 8, 3);
	assert_true(wait_rises(0, 3) >= 3);
	assert_int_equal(rd(ISR, 8), 0); /* edge: no status */
	assert_int_equal(rises[20], 0);
	wr(CONFIG, 8, 0);
}

/* IOAPIC route, level mode: the line stays high until ISR is cleared. */
static void test_level_route_and_status(void **state)
{
	wr(TCFG(1), 8, (1 << 1) | (1 << 2) | (21 << 9));   /* level, pin 21 */
	wr(TCMP(1), 8, 200000);                             /* 2 ms, one-shot */
	wr(CONFIG, 8, 1);
	assert_int_equal(wait_rises(21, 1), 1);
	assert_int_equal(line(21), 1);
	assert_int_equal(rd(ISR, 8), 2);
	wr(ISR, 8, 1);                  /* writing 1 to another bit: no effect */
	assert_int_equal(line(21), 1);
	wr(ISR, 8, 2);
	assert_int_equal(rd(ISR, 8), 0);
	assert_int_equal(line(21), 0);
	assert_int_equal(rises[8], 0);  /* not the legacy IRQ 8 */
	wr(CONFIG, 8, 0);
}

/* Nonsense: a period of 0, a pin the timer cannot use, a 1-tick period,
 * a comparator in the past in 64-bit mode.  Nothing crashes; the tiny
 * period is bounded in host wake-ups. */
static void test_nonsense(void **state)
{
	unsigned n;

	wr(COUNTER, 8, 1000);
	wr(TCFG(0), 8, (1 << 2) | (1 << 3) | (1 << 6) | (5 << 9));   /* pin 5 */
	wr(TCMP(0), 8, 0);
	wr(TCFG(1), 8, (1 << 2) | (1 << 3) | (1 << 6) | (22 << 9));
	wr(TCMP(1), 8, 2000);
	wr(TCMP(1), 8, 0);              /* period 0: fires once */
	wr(TCFG(2), 8, (1 << 2) | (1 << 3) | (1 << 6) | (23 << 9));
	wr(TCMP(2), 8, 2000);
	wr(TCMP(2), 8, 1);              /* period 10 ns */
	wr(CONFIG, 8, 1);
	assert_true(wait_rises(22, 1) >= 1);
	assert_true(wait_rises(23, 5) >= 5);
	usleep(20000);
	wr(CONFIG, 8, 0);
	/* 20 ms at one wake-up per 50 us is at most ~400, not 2 million. */
	n = rises[23];
	assert_true(n < 2000);
	assert_int_equal(rises[22], 1);
	assert_int_equal(rises[5], 0);
	/* Straddling and odd-sized accesses answer without crashing. */
	rd(0x0fc, 8);
	wr(0x0fc, 8, 0);
	rd(0x3f8, 8);
	wr(0x3ff, 1, 0xff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comparator_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_periodic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_route_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonsense, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

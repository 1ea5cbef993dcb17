/*
 * HPET (IA-PC HPET specification 1.0a) at 0xFED00000: a 64-bit main
 * counter at 100 MHz, read from the host's monotonic clock, and three
 * comparators with one-shot and periodic modes, 32-bit mode, edge or
 * level interrupts routed to IOAPIC pins 20-23, or with legacy
 * replacement timer 0 to IRQ 0 (IOAPIC pin 2) and timer 1 to IRQ 8.
 * FSB (MSI) delivery is not offered (its capability bit reads 0).
 * Interrupts go through the board's irq interface, so the same code
 * reaches the in-kernel irqchip under KVM and wirt's PIC/IOAPIC under the
 * emulator.  Each comparator has a timerfd on the event loop, armed for
 * the host time at which the counter reaches it.
 *
 * Whatever the guest writes, the VMM neither crashes nor spins: periodic
 * interrupts come at most every MIN_PERIOD_NS of host time (missed periods
 * collapse into one), a period of 0 fires once, a comparator the counter
 * only reaches after 2^62 ticks is never armed, a route to a pin the
 * timer cannot use raises nothing.
 */
#include "hw/hpet.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hw/bus.h"
#include "hw/irq.h"
#include "migration/vmstate.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "vm/vm.h"
#include "vm/vm_clock.h"

#define NS_PER_TICK (HPET_PERIOD_FS / 1000000u)
#define MIN_PERIOD_NS 50000ULL  /* at most 20 kHz of host wake-ups a timer */

/* Registers (offsets in the block). */
#define REG_CAP     0x000
#define REG_CONFIG  0x010
#define REG_ISR     0x020
#define REG_COUNTER 0x0f0
#define REG_TIMER0  0x100  /* 0x20 a timer: config, comparator, FSB route */

#define CFG_ENABLE  (1ULL << 0)
#define CFG_LEGACY  (1ULL << 1)

#define TN_LEVEL    (1ULL << 1)
#define TN_ENABLE   (1ULL << 2)
#define TN_PERIODIC (1ULL << 3)
#define TN_PER_CAP  (1ULL << 4)
#define TN_SIZE_CAP (1ULL << 5)
#define TN_VAL_SET  (1ULL << 6)
#define TN_32BIT    (1ULL << 8)
#define TN_ROUTE_SHIFT 9
#define TN_ROUTE    (0x1fULL << TN_ROUTE_SHIFT)
#define TN_WRITABLE (TN_LEVEL | TN_ENABLE | TN_PERIODIC | TN_VAL_SET | TN_32BIT | TN_ROUTE)
#define TN_FIXED    (TN_PER_CAP | TN_SIZE_CAP | (uint64_t)HPET_ROUTE_CAP << 32)

#define NO_GSI (~0u)

struct hpet;

struct hpet_timer {
	struct hpet *hpet;
	unsigned index;
	uint64_t config;     /* the writable bits */
	uint64_t cmp;
	uint64_t period;
	uint64_t deadline;   /* host ns the timerfd is armed for, 0 if not */
	unsigned line_gsi;   /* the GSI held high (level mode), or NO_GSI */
	int fd;
};

struct hpet {
	struct vm *vm;
	pthread_mutex_t lock;
	uint64_t config;
	uint64_t isr;
	uint64_t counter;    /* at start_ns while enabled, else the value */
	uint64_t start_ns;
	struct hpet_timer t[HPET_TIMERS];
};

/* The guest's clock: it stands still while the VM is paused. */
static uint64_t now_ns(void)
{
	return vm_clock_ns();
}

static uint64_t counter_at(const struct hpet *h, uint64_t now)
{
	if (!(h->config & CFG_ENABLE))
		return h->counter;
	return h->counter + (now - h->start_ns) / NS_PER_TICK;
}

static uint64_t width_mask(const struct hpet_timer *t)
{
	return t->config & TN_32BIT ? 0xffffffffULL : ~0ULL;
}

/* The GSI the timer's interrupt goes to now, or NO_GSI. */
static unsigned timer_gsi(const struct hpet_timer *t)
{
	unsigned pin = (t->config & TN_ROUTE) >> TN_ROUTE_SHIFT;

	if (t->hpet->config & CFG_LEGACY) {
		if (t->index == 0)
			return 0;  /* ISA IRQ 0: the 8259 and IOAPIC pin 2 */
		if (t->index == 1)
			return 8;  /* ISA IRQ 8 */
	}
	return HPET_ROUTE_CAP & (1u << pin) ? pin : NO_GSI;
}

/* Level mode: hold the line high while the status bit is set. */
static void update_line(struct hpet_timer *t)
{
	struct hpet *h = t->hpet;
	unsigned gsi = timer_gsi(t);
	bool want = (t->config & TN_LEVEL) && (t->config & TN_ENABLE) &&
		    (h->config & CFG_ENABLE) && (h->isr & (1ULL << t->index)) &&
		    gsi != NO_GSI;

	if (t->line_gsi != NO_GSI && (!want || t->line_gsi != gsi)) {
		irq_set_line(h->vm, t->line_gsi, 0);
		t->line_gsi = NO_GSI;
	}
	if (want && t->line_gsi == NO_GSI) {
		t->line_gsi = gsi;
		irq_set_line(h->vm, gsi, 1);
	}
}

static void set_deadline(struct hpet_timer *t, uint64_t deadline)
{
	struct itimerspec its = { 0 };

	t->deadline = deadline;
	/* deadline is guest time; the timerfd runs on the host's clock. */
	if (deadline)
		deadline = vm_clock_to_host(deadline);
	its.it_value.tv_sec = deadline / 1000000000ULL;
	its.it_value.tv_nsec = deadline % 1000000000ULL;
	timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/*
 * Arm the timerfd for the moment the counter reaches the comparator.
 * after_fire: the comparator was just reached, so a comparator equal to
 * the counter means the next wrap, not now; not_before: the earliest host
 * time to fire (periodic mode's bound on wake-ups).
 */
static void arm(struct hpet_timer *t, uint64_t now, bool after_fire, uint64_t not_before)
{
	struct hpet *h = t->hpet;
	uint64_t mask = width_mask(t), delta, deadline;

	if (!(h->config & CFG_ENABLE) || !(t->config & (TN_ENABLE | TN_LEVEL))) {
		set_deadline(t, 0);
		return;
	}
	delta = (t->cmp - counter_at(h, now)) & mask;
	if (delta == 0 && after_fire)
		delta = mask;  /* one full turn of the counter (minus a tick) */
	if (delta > (1ULL << 62)) {
		set_deadline(t, 0);  /* centuries away: never in this VM's life */
		return;
	}
	deadline = now + delta * NS_PER_TICK;
	if (deadline < not_before)
		deadline = not_before;
	if (deadline == 0)
		deadline = 1;
	set_deadline(t, deadline);
}

static void raise_irq(struct hpet_timer *t)
{
	struct hpet *h = t->hpet;
	unsigned gsi;

	if (t->config & TN_LEVEL) {
		h->isr |= 1ULL << t->index;
		update_line(t);
		return;
	}
	gsi = timer_gsi(t);
	if (!(t->config & TN_ENABLE))
		return;
	if (gsi == NO_GSI)
		log_warn_once("HPET: timer %u is routed to IOAPIC pin %u, which it cannot use; no interrupt",
			      t->index, (unsigned)((t->config & TN_ROUTE) >> TN_ROUTE_SHIFT));
	else
		irq_pulse(h->vm, gsi);
}

/* The counter reached the comparator: interrupt, then the next match. */
static void timer_fire(struct hpet_timer *t, uint64_t now)
{
	uint64_t mask = width_mask(t), passed, period = t->period & mask;

	raise_irq(t);
	if ((t->config & TN_PERIODIC) && period) {
		passed = (counter_at(t->hpet, now) - t->cmp) & mask;
		if (passed > mask / 2)
			passed = 0;  /* fired a hair early: the next period */
		t->cmp = (t->cmp + (passed / period + 1) * period) & mask;
		arm(t, now, false, now + MIN_PERIOD_NS);
		return;
	}
	arm(t, now, true, 0);
}

static void timer_expired(void *opaque, uint32_t events)
{
	struct hpet_timer *t = opaque;
	uint64_t n, now;

	(void)events;
	if (read(t->fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&t->hpet->lock);
	now = now_ns();
	/* An expiry of an earlier arming that was already queued is stale. */
	if (t->deadline && now >= t->deadline)
		timer_fire(t, now);
	pthread_mutex_unlock(&t->hpet->lock);
}

static void arm_all(struct hpet *h, uint64_t now)
{
	for (unsigned i = 0; i < HPET_TIMERS; i++) {
		arm(&h->t[i], now, false, 0);
		update_line(&h->t[i]);
	}
}

static uint64_t reg_read(struct hpet *h, unsigned reg, uint64_t now)
{
	struct hpet_timer *t;

	switch (reg) {
	case REG_CAP:
		return (uint64_t)HPET_PERIOD_FS << 32 | HPET_CAP_LOW;
	case REG_CONFIG:
		return h->config;
	case REG_ISR:
		return h->isr;
	case REG_COUNTER:
		return counter_at(h, now);
	}
	if (reg < REG_TIMER0 || reg >= REG_TIMER0 + 0x20 * HPET_TIMERS)
		return 0;
	t = &h->t[(reg - REG_TIMER0) / 0x20];
	switch (reg & 0x1f) {
	case 0x00:
		return t->config | TN_FIXED;
	case 0x08:
		return t->cmp & width_mask(t);
	default: /* FSB route: no FSB delivery */
		return 0;
	}
}

static void timer_config_write(struct hpet_timer *t, uint64_t v, uint64_t now)
{
	t->config = v & TN_WRITABLE;
	if (t->config & TN_32BIT) {
		t->cmp &= 0xffffffffULL;
		t->period &= 0xffffffffULL;
	}
	if (!(t->config & TN_LEVEL))
		t->hpet->isr &= ~(1ULL << t->index);
	arm(t, now, false, 0);
	update_line(t);
}

/*
 * A write of the bits in mask of the comparator.  Periodic mode: with
 * VAL_SET the value is the next match as well as the period, else only
 * the period.  VAL_SET clears once the comparator's top is written (the
 * high half of a 64-bit comparator written as two halves comes second).
 */
static void comparator_write(struct hpet_timer *t, uint64_t v, uint64_t mask, uint64_t now)
{
	uint64_t width = width_mask(t);

	if (!(t->config & TN_PERIODIC) || (t->config & TN_VAL_SET))
		t->cmp = ((t->cmp & ~mask) | (v & mask)) & width;
	if (t->config & TN_PERIODIC)
		t->period = ((t->period & ~mask) | (v & mask)) & width;
	if ((mask >> 32) || (t->config & TN_32BIT))
		t->config &= ~TN_VAL_SET;
	arm(t, now, false, 0);
}

static void reg_write(struct hpet *h, unsigned reg, uint64_t v, uint64_t mask, uint64_t now)
{
	uint64_t old = reg_read(h, reg, now), nv = (old & ~mask) | (v & mask);
	struct hpet_timer *t;

	switch (reg) {
	case REG_CAP:
		return;
	case REG_CONFIG:
		if ((nv ^ h->config) & CFG_ENABLE) {
			/* Stop or restart the counter where it stands. */
			h->counter = counter_at(h, now);
			h->start_ns = now;
		}
		h->config = nv & (CFG_ENABLE | CFG_LEGACY);
		arm_all(h, now);
		return;
	case REG_ISR:
		/* Level-triggered status bits clear by writing 1. */
		h->isr &= ~(v & mask);
		for (unsigned i = 0; i < HPET_TIMERS; i++)
			update_line(&h->t[i]);
		return;
	case REG_COUNTER:
		/* Meant to be written while halted; while running the count
		 * goes on from the new value. */
		h->counter = nv;
		h->start_ns = now;
		arm_all(h, now);
		return;
	}
	if (reg < REG_TIMER0 || reg >= REG_TIMER0 + 0x20 * HPET_TIMERS)
		return;
	t = &h->t[(reg - REG_TIMER0) / 0x20];
	switch (reg & 0x1f) {
	case 0x00:
		timer_config_write(t, nv, now);
		break;
	case 0x08:
		comparator_write(t, v, mask, now);
		break;
	}
}

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

static uint64_t hpet_read(void *opaque, uint64_t off, unsigned size)
{
	struct hpet *h = opaque;
	unsigned shift = (off & 7) * 8;
	uint64_t v;

	if ((off & 7) + size > 8)
		return size_mask(size);  /* straddles two registers */
	pthread_mutex_lock(&h->lock);
	v = reg_read(h, off & ~7ULL, now_ns());
	pthread_mutex_unlock(&h->lock);
	return (v >> shift) & size_mask(size);
}

static void hpet_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
	struct hpet *h = opaque;
	unsigned shift = (off & 7) * 8;

	if ((off & 7) + size > 8)
		return;
	pthread_mutex_lock(&h->lock);
	reg_write(h, off & ~7ULL, (v & size_mask(size)) << shift,
		  size_mask(size) << shift, now_ns());
	pthread_mutex_unlock(&h->lock);
}

static const struct io_ops hpet_ops = { hpet_read, hpet_write };

static void hpet_reset(void *opaque)
{
	struct hpet *h = opaque;

	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < HPET_TIMERS; i++) {
		struct hpet_timer *t = &h->t[i];

		if (t->line_gsi != NO_GSI)
			irq_set_line(h->vm, t->line_gsi, 0);
		t->config = 0;
		t->cmp = ~0ULL;     /* comparators reset to all ones */
		t->period = 0;
		t->line_gsi = NO_GSI;
		set_deadline(t, 0);
	}
	h->config = 0;
	h->isr = 0;
	h->counter = 0;
	h->start_ns = now_ns();
	pthread_mutex_unlock(&h->lock);
}

/* Counter and deadlines are guest-clock times, which a restore carries
 * over; the timerfds are armed again from them. */
static void hpet_save(void *opaque, struct vmstate_out *o)
{
	struct hpet *h = opaque;

	pthread_mutex_lock(&h->lock);
	vmstate_put_u64(o, h->config);
	vmstate_put_u64(o, h->isr);
	vmstate_put_u64(o, h->counter);
	vmstate_put_u64(o, h->start_ns);
	vmstate_put_u32(o, HPET_TIMERS);
	for (unsigned i = 0; i < HPET_TIMERS; i++) {
		vmstate_put_u64(o, h->t[i].config);
		vmstate_put_u64(o, h->t[i].cmp);
		vmstate_put_u64(o, h->t[i].period);
		vmstate_put_u64(o, h->t[i].deadline);
	}
	pthread_mutex_unlock(&h->lock);
}

static int hpet_load(void *opaque, struct vmstate_in *in)
{
	struct hpet *h = opaque;
	unsigned n;

	pthread_mutex_lock(&h->lock);
	h->config = vmstate_get_u64(in);
	h->isr = vmstate_get_u64(in);
	h->counter = vmstate_get_u64(in);
	h->start_ns = vmstate_get_u64(in);
	n = vmstate_get_u32(in);
	if (n != HPET_TIMERS)
		vmstate_fail(in, -EINVAL, "HPET: the state has %u timers, this one %u",
			     n, HPET_TIMERS);
	for (unsigned i = 0; i < HPET_TIMERS; i++) {
		struct hpet_timer *t = &h->t[i];
		uint64_t deadline;

		t->config = in->error ? 0 : vmstate_get_u64(in);
		t->cmp = in->error ? ~0ULL : vmstate_get_u64(in);
		t->period = in->error ? 0 : vmstate_get_u64(in);
		deadline = in->error ? 0 : vmstate_get_u64(in);
		set_deadline(t, deadline);
		update_line(t);
	}
	pthread_mutex_unlock(&h->lock);
	return in->error;
}

static void hpet_destroy(void *opaque)
{
	struct hpet *h = opaque;

	for (unsigned i = 0; i < HPET_TIMERS; i++) {
		if (h->t[i].fd < 0)
			continue;
		event_loop_remove_fd(h->vm->loop, h->t[i].fd);
		close(h->t[i].fd);
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
}

int hpet_create(struct vm *vm)
{
	struct hpet *h = calloc(1, sizeof(*h));
	unsigned i;
	int ret = 0;

	if (!h)
		return -ENOMEM;
	h->vm = vm;
	pthread_mutex_init(&h->lock, NULL);
	for (i = 0; i < HPET_TIMERS; i++)
		h->t[i].fd = -1;
	for (i = 0; i < HPET_TIMERS && !ret; i++) {
		struct hpet_timer *t = &h->t[i];

		t->hpet = h;
		t->index = i;
		t->line_gsi = NO_GSI;
		t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (t->fd < 0)
			ret = -errno;
		else
			ret = event_loop_add_fd(vm->loop, t->fd, 1 /* EPOLLIN */,
						timer_expired, t);
	}
	if (!ret)
		ret = bus_register(&vm->mmio, HPET_BASE, HPET_SIZE, &hpet_ops, h, "hpet");
	if (ret) {
		log_error("cannot create the HPET: %d", ret);
		for (i = 0; i < HPET_TIMERS; i++)
			if (h->t[i].fd >= 0) {
				event_loop_remove_fd(vm->loop, h->t[i].fd);
				close(h->t[i].fd);
			}
		free(h);
		return ret;
	}
	hpet_reset(h);
	vm_add_device(vm, &(struct device_hooks){ hpet_reset, hpet_destroy, h,
		      "hpet", 1, hpet_save, hpet_load });
	return 0;
}

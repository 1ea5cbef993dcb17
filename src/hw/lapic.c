/* Local APIC model (see lapic.h).  Register layout from the Intel SDM. */
#include "hw/lapic.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

#define MAX_CPUS 64

#define R_ID      0x020
#define R_VERSION 0x030
#define R_TPR     0x080
#define R_APR     0x090
#define R_PPR     0x0a0
#define R_EOI     0x0b0
#define R_LDR     0x0d0
#define R_DFR     0x0e0
#define R_SVR     0x0f0
#define R_ISR     0x100
#define R_TMR     0x180
#define R_IRR     0x200
#define R_ESR     0x280
#define R_LVT_CMCI 0x2f0
#define R_ICR_LO  0x300
#define R_ICR_HI  0x310
#define R_LVT_TIMER 0x320
#define R_LVT_THERMAL 0x330
#define R_LVT_PERF 0x340
#define R_LVT_LINT0 0x350
#define R_LVT_LINT1 0x360
#define R_LVT_ERROR 0x370
#define R_TIMER_INIT 0x380
#define R_TIMER_CUR 0x390
#define R_TIMER_DIV 0x3e0

#define LVT_MASKED (1u << 16)
#define SVR_ENABLE (1u << 8)
#define BASE_ENABLE (1ULL << 11)
#define BASE_BSP (1ULL << 8)

enum { DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_SIPI = 6, DM_EXTINT = 7 };

struct lapic {
	struct apic_bus *bus;
	pthread_mutex_t lock;
	unsigned id;
	uint64_t base;
	uint32_t irr[8], isr[8], tmr[8];
	uint32_t tpr, ldr, dfr, svr, esr, icr_lo, icr_hi;
	uint32_t lvt[7];            /* CMCI, timer, thermal, perf, LINT0, LINT1, error */
	uint32_t timer_init, timer_div;
	uint64_t timer_start_ns;    /* when the current count was loaded */
	uint64_t timer_next_ns;     /* next expiry, UINT64_MAX if none */
	uint64_t tsc_deadline;
	const uint64_t *tsc_offset;
	int pending;                /* an interrupt may be deliverable (lock-free check) */
	const struct lapic_cpu_ops *ops;
	void *cpu;
};

struct apic_bus {
	struct lapic *cpus[MAX_CPUS];
	unsigned ncpus;
	void (*eoi)(void *, uint8_t);
	void *eoi_opaque;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int highest_bit(const uint32_t r[8])
{
	for (int i = 7; i >= 0; i--)
		if (r[i])
			return i * 32 + 31 - __builtin_clz(r[i]);
	return -1;
}

static bool test_bit(const uint32_t r[8], unsigned v) { return r[v / 32] & (1u << (v % 32)); }
static void set_bit(uint32_t r[8], unsigned v) { r[v / 32] |= 1u << (v % 32); }
static void clear_bit(uint32_t r[8], unsigned v) { r[v / 32] &= ~(1u << (v % 32)); }

static uint32_t ppr(const struct lapic *l)
{
	int isr = highest_bit(l->isr);
	uint32_t isrv = isr < 0 ? 0 : (uint32_t)isr & 0xf0;

	return (l->tpr & 0xf0) >= isrv ? l->tpr & 0xff : isrv;
}

static bool software_enabled(const struct lapic *l)
{
	return (l->base & BASE_ENABLE) && (l->svr & SVR_ENABLE);
}

/* Recompute the lock-free pending flag; called with the lock held. */
static void update_pending(struct lapic *l)
{
	int irr = highest_bit(l->irr);
	int p = irr >= 0 && ((uint32_t)irr & 0xf0) > (ppr(l) & 0xf0);

	__atomic_store_n(&l->pending, p, __ATOMIC_RELEASE);
}

/* Accept a fixed interrupt; the caller kicks the CPU afterwards. */
static void accept(struct lapic *l, uint8_t vector, bool level)
{
	if (vector < 16) {
		l->esr |= 1u << 6; /* received illegal vector */
		return;
	}
	set_bit(l->irr, vector);
	if (level)
		set_bit(l->tmr, vector);
	else
		clear_bit(l->tmr, vector);
	update_pending(l);
}

static void deliver_to(struct lapic *l, unsigned mode, uint8_t vector, bool level)
{
	switch (mode) {
	case DM_FIXED:
	case DM_LOWEST:
		pthread_mutex_lock(&l->lock);
		if (!software_enabled(l)) {
			pthread_mutex_unlock(&l->lock);
			return;
		}
		accept(l, vector, level);
		pthread_mutex_unlock(&l->lock);
		l->ops->kick(l->cpu);
		break;
	case DM_NMI:
		l->ops->nmi(l->cpu);
		break;
	case DM_INIT:
		if (level || mode == DM_INIT)
			l->ops->init(l->cpu);
		break;
	case DM_SIPI:
		l->ops->sipi(l->cpu, vector);
		break;
	default:
		log_warn_once("lapic: delivery mode %u not supported", mode);
	}
}

static bool matches(const struct lapic *l, uint8_t dest, bool logical)
{
	if (!logical)
		return dest == 0xff || dest == l->id;
	if ((l->dfr >> 28) == 0xf) /* flat model */
		return (l->ldr >> 24) & dest;
	/* cluster model: high nibble cluster, low nibble members */
	return ((l->ldr >> 28) == (dest >> 4u) || (dest >> 4) == 0xf) &&
	       ((l->ldr >> 24) & dest & 0xf);
}

void apic_bus_deliver(struct apic_bus *bus, uint8_t dest, bool logical,
		      unsigned mode, uint8_t vector, bool level)
{
	for (unsigned i = 0; i < bus->ncpus; i++) {
		struct lapic *l = bus->cpus[i];
		if (l && matches(l, dest, logical)) {
			deliver_to(l, mode, vector, level);
			if (mode == DM_LOWEST)
				break; /* lowest priority: the first match will do */
		}
	}
}

static void send_ipi(struct lapic *self)
{
	uint32_t lo = self->icr_lo;
	unsigned mode = (lo >> 8) & 7, shorthand = (lo >> 18) & 3;
	uint8_t vector = lo & 0xff, dest = self->icr_hi >> 24;
	bool logical = lo & (1u << 11), level_assert = lo & (1u << 14);
	struct apic_bus *bus = self->bus;

	if (mode == DM_INIT && !level_assert)
		return; /* INIT level de-assert: nothing to do */
	for (unsigned i = 0; i < bus->ncpus; i++) {
		struct lapic *l = bus->cpus[i];
		bool to;
		if (!l)
			continue;
		switch (shorthand) {
		case 1: to = l == self; break;
		case 2: to = true; break;
		case 3: to = l != self; break;
		default: to = matches(l, dest, logical); break;
		}
		if (to)
			deliver_to(l, mode, vector, false);
	}
}

/* ---- timer ---- */

static unsigned divider(const struct lapic *l)
{
	unsigned v = (l->timer_div & 3) | ((l->timer_div >> 1) & 4);

	return v == 7 ? 1 : 2u << v;
}

static unsigned timer_mode(const struct lapic *l)
{
	return (l->lvt[1] >> 17) & 3;
}

/* One timer tick = 1 ns of the 1 GHz crystal / divider. */
static void timer_arm(struct lapic *l, uint64_t now)
{
	if (timer_mode(l) == 2) {
		l->timer_next_ns = l->tsc_deadline ? l->tsc_deadline - *l->tsc_offset : UINT64_MAX;
		if (l->tsc_deadline && l->tsc_deadline < *l->tsc_offset)
			l->timer_next_ns = 0;
		return;
	}
	if (!l->timer_init) {
		l->timer_next_ns = UINT64_MAX;
		return;
	}
	l->timer_start_ns = now;
	l->timer_next_ns = now + (uint64_t)l->timer_init * divider(l);
}

static uint32_t timer_current(const struct lapic *l, uint64_t now)
{
	uint64_t period, elapsed;

	if (timer_mode(l) == 2 || !l->timer_init || l->timer_next_ns == UINT64_MAX)
		return 0;
	period = (uint64_t)l->timer_init * divider(l);
	elapsed = now - l->timer_start_ns;
	if (timer_mode(l) == 1)
		elapsed %= period;
	else if (elapsed >= period)
		return 0;
	return l->timer_init - elapsed / divider(l);
}

uint64_t lapic_timer_poll(struct lapic *l)
{
	uint64_t now, next;
	bool fire = false;

	if (__atomic_load_n(&l->timer_next_ns, __ATOMIC_RELAXED) == UINT64_MAX)
		return UINT64_MAX;
	now = now_ns();
	pthread_mutex_lock(&l->lock);
	if (l->timer_next_ns <= now) {
		fire = !(l->lvt[1] & LVT_MASKED);
		if (timer_mode(l) == 1 && l->timer_init) {
			uint64_t period = (uint64_t)l->timer_init * divider(l);
			uint64_t missed = (now - l->timer_next_ns) / period + 1;
			l->timer_start_ns += missed * period;
			l->timer_next_ns += missed * period;
		} else {
			l->timer_next_ns = UINT64_MAX;
			if (timer_mode(l) == 2)
				l->tsc_deadline = 0;
		}
		if (fire && software_enabled(l))
			accept(l, l->lvt[1] & 0xff, false);
	}
	next = l->timer_next_ns;
	pthread_mutex_unlock(&l->lock);
	return next;
}

uint64_t lapic_get_tsc_deadline(const struct lapic *l)
{
	return timer_mode(l) == 2 ? l->tsc_deadline : 0;
}

void lapic_set_tsc_deadline(struct lapic *l, uint64_t tsc)
{
	pthread_mutex_lock(&l->lock);
	if (timer_mode(l) == 2) {
		l->tsc_deadline = tsc;
		timer_arm(l, now_ns());
	}
	pthread_mutex_unlock(&l->lock);
	l->ops->kick(l->cpu);
}

/* ---- registers ---- */

uint32_t lapic_read(struct lapic *l, uint32_t off)
{
	uint32_t v = 0;

	pthread_mutex_lock(&l->lock);
	switch (off) {
	case R_ID: v = l->id << 24; break;
	case R_VERSION: v = 0x14 | (6u << 16) | (1u << 24); break; /* 7 LVTs, no EOI suppression */
	case R_TPR: v = l->tpr; break;
	case R_APR: v = 0; break;
	case R_PPR: v = ppr(l); break;
	case R_LDR: v = l->ldr; break;
	case R_DFR: v = l->dfr; break;
	case R_SVR: v = l->svr; break;
	case R_ESR: v = l->esr; break;
	case R_ICR_LO: v = l->icr_lo & ~(1u << 12); break; /* delivered at once */
	case R_ICR_HI: v = l->icr_hi; break;
	case R_LVT_CMCI: v = l->lvt[0]; break;
	case R_LVT_TIMER ... R_LVT_ERROR:
		if (!(off & 0xf))
			v = l->lvt[1 + (off - R_LVT_TIMER) / 16];
		break;
	case R_TIMER_INIT: v = l->timer_init; break;
	case R_TIMER_CUR: v = timer_current(l, now_ns()); break;
	case R_TIMER_DIV: v = l->timer_div; break;
	default:
		if (off >= R_ISR && off < R_ISR + 0x80 && !(off & 0xf))
			v = l->isr[(off - R_ISR) / 16];
		else if (off >= R_TMR && off < R_TMR + 0x80 && !(off & 0xf))
			v = l->tmr[(off - R_TMR) / 16];
		else if (off >= R_IRR && off < R_IRR + 0x80 && !(off & 0xf))
			v = l->irr[(off - R_IRR) / 16];
		break;
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

static void eoi(struct lapic *l)
{
	int v = highest_bit(l->isr);
	bool level;

	if (v < 0)
		return;
	clear_bit(l->isr, v);
	level = test_bit(l->tmr, v);
	update_pending(l);
	if (level && l->bus->eoi) {
		pthread_mutex_unlock(&l->lock);
		l->bus->eoi(l->bus->eoi_opaque, v);
		pthread_mutex_lock(&l->lock);
	}
}

void lapic_write(struct lapic *l, uint32_t off, uint32_t v)
{
	bool ipi = false, kick = false;

	pthread_mutex_lock(&l->lock);
	switch (off) {
	case R_ID: l->id = v >> 24; break;
	case R_TPR: l->tpr = v & 0xff; update_pending(l); kick = true; break;
	case R_EOI: eoi(l); kick = true; break;
	case R_LDR: l->ldr = v & 0xff000000; break;
	case R_DFR: l->dfr = v | 0x0fffffff; break;
	case R_SVR:
		l->svr = v & 0x13ff;
		if (!(v & SVR_ENABLE))
			for (int i = 0; i < 7; i++)
				l->lvt[i] |= LVT_MASKED;
		kick = true;
		break;
	case R_ESR: l->esr = 0; break;
	case R_ICR_LO: l->icr_lo = v; ipi = true; break;
	case R_ICR_HI: l->icr_hi = v & 0xff000000; break;
	case R_LVT_CMCI: l->lvt[0] = v; break;
	case R_LVT_TIMER: {
		unsigned old_mode = timer_mode(l);
		l->lvt[1] = v & 0x700ff;
		if (!(l->svr & SVR_ENABLE))
			l->lvt[1] |= LVT_MASKED;
		if (timer_mode(l) != old_mode) {
			l->timer_next_ns = UINT64_MAX;
			l->tsc_deadline = 0;
			l->timer_init = 0;
		}
		break;
	}
	case R_LVT_THERMAL: case R_LVT_PERF: case R_LVT_LINT0: case R_LVT_LINT1: case R_LVT_ERROR:
		l->lvt[1 + (off - R_LVT_TIMER) / 16] = v & 0x1f7ff;
		if (!(l->svr & SVR_ENABLE))
			l->lvt[1 + (off - R_LVT_TIMER) / 16] |= LVT_MASKED;
		kick = true;
		break;
	case R_TIMER_INIT:
		if (timer_mode(l) != 2) {
			l->timer_init = v;
			timer_arm(l, now_ns());
			kick = true;
		}
		break;
	case R_TIMER_DIV: l->timer_div = v & 0xb; break;
	}
	pthread_mutex_unlock(&l->lock);
	if (ipi)
		send_ipi(l);
	if (kick)
		l->ops->kick(l->cpu);
}

bool lapic_has_interrupt(struct lapic *l)
{
	return __atomic_load_n(&l->pending, __ATOMIC_ACQUIRE);
}

int lapic_ack(struct lapic *l)
{
	int v;

	pthread_mutex_lock(&l->lock);
	v = highest_bit(l->irr);
	if (v < 0 || ((uint32_t)v & 0xf0) <= (ppr(l) & 0xf0)) {
		pthread_mutex_unlock(&l->lock);
		return -1;
	}
	clear_bit(l->irr, v);
	set_bit(l->isr, v);
	update_pending(l);
	pthread_mutex_unlock(&l->lock);
	return v;
}

bool lapic_accepts_pic(struct lapic *l)
{
	uint32_t lint0 = __atomic_load_n(&l->lvt[4], __ATOMIC_RELAXED);

	/* With the APIC globally disabled the 8259's INTR reaches the BSP
	 * directly; otherwise through LINT0 unmasked as ExtINT, whether or
	 * not the APIC is software-enabled, as KVM's in-kernel APIC does (so
	 * a guest sees the same machine under both accelerators). */
	if (!(l->base & BASE_ENABLE))
		return l->base & BASE_BSP;
	return !(lint0 & LVT_MASKED) && ((lint0 >> 8) & 7) == DM_EXTINT;
}

bool lapic_hw_enabled(const struct lapic *l)
{
	return l->base & BASE_ENABLE;
}

uint64_t lapic_get_base(const struct lapic *l)
{
	return l->base;
}

bool lapic_set_base(struct lapic *l, uint64_t v)
{
	if (v & ~(0xfffff000ULL | BASE_ENABLE | BASE_BSP | (1ULL << 10)))
		return false;
	if (v & (1ULL << 10)) {
		log_warn_once("lapic: x2APIC mode is not supported");
		return false;
	}
	pthread_mutex_lock(&l->lock);
	l->base = (v & ~BASE_BSP) | (l->base & BASE_BSP);
	update_pending(l);
	pthread_mutex_unlock(&l->lock);
	return true;
}

void lapic_reset(struct lapic *l, bool bsp)
{
	pthread_mutex_lock(&l->lock);
	memset(l->irr, 0, sizeof(l->irr));
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	l->tpr = l->ldr = l->esr = l->icr_lo = l->icr_hi = 0;
	l->dfr = 0xffffffff;
	l->svr = 0xff;
	for (int i = 0; i < 7; i++)
		l->lvt[i] = LVT_MASKED;
	/* The BSP's LINT0 starts as ExtINT, unmasked: the virtual-wire set-up
	 * firmware leaves for the 8259 (KVM resets it the same way), which a
	 * kernel that never programs the APIC (acpi=off without MP table
	 * support) relies on for its timer. */
	if (bsp)
		l->lvt[4] = DM_EXTINT << 8;
	l->timer_init = l->timer_div = 0;
	l->timer_next_ns = UINT64_MAX;
	l->tsc_deadline = 0;
	l->base = 0xfee00000ULL | BASE_ENABLE | (bsp ? BASE_BSP : 0);
	update_pending(l);
	pthread_mutex_unlock(&l->lock);
}

struct apic_bus *apic_bus_create(unsigned ncpus)
{
	struct apic_bus *bus = calloc(1, sizeof(*bus));

	if (bus)
		bus->ncpus = ncpus > MAX_CPUS ? MAX_CPUS : ncpus;
	return bus;
}

void apic_bus_destroy(struct apic_bus *bus)
{
	if (!bus)
		return;
	for (unsigned i = 0; i < MAX_CPUS; i++)
		if (bus->cpus[i]) {
			pthread_mutex_destroy(&bus->cpus[i]->lock);
			free(bus->cpus[i]);
		}
	free(bus);
}

void apic_bus_set_eoi_hook(struct apic_bus *bus, void (*fn)(void *, uint8_t), void *opaque)
{
	bus->eoi = fn;
	bus->eoi_opaque = opaque;
}

struct lapic *lapic_create(struct apic_bus *bus, unsigned id,
			   const struct lapic_cpu_ops *ops, void *cpu,
			   const uint64_t *tsc_offset)
{
	struct lapic *l;

	if (id >= MAX_CPUS)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->bus = bus;
	l->id = id;
	l->ops = ops;
	l->cpu = cpu;
	l->tsc_offset = tsc_offset;
	pthread_mutex_init(&l->lock, NULL);
	lapic_reset(l, id == 0);
	bus->cpus[id] = l;
	return l;
}

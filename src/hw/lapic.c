/* Local APIC model (see lapic.h).  Register layout from the Intel SDM. */
#include "hw/lapic.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "vm/vm_clock.h"

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
#define BASE_EXTD (1ULL << 10)
#define BASE_BSP (1ULL << 8)
/* Bits 12 up to MAXPHYADDR (40, CPUID 0x80000008) hold the base. */
#define BASE_ADDR_MASK 0x000000fffffff000ULL
#define SVR_EOI_SUPPRESS (1u << 12)
/* Version: 0x14, 7 LVT entries, EOI-broadcast suppression supported. */
#define VERSION (0x14 | (6u << 16) | (1u << 24))

enum { DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_SIPI = 6, DM_EXTINT = 7 };

struct lapic {
	struct apic_bus *bus;
	pthread_mutex_t lock;
	unsigned id;                /* xAPIC ID (writable in xAPIC mode) */
	unsigned initial_id;        /* the CPU's initial APIC ID: the x2APIC ID */
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

/* The guest's clock: it stands still while the VM is paused. */
static uint64_t now_ns(void)
{
	return vm_clock_ns();
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

static bool hw_enabled(const struct lapic *l)
{
	return __atomic_load_n(&l->base, __ATOMIC_RELAXED) & BASE_ENABLE;
}

static bool x2apic_mode(const struct lapic *l)
{
	uint64_t b = __atomic_load_n(&l->base, __ATOMIC_RELAXED);

	return (b & (BASE_ENABLE | BASE_EXTD)) == (BASE_ENABLE | BASE_EXTD);
}

static bool software_enabled(const struct lapic *l)
{
	return hw_enabled(l) && (l->svr & SVR_ENABLE);
}

/* The x2APIC logical ID: cluster (ID / 16) in bits 31:16, bit ID % 16. */
static uint32_t x2apic_ldr(const struct lapic *l)
{
	return ((l->initial_id >> 4) << 16) | (1u << (l->initial_id & 0xf));
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
	/* A globally disabled APIC (IA32_APIC_BASE.EN = 0) is off the APIC
	 * bus: it takes no message at all.  A software-disabled one (SVR)
	 * still takes NMI, INIT and start-up IPIs. */
	if (!hw_enabled(l))
		return;
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
		l->ops->init(l->cpu);
		break;
	case DM_SIPI:
		l->ops->sipi(l->cpu, vector);
		break;
	default:
		log_warn_once("lapic: delivery mode %u not supported", mode);
	}
}

/*
 * Is l a destination of a message to dest?  wide: dest is 32 bits (the
 * ICR of an x2APIC), else 8 bits (an xAPIC ICR, the IOAPIC, an MSI).
 */
static bool matches(const struct lapic *l, uint32_t dest, bool logical, bool wide)
{
	bool x2 = x2apic_mode(l);

	if (!logical)
		return dest == (wide ? 0xffffffffu : 0xffu) ||
		       dest == (x2 ? l->initial_id : l->id);
	if (x2) /* cluster: bits 31:16 the cluster, 15:0 its members */
		return dest == 0xffffffffu ||
		       ((dest >> 16) == (l->ldr >> 16) && (dest & l->ldr & 0xffff));
	dest &= 0xff;
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
		if (l && hw_enabled(l) && matches(l, dest, logical, false)) {
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
	bool wide = x2apic_mode(self);
	uint8_t vector = lo & 0xff;
	uint32_t dest = wide ? self->icr_hi : self->icr_hi >> 24;
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
		default: to = matches(l, dest, logical, wide); break;
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

/*
 * One timer tick = 1 ns of the 1 GHz crystal / divider.  In TSC-deadline
 * mode the expiry is where the guest's TSC (host ns + tsc_offset, see
 * emu_rdtsc) reaches the deadline: at once if it is already past.
 */
static void timer_arm(struct lapic *l, uint64_t now)
{
	if (timer_mode(l) == 2) {
		uint64_t tsc = now + *l->tsc_offset, d = l->tsc_deadline - tsc;
		if (!l->tsc_deadline)
			l->timer_next_ns = UINT64_MAX;
		else if (l->tsc_deadline <= tsc)
			l->timer_next_ns = now;
		else
			l->timer_next_ns = d >= UINT64_MAX - now ? UINT64_MAX - 1 : now + d;
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

/* Fire the timer if it is due (lock held). */
static void timer_check(struct lapic *l, uint64_t now)
{
	bool fire;

	if (l->timer_next_ns > now)
		return;
	fire = !(l->lvt[1] & LVT_MASKED);
	if (timer_mode(l) == 1 && l->timer_init) {
		uint64_t period = (uint64_t)l->timer_init * divider(l);
		uint64_t missed = (now - l->timer_next_ns) / period + 1;
		l->timer_start_ns += missed * period;
		l->timer_next_ns += missed * period;
	} else {
		l->timer_next_ns = UINT64_MAX;
		if (timer_mode(l) == 2)
			l->tsc_deadline = 0; /* the MSR reads 0 once it fired */
	}
	if (fire && software_enabled(l))
		accept(l, l->lvt[1] & 0xff, false);
}

uint64_t lapic_timer_poll(struct lapic *l)
{
	uint64_t next;

	if (__atomic_load_n(&l->timer_next_ns, __ATOMIC_RELAXED) == UINT64_MAX)
		return UINT64_MAX;
	pthread_mutex_lock(&l->lock);
	timer_check(l, now_ns());
	next = l->timer_next_ns;
	pthread_mutex_unlock(&l->lock);
	return next;
}

uint64_t lapic_get_tsc_deadline(struct lapic *l)
{
	uint64_t v = 0;

	pthread_mutex_lock(&l->lock);
	if (timer_mode(l) == 2) {
		timer_check(l, now_ns());
		v = l->tsc_deadline;
	}
	pthread_mutex_unlock(&l->lock);
	return v;
}

/* Writes outside TSC-deadline mode are ignored (SDM 10.5.4.1). */
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

void lapic_tsc_changed(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	if (timer_mode(l) == 2)
		timer_arm(l, now_ns());
	pthread_mutex_unlock(&l->lock);
	l->ops->kick(l->cpu);
}

/* ---- registers ---- */

/* A register by its xAPIC offset (lock held). */
static uint32_t read_reg(struct lapic *l, uint32_t off)
{
	switch (off) {
	case R_ID: return x2apic_mode(l) ? l->initial_id : l->id << 24;
	case R_VERSION: return VERSION;
	case R_TPR: return l->tpr;
	case R_APR: return 0;
	case R_PPR: return ppr(l);
	case R_LDR: return l->ldr;
	case R_DFR: return l->dfr;
	case R_SVR: return l->svr;
	case R_ESR: return l->esr;
	case R_ICR_LO: return l->icr_lo & ~(1u << 12); /* delivered at once */
	case R_ICR_HI: return l->icr_hi;
	case R_LVT_CMCI: return l->lvt[0];
	case R_LVT_TIMER ... R_LVT_ERROR:
		return off & 0xf ? 0 : l->lvt[1 + (off - R_LVT_TIMER) / 16];
	case R_TIMER_INIT: return l->timer_init;
	case R_TIMER_CUR: return timer_current(l, now_ns());
	case R_TIMER_DIV: return l->timer_div;
	}
	if (off & 0xf)
		return 0;
	if (off >= R_ISR && off < R_ISR + 0x80)
		return l->isr[(off - R_ISR) / 16];
	if (off >= R_TMR && off < R_TMR + 0x80)
		return l->tmr[(off - R_TMR) / 16];
	if (off >= R_IRR && off < R_IRR + 0x80)
		return l->irr[(off - R_IRR) / 16];
	return 0;
}

uint32_t lapic_read(struct lapic *l, uint32_t off)
{
	uint32_t v;

	pthread_mutex_lock(&l->lock);
	v = read_reg(l, off);
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
	/* A level-triggered vector's EOI is broadcast to the IOAPIC unless
	 * the guest suppressed that (SVR bit 12) to EOI the IOAPIC itself. */
	level = test_bit(l->tmr, v) && !(l->svr & SVR_EOI_SUPPRESS);
	update_pending(l);
	if (level && l->bus->eoi) {
		pthread_mutex_unlock(&l->lock);
		l->bus->eoi(l->bus->eoi_opaque, v);
		pthread_mutex_lock(&l->lock);
	}
}

/* Write a register by its xAPIC offset (lock held); says whether to send
 * the IPI in the ICR or kick the CPU once the lock is dropped. */
static void write_reg(struct lapic *l, uint32_t off, uint32_t v, bool *ipi, bool *kick)
{
	switch (off) {
	case R_ID: l->id = v >> 24; break;
	case R_TPR: l->tpr = v & 0xff; update_pending(l); *kick = true; break;
	case R_EOI: eoi(l); *kick = true; break;
	case R_LDR: l->ldr = v & 0xff000000; break;
	case R_DFR: l->dfr = v | 0x0fffffff; break;
	case R_SVR:
		l->svr = v & 0x13ff;
		if (!(v & SVR_ENABLE))
			for (int i = 0; i < 7; i++)
				l->lvt[i] |= LVT_MASKED;
		*kick = true;
		break;
	case R_ESR: l->esr = 0; break;
	case R_ICR_LO: l->icr_lo = v; *ipi = true; break;
	case R_ICR_HI: l->icr_hi = v & 0xff000000; break;
	case R_LVT_CMCI: l->lvt[0] = v; break;
	case R_LVT_TIMER: {
		unsigned old_mode = timer_mode(l);
		l->lvt[1] = v & 0x700ff;
		if (!(l->svr & SVR_ENABLE))
			l->lvt[1] |= LVT_MASKED;
		/* Entering or leaving TSC-deadline mode disarms the timer:
		 * TMICT and the deadline are cleared (SDM 10.5.4.1).  Between
		 * one-shot and periodic the count goes on (as KVM and QEMU). */
		if ((timer_mode(l) == 2) != (old_mode == 2)) {
			l->timer_next_ns = UINT64_MAX;
			l->tsc_deadline = 0;
			l->timer_init = 0;
		}
		*kick = true;
		break;
	}
	case R_LVT_THERMAL: case R_LVT_PERF: case R_LVT_LINT0: case R_LVT_LINT1: case R_LVT_ERROR:
		l->lvt[1 + (off - R_LVT_TIMER) / 16] = v & 0x1f7ff;
		if (!(l->svr & SVR_ENABLE))
			l->lvt[1 + (off - R_LVT_TIMER) / 16] |= LVT_MASKED;
		*kick = true;
		break;
	case R_TIMER_INIT:
		/* Ignored in TSC-deadline mode; else (re)starts the count. */
		if (timer_mode(l) != 2) {
			l->timer_init = v;
			timer_arm(l, now_ns());
			*kick = true;
		}
		break;
	case R_TIMER_DIV: l->timer_div = v & 0xb; break;
	}
}

void lapic_write(struct lapic *l, uint32_t off, uint32_t v)
{
	bool ipi = false, kick = false;

	pthread_mutex_lock(&l->lock);
	write_reg(l, off, v, &ipi, &kick);
	pthread_mutex_unlock(&l->lock);
	if (ipi)
		send_ipi(l);
	if (kick)
		l->ops->kick(l->cpu);
}

/* ---- x2APIC: the registers as MSRs 0x800 + offset / 16 ---- */

#define X2_SELF_IPI 0x3f0

/* Which xAPIC offsets x2APIC mode reads and writes (SDM table 10-6). */
static bool x2_readable(uint32_t off)
{
	switch (off) {
	case R_ID: case R_VERSION: case R_TPR: case R_PPR: case R_LDR: case R_SVR:
	case R_ESR: case R_LVT_CMCI: case R_ICR_LO:
	case R_LVT_TIMER: case R_LVT_THERMAL: case R_LVT_PERF: case R_LVT_LINT0:
	case R_LVT_LINT1: case R_LVT_ERROR: case R_TIMER_INIT: case R_TIMER_CUR:
	case R_TIMER_DIV:
		return true;
	}
	return off >= R_ISR && off < R_IRR + 0x80;
}

static bool x2_writable(uint32_t off)
{
	switch (off) {
	case R_TPR: case R_EOI: case R_SVR: case R_ESR: case R_LVT_CMCI: case R_ICR_LO:
	case R_LVT_TIMER: case R_LVT_THERMAL: case R_LVT_PERF: case R_LVT_LINT0:
	case R_LVT_LINT1: case R_LVT_ERROR: case R_TIMER_INIT: case R_TIMER_DIV:
	case X2_SELF_IPI:
		return true;
	}
	return false;
}

int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val)
{
	uint32_t off = (msr - LAPIC_X2APIC_MSR_FIRST) << 4;

	if (msr < LAPIC_X2APIC_MSR_FIRST || msr > LAPIC_X2APIC_MSR_LAST ||
	    !x2apic_mode(l) || !x2_readable(off))
		return -1;
	pthread_mutex_lock(&l->lock);
	if (off == R_ICR_LO)
		*val = l->icr_lo | (uint64_t)l->icr_hi << 32;
	else
		*val = read_reg(l, off);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t v)
{
	uint32_t off = (msr - LAPIC_X2APIC_MSR_FIRST) << 4;
	bool ipi = false, kick = false;

	if (msr < LAPIC_X2APIC_MSR_FIRST || msr > LAPIC_X2APIC_MSR_LAST ||
	    !x2apic_mode(l) || !x2_writable(off))
		return -1;
	/* Reserved bits: all but the ICR are 32 bits wide; EOI and ESR
	 * take only 0, TPR and SELF IPI only a byte. */
	if (off != R_ICR_LO && (v >> 32))
		return -1;
	if (((off == R_EOI || off == R_ESR) && v) ||
	    ((off == R_TPR || off == X2_SELF_IPI) && (v >> 8)))
		return -1;
	pthread_mutex_lock(&l->lock);
	if (off == R_ICR_LO) {
		l->icr_hi = v >> 32;
		l->icr_lo = v & ~(1u << 12);
		ipi = true;
	} else if (off == X2_SELF_IPI) {
		if (software_enabled(l))
			accept(l, v & 0xff, false);
		kick = true;
	} else {
		write_reg(l, off, v, &ipi, &kick);
	}
	pthread_mutex_unlock(&l->lock);
	if (ipi)
		send_ipi(l);
	if (kick)
		l->ops->kick(l->cpu);
	return 0;
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

void lapic_lint1(struct lapic *l)
{
	uint32_t lvt;
	bool kick = false;

	pthread_mutex_lock(&l->lock);
	lvt = l->lvt[5];
	if (!hw_enabled(l)) {
		pthread_mutex_unlock(&l->lock);
		l->ops->nmi(l->cpu);
		return;
	}
	if (!(lvt & LVT_MASKED)) {
		switch ((lvt >> 8) & 7) {
		case DM_NMI:
			pthread_mutex_unlock(&l->lock);
			l->ops->nmi(l->cpu);
			return;
		case DM_FIXED:
			if (software_enabled(l)) {
				accept(l, lvt & 0xff, false);
				kick = true;
			}
			break;
		default:
			log_warn_once("lapic: LINT1 delivery mode %u not supported",
				      (lvt >> 8) & 7);
		}
	}
	pthread_mutex_unlock(&l->lock);
	if (kick)
		l->ops->kick(l->cpu);
}

bool lapic_accepts_pic(struct lapic *l)
{
	uint32_t lint0 = __atomic_load_n(&l->lvt[4], __ATOMIC_RELAXED);
	uint64_t base = __atomic_load_n(&l->base, __ATOMIC_RELAXED);

	/* With the APIC globally disabled the 8259's INTR reaches the BSP
	 * directly (SDM 10.4.3: the CPU behaves as one without an APIC);
	 * otherwise through LINT0 unmasked as ExtINT, whether or not the
	 * APIC is software-enabled, as KVM's in-kernel APIC does (so a guest
	 * sees the same machine under both accelerators). */
	if (!(base & BASE_ENABLE))
		return base & BASE_BSP;
	return !(lint0 & LVT_MASKED) && ((lint0 >> 8) & 7) == DM_EXTINT;
}

bool lapic_hw_enabled(const struct lapic *l)
{
	return hw_enabled(l);
}

bool lapic_x2apic_mode(const struct lapic *l)
{
	return x2apic_mode(l);
}

uint64_t lapic_get_base(const struct lapic *l)
{
	return __atomic_load_n(&l->base, __ATOMIC_RELAXED);
}

/* The power-up state of the registers (SDM 10.4.7.1) but for the ID;
 * the timer stops. Lock held. */
static void power_up_state(struct lapic *l)
{
	memset(l->irr, 0, sizeof(l->irr));
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	l->tpr = l->ldr = l->esr = l->icr_lo = l->icr_hi = 0;
	l->dfr = 0xffffffff;
	l->svr = 0xff;
	for (int i = 0; i < 7; i++)
		l->lvt[i] = LVT_MASKED;
	l->timer_init = l->timer_div = 0;
	l->timer_next_ns = UINT64_MAX;
	l->tsc_deadline = 0;
}

/*
 * WRMSR IA32_APIC_BASE (SDM 10.4.4, 10.12.5): reserved bits and the
 * invalid mode changes (EXTD without EN; x2APIC straight to xAPIC;
 * disabled straight to x2APIC) are refused (#GP).  Disabling the APIC
 * returns it to its power-up state; entering x2APIC mode makes the ID
 * the initial APIC ID and derives the logical ID from it.
 */
bool lapic_set_base(struct lapic *l, uint64_t v)
{
	const uint64_t x2 = BASE_ENABLE | BASE_EXTD;
	uint64_t old_mode, new_mode = v & x2;

	if (v & ~(BASE_ADDR_MASK | x2 | BASE_BSP))
		return false;
	if (new_mode == BASE_EXTD)
		return false;
	pthread_mutex_lock(&l->lock);
	old_mode = l->base & x2;
	if ((old_mode == x2 && new_mode == BASE_ENABLE) || (!old_mode && new_mode == x2)) {
		pthread_mutex_unlock(&l->lock);
		return false;
	}
	if (old_mode && !new_mode)
		power_up_state(l);
	if (new_mode == x2 && old_mode != x2) {
		l->id = l->initial_id;
		l->ldr = x2apic_ldr(l);
	}
	__atomic_store_n(&l->base, (v & ~BASE_BSP) | (l->base & BASE_BSP), __ATOMIC_RELAXED);
	update_pending(l);
	pthread_mutex_unlock(&l->lock);
	l->ops->kick(l->cpu);
	return true;
}

#define REG(off) regs[(off) / 4]

void lapic_get_state(struct lapic *l, uint32_t regs[256], uint64_t *base,
		     uint64_t *tsc_deadline)
{
	unsigned i;

	memset(regs, 0, 1024);
	pthread_mutex_lock(&l->lock);
	timer_check(l, now_ns());
	REG(R_ID) = l->id << 24;
	REG(R_VERSION) = VERSION;
	REG(R_TPR) = l->tpr;
	REG(R_PPR) = ppr(l);
	REG(R_LDR) = l->ldr;
	REG(R_DFR) = l->dfr;
	REG(R_SVR) = l->svr;
	for (i = 0; i < 8; i++) {
		REG(R_ISR + i * 0x10) = l->isr[i];
		REG(R_TMR + i * 0x10) = l->tmr[i];
		REG(R_IRR + i * 0x10) = l->irr[i];
	}
	REG(R_ESR) = l->esr;
	REG(R_ICR_LO) = l->icr_lo;
	REG(R_ICR_HI) = l->icr_hi;
	REG(R_LVT_CMCI) = l->lvt[0];
	for (i = 1; i < 7; i++)
		REG(R_LVT_TIMER + (i - 1) * 0x10) = l->lvt[i];
	REG(R_TIMER_INIT) = l->timer_init;
	REG(R_TIMER_CUR) = timer_current(l, now_ns());
	REG(R_TIMER_DIV) = l->timer_div;
	*base = l->base;
	*tsc_deadline = timer_mode(l) == 2 ? l->tsc_deadline : 0;
	pthread_mutex_unlock(&l->lock);
}

int lapic_set_state(struct lapic *l, const uint32_t regs[256], uint64_t base,
		    uint64_t tsc_deadline)
{
	const uint64_t x2 = BASE_ENABLE | BASE_EXTD;
	uint64_t now = now_ns();
	uint32_t cur;
	unsigned i;

	if ((base & ~(BASE_ADDR_MASK | x2 | BASE_BSP)) || (base & x2) == BASE_EXTD)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	power_up_state(l);
	__atomic_store_n(&l->base, base, __ATOMIC_RELAXED);
	l->id = x2apic_mode(l) ? l->initial_id : REG(R_ID) >> 24;
	l->tpr = REG(R_TPR) & 0xff;
	l->ldr = x2apic_mode(l) ? x2apic_ldr(l) : REG(R_LDR) & 0xff000000;
	l->dfr = REG(R_DFR) | 0x0fffffff;
	l->svr = REG(R_SVR) & 0x11ff;
	for (i = 0; i < 8; i++) {
		l->isr[i] = REG(R_ISR + i * 0x10);
		l->tmr[i] = REG(R_TMR + i * 0x10);
		l->irr[i] = REG(R_IRR + i * 0x10);
	}
	l->esr = REG(R_ESR);
	l->icr_lo = REG(R_ICR_LO) & ~(1u << 12); /* no IPI is in flight */
	l->icr_hi = REG(R_ICR_HI);
	l->lvt[0] = REG(R_LVT_CMCI);
	for (i = 1; i < 7; i++)
		l->lvt[i] = REG(R_LVT_TIMER + (i - 1) * 0x10);
	l->timer_div = REG(R_TIMER_DIV) & 0xb;
	l->timer_init = REG(R_TIMER_INIT);
	cur = REG(R_TIMER_CUR);
	if (timer_mode(l) == 2) {
		l->tsc_deadline = tsc_deadline;
		timer_arm(l, now);
	} else if (l->timer_init && (cur || timer_mode(l) == 1)) {
		/* Counting: started as long ago as the count has run down. */
		if (cur > l->timer_init)
			cur = l->timer_init;
		timer_arm(l, now);
		l->timer_start_ns = now - (uint64_t)(l->timer_init - cur) * divider(l);
		l->timer_next_ns = l->timer_start_ns + (uint64_t)l->timer_init * divider(l);
	}
	update_pending(l);
	pthread_mutex_unlock(&l->lock);
	l->ops->kick(l->cpu);
	return 0;
}

#undef REG

void lapic_init_reset(struct lapic *l)
{
	pthread_mutex_lock(&l->lock);
	power_up_state(l);
	if (x2apic_mode(l))
		l->ldr = x2apic_ldr(l);
	update_pending(l);
	pthread_mutex_unlock(&l->lock);
}

void lapic_reset(struct lapic *l, bool bsp)
{
	pthread_mutex_lock(&l->lock);
	power_up_state(l);
	l->id = l->initial_id;
	/* The BSP's LINT0 starts as ExtINT, unmasked: the virtual-wire set-up
	 * firmware leaves for the 8259 (KVM resets it the same way), which a
	 * kernel that never programs the APIC (acpi=off without MP table
	 * support) relies on for its timer. */
	if (bsp)
		l->lvt[4] = DM_EXTINT << 8;
	__atomic_store_n(&l->base, 0xfee00000ULL | BASE_ENABLE | (bsp ? BASE_BSP : 0),
			 __ATOMIC_RELAXED);
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
	l->id = l->initial_id = id;
	l->ops = ops;
	l->cpu = cpu;
	l->tsc_offset = tsc_offset;
	pthread_mutex_init(&l->lock, NULL);
	lapic_reset(l, id == 0);
	bus->cpus[id] = l;
	return l;
}

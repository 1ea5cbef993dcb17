/*
 * Local APIC (xAPIC at its MMIO base, or x2APIC through MSRs) for the
 * emulator: one per vCPU.
 * Timer in one-shot, periodic and TSC-deadline modes, IPIs (fixed, NMI,
 * INIT, start-up) in physical and logical (flat, cluster, x2APIC cluster)
 * destination modes, EOI with level-triggered EOI broadcast to the IOAPIC
 * (suppressible), TPR/PPR, the spurious vector, LINT0 as the 8259's
 * virtual wire, LINT1 as the board's NMI line, and IA32_APIC_BASE's
 * modes: disabled, xAPIC, x2APIC.
 */
#ifndef WIRT_HW_LAPIC_H
#define WIRT_HW_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

struct lapic;
struct apic_bus;

/* What a LAPIC needs from the CPU it belongs to. */
struct lapic_cpu_ops {
	void (*kick)(void *cpu);                /* an interrupt became pending */
	void (*init)(void *cpu);                /* INIT IPI received */
	void (*sipi)(void *cpu, uint8_t vector); /* start-up IPI received */
	void (*nmi)(void *cpu);
};

/* All LAPICs of a VM and the IOAPIC's EOI hook. */
struct apic_bus *apic_bus_create(unsigned ncpus);
void apic_bus_destroy(struct apic_bus *bus);
void apic_bus_set_eoi_hook(struct apic_bus *bus, void (*eoi)(void *, uint8_t), void *opaque);

/* tsc_offset: the CPU's guest TSC minus host monotonic nanoseconds. */
struct lapic *lapic_create(struct apic_bus *bus, unsigned id,
			   const struct lapic_cpu_ops *ops, void *cpu,
			   const uint64_t *tsc_offset);
void lapic_reset(struct lapic *l, bool bsp);
/* INIT (SDM 10.4.7.3): the registers as at power-up but the ID, with
 * IA32_APIC_BASE (and so xAPIC or x2APIC mode) kept. */
void lapic_init_reset(struct lapic *l);

uint32_t lapic_read(struct lapic *l, uint32_t offset);
void lapic_write(struct lapic *l, uint32_t offset, uint32_t value);
bool lapic_hw_enabled(const struct lapic *l); /* APIC_BASE global enable */
uint64_t lapic_get_base(const struct lapic *l);
bool lapic_set_base(struct lapic *l, uint64_t value);
bool lapic_x2apic_mode(const struct lapic *l);
/* IA32_TSC_DEADLINE: the armed deadline, 0 when none or once it fired. */
/*
 * The state in its common form (struct cpu_full_state): the xAPIC
 * register page as 256 words at offset / 4 (KVM's kvm_lapic_state
 * layout; the ID in xAPIC form, the current count of the timer at
 * 0x390), IA32_APIC_BASE and the TSC deadline.  Load returns -EINVAL if
 * the base is not one the APIC could hold.
 */
void lapic_get_state(struct lapic *l, uint32_t regs[256], uint64_t *base,
		     uint64_t *tsc_deadline);
int lapic_set_state(struct lapic *l, const uint32_t regs[256], uint64_t base,
		    uint64_t tsc_deadline);
uint64_t lapic_get_tsc_deadline(struct lapic *l);
void lapic_set_tsc_deadline(struct lapic *l, uint64_t tsc);
/* The guest wrote its TSC: re-arm a TSC deadline against the new clock. */
void lapic_tsc_changed(struct lapic *l);

/* x2APIC mode: the registers as MSRs; 0, or -1 for #GP (not in x2APIC
 * mode, no such register, wrong direction, reserved bits set). */
#define LAPIC_X2APIC_MSR_FIRST 0x800
#define LAPIC_X2APIC_MSR_LAST  0x8ff
int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *val);
int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t val);

/* Deliver an interrupt message (from the IOAPIC or an MSI). */
void apic_bus_deliver(struct apic_bus *bus, uint8_t dest, bool logical,
		      unsigned mode, uint8_t vector, bool level);

/*
 * The CPU side: is an interrupt deliverable at this priority?  lapic_ack
 * takes the highest one (vector) and marks it in service; -1 if none.
 * pic_pending says the 8259 asserts its output (LINT0 ExtINT path).
 */
bool lapic_has_interrupt(struct lapic *l);
int lapic_ack(struct lapic *l);
/* A rising edge on LINT1 (the board's NMI line): as its LVT entry says
 * (NMI, or a fixed vector; nothing while masked), or straight to the
 * CPU's NMI input with the APIC globally disabled. */
void lapic_lint1(struct lapic *l);
/* Does LINT0 pass the 8259's interrupt to this CPU? */
bool lapic_accepts_pic(struct lapic *l);

/* Timer: fire it if due; returns the host monotonic time (ns) of the
 * next expiry, or UINT64_MAX if the timer is idle. */
uint64_t lapic_timer_poll(struct lapic *l);

#endif

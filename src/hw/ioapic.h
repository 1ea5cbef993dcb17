/*
 * 82093AA-style I/O APIC (24 pins, MMIO at 0xFEC00000) for the emulator:
 * routes device interrupt lines to local APICs as the guest programs its
 * redirection table, with edge and level triggering and remote IRR: a
 * level-triggered pin sets Remote IRR when its message goes out and sends
 * no other until an EOI (the local APICs' broadcast, or a write of the
 * vector to the EOI register at 0x40) clears it; if the line is still
 * asserted then, the message goes out again.
 */
#ifndef WIRT_HW_IOAPIC_H
#define WIRT_HW_IOAPIC_H

#include <stdint.h>

struct vm;
struct apic_bus;
struct ioapic;
struct vmstate_in;
struct vmstate_out;

#define IOAPIC_PINS 24

/* The registers, as the "ioapic" section holds them. */
struct ioapic_state {
	uint32_t sel, id;            /* IOREGSEL; the 4-bit ID (bits 27:24 of register 0) */
	uint64_t rte[IOAPIC_PINS];   /* redirection entries, as the guest reads them */
	uint32_t levels;             /* current line levels */
};

#define IOAPIC_STATE_VERSION 1

/* As after power-on: every pin masked. */
void ioapic_state_reset(struct ioapic_state *s);
/* The "ioapic" section's body; get checks what it reads (0 or -errno). */
void ioapic_state_put(struct vmstate_out *o, const struct ioapic_state *s);
int ioapic_state_get(struct vmstate_in *in, struct ioapic_state *s);

struct ioapic *ioapic_create(struct vm *vm, struct apic_bus *bus);
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);

#endif

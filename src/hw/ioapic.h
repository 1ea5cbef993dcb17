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

struct vm;
struct apic_bus;
struct ioapic;

struct ioapic *ioapic_create(struct vm *vm, struct apic_bus *bus);
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);

#endif

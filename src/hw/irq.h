/*
 * Interrupt interface seen by devices.
 *
 * A device raises or lowers a line (a GSI: 0-15 are the ISA IRQs, 16-23 the
 * other IOAPIC pins) or sends an MSI.  Under KVM the in-kernel irqchip takes
 * them; under the emulator our own PIC/IOAPIC/LAPIC models do.  Devices never
 * know which.
 */
#ifndef WIRT_HW_IRQ_H
#define WIRT_HW_IRQ_H

#include <stdint.h>

struct vm;

struct irq_chip_ops {
	void (*set_line)(void *opaque, unsigned gsi, int level);
	void (*send_msi)(void *opaque, uint64_t addr, uint32_t data);
};

void irq_set_line(struct vm *vm, unsigned gsi, int level);
/* A rising and falling edge, for edge-triggered ISA devices. */
void irq_pulse(struct vm *vm, unsigned gsi);
void irq_send_msi(struct vm *vm, uint64_t addr, uint32_t data);

#endif

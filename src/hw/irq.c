/* Device interrupts: forwarded to whatever irqchip the accelerator set up. */
#include "hw/irq.h"

#include "vm/vm.h"

void irq_set_line(struct vm *vm, unsigned gsi, int level)
{
	if (vm->irq_ops.set_line)
		vm->irq_ops.set_line(vm->irq_opaque, gsi, level);
}

void irq_pulse(struct vm *vm, unsigned gsi)
{
	irq_set_line(vm, gsi, 1);
	irq_set_line(vm, gsi, 0);
}

void irq_send_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	if (vm->irq_ops.send_msi)
		vm->irq_ops.send_msi(vm->irq_opaque, addr, data);
}

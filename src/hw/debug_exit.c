/*
 * Debug-exit port: a value V written to it ends wirt with exit status
 * (V << 1) | 1, like QEMU's isa-debug-exit, so test programs written for
 * QEMU's PC report their result the same way under wirt.
 */
#include <stdlib.h>

#include "hw/devices.h"
#include "vm/vm.h"

static void debug_exit_write(void *opaque, uint64_t offset, uint64_t value,
			     unsigned size)
{
	vm_request_stop(opaque, VM_STOP_EXIT, (int)((value << 1) | 1) & 0xff);
}

static uint64_t debug_exit_read(void *opaque, uint64_t offset, unsigned size)
{
	return ~0ULL;
}

static const struct io_ops debug_exit_ops = {
	.read = debug_exit_read,
	.write = debug_exit_write,
};

int debug_exit_create(struct vm *vm, uint16_t port)
{
	return bus_register(&vm->pio, port, 4, &debug_exit_ops, vm, "debug-exit");
}

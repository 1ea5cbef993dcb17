/*
 * Port 0x80, the POST diagnostic port.  Firmware and Linux write to it as a
 * short I/O delay; writes are kept (last value) and otherwise ignored.
 */
#include <stdlib.h>

#include "hw/devices.h"
#include "vm/vm.h"

static uint8_t post_code;

static void post_write(void *opaque, uint64_t offset, uint64_t value,
		       unsigned size)
{
	__atomic_store_n(&post_code, (uint8_t)value, __ATOMIC_RELAXED);
}

static uint64_t post_read(void *opaque, uint64_t offset, unsigned size)
{
	return __atomic_load_n(&post_code, __ATOMIC_RELAXED);
}

static const struct io_ops post_ops = {
	.read = post_read,
	.write = post_write,
};

int post_port_create(struct vm *vm)
{
	return bus_register(&vm->pio, 0x80, 1, &post_ops, NULL, "post");
}

/*
 * System control port A (port 0x92) and the A20 gate it shares with the
 * i8042's output port.  Bit 1 is the fast A20 gate, bit 0 written as 1
 * resets the machine (it reads back 0); the other bits are kept as written.
 *
 * The gate is one line of the machine (vm->a20_clear, the address bits it
 * clears, so a zeroed struct vm has it on): with it off, the
 * emulated CPU's physical addresses have bit 20 forced to 0, as on an 8086
 * that wraps at 1 MiB.  It starts on, as PC firmware leaves it.  KVM has no
 * cheap way to mask an address bit of a running guest, so under KVM the gate
 * reads back as written but memory does not wrap; wirt says so once.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hw/devices.h"
#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/vm.h"

#define PORT92_RESET 0x01
#define PORT92_A20   0x02

static uint8_t port92_bits; /* bits 2-7 as written */

void a20_set(struct vm *vm, bool on)
{
	uint64_t clear = on ? 0 : 1ULL << 20;

	if (!on && strcmp(vm->accel->name, "emu") != 0)
		log_warn_once("the guest turned the A20 gate off; under %s memory does not wrap at 1 MiB",
			      vm->accel->name);
	__atomic_store_n(&vm->a20_clear, clear, __ATOMIC_RELEASE);
}

bool a20_enabled(struct vm *vm)
{
	return !__atomic_load_n(&vm->a20_clear, __ATOMIC_ACQUIRE);
}

static uint64_t port92_read(void *opaque, uint64_t offset, unsigned size)
{
	struct vm *vm = opaque;

	return (__atomic_load_n(&port92_bits, __ATOMIC_RELAXED) & ~3u) |
	       (a20_enabled(vm) ? PORT92_A20 : 0);
}

static void port92_write(void *opaque, uint64_t offset, uint64_t value,
			 unsigned size)
{
	struct vm *vm = opaque;

	__atomic_store_n(&port92_bits, (uint8_t)value & ~3u, __ATOMIC_RELAXED);
	a20_set(vm, value & PORT92_A20);
	if (value & PORT92_RESET)
		vm_request_stop(vm, VM_STOP_RESET, 0);
}

static const struct io_ops port92_ops = {
	.read = port92_read,
	.write = port92_write,
};

static void port92_reset(void *opaque)
{
	__atomic_store_n(&port92_bits, 0, __ATOMIC_RELAXED);
	a20_set(opaque, true);
}

/* The port's bits and the A20 gate, which the i8042 shares. */
static void port92_save(void *opaque, struct vmstate_out *o)
{
	vmstate_put_u8(o, __atomic_load_n(&port92_bits, __ATOMIC_RELAXED));
	vmstate_put_bool(o, a20_enabled(opaque));
}

static int port92_load(void *opaque, struct vmstate_in *in)
{
	uint8_t bits = vmstate_get_u8(in) & ~3u;
	bool a20 = vmstate_get_bool(in);

	if (in->error)
		return in->error;
	__atomic_store_n(&port92_bits, bits, __ATOMIC_RELAXED);
	a20_set(opaque, a20);
	return 0;
}

int port92_create(struct vm *vm)
{
	port92_reset(vm);
	vm_add_device(vm, &(struct device_hooks){ port92_reset, NULL, vm,
		      "port92", 1, port92_save, port92_load });
	return bus_register(&vm->pio, 0x92, 1, &port92_ops, vm, "port92");
}

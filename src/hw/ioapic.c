/* I/O APIC model (see ioapic.h); register layout from the 82093AA datasheet,
 * plus the EOI register of version 0x20 I/O APICs (ICH and later). */
#include "hw/ioapic.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "hw/bus.h"
#include "hw/lapic.h"
#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/vm.h"

#define IOAPIC_BASE 0xfec00000ULL
#define PINS 24

#define RTE_MASKED (1ULL << 16)
#define RTE_LEVEL (1ULL << 15)
#define RTE_REMOTE_IRR (1ULL << 14)
#define RTE_LOGICAL (1ULL << 11)

struct ioapic {
	struct apic_bus *bus;
	pthread_mutex_t lock;
	uint32_t sel, id;
	uint64_t rte[PINS];
	uint32_t levels;  /* current line levels */
};

/* Send pin's interrupt if it should go now; called with the lock held,
 * returns the message to deliver after unlocking. */
static bool want_delivery(struct ioapic *io, unsigned pin, uint64_t *msg)
{
	uint64_t r = io->rte[pin];

	if (r & RTE_MASKED)
		return false;
	if (r & RTE_LEVEL) {
		if (!(io->levels & (1u << pin)) || (r & RTE_REMOTE_IRR))
			return false;
		io->rte[pin] |= RTE_REMOTE_IRR;
	}
	*msg = r;
	return true;
}

static void deliver(struct ioapic *io, uint64_t r)
{
	unsigned mode = (r >> 8) & 7;

	if (mode == 7) /* ExtINT: the 8259 delivers through LINT0 */
		return;
	apic_bus_deliver(io->bus, r >> 56, r & RTE_LOGICAL, mode, r & 0xff, r & RTE_LEVEL);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	uint64_t msg;
	bool send = false, old;

	if (pin >= PINS)
		return;
	pthread_mutex_lock(&io->lock);
	old = io->levels & (1u << pin);
	if (level)
		io->levels |= 1u << pin;
	else
		io->levels &= ~(1u << pin);
	if (level && (!old || (io->rte[pin] & RTE_LEVEL)))
		send = want_delivery(io, pin, &msg);
	pthread_mutex_unlock(&io->lock);
	if (send)
		deliver(io, msg);
}

/* A local APIC completed a level-triggered vector. */
static void ioapic_eoi(void *opaque, uint8_t vector)
{
	struct ioapic *io = opaque;
	uint64_t msgs[PINS];
	unsigned n = 0;

	pthread_mutex_lock(&io->lock);
	for (unsigned pin = 0; pin < PINS; pin++) {
		if ((io->rte[pin] & 0xff) != vector || !(io->rte[pin] & RTE_REMOTE_IRR))
			continue;
		io->rte[pin] &= ~RTE_REMOTE_IRR;
		if (want_delivery(io, pin, &msgs[n]))
			n++;
	}
	pthread_mutex_unlock(&io->lock);
	for (unsigned i = 0; i < n; i++)
		deliver(io, msgs[i]);
}

static uint64_t ioapic_read(void *opaque, uint64_t off, unsigned size)
{
	struct ioapic *io = opaque;
	uint32_t v = 0;

	(void)size;
	pthread_mutex_lock(&io->lock);
	if (off == 0) {
		v = io->sel;
	} else if (off == 0x10) {
		unsigned s = io->sel;
		if (s == 0)
			v = io->id << 24;
		else if (s == 1) /* version 0x20: has the EOI register at 0x40 */
			v = 0x20 | ((PINS - 1) << 16);
		else if (s == 2)
			v = io->id << 24;
		else if (s >= 0x10 && s < 0x10 + 2 * PINS)
			v = (s & 1) ? io->rte[(s - 0x10) / 2] >> 32 : (uint32_t)io->rte[(s - 0x10) / 2];
	}
	pthread_mutex_unlock(&io->lock);
	return v;
}

static void ioapic_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
	struct ioapic *io = opaque;
	uint64_t msg;
	bool send = false;

	(void)size;
	pthread_mutex_lock(&io->lock);
	if (off == 0) {
		io->sel = v & 0xff;
	} else if (off == 0x10) {
		unsigned s = io->sel;
		if (s == 0) {
			io->id = (v >> 24) & 0xf;
		} else if (s >= 0x10 && s < 0x10 + 2 * PINS) {
			unsigned pin = (s - 0x10) / 2;
			uint64_t r = io->rte[pin];
			if (s & 1)
				r = (r & 0xffffffffULL) | ((uint64_t)(v & 0xff000000) << 32);
			else /* delivery status and remote IRR are read-only */
				r = (r & ~0xffffffffULL & ~0ULL) | ((r & RTE_REMOTE_IRR)) |
				    (v & ~(RTE_REMOTE_IRR | (1ULL << 12)) & 0xffffffffULL);
			/* An edge-triggered pin has no Remote IRR: switching a
			 * pin to edge clears it (how kernels clear a stale one
			 * on I/O APICs without the EOI register). */
			if (!(r & RTE_LEVEL))
				r &= ~RTE_REMOTE_IRR;
			io->rte[pin] = r;
			/* Unmasking a level line that is still asserted delivers it. */
			if ((r & RTE_LEVEL) && (io->levels & (1u << pin)))
				send = want_delivery(io, pin, &msg);
		}
	} else if (off == 0x40) {
		pthread_mutex_unlock(&io->lock);
		ioapic_eoi(io, v & 0xff);
		return;
	}
	pthread_mutex_unlock(&io->lock);
	if (send)
		deliver(io, msg);
}

static const struct io_ops ioapic_ops = { ioapic_read, ioapic_write };

static void ioapic_reset(void *opaque)
{
	struct ioapic *io = opaque;

	pthread_mutex_lock(&io->lock);
	for (unsigned i = 0; i < PINS; i++)
		io->rte[i] = RTE_MASKED;
	io->sel = io->id = 0;
	pthread_mutex_unlock(&io->lock);
}

/* The common form of the IOAPIC (KVM's in-kernel one converts to it). */
static void ioapic_save(void *opaque, struct vmstate_out *o)
{
	struct ioapic *io = opaque;

	pthread_mutex_lock(&io->lock);
	vmstate_put_u32(o, io->sel);
	vmstate_put_u32(o, io->id);
	vmstate_put_u32(o, PINS);
	for (unsigned i = 0; i < PINS; i++)
		vmstate_put_u64(o, io->rte[i]);
	vmstate_put_u32(o, io->levels);
	pthread_mutex_unlock(&io->lock);
}

static int ioapic_load(void *opaque, struct vmstate_in *in)
{
	struct ioapic *io = opaque;
	unsigned pins;

	pthread_mutex_lock(&io->lock);
	io->sel = vmstate_get_u32(in) & 0xff;
	io->id = vmstate_get_u32(in);
	pins = vmstate_get_u32(in);
	if (pins != PINS)
		vmstate_fail(in, -EINVAL, "IOAPIC: the state has %u pins, this one %u", pins, PINS);
	for (unsigned i = 0; i < PINS && !in->error; i++)
		io->rte[i] = vmstate_get_u64(in);
	io->levels = vmstate_get_u32(in);
	pthread_mutex_unlock(&io->lock);
	return in->error;
}

static void ioapic_destroy(void *opaque)
{
	struct ioapic *io = opaque;

	pthread_mutex_destroy(&io->lock);
	free(io);
}

struct ioapic *ioapic_create(struct vm *vm, struct apic_bus *bus)
{
	struct ioapic *io = calloc(1, sizeof(*io));
	struct device_hooks hooks = { ioapic_reset, ioapic_destroy, NULL, "ioapic", 1,
				      ioapic_save, ioapic_load };

	if (!io)
		return NULL;
	io->bus = bus;
	pthread_mutex_init(&io->lock, NULL);
	ioapic_reset(io);
	if (bus_register(&vm->mmio, IOAPIC_BASE, 0x1000, &ioapic_ops, io, "ioapic")) {
		ioapic_destroy(io);
		return NULL;
	}
	apic_bus_set_eoi_hook(bus, ioapic_eoi, io);
	hooks.opaque = io;
	vm_add_device(vm, &hooks);
	return io;
}

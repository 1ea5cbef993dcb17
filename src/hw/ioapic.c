/* I/O APIC model (see ioapic.h); register layout from the 82093AA datasheet,
 * plus the EOI register of version 0x20 I/O APICs (ICH and later). */
#include "hw/ioapic.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/bus.h"
#include "hw/lapic.h"
#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/vm.h"

#define IOAPIC_BASE 0xfec00000ULL
#define PINS IOAPIC_PINS

#define RTE_MASKED (1ULL << 16)
#define RTE_LEVEL (1ULL << 15)
#define RTE_REMOTE_IRR (1ULL << 14)
#define RTE_LOGICAL (1ULL << 11)

struct ioapic {
	struct apic_bus *bus;
	pthread_mutex_t lock;
	struct ioapic_state s;
};

/* Send pin's interrupt if it should go now; called with the lock held,
 * returns the message to deliver after unlocking. */
static bool want_delivery(struct ioapic *io, unsigned pin, uint64_t *msg)
{
	uint64_t r = io->s.rte[pin];

	if (r & RTE_MASKED)
		return false;
	if (r & RTE_LEVEL) {
		if (!(io->s.levels & (1u << pin)) || (r & RTE_REMOTE_IRR))
			return false;
		io->s.rte[pin] |= RTE_REMOTE_IRR;
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
	old = io->s.levels & (1u << pin);
	if (level)
		io->s.levels |= 1u << pin;
	else
		io->s.levels &= ~(1u << pin);
	if (level && (!old || (io->s.rte[pin] & RTE_LEVEL)))
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
		if ((io->s.rte[pin] & 0xff) != vector || !(io->s.rte[pin] & RTE_REMOTE_IRR))
			continue;
		io->s.rte[pin] &= ~RTE_REMOTE_IRR;
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
		v = io->s.sel;
	} else if (off == 0x10) {
		unsigned s = io->s.sel;
		if (s == 0)
			v = io->s.id << 24;
		else if (s == 1) /* version 0x20: has the EOI register at 0x40 */
			v = 0x20 | ((PINS - 1) << 16);
		else if (s == 2)
			v = io->s.id << 24;
		else if (s >= 0x10 && s < 0x10 + 2 * PINS)
			v = (s & 1) ? io->s.rte[(s - 0x10) / 2] >> 32 : (uint32_t)io->s.rte[(s - 0x10) / 2];
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
		io->s.sel = v & 0xff;
	} else if (off == 0x10) {
		unsigned s = io->s.sel;
		if (s == 0) {
			io->s.id = (v >> 24) & 0xf;
		} else if (s >= 0x10 && s < 0x10 + 2 * PINS) {
			unsigned pin = (s - 0x10) / 2;
			uint64_t r = io->s.rte[pin];
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
			io->s.rte[pin] = r;
			/* Unmasking a level line that is still asserted delivers it. */
			if ((r & RTE_LEVEL) && (io->s.levels & (1u << pin)))
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

void ioapic_state_reset(struct ioapic_state *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < PINS; i++)
		s->rte[i] = RTE_MASKED;
}

static void ioapic_reset(void *opaque)
{
	struct ioapic *io = opaque;

	pthread_mutex_lock(&io->lock);
	ioapic_state_reset(&io->s);
	pthread_mutex_unlock(&io->lock);
}

void ioapic_state_put(struct vmstate_out *o, const struct ioapic_state *s)
{
	vmstate_put_u32(o, s->sel);
	vmstate_put_u32(o, s->id);
	vmstate_put_u32(o, PINS);
	for (unsigned i = 0; i < PINS; i++)
		vmstate_put_u64(o, s->rte[i]);
	vmstate_put_u32(o, s->levels);
}

int ioapic_state_get(struct vmstate_in *in, struct ioapic_state *s)
{
	unsigned pins;

	s->sel = vmstate_get_u32(in) & 0xff;
	s->id = vmstate_get_u32(in);
	pins = vmstate_get_u32(in);
	if (pins != PINS)
		return vmstate_fail(in, -EINVAL, "IOAPIC: the state has %u pins, this one %u", pins, PINS);
	for (unsigned i = 0; i < PINS; i++)
		s->rte[i] = vmstate_get_u64(in);
	s->levels = vmstate_get_u32(in);
	return in->error;
}

/* The common form of the IOAPIC (KVM's in-kernel one converts to it). */
static void ioapic_save(void *opaque, struct vmstate_out *o)
{
	struct ioapic *io = opaque;

	pthread_mutex_lock(&io->lock);
	ioapic_state_put(o, &io->s);
	pthread_mutex_unlock(&io->lock);
}

static int ioapic_load(void *opaque, struct vmstate_in *in)
{
	struct ioapic *io = opaque;
	struct ioapic_state s;
	int ret = ioapic_state_get(in, &s);

	if (ret)
		return ret;
	pthread_mutex_lock(&io->lock);
	io->s = s;
	pthread_mutex_unlock(&io->lock);
	return 0;
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
	struct device_hooks hooks = { ioapic_reset, ioapic_destroy, NULL, "ioapic", IOAPIC_STATE_VERSION,
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

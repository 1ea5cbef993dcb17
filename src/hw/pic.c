/*
 * 8259A PIC pair.  Implements what PC firmware and operating systems use:
 * the ICW1-ICW4 initialisation sequence, the interrupt mask (OCW1),
 * non-specific and specific EOI (OCW2), reading IRR/ISR and poll mode
 * (OCW3), edge and level triggering (ELCR), special mask mode, auto-EOI
 * and the spurious IRQ 7/15 on a vanished request.
 */
#include "hw/pic.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hw/bus.h"
#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/vm.h"

struct pic {
	struct vm *vm;
	pthread_mutex_t lock;
	struct pic_state s;
	void (*notify)(void *);
	void *opaque;
	/* Whether the master's output is asserted: read without the lock on
	 * every emulated instruction, updated under it. */
	int output;
};

/* Highest-priority set bit of mask, honouring rotation; -1 if none. */
static int priority_irq(const struct pic_chip *p, uint8_t mask)
{
	for (int i = 1; i <= 8; i++) {
		int irq = (p->lowest_priority + i) & 7;
		if (mask & (1u << irq))
			return irq;
	}
	return -1;
}

/* The IRQ this chip would signal now, or -1. */
static int chip_output(const struct pic_chip *p)
{
	uint8_t pending = p->irr & ~p->imr;
	int irq = priority_irq(p, pending), in_service;
	uint8_t isr = p->isr;

	if (irq < 0)
		return -1;
	if (p->special_mask)
		isr &= ~p->imr;
	in_service = priority_irq(p, isr);
	/* A request must have higher priority than what is in service. */
	if (in_service >= 0) {
		int prio_req = (irq - p->lowest_priority - 1) & 7;
		int prio_isr = (in_service - p->lowest_priority - 1) & 7;
		if (prio_req >= prio_isr)
			return -1;
	}
	return irq;
}

static void chip_set(struct pic_chip *p, unsigned irq, int level)
{
	uint8_t bit = 1u << irq;

	if (p->elcr & bit) {
		if (level)
			p->irr |= bit;
		else
			p->irr &= ~bit;
	} else if (level && !(p->last_level & bit)) {
		p->irr |= bit;
	}
	if (level)
		p->last_level |= bit;
	else
		p->last_level &= ~bit;
}

/* Propagate the slave's output to the master's IRQ 2; publish the output. */
static void update_cascade(struct pic *pic)
{
	chip_set(&pic->s.chip[0], 2, chip_output(&pic->s.chip[1]) >= 0);
	__atomic_store_n(&pic->output, chip_output(&pic->s.chip[0]) >= 0, __ATOMIC_RELEASE);
}

void pic_set_irq(struct pic *pic, unsigned irq, int level)
{
	if (irq >= 16)
		return;
	pthread_mutex_lock(&pic->lock);
	chip_set(&pic->s.chip[irq >> 3], irq & 7, level);
	update_cascade(pic);
	pthread_mutex_unlock(&pic->lock);
	pic->notify(pic->opaque);
}

bool pic_has_interrupt(struct pic *pic)
{
	return __atomic_load_n(&pic->output, __ATOMIC_ACQUIRE);
}

/* Move irq from IRR to ISR on one chip (the INTA cycle). */
static void chip_ack(struct pic_chip *p, int irq)
{
	uint8_t bit = 1u << irq;

	if (!p->auto_eoi)
		p->isr |= bit;
	if (!(p->elcr & bit))
		p->irr &= ~bit;
}

int pic_ack(struct pic *pic)
{
	struct pic_chip *m = &pic->s.chip[0], *s = &pic->s.chip[1];
	int irq, sirq, vec;

	pthread_mutex_lock(&pic->lock);
	irq = chip_output(m);
	if (irq < 0) {
		pthread_mutex_unlock(&pic->lock);
		return -1;
	}
	chip_ack(m, irq);
	if (irq == 2 && !m->single) {
		sirq = chip_output(s);
		if (sirq < 0)
			sirq = 7; /* spurious IRQ 15 */
		else
			chip_ack(s, sirq);
		vec = s->vector_base + sirq;
	} else {
		vec = m->vector_base + irq;
	}
	update_cascade(pic);
	pthread_mutex_unlock(&pic->lock);
	return vec;
}

static void chip_eoi(struct pic_chip *p, int irq)
{
	if (irq >= 0)
		p->isr &= ~(1u << irq);
}

static void write_command(struct pic_chip *p, uint8_t v)
{
	if (v & 0x10) { /* ICW1 */
		p->imr = 0;
		p->isr = 0;
		p->irr = 0;
		p->lowest_priority = 7;
		p->special_mask = false;
		p->read_isr = false;
		p->auto_eoi = false;
		p->icw4_needed = v & 1;
		p->single = v & 2;
		p->init_step = 2;
		return;
	}
	if (v & 0x08) { /* OCW3 */
		p->poll = v & 4;
		if (v & 2)
			p->read_isr = v & 1;
		if (v & 0x40)
			p->special_mask = v & 0x20;
		return;
	}
	/* OCW2 */
	switch (v >> 5) {
	case 1: /* non-specific EOI */
		chip_eoi(p, priority_irq(p, p->isr));
		break;
	case 3: /* specific EOI */
		chip_eoi(p, v & 7);
		break;
	case 5: { /* rotate on non-specific EOI */
		int irq = priority_irq(p, p->isr);
		chip_eoi(p, irq);
		if (irq >= 0)
			p->lowest_priority = irq;
		break;
	}
	case 6: /* set priority */
		p->lowest_priority = v & 7;
		break;
	case 7: /* rotate on specific EOI */
		chip_eoi(p, v & 7);
		p->lowest_priority = v & 7;
		break;
	default: /* rotate in auto-EOI mode: no effect here */
		break;
	}
}

static void write_data(struct pic_chip *p, uint8_t v)
{
	switch (p->init_step) {
	case 2:
		p->vector_base = v & 0xf8;
		p->init_step = p->single ? (p->icw4_needed ? 4 : 0) : 3;
		return;
	case 3:
		p->init_step = p->icw4_needed ? 4 : 0;
		return;
	case 4:
		p->auto_eoi = v & 2;
		p->init_step = 0;
		return;
	}
	p->imr = v; /* OCW1 */
}

static uint64_t pic_read(void *opaque, uint64_t off, unsigned size)
{
	struct pic *pic = opaque;
	uint64_t v;

	pthread_mutex_lock(&pic->lock);
	{
		struct pic_chip *p = &pic->s.chip[(off & 0x80) ? 1 : 0];
		if (off & 1) {
			v = p->imr;
		} else if (p->poll) {
			int irq = chip_output(p);
			p->poll = false;
			if (irq >= 0) {
				chip_ack(p, irq);
				update_cascade(pic);
				v = 0x80 | irq;
			} else {
				v = 0;
			}
		} else {
			v = p->read_isr ? p->isr : p->irr;
		}
	}
	pthread_mutex_unlock(&pic->lock);
	(void)size;
	return v;
}

static void pic_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
	struct pic *pic = opaque;
	struct pic_chip *p = &pic->s.chip[(off & 0x80) ? 1 : 0];

	(void)size;
	pthread_mutex_lock(&pic->lock);
	if (off & 1)
		write_data(p, v);
	else
		write_command(p, v);
	update_cascade(pic);
	pthread_mutex_unlock(&pic->lock);
	pic->notify(pic->opaque);
}

/* Ports 0x20-0x21 and 0xa0-0xa1 arrive as offsets 0-1 and 0x80-0x81. */
static uint64_t pic_master_read(void *o, uint64_t off, unsigned size) { return pic_read(o, off, size); }
static uint64_t pic_slave_read(void *o, uint64_t off, unsigned size) { return pic_read(o, off | 0x80, size); }
static void pic_master_write(void *o, uint64_t off, uint64_t v, unsigned size) { pic_write(o, off, v, size); }
static void pic_slave_write(void *o, uint64_t off, uint64_t v, unsigned size) { pic_write(o, off | 0x80, v, size); }

static uint64_t elcr_read(void *opaque, uint64_t off, unsigned size)
{
	struct pic *pic = opaque;
	uint64_t v;

	(void)size;
	pthread_mutex_lock(&pic->lock);
	v = pic->s.chip[off & 1].elcr;
	pthread_mutex_unlock(&pic->lock);
	return v;
}

static void elcr_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
	struct pic *pic = opaque;

	(void)size;
	pthread_mutex_lock(&pic->lock);
	/* IRQ 0, 1, 2, 8 and 13 are always edge-triggered. */
	pic->s.chip[off & 1].elcr = v & PIC_ELCR_MASK(off & 1);
	update_cascade(pic);
	pthread_mutex_unlock(&pic->lock);
}

static const struct io_ops master_ops = { pic_master_read, pic_master_write };
static const struct io_ops slave_ops = { pic_slave_read, pic_slave_write };
static const struct io_ops elcr_ops = { elcr_read, elcr_write };

static void pic_reset(void *opaque)
{
	struct pic *pic = opaque;

	pthread_mutex_lock(&pic->lock);
	pic_state_reset(&pic->s);
	update_cascade(pic);
	pthread_mutex_unlock(&pic->lock);
}

void pic_state_reset(struct pic_state *s)
{
	memset(s, 0, sizeof(*s));
	s->chip[0].lowest_priority = s->chip[1].lowest_priority = 7;
	s->chip[0].vector_base = 0x08;
	s->chip[1].vector_base = 0x70;
}

void pic_state_put(struct vmstate_out *o, const struct pic_state *s)
{
	for (int i = 0; i < 2; i++) {
		const struct pic_chip *c = &s->chip[i];

		vmstate_put_u8(o, c->irr);
		vmstate_put_u8(o, c->isr);
		vmstate_put_u8(o, c->imr);
		vmstate_put_u8(o, c->elcr);
		vmstate_put_u8(o, c->last_level);
		vmstate_put_u8(o, c->vector_base);
		vmstate_put_u8(o, c->init_step);
		vmstate_put_bool(o, c->icw4_needed);
		vmstate_put_bool(o, c->single);
		vmstate_put_bool(o, c->auto_eoi);
		vmstate_put_bool(o, c->special_mask);
		vmstate_put_bool(o, c->poll);
		vmstate_put_bool(o, c->read_isr);
		vmstate_put_u8(o, c->lowest_priority);
	}
}

int pic_state_get(struct vmstate_in *in, struct pic_state *s)
{
	for (int i = 0; i < 2; i++) {
		struct pic_chip *c = &s->chip[i];

		c->irr = vmstate_get_u8(in);
		c->isr = vmstate_get_u8(in);
		c->imr = vmstate_get_u8(in);
		c->elcr = vmstate_get_u8(in) & PIC_ELCR_MASK(i);
		c->last_level = vmstate_get_u8(in);
		c->vector_base = vmstate_get_u8(in) & 0xf8;
		c->init_step = vmstate_get_u8(in);
		c->icw4_needed = vmstate_get_bool(in);
		c->single = vmstate_get_bool(in);
		c->auto_eoi = vmstate_get_bool(in);
		c->special_mask = vmstate_get_bool(in);
		c->poll = vmstate_get_bool(in);
		c->read_isr = vmstate_get_bool(in);
		c->lowest_priority = vmstate_get_u8(in) & 7;
		if (c->init_step == 1 || c->init_step > 4)
			c->init_step = 0;
	}
	return in->error;
}

static void pic_save(void *opaque, struct vmstate_out *o)
{
	struct pic *pic = opaque;

	pthread_mutex_lock(&pic->lock);
	pic_state_put(o, &pic->s);
	pthread_mutex_unlock(&pic->lock);
}

static int pic_load(void *opaque, struct vmstate_in *in)
{
	struct pic *pic = opaque;
	struct pic_state s;
	int ret;

	pic_state_reset(&s);
	ret = pic_state_get(in, &s);
	pthread_mutex_lock(&pic->lock);
	if (!ret)
		pic->s = s;
	update_cascade(pic);
	pthread_mutex_unlock(&pic->lock);
	return ret;
}

static void pic_destroy(void *opaque)
{
	struct pic *pic = opaque;

	pthread_mutex_destroy(&pic->lock);
	free(pic);
}

struct pic *pic_create(struct vm *vm, void (*notify)(void *), void *opaque)
{
	struct pic *pic = calloc(1, sizeof(*pic));
	struct device_hooks hooks = { pic_reset, pic_destroy, NULL, "pic", PIC_STATE_VERSION,
				      pic_save, pic_load };

	if (!pic)
		return NULL;
	pic->vm = vm;
	pic->notify = notify;
	pic->opaque = opaque;
	pthread_mutex_init(&pic->lock, NULL);
	pic_reset(pic);
	if (bus_register(&vm->pio, 0x20, 2, &master_ops, pic, "pic-master") ||
	    bus_register(&vm->pio, 0xa0, 2, &slave_ops, pic, "pic-slave") ||
	    bus_register(&vm->pio, 0x4d0, 2, &elcr_ops, pic, "elcr")) {
		log_error("cannot register the 8259 PIC ports");
		pic_destroy(pic);
		return NULL;
	}
	hooks.opaque = pic;
	vm_add_device(vm, &hooks);
	return pic;
}

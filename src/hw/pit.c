/*
 * 8254 PIT.  Counters are computed from the host's monotonic clock at the
 * PC's 1.193182 MHz, so reading them costs nothing and guests see real
 * time pass; channel 0's interrupts come from a timerfd on the event loop.
 * Modes 0-5, latch and read-back commands, all access modes; port 0x61
 * gives channel 2's gate and output (and the refresh toggle).
 */
#include "hw/pit.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hw/bus.h"
#include "hw/irq.h"
#include "migration/vmstate.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "vm/vm.h"
#include "vm/vm_clock.h"

#define PIT_HZ 1193182ULL

struct pit {
	struct vm *vm;
	pthread_mutex_t lock;
	struct pit_state s;
	int timer_fd;
};

/* The guest's clock: it stands still while the VM is paused. */
static uint64_t now_ns(void)
{
	return vm_clock_ns();
}

static uint64_t ticks_since(const struct pit_channel *c, uint64_t now)
{
	return (now - c->start_ns) * PIT_HZ / 1000000000ULL;
}

/* Current counter value. */
static uint16_t channel_count(const struct pit_channel *c, uint64_t now)
{
	uint64_t t, n = c->reload;

	if (!c->armed)
		return c->reload & 0xffff;
	t = ticks_since(c, now);
	switch (c->mode) {
	case 2:
		return n - (t % n);
	case 3: /* counts down by two, twice per period */
		return (n - ((2 * t) % n)) & ~1u;
	default: /* 0, 1, 4, 5: count down once, then wrap */
		return (uint16_t)(n - t);
	}
}

static bool channel_output(const struct pit_channel *c, uint64_t now)
{
	uint64_t t, n = c->reload;

	if (!c->armed)
		return c->mode != 0;
	t = ticks_since(c, now);
	switch (c->mode) {
	case 0: case 1:
		return t >= n;
	case 2:
		return (t % n) != n - 1;
	case 3:
		return (t % n) < (n + 1) / 2;
	default: /* 4, 5: low for one tick at terminal count */
		return t != n;
	}
}

/* (Re)program the host timer that raises IRQ 0 for channel 0. */
static void update_timer(struct pit *pit)
{
	struct pit_channel *c = &pit->s.ch[0];
	struct itimerspec its = { 0 };
	uint64_t period, first;

	if (c->armed && c->gate) {
		period = (uint64_t)c->reload * 1000000000ULL / PIT_HZ;
		if (period < 50000)
			period = 50000; /* at most 20 kHz of host timer wake-ups */
		first = period;
		its.it_value.tv_sec = first / 1000000000ULL;
		its.it_value.tv_nsec = first % 1000000000ULL;
		if (c->mode == 2 || c->mode == 3) {
			its.it_interval.tv_sec = period / 1000000000ULL;
			its.it_interval.tv_nsec = period % 1000000000ULL;
		}
	}
	timerfd_settime(pit->timer_fd, 0, &its, NULL);
}

static void pit_timer_fired(void *opaque, uint32_t events)
{
	struct pit *pit = opaque;
	uint64_t expirations;

	(void)events;
	if (read(pit->timer_fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	/* Missed periods collapse into one interrupt, as a busy PIC would. */
	irq_pulse(pit->vm, 0);
}

static void load_count(struct pit *pit, int i, uint32_t v)
{
	struct pit_channel *c = &pit->s.ch[i];

	if (c->bcd) {
		v = (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 +
		    ((v >> 12) & 0xf) * 1000;
		if (!v)
			v = 10000;
	}
	c->reload = v ? v : 65536;
	c->armed = true;
	c->null_count = false;
	c->start_ns = now_ns();
	if (i == 0)
		update_timer(pit);
}

static uint8_t read_counter(struct pit_channel *c, uint64_t now)
{
	uint16_t v;
	uint8_t r;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	v = c->latched ? c->latch : channel_count(c, now);
	switch (c->access) {
	case 1: r = v & 0xff; c->latched = false; break;
	case 2: r = v >> 8; c->latched = false; break;
	default:
		r = c->read_hi_next ? v >> 8 : v & 0xff;
		if (c->read_hi_next)
			c->latched = false;
		c->read_hi_next = !c->read_hi_next;
		break;
	}
	return r;
}

static void control_word(struct pit *pit, uint8_t v, uint64_t now)
{
	unsigned sel = v >> 6, i;
	struct pit_channel *c;

	if (sel == 3) { /* read-back */
		for (i = 0; i < 3; i++) {
			if (!(v & (2u << i)))
				continue;
			c = &pit->s.ch[i];
			if (!(v & 0x20) && !c->latched) {
				c->latched = true;
				c->latch = channel_count(c, now);
			}
			if (!(v & 0x10) && !c->status_latched) {
				c->status_latched = true;
				c->status = (channel_output(c, now) << 7) | (c->null_count << 6) |
					    (c->access << 4) | (c->mode << 1) | c->bcd;
			}
		}
		return;
	}
	c = &pit->s.ch[sel];
	if (((v >> 4) & 3) == 0) { /* counter latch */
		if (!c->latched) {
			c->latched = true;
			c->latch = channel_count(c, now);
		}
		return;
	}
	c->access = (v >> 4) & 3;
	c->mode = (v >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4; /* 6, 7 alias 2, 3 */
	c->bcd = v & 1;
	c->armed = false;
	c->null_count = true;
	c->write_hi_next = c->read_hi_next = false;
	c->latched = c->status_latched = false;
	if (sel == 0)
		update_timer(pit);
}

static uint64_t pit_read(void *opaque, uint64_t off, unsigned size)
{
	struct pit *pit = opaque;
	uint64_t v = 0xff;

	(void)size;
	pthread_mutex_lock(&pit->lock);
	if (off < 3)
		v = read_counter(&pit->s.ch[off], now_ns());
	pthread_mutex_unlock(&pit->lock);
	return v;
}

static void pit_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
	struct pit *pit = opaque;
	struct pit_channel *c;

	(void)size;
	pthread_mutex_lock(&pit->lock);
	if (off == 3) {
		control_word(pit, v, now_ns());
	} else {
		c = &pit->s.ch[off];
		switch (c->access) {
		case 1: load_count(pit, off, v & 0xff); break;
		case 2: load_count(pit, off, (v & 0xff) << 8); break;
		default:
			if (!c->write_hi_next) {
				c->write_lo = v;
				c->write_hi_next = true;
			} else {
				c->write_hi_next = false;
				load_count(pit, off, c->write_lo | ((v & 0xff) << 8));
			}
		}
	}
	pthread_mutex_unlock(&pit->lock);
}

/* Port 0x61: gate of channel 2, speaker, refresh toggle, channel 2 output. */
static uint64_t port61_read(void *opaque, uint64_t off, unsigned size)
{
	struct pit *pit = opaque;
	uint64_t now = now_ns(), v;

	(void)off;
	(void)size;
	pthread_mutex_lock(&pit->lock);
	v = (pit->s.port61 & 3) | (((now / 15000) & 1) << 4) |
	    (channel_output(&pit->s.ch[2], now) << 5);
	pthread_mutex_unlock(&pit->lock);
	return v;
}

static void port61_write(void *opaque, uint64_t off, uint64_t v, unsigned size)
{
	struct pit *pit = opaque;
	struct pit_channel *c = &pit->s.ch[2];
	bool gate = v & 1;

	(void)off;
	(void)size;
	pthread_mutex_lock(&pit->lock);
	/* A rising gate (re)starts the count in every mode we model. */
	if (gate && !c->gate && c->null_count == false)
		c->start_ns = now_ns();
	c->gate = gate;
	pit->s.port61 = v & 3;
	pthread_mutex_unlock(&pit->lock);
}

static const struct io_ops pit_ops = { pit_read, pit_write };
static const struct io_ops port61_ops = { port61_read, port61_write };

void pit_state_reset(struct pit_state *s)
{
	for (int i = 0; i < 3; i++) {
		s->ch[i] = (struct pit_channel){ .reload = 65536, .access = 3,
						 .gate = i != 2, .null_count = true };
	}
	s->port61 = 0;
}

static void pit_reset(void *opaque)
{
	struct pit *pit = opaque;

	pthread_mutex_lock(&pit->lock);
	pit_state_reset(&pit->s);
	update_timer(pit);
	pthread_mutex_unlock(&pit->lock);
}

void pit_state_put(struct vmstate_out *o, const struct pit_state *s)
{
	for (int i = 0; i < 3; i++) {
		const struct pit_channel *c = &s->ch[i];

		vmstate_put_u32(o, c->reload);
		vmstate_put_u8(o, c->mode);
		vmstate_put_u8(o, c->access);
		vmstate_put_bool(o, c->bcd);
		vmstate_put_bool(o, c->gate);
		vmstate_put_bool(o, c->armed);
		vmstate_put_u64(o, c->start_ns);
		vmstate_put_bool(o, c->write_hi_next);
		vmstate_put_bool(o, c->read_hi_next);
		vmstate_put_u8(o, c->write_lo);
		vmstate_put_bool(o, c->latched);
		vmstate_put_u16(o, c->latch);
		vmstate_put_bool(o, c->status_latched);
		vmstate_put_u8(o, c->status);
		vmstate_put_bool(o, c->null_count);
	}
	vmstate_put_u8(o, s->port61);
}

int pit_state_get(struct vmstate_in *in, struct pit_state *s)
{
	for (int i = 0; i < 3; i++) {
		struct pit_channel *c = &s->ch[i];

		c->reload = vmstate_get_u32(in);
		c->mode = vmstate_get_u8(in);
		c->access = vmstate_get_u8(in);
		c->bcd = vmstate_get_bool(in);
		c->gate = vmstate_get_bool(in);
		c->armed = vmstate_get_bool(in);
		c->start_ns = vmstate_get_u64(in);
		c->write_hi_next = vmstate_get_bool(in);
		c->read_hi_next = vmstate_get_bool(in);
		c->write_lo = vmstate_get_u8(in);
		c->latched = vmstate_get_bool(in);
		c->latch = vmstate_get_u16(in);
		c->status_latched = vmstate_get_bool(in);
		c->status = vmstate_get_u8(in);
		c->null_count = vmstate_get_bool(in);
		if (!in->error && (c->reload < 1 || c->reload > 65536 || c->mode > 5 ||
				   c->access < 1 || c->access > 3))
			vmstate_fail(in, -EINVAL, "PIT: channel %d state out of range", i);
	}
	s->port61 = vmstate_get_u8(in) & 3;
	return in->error;
}

/* Channel times are guest-clock times, which a restore carries over. */
static void pit_save(void *opaque, struct vmstate_out *o)
{
	struct pit *pit = opaque;

	pthread_mutex_lock(&pit->lock);
	pit_state_put(o, &pit->s);
	pthread_mutex_unlock(&pit->lock);
}

static int pit_load(void *opaque, struct vmstate_in *in)
{
	struct pit *pit = opaque;
	struct pit_state s;
	int ret = pit_state_get(in, &s);

	pthread_mutex_lock(&pit->lock);
	if (ret)
		pit_state_reset(&pit->s);
	else
		pit->s = s;
	update_timer(pit);
	pthread_mutex_unlock(&pit->lock);
	return ret;
}

static void pit_destroy(void *opaque)
{
	struct pit *pit = opaque;

	event_loop_remove_fd(pit->vm->loop, pit->timer_fd);
	close(pit->timer_fd);
	pthread_mutex_destroy(&pit->lock);
	free(pit);
}

struct pit *pit_create(struct vm *vm)
{
	struct pit *pit = calloc(1, sizeof(*pit));
	struct device_hooks hooks = { pit_reset, pit_destroy, NULL, "pit", PIT_STATE_VERSION,
				      pit_save, pit_load };

	if (!pit)
		return NULL;
	pit->vm = vm;
	pthread_mutex_init(&pit->lock, NULL);
	pit->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (pit->timer_fd < 0 ||
	    event_loop_add_fd(vm->loop, pit->timer_fd, 1 /* EPOLLIN */, pit_timer_fired, pit) ||
	    bus_register(&vm->pio, 0x40, 4, &pit_ops, pit, "pit") ||
	    bus_register(&vm->pio, 0x61, 1, &port61_ops, pit, "port61")) {
		log_error("cannot create the PIT");
		free(pit);
		return NULL;
	}
	pit_reset(pit);
	hooks.opaque = pit;
	vm_add_device(vm, &hooks);
	return pit;
}

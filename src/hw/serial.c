/*
 * 16550A UART.  Transmitted bytes go straight to the console; received
 * bytes wait in the 16-byte FIFO.  Interrupts (received data, transmitter
 * empty, line status) go to the ISA IRQ line when OUT2 is set in the modem
 * control register, as on a PC.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hw/devices.h"
#include "migration/vmstate.h"
#include "ui/console.h"
#include "vm/vm.h"

enum {
	UART_RBR_THR = 0, UART_IER = 1, UART_IIR_FCR = 2, UART_LCR = 3,
	UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};

#define IER_RDI  0x01 /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI  0x08 /* modem status */

#define IIR_NONE 0x01
#define IIR_MSI  0x00
#define IIR_THRI 0x02
#define IIR_RDI  0x04
#define IIR_RLSI 0x06
#define IIR_TIMEOUT 0x0c
#define IIR_FIFO_ON 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI  0x40
#define MSR_DCD 0x80

#define FIFO_SIZE 16

struct serial {
	struct vm *vm;
	unsigned irq;
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, lsr, scr, fcr;
	uint8_t dll, dlm;
	uint8_t rx[FIFO_SIZE];
	unsigned rx_head, rx_count;
	int thr_interrupt; /* THR-empty interrupt pending until IIR read */
	int irq_level;
};

static unsigned rx_trigger(const struct serial *s)
{
	static const unsigned levels[] = { 1, 4, 8, 14 };

	return (s->fcr & FCR_ENABLE) ? levels[s->fcr >> 6] : 1;
}

static uint8_t serial_iir(const struct serial *s)
{
	uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO_ON : 0;

	if ((s->ier & IER_RLSI) && (s->lsr & LSR_OE))
		return fifo | IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count)
		return fifo | (s->rx_count >= rx_trigger(s) ? IIR_RDI : IIR_TIMEOUT);
	if ((s->ier & IER_THRI) && s->thr_interrupt)
		return fifo | IIR_THRI;
	return fifo | IIR_NONE;
}

/* Called with the lock held after any state change. */
static void serial_update_irq(struct serial *s)
{
	int level = !(serial_iir(s) & IIR_NONE) && (s->mcr & MCR_OUT2);

	if (level != s->irq_level) {
		s->irq_level = level;
		irq_set_line(s->vm, s->irq, level);
	}
}

static int rx_push(struct serial *s, uint8_t b)
{
	unsigned cap = (s->fcr & FCR_ENABLE) ? FIFO_SIZE : 1;

	if (s->rx_count >= cap)
		return 0;
	s->rx[(s->rx_head + s->rx_count) % FIFO_SIZE] = b;
	s->rx_count++;
	s->lsr |= LSR_DR;
	return 1;
}

static uint8_t rx_pop(struct serial *s)
{
	uint8_t b = 0;

	if (s->rx_count) {
		b = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % FIFO_SIZE;
		s->rx_count--;
	}
	if (!s->rx_count)
		s->lsr &= ~LSR_DR;
	return b;
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	/* In loopback mode the outside world is disconnected. */
	if (!(s->mcr & MCR_LOOP))
		while (n < len && rx_push(s, buf[n]))
			n++;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

static uint8_t serial_msr(const struct serial *s)
{
	uint8_t m = s->mcr;

	if (!(m & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS; /* a connected line */
	/* Loopback: modem outputs appear on the modem inputs. */
	return (m & MCR_RTS ? MSR_CTS : 0) | (m & MCR_DTR ? MSR_DSR : 0) |
	       (m & MCR_OUT1 ? MSR_RI : 0) | (m & MCR_OUT2 ? MSR_DCD : 0);
}

static uint64_t serial_read(void *opaque, uint64_t offset, unsigned size)
{
	struct serial *s = opaque;
	int drained = 0;
	uint8_t v = 0xff;

	pthread_mutex_lock(&s->lock);
	switch (offset) {
	case UART_RBR_THR:
		if (s->lcr & LCR_DLAB) {
			v = s->dll;
		} else {
			v = rx_pop(s);
			drained = 1;
		}
		break;
	case UART_IER:
		v = (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
		break;
	case UART_IIR_FCR:
		v = serial_iir(s);
		if ((v & 0x0f) == IIR_THRI)
			s->thr_interrupt = 0; /* reading IIR acknowledges it */
		break;
	case UART_LCR:
		v = s->lcr;
		break;
	case UART_MCR:
		v = s->mcr;
		break;
	case UART_LSR:
		v = s->lsr;
		s->lsr &= ~LSR_OE;
		break;
	case UART_MSR:
		v = serial_msr(s);
		break;
	case UART_SCR:
		v = s->scr;
		break;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (drained)
		console_rx_ready(); /* outside our lock: the console calls back */
	return v;
}

static void serial_transmit(struct serial *s, uint8_t b)
{
	if (s->mcr & MCR_LOOP) {
		if (!rx_push(s, b))
			s->lsr |= LSR_OE;
	} else {
		console_write(&b, 1);
	}
	/* We send at once: the holding register is empty again. */
	s->thr_interrupt = 1;
}

static void serial_write(void *opaque, uint64_t offset, uint64_t value,
			 unsigned size)
{
	struct serial *s = opaque;
	uint8_t v = (uint8_t)value;

	pthread_mutex_lock(&s->lock);
	switch (offset) {
	case UART_RBR_THR:
		if (s->lcr & LCR_DLAB)
			s->dll = v;
		else
			serial_transmit(s, v);
		break;
	case UART_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
		} else {
			/* Enabling the THR interrupt with an empty THR fires it. */
			if ((v & IER_THRI) && !(s->ier & IER_THRI))
				s->thr_interrupt = 1;
			s->ier = v & 0x0f;
		}
		break;
	case UART_IIR_FCR:
		if ((v & FCR_ENABLE) != (s->fcr & FCR_ENABLE) || (v & FCR_CLEAR_RX)) {
			s->rx_count = 0;
			s->lsr &= ~LSR_DR;
		}
		s->fcr = v & 0xc9;
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_reset(void *opaque)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	s->ier = 0;
	s->lcr = 0;
	s->mcr = 0;
	s->fcr = 0;
	s->scr = 0;
	s->lsr = LSR_THRE | LSR_TEMT;
	s->dll = 12; /* 9600 baud */
	s->dlm = 0;
	s->rx_head = s->rx_count = 0;
	s->thr_interrupt = 0;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_destroy(void *opaque)
{
	free(opaque);
}

/* Registers and the receive FIFO; output has already left. */
static void serial_save(void *opaque, struct vmstate_out *o)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	vmstate_put_u8(o, s->ier);
	vmstate_put_u8(o, s->lcr);
	vmstate_put_u8(o, s->mcr);
	vmstate_put_u8(o, s->lsr);
	vmstate_put_u8(o, s->scr);
	vmstate_put_u8(o, s->fcr);
	vmstate_put_u8(o, s->dll);
	vmstate_put_u8(o, s->dlm);
	vmstate_put_bool(o, s->thr_interrupt);
	vmstate_put_u32(o, s->rx_count);
	for (unsigned i = 0; i < s->rx_count; i++)
		vmstate_put_u8(o, s->rx[(s->rx_head + i) % FIFO_SIZE]);
	pthread_mutex_unlock(&s->lock);
}

static int serial_load(void *opaque, struct vmstate_in *in)
{
	struct serial *s = opaque;
	unsigned n;

	pthread_mutex_lock(&s->lock);
	s->ier = vmstate_get_u8(in);
	s->lcr = vmstate_get_u8(in);
	s->mcr = vmstate_get_u8(in);
	s->lsr = vmstate_get_u8(in);
	s->scr = vmstate_get_u8(in);
	s->fcr = vmstate_get_u8(in);
	s->dll = vmstate_get_u8(in);
	s->dlm = vmstate_get_u8(in);
	s->thr_interrupt = vmstate_get_bool(in);
	n = vmstate_get_u32(in);
	if (n > FIFO_SIZE)
		vmstate_fail(in, -EINVAL, "serial: %u bytes in a FIFO of %u", n, FIFO_SIZE);
	s->rx_head = 0;
	s->rx_count = in->error ? 0 : n;
	vmstate_get_bytes(in, s->rx, s->rx_count);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return in->error;
}

static const struct io_ops serial_ops = {
	.read = serial_read,
	.write = serial_write,
};

struct serial *serial_create(struct vm *vm, uint16_t base, unsigned irq)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->vm = vm;
	s->irq = irq;
	pthread_mutex_init(&s->lock, NULL);
	serial_reset(s);
	if (bus_register(&vm->pio, base, 8, &serial_ops, s, "serial")) {
		free(s);
		return NULL;
	}
	vm_add_device(vm, &(struct device_hooks){ serial_reset, serial_destroy, s,
		      "serial", 1, serial_save, serial_load });
	return s;
}

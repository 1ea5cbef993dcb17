/*
 * i8042 keyboard controller: enough of it for firmware and Linux to probe
 * it and, above all, to reset the machine (command 0xFE, or clearing bit 0
 * of the output port) and to gate A20 (bit 1 of the output port, shared
 * with port 0x92: hw/port92.c).
 *
 * With a display (--vga std) a PS/2 keyboard (hw/ps2_kbd.c) and a PS/2
 * mouse on the AUX port (hw/ps2_mouse.c) are attached: their bytes reach
 * the output buffer while the controller has nothing of its own there,
 * raising IRQ 1 (keyboard, configuration bit 0) or IRQ 12 (mouse, bit 1,
 * status bit 5) while the buffer is full; the viewer's keys and pointer
 * arrive through the display (display_key, display_pointer).
 * Headless, the AUX port has no working mouse: its interface test fails,
 * so Linux does not wait on it; and no keyboard is attached: a byte sent
 * to it comes back as a
 * transmit time-out (status bit 6 with 0xFE in the output buffer), so
 * firmware that resets the keyboard learns at once that none answers
 * instead of waiting out its own time-out (a second in SeaBIOS).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "hw/devices.h"
#include "hw/ps2_kbd.h"
#include "hw/ps2_mouse.h"
#include "ui/display.h"
#include "migration/vmstate.h"
#include "vm/vm.h"

#define I8042_DATA 0x60
#define I8042_CMD 0x64

#define STATUS_OBF 0x01   /* output buffer full */
#define STATUS_SYS 0x04   /* system flag: self-test passed */
#define STATUS_CMD 0x08   /* last write was a command */
#define STATUS_UNLOCKED 0x10  /* keyboard not inhibited (no keylock) */
#define STATUS_AUX 0x20       /* the output buffer holds a mouse byte */
#define STATUS_TIMEOUT 0x40   /* the device did not answer */
#define KBD_NO_ANSWER 0xfe

#define CTR_KBD_IRQ 0x01
#define CTR_AUX_IRQ 0x02
#define CTR_KBD_DISABLED 0x10
#define CTR_AUX_DISABLED 0x20
#define CTR_TRANSLATE 0x40
#define KBD_IRQ 1
#define AUX_IRQ 12

struct i8042 {
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t status;
	uint8_t out;          /* output buffer */
	uint8_t ctr;          /* controller configuration byte */
	uint8_t pending_cmd;  /* command waiting for its data byte */
	bool has_kbd;         /* a keyboard is attached (with a display) */
	bool out_from_kbd;    /* the output buffer holds a keyboard byte */
	int irq_level, aux_irq_level;
	struct ps2_kbd kbd;
	bool has_mouse;       /* a mouse on the AUX port (with a display) */
	struct ps2_mouse mouse;
};

/* IRQ 1 follows a keyboard byte in the output buffer. */
static void i8042_update_irq(struct i8042 *k)
{
	int level = (k->status & STATUS_OBF) && k->out_from_kbd &&
		    (k->ctr & CTR_KBD_IRQ);

	if (level != k->irq_level) {
		k->irq_level = level;
		irq_set_line(k->vm, KBD_IRQ, level);
	}
	level = (k->status & STATUS_OBF) && (k->status & STATUS_AUX) &&
		(k->ctr & CTR_AUX_IRQ);
	if (level != k->aux_irq_level) {
		k->aux_irq_level = level;
		irq_set_line(k->vm, AUX_IRQ, level);
	}
}

/* A byte in the output buffer: from the controller, the keyboard or the
 * mouse (status bit 5). */
static void i8042_output(struct i8042 *k, uint8_t v, bool from_kbd, bool from_aux)
{
	k->out = v;
	k->status |= STATUS_OBF;
	if (from_aux)
		k->status |= STATUS_AUX;
	else
		k->status &= ~STATUS_AUX;
	k->out_from_kbd = from_kbd;
}

/* Move the keyboard's next byte into an empty output buffer. */
static void i8042_pump(struct i8042 *k)
{
	int b;

	if (k->has_kbd && !(k->status & STATUS_OBF) &&
	    !(k->ctr & CTR_KBD_DISABLED) && (b = ps2_kbd_read(&k->kbd)) >= 0)
		i8042_output(k, b, true, false);
	if (k->has_mouse && !(k->status & STATUS_OBF) &&
	    !(k->ctr & CTR_AUX_DISABLED) && (b = ps2_mouse_read(&k->mouse)) >= 0)
		i8042_output(k, b, false, true);
	i8042_update_irq(k);
}

static void i8042_reply(struct i8042 *k, uint8_t v)
{
	i8042_output(k, v, false, false);
}

static void i8042_command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case 0x20: /* read configuration byte */
		i8042_reply(k, k->ctr);
		break;
	case 0x60: /* write configuration byte: data follows */
	case 0xd1: /* write output port: data follows */
	case 0xd3: /* write the AUX output buffer (loop-back): data follows */
	case 0xd4: /* write to the mouse: data follows */
		k->pending_cmd = cmd;
		break;
	case 0xaa: /* controller self-test */
		i8042_reply(k, 0x55);
		break;
	case 0xab: /* keyboard interface test: passes */
		i8042_reply(k, 0x00);
		break;
	case 0xa9: /* aux interface test: passes with a mouse; without,
		    * the clock line is stuck high: no port */
		i8042_reply(k, k->has_mouse ? 0x00 : 0x02);
		break;
	case 0xa7: /* disable, enable the aux port */
		k->ctr |= CTR_AUX_DISABLED;
		break;
	case 0xa8:
		k->ctr &= ~CTR_AUX_DISABLED;
		break;
	case 0xad: /* disable, enable the keyboard port */
		k->ctr |= CTR_KBD_DISABLED;
		break;
	case 0xae:
		k->ctr &= ~CTR_KBD_DISABLED;
		break;
	case 0xd0: /* read output port: reset line high, the A20 gate */
		i8042_reply(k, 0x01 | (a20_enabled(k->vm) ? 0x02 : 0));
		break;
	case 0xdd: /* A20 off, on (some controllers' short forms) */
	case 0xdf:
		a20_set(k->vm, cmd == 0xdf);
		break;
	case 0xfe: /* pulse the reset line */
		vm_request_stop(k->vm, VM_STOP_RESET, 0);
		break;
	default: /* enable/disable ports and the rest: nothing to do */
		break;
	}
}

static void i8042_data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	if (cmd == 0x60) {
		k->ctr = v;
	} else if (cmd == 0xd1) {
		/* Bit 1 drives the A20 gate, bit 0 low resets the machine. */
		a20_set(k->vm, v & 2);
		if (!(v & 1))
			vm_request_stop(k->vm, VM_STOP_RESET, 0);
	} else if (cmd == 0xd3 && k->has_mouse) {
		i8042_output(k, v, false, true);
	} else if (cmd == 0xd4 && k->has_mouse) {
		/* To the mouse; sending enables its port. */
		k->ctr &= ~CTR_AUX_DISABLED;
		ps2_mouse_write(&k->mouse, v);
	} else if (cmd == 0xd3 || cmd == 0xd4) {
		/* No mouse: nobody answers. */
		i8042_reply(k, KBD_NO_ANSWER);
		k->status |= STATUS_TIMEOUT;
	} else if (k->has_kbd) {
		/* To the keyboard; sending enables its port. */
		k->ctr &= ~CTR_KBD_DISABLED;
		ps2_kbd_write(&k->kbd, v, k->ctr & CTR_TRANSLATE);
	} else {
		/* For the absent keyboard: no ACK, a time-out. */
		i8042_reply(k, KBD_NO_ANSWER);
		k->status |= STATUS_TIMEOUT;
	}
}

static uint64_t i8042_access_read(struct i8042 *k, int data_port)
{
	uint8_t v;

	pthread_mutex_lock(&k->lock);
	if (data_port) {
		v = k->out;
		k->status &= ~(STATUS_OBF | STATUS_TIMEOUT | STATUS_AUX);
		/* The line drops as the byte is read and rises again with
		 * the next one: an edge per byte for the (edge) ISA IRQ. */
		i8042_update_irq(k);
		i8042_pump(k);
	} else {
		v = k->status;
	}
	pthread_mutex_unlock(&k->lock);
	return v;
}

static void i8042_access_write(struct i8042 *k, int data_port, uint8_t value)
{
	pthread_mutex_lock(&k->lock);
	if (data_port) {
		k->status &= ~STATUS_CMD;
		i8042_data(k, value);
	} else {
		k->status |= STATUS_CMD;
		i8042_command(k, value);
	}
	i8042_pump(k);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_reset(void *opaque)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	k->status = STATUS_SYS | STATUS_UNLOCKED;
	k->ctr = 0x45; /* keyboard IRQ, system flag, translation */
	k->pending_cmd = 0;
	k->out_from_kbd = false;
	ps2_kbd_reset(&k->kbd);
	ps2_mouse_reset(&k->mouse);
	i8042_update_irq(k);
	pthread_mutex_unlock(&k->lock);
}

static uint64_t i8042_data_read(void *opaque, uint64_t offset, unsigned size)
{
	return i8042_access_read(opaque, 1);
}

static uint64_t i8042_status_read(void *opaque, uint64_t offset, unsigned size)
{
	return i8042_access_read(opaque, 0);
}

static void i8042_data_write(void *opaque, uint64_t offset, uint64_t value,
			     unsigned size)
{
	i8042_access_write(opaque, 1, (uint8_t)value);
}

static void i8042_cmd_write(void *opaque, uint64_t offset, uint64_t value,
			    unsigned size)
{
	i8042_access_write(opaque, 0, (uint8_t)value);
}

static const struct io_ops i8042_data_ops = {
	.read = i8042_data_read,
	.write = i8042_data_write,
};

static const struct io_ops i8042_cmd_ops = {
	.read = i8042_status_read,
	.write = i8042_cmd_write,
};

/*
 * Version 2 adds which device the output byte came from and the
 * keyboard's and mouse's own state: their queues of bytes for the host
 * (keys typed and packets not read yet), the command waiting for a
 * parameter, scancode set, rate, resolution, scaling, reporting and
 * buttons.  A version 1 state leaves them as reset makes them.
 */
#define I8042_STATE_VERSION 2

static void put_queue(struct vmstate_out *o, const uint8_t *q, unsigned size,
		      unsigned head, unsigned count)
{
	vmstate_put_u8(o, count);
	for (unsigned i = 0; i < count; i++)
		vmstate_put_u8(o, q[(head + i) % size]);
}

/* Oldest first from 0; a damaged count is clamped to the queue. */
static unsigned get_queue(struct vmstate_in *in, uint8_t *q, unsigned size)
{
	unsigned count = vmstate_get_u8(in), i;

	for (i = 0; i < count; i++) {
		uint8_t b = vmstate_get_u8(in);

		if (i < size)
			q[i] = b;
	}
	return count < size ? count : size;
}

static void i8042_save(void *opaque, struct vmstate_out *o)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	vmstate_put_u8(o, k->status);
	vmstate_put_u8(o, k->out);
	vmstate_put_u8(o, k->ctr);
	vmstate_put_u8(o, k->pending_cmd);
	vmstate_put_bool(o, k->out_from_kbd);
	put_queue(o, k->kbd.queue, PS2_KBD_QUEUE, k->kbd.head, k->kbd.count);
	vmstate_put_u8(o, k->kbd.pending);
	vmstate_put_u8(o, k->kbd.set);
	vmstate_put_bool(o, k->kbd.scanning);
	put_queue(o, k->mouse.queue, PS2_MOUSE_QUEUE, k->mouse.head, k->mouse.count);
	vmstate_put_u8(o, k->mouse.pending);
	vmstate_put_u8(o, k->mouse.rate);
	vmstate_put_u8(o, k->mouse.resolution);
	vmstate_put_bool(o, k->mouse.scaling21);
	vmstate_put_bool(o, k->mouse.reporting);
	vmstate_put_u8(o, k->mouse.buttons);
	pthread_mutex_unlock(&k->lock);
}

static void load_devices(struct i8042 *k, struct vmstate_in *in)
{
	uint8_t set;

	k->out_from_kbd = vmstate_get_bool(in);
	k->kbd.head = 0;
	k->kbd.count = get_queue(in, k->kbd.queue, PS2_KBD_QUEUE);
	k->kbd.pending = vmstate_get_u8(in);
	set = vmstate_get_u8(in);
	k->kbd.set = set >= 1 && set <= 3 ? set : 2;
	k->kbd.scanning = vmstate_get_bool(in);
	k->mouse.head = 0;
	k->mouse.count = get_queue(in, k->mouse.queue, PS2_MOUSE_QUEUE);
	k->mouse.pending = vmstate_get_u8(in);
	k->mouse.rate = vmstate_get_u8(in);
	k->mouse.resolution = vmstate_get_u8(in) & 3;
	k->mouse.scaling21 = vmstate_get_bool(in);
	k->mouse.reporting = vmstate_get_bool(in);
	k->mouse.buttons = vmstate_get_u8(in) & 7;
}

static int i8042_load(void *opaque, struct vmstate_in *in)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	k->status = vmstate_get_u8(in);
	k->out = vmstate_get_u8(in);
	k->ctr = vmstate_get_u8(in);
	k->pending_cmd = vmstate_get_u8(in);
	if (in->version >= 2) {
		load_devices(k, in);
	} else {
		k->out_from_kbd = !(k->status & STATUS_AUX);
		ps2_kbd_reset(&k->kbd);
		ps2_mouse_reset(&k->mouse);
	}
	/* The lines as the loaded output buffer wants them. */
	k->irq_level = k->aux_irq_level = -1;
	i8042_update_irq(k);
	pthread_mutex_unlock(&k->lock);
	return in->error;
}

static void i8042_destroy(void *opaque)
{
	free(opaque);
}

/* A key from the display's viewer. */
static void i8042_key(void *opaque, unsigned scancode, bool down)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	ps2_kbd_key(&k->kbd, scancode, down, k->ctr & CTR_TRANSLATE);
	i8042_pump(k);
	pthread_mutex_unlock(&k->lock);
}

/* The viewer's pointer moved (relative) or its buttons changed. */
static void i8042_pointer(void *opaque, int dx, int dy, unsigned buttons)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	ps2_mouse_move(&k->mouse, dx, dy, buttons);
	i8042_pump(k);
	pthread_mutex_unlock(&k->lock);
}

static const struct display_input_ops i8042_input_ops = {
	.key = i8042_key,
	.pointer = i8042_pointer,
};

void i8042_connect_display(struct vm *vm)
{
	struct i8042 *k = vm->i8042;

	if (!k || !vm->display)
		return;
	pthread_mutex_lock(&k->lock);
	k->has_kbd = true;
	k->has_mouse = true;
	pthread_mutex_unlock(&k->lock);
	display_set_input(vm->display, &i8042_input_ops, k);
}

int i8042_create(struct vm *vm)
{
	struct i8042 *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -1;
	k->vm = vm;
	vm->i8042 = k;
	pthread_mutex_init(&k->lock, NULL);
	i8042_reset(k);
	ret = bus_register(&vm->pio, I8042_DATA, 1, &i8042_data_ops, k, "i8042");
	if (!ret)
		ret = bus_register(&vm->pio, I8042_CMD, 1, &i8042_cmd_ops, k, "i8042");
	vm_add_device(vm, &(struct device_hooks){ i8042_reset, i8042_destroy, k,
		      "i8042", I8042_STATE_VERSION, i8042_save, i8042_load });
	return ret;
}

/*
 * A PS/2 mouse on the i8042's AUX port: the commands firmware and Linux's
 * psmouse send (reset, identify, sample rate, resolution, scaling, status
 * request, stream mode, enable/disable, defaults) and 3-byte movement
 * packets of the buttons and the relative motion a viewer's pointer made.
 * A plain PS/2 mouse (ID 00): no wheel.  Called with the i8042's lock held.
 */
#include "hw/ps2_mouse.h"

#define MOUSE_ACK    0xfa
#define MOUSE_RESEND 0xfe
#define MOUSE_BAT_OK 0xaa

static void put(struct ps2_mouse *m, uint8_t b)
{
	if (m->count == PS2_MOUSE_QUEUE)
		return;
	m->queue[(m->head + m->count++) % PS2_MOUSE_QUEUE] = b;
}

static void defaults(struct ps2_mouse *m)
{
	m->rate = 100;
	m->resolution = 2;
	m->scaling21 = false;
	m->reporting = false;
}

void ps2_mouse_reset(struct ps2_mouse *m)
{
	m->head = m->count = 0;
	m->pending = 0;
	m->buttons = 0;
	defaults(m);
}

int ps2_mouse_read(struct ps2_mouse *m)
{
	uint8_t b;

	if (!m->count)
		return -1;
	b = m->queue[m->head];
	m->head = (m->head + 1) % PS2_MOUSE_QUEUE;
	m->count--;
	return b;
}

void ps2_mouse_write(struct ps2_mouse *m, uint8_t v)
{
	if (m->pending) {
		if (m->pending == 0xf3)
			m->rate = v;
		else if (v <= 3)
			m->resolution = v;
		m->pending = 0;
		put(m, MOUSE_ACK);
		return;
	}
	switch (v) {
	case 0xff:			/* reset: ACK, self-test passed, ID */
		ps2_mouse_reset(m);
		put(m, MOUSE_ACK);
		put(m, MOUSE_BAT_OK);
		put(m, 0x00);
		break;
	case 0xf2:			/* identify: a standard mouse */
		put(m, MOUSE_ACK);
		put(m, 0x00);
		break;
	case 0xf3: case 0xe8:		/* sample rate, resolution: a parameter */
		m->pending = v;
		put(m, MOUSE_ACK);
		break;
	case 0xe9:			/* status request */
		put(m, MOUSE_ACK);
		put(m, (m->reporting ? 0x20 : 0) | (m->scaling21 ? 0x10 : 0) |
		       (m->buttons & 7));
		put(m, m->resolution);
		put(m, m->rate);
		break;
	case 0xe6: case 0xe7:		/* scaling 1:1, 2:1 */
		m->scaling21 = v == 0xe7;
		put(m, MOUSE_ACK);
		break;
	case 0xf4:
		m->reporting = true;
		put(m, MOUSE_ACK);
		break;
	case 0xf5:
		m->reporting = false;
		put(m, MOUSE_ACK);
		break;
	case 0xf6:
		defaults(m);
		put(m, MOUSE_ACK);
		break;
	case 0xea: case 0xf0: case 0xee: case 0xec: case 0xeb:
		/* stream, remote, wrap modes, read data: accepted */
		put(m, MOUSE_ACK);
		break;
	default:
		put(m, MOUSE_RESEND);
		break;
	}
}

static int clamp9(int v)
{
	return v > 255 ? 255 : v < -256 ? -256 : v;
}

void ps2_mouse_move(struct ps2_mouse *m, int dx, int dy, unsigned buttons)
{
	m->buttons = buttons & 7;
	if (!m->reporting)
		return;
	/* One packet per event; keep whole packets only. */
	while (PS2_MOUSE_QUEUE - m->count >= 3) {
		int px = clamp9(dx), py = clamp9(-dy);	/* PS/2: y grows upwards */

		put(m, 0x08 | m->buttons | (px < 0 ? 0x10 : 0) | (py < 0 ? 0x20 : 0));
		put(m, px & 0xff);
		put(m, py & 0xff);
		dx -= px;
		dy += py;
		if (!dx && !dy)
			break;
	}
}

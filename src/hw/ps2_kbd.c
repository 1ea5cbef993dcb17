/*
 * A PS/2 keyboard behind the i8042: the commands firmware and Linux's
 * atkbd send it (reset, identify, scancode set, LEDs, typematic rate,
 * enable/disable) and the keys a viewer presses.  Its native codes are
 * scancode set 2; with the controller's translation on (the PC default,
 * i8042 configuration bit 6) the host sees set 1, which is what keys
 * arrive as (struct display_input_ops), so translated output is the key
 * code itself and untranslated output goes through set1_to_set2.
 * Called with the i8042's lock held.
 */
#include "hw/ps2_kbd.h"

#include <string.h>

#define KBD_ACK      0xfa
#define KBD_BAT_OK   0xaa
#define KBD_ECHO     0xee
#define KBD_RESEND   0xfe
#define KBD_BREAK2   0xf0   /* set 2: the next code is a release */

/* Set 1 make code (without 0xE0) to set 2, from the keyboard's tables. */
static const uint8_t set1_to_set2[0x60] = {
	[0x01] = 0x76, [0x02] = 0x16, [0x03] = 0x1e, [0x04] = 0x26,
	[0x05] = 0x25, [0x06] = 0x2e, [0x07] = 0x36, [0x08] = 0x3d,
	[0x09] = 0x3e, [0x0a] = 0x46, [0x0b] = 0x45, [0x0c] = 0x4e,
	[0x0d] = 0x55, [0x0e] = 0x66, [0x0f] = 0x0d, [0x10] = 0x15,
	[0x11] = 0x1d, [0x12] = 0x24, [0x13] = 0x2d, [0x14] = 0x2c,
	[0x15] = 0x35, [0x16] = 0x3c, [0x17] = 0x43, [0x18] = 0x44,
	[0x19] = 0x4d, [0x1a] = 0x54, [0x1b] = 0x5b, [0x1c] = 0x5a,
	[0x1d] = 0x14, [0x1e] = 0x1c, [0x1f] = 0x1b, [0x20] = 0x23,
	[0x21] = 0x2b, [0x22] = 0x34, [0x23] = 0x33, [0x24] = 0x3b,
	[0x25] = 0x42, [0x26] = 0x4b, [0x27] = 0x4c, [0x28] = 0x52,
	[0x29] = 0x0e, [0x2a] = 0x12, [0x2b] = 0x5d, [0x2c] = 0x1a,
	[0x2d] = 0x22, [0x2e] = 0x21, [0x2f] = 0x2a, [0x30] = 0x32,
	[0x31] = 0x31, [0x32] = 0x3a, [0x33] = 0x41, [0x34] = 0x49,
	[0x35] = 0x4a, [0x36] = 0x59, [0x37] = 0x7c, [0x38] = 0x11,
	[0x39] = 0x29, [0x3a] = 0x58, [0x3b] = 0x05, [0x3c] = 0x06,
	[0x3d] = 0x04, [0x3e] = 0x0c, [0x3f] = 0x03, [0x40] = 0x0b,
	[0x41] = 0x83, [0x42] = 0x0a, [0x43] = 0x01, [0x44] = 0x09,
	[0x45] = 0x77, [0x46] = 0x7e, [0x47] = 0x6c, [0x48] = 0x75,
	[0x49] = 0x7d, [0x4a] = 0x7b, [0x4b] = 0x6b, [0x4c] = 0x73,
	[0x4d] = 0x74, [0x4e] = 0x79, [0x4f] = 0x69, [0x50] = 0x72,
	[0x51] = 0x7a, [0x52] = 0x70, [0x53] = 0x71, [0x56] = 0x61,
	[0x57] = 0x78, [0x58] = 0x07,
	/* only as 0xE0 codes: the Windows and menu keys */
	[0x5b] = 0x1f, [0x5c] = 0x27, [0x5d] = 0x2f,
};

static void put(struct ps2_kbd *k, uint8_t b)
{
	/* A full buffer loses the byte, as a keyboard's overrun would. */
	if (k->count == PS2_KBD_QUEUE)
		return;
	k->queue[(k->head + k->count++) % PS2_KBD_QUEUE] = b;
}

void ps2_kbd_reset(struct ps2_kbd *k)
{
	k->head = k->count = 0;
	k->pending = 0;
	k->scanning = true;
	k->set = 2;
}

int ps2_kbd_read(struct ps2_kbd *k)
{
	uint8_t b;

	if (!k->count)
		return -1;
	b = k->queue[k->head];
	k->head = (k->head + 1) % PS2_KBD_QUEUE;
	k->count--;
	return b;
}

/* A parameter byte for the command k->pending. */
static void command_param(struct ps2_kbd *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	put(k, KBD_ACK);
	if (cmd == 0xf0) {	/* scancode set: 0 asks which */
		if (v == 0)
			put(k, k->set);
		else if (v <= 3)
			k->set = v;
	}
	/* 0xED (LEDs) and 0xF3 (typematic): nothing to show or repeat. */
}

void ps2_kbd_write(struct ps2_kbd *k, uint8_t v, bool translated)
{
	if (k->pending) {
		command_param(k, v);
		return;
	}
	switch (v) {
	case 0xff:		/* reset and self-test */
		ps2_kbd_reset(k);
		put(k, KBD_ACK);
		put(k, KBD_BAT_OK);
		break;
	case 0xf2:		/* identify: an MF2 keyboard */
		put(k, KBD_ACK);
		put(k, 0xab);
		put(k, translated ? 0x41 : 0x83);
		break;
	case 0xed: case 0xf0: case 0xf3:
		k->pending = v;
		put(k, KBD_ACK);
		break;
	case 0xf4:		/* enable scanning */
		k->scanning = true;
		put(k, KBD_ACK);
		break;
	case 0xf5:		/* disable scanning, defaults */
		k->scanning = false;
		put(k, KBD_ACK);
		break;
	case 0xf6:		/* defaults */
		k->set = 2;
		put(k, KBD_ACK);
		break;
	case 0xee:
		put(k, KBD_ECHO);
		break;
	case 0xf7: case 0xf8: case 0xf9: case 0xfa:
	case 0xfb: case 0xfc: case 0xfd: case 0xfe:
		put(k, KBD_ACK);	/* set 3 key modes, resend: accepted */
		break;
	default:
		put(k, KBD_RESEND);	/* not a command */
		break;
	}
}

void ps2_kbd_key(struct ps2_kbd *k, unsigned code, bool down, bool translated)
{
	bool e0 = (code >> 8) == 0xe0;
	uint8_t c = code & 0x7f, s2;

	if (!k->scanning || !c || (code >> 8 && !e0))
		return;
	/* room for the longest sequence (E0 F0 xx), or nothing */
	if (PS2_KBD_QUEUE - k->count < 3)
		return;
	if (translated || k->set == 1) {
		if (e0)
			put(k, 0xe0);
		put(k, down ? c : c | 0x80);
		return;
	}
	s2 = c < sizeof(set1_to_set2) ? set1_to_set2[c] : 0;
	if (!s2)
		return;
	if (e0)
		put(k, 0xe0);
	if (!down)
		put(k, KBD_BREAK2);
	put(k, s2);
}

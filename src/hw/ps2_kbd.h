/* The PS/2 keyboard on the i8042's first port (hw/ps2_kbd.c). */
#ifndef WIRT_HW_PS2_KBD_H
#define WIRT_HW_PS2_KBD_H

#include <stdbool.h>
#include <stdint.h>

#define PS2_KBD_QUEUE 16

struct ps2_kbd {
	uint8_t queue[PS2_KBD_QUEUE];  /* bytes for the host, oldest first */
	unsigned head, count;
	uint8_t pending;               /* command waiting for its parameter */
	uint8_t set;                   /* scancode set 1-3 (2 at power-on) */
	bool scanning;                 /* keys are reported */
};

void ps2_kbd_reset(struct ps2_kbd *k);
/* The next byte for the host, or -1 if none. */
int ps2_kbd_read(struct ps2_kbd *k);
/* A byte from the host (command or parameter); translated: the
 * controller turns set 2 into set 1 (its configuration bit 6). */
void ps2_kbd_write(struct ps2_kbd *k, uint8_t v, bool translated);
/* A key: set 1 make code, 0xE0xx for the extended keys. */
void ps2_kbd_key(struct ps2_kbd *k, unsigned code, bool down, bool translated);

#endif

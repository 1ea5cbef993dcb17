/* The PS/2 mouse on the i8042's AUX port (hw/ps2_mouse.c). */
#ifndef WIRT_HW_PS2_MOUSE_H
#define WIRT_HW_PS2_MOUSE_H

#include <stdbool.h>
#include <stdint.h>

#define PS2_MOUSE_QUEUE 48

struct ps2_mouse {
	uint8_t queue[PS2_MOUSE_QUEUE];  /* bytes for the host, oldest first */
	unsigned head, count;
	uint8_t pending;                 /* command waiting for its parameter */
	uint8_t rate, resolution;
	bool scaling21, reporting;
	uint8_t buttons;                 /* bit 0 left, 1 right, 2 middle */
};

void ps2_mouse_reset(struct ps2_mouse *m);
/* The next byte for the host, or -1 if none. */
int ps2_mouse_read(struct ps2_mouse *m);
/* A byte from the host (i8042 command 0xD4 and its data byte). */
void ps2_mouse_write(struct ps2_mouse *m, uint8_t v);
/* The pointer moved by dx, dy (screen directions: y grows downwards)
 * with these buttons: packets while reporting is on. */
void ps2_mouse_move(struct ps2_mouse *m, int dx, int dy, unsigned buttons);

#endif

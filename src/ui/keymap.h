/* X keysyms to PC scancodes (ui/keymap.c). */
#ifndef WIRT_UI_KEYMAP_H
#define WIRT_UI_KEYMAP_H

#include <stdint.h>

/* The set 1 make code of the key typing keysym (0xE0xx for extended
 * keys), or 0 for a keysym no key of a US layout types. */
unsigned keysym_to_scancode(uint32_t keysym);

#endif

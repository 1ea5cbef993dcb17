/* HPET (hw/hpet.c): where it is and what the ACPI HPET table says of it. */
#ifndef WIRT_HW_HPET_H
#define WIRT_HW_HPET_H

#include <stdint.h>

struct vm;

#define HPET_BASE      0xfed00000ULL
#define HPET_SIZE      0x400
#define HPET_TIMERS    3
#define HPET_PERIOD_FS 10000000u  /* 10 ns: a 100 MHz counter */
#define HPET_VENDOR    0x8086
/* Bits 0-31 of the capabilities: revision 1, timers - 1, 64-bit counter,
 * legacy replacement route capable, vendor.  Also the ACPI table's
 * event timer block ID. */
#define HPET_CAP_LOW   (0x01u | (HPET_TIMERS - 1) << 8 | 1u << 13 | 1u << 15 | \
			(uint32_t)HPET_VENDOR << 16)
/* IOAPIC pins a timer may be routed to (besides legacy replacement):
 * 20-23, which no other device of the board uses. */
#define HPET_ROUTE_CAP 0x00f00000u
/* Smallest period Linux may program in periodic mode, in counter ticks
 * (the ACPI table's minimum clock tick): 100 us. */
#define HPET_MIN_TICK  10000

int hpet_create(struct vm *vm);

#endif

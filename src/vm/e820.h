/* The e820 memory map the guest sees (boot_params, PVH and multiboot). */
#ifndef WIRT_VM_E820_H
#define WIRT_VM_E820_H

#include <stdint.h>

#include "vm/memory.h"

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_ACPI     3

#define E820_MAX_ENTRIES 16

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/*
 * Fill map with the layout of gm; returns the number of entries (sorted,
 * non-overlapping).  Reserved: the EBDA below 640K, the BIOS area, and the
 * firmware image at the top of 4 GiB.
 */
int e820_build(const struct guest_memory *gm, struct e820_entry *map, int max);

#endif

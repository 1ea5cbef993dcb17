/* The e820 memory map derived from the guest memory layout. */
#include "vm/e820.h"

#include "hw/pci.h"

#define EBDA_START 0x9FC00ULL

static int e820_add(struct e820_entry *map, int n, int max, uint64_t addr,
		    uint64_t size, uint32_t type)
{
	if (n >= max || !size)
		return n;
	map[n].addr = addr;
	map[n].size = size;
	map[n].type = type;
	return n + 1;
}

int e820_build(const struct guest_memory *gm, struct e820_entry *map, int max)
{
	int n = 0;

	n = e820_add(map, n, max, 0, EBDA_START, E820_RAM);
	n = e820_add(map, n, max, EBDA_START, GMEM_LEGACY_START - EBDA_START,
		     E820_RESERVED);
	/* BIOS area: firmware tables or the firmware alias. */
	n = e820_add(map, n, max, GMEM_BIOS_START, GMEM_1M - GMEM_BIOS_START,
		     E820_RESERVED);
	n = e820_add(map, n, max, GMEM_1M, gm->low_end - GMEM_1M, E820_RAM);
	/* PCI ECAM: reserved, as Linux expects before it trusts the MCFG. */
	n = e820_add(map, n, max, PCI_ECAM_BASE, PCI_ECAM_SIZE, E820_RESERVED);
	if (gm->rom_size)
		n = e820_add(map, n, max, GMEM_4G - gm->rom_size, gm->rom_size,
			     E820_RESERVED);
	n = e820_add(map, n, max, GMEM_4G, gm->high_size, E820_RAM);
	return n;
}

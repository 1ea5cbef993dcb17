/*
 * Which pages of guest RAM the guest (or a device's DMA) wrote, for live
 * migration's pre-copy rounds: one bit per page of the RAM mapping
 * (vm->mem.ram_base), gathered from the accelerator's per-region log
 * (gmem's dirty_fetch: the emulator's write watch on its code-page map,
 * KVM's dirty log of each RAM slot).
 */
#include "migration/precopy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vm/vm.h"

#define PAGE 4096ULL

uint64_t ram_dirty_pages(const struct vm *vm)
{
	return vm->mem.ram_map_size / PAGE;
}

int ram_dirty_start(struct vm *vm)
{
	struct guest_memory *gm = &vm->mem;

	if (!gm->dirty_fetch)
		return -ENOTSUP;
	if (gm->dirty_log_ram)
		return gm->dirty_log_ram(gm->write_notify_opaque, true);
	return 0;
}

void ram_dirty_stop(struct vm *vm)
{
	struct guest_memory *gm = &vm->mem;

	if (gm->dirty_log_ram)
		gm->dirty_log_ram(gm->write_notify_opaque, false);
}

/* Region r's page i is page first + i of the RAM mapping. */
static void merge(uint64_t *bitmap, const uint64_t *part, uint64_t first, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (part[i / 64] & (1ULL << (i % 64)))
			bitmap[(first + i) / 64] |= 1ULL << ((first + i) % 64);
}

int ram_dirty_fetch(struct vm *vm, uint64_t *bitmap)
{
	struct guest_memory *gm = &vm->mem;
	uint64_t *part = NULL;
	uint64_t part_words = 0;
	int ret = 0;

	for (unsigned i = 0; i < gm->nregions && !ret; i++) {
		const struct gmem_region *r = &gm->regions[i];
		uint64_t n = r->size / PAGE, first;

		/* RAM the guest writes; device memory (VRAM) is the device's. */
		if (r->kind != GMEM_RAM || r->log_dirty || r->hva < gm->ram_base ||
		    r->hva + r->size > gm->ram_base + gm->ram_map_size)
			continue;
		first = (r->hva - gm->ram_base) / PAGE;
		if ((n + 63) / 64 > part_words) {
			free(part);
			part_words = (n + 63) / 64;
			part = malloc(part_words * 8);
			if (!part)
				return -ENOMEM;
		}
		memset(part, 0, (n + 63) / 64 * 8);
		ret = gm->dirty_fetch(gm->write_notify_opaque, i, part);
		if (!ret)
			merge(bitmap, part, first, n);
	}
	free(part);
	return ret;
}

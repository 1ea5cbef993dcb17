/* Guest physical memory: layout of the PC's RAM and firmware, checked access. */
#include "vm/memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

static int add_region(struct guest_memory *gm, uint64_t gpa, uint64_t size,
		      uint8_t *hva, enum gmem_kind kind, const char *name)
{
	struct gmem_region *r;

	if (gm->nregions == GMEM_MAX_REGIONS)
		return -ENOSPC;
	r = &gm->regions[gm->nregions++];
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->kind = kind;
	r->name = name;
	return 0;
}

int gmem_init(struct guest_memory *gm, uint64_t ram_size)
{
	uint64_t low;
	void *p;

	memset(gm, 0, sizeof(*gm));
	if (ram_size < GMEM_MIN_RAM || ram_size > GMEM_MAX_RAM)
		return -EINVAL;
	low = ram_size < GMEM_PCI_HOLE_START ? ram_size : GMEM_PCI_HOLE_START;
	gm->ram_size = ram_size;
	gm->low_end = low;
	gm->high_size = ram_size - low;

	/* One mapping for all RAM; pages are only backed once touched. */
	p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	madvise(p, ram_size, MADV_MERGEABLE);
	gm->ram_base = p;
	gm->ram_map_size = ram_size;

	/* Below 1 MiB the guest-physical address equals the offset in RAM. */
	add_region(gm, 0, GMEM_LEGACY_START, gm->ram_base, GMEM_RAM, "ram-low");
	add_region(gm, GMEM_BIOS_START, GMEM_1M - GMEM_BIOS_START,
		   gm->ram_base + GMEM_BIOS_START, GMEM_RAM, "bios-area");
	add_region(gm, GMEM_1M, low - GMEM_1M, gm->ram_base + GMEM_1M,
		   GMEM_RAM, "ram");
	if (gm->high_size)
		add_region(gm, GMEM_4G, gm->high_size, gm->ram_base + low,
			   GMEM_RAM, "ram-high");
	return 0;
}

int gmem_add_firmware(struct guest_memory *gm, const void *image, size_t size)
{
	uint64_t alias = size < (GMEM_1M - GMEM_BIOS_START) ?
				 size : GMEM_1M - GMEM_BIOS_START;
	unsigned i;
	void *p;

	if (size < (64 << 10) || size > (16 << 20) || (size & 0xfff))
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	memcpy(p, image, size);
	gm->rom_base = p;
	gm->rom_size = size;

	/* The firmware replaces the RAM of the BIOS area below 1 MiB. */
	for (i = 0; i < gm->nregions; i++) {
		struct gmem_region *r = &gm->regions[i];

		if (r->gpa != GMEM_BIOS_START)
			continue;
		r->gpa = GMEM_1M - alias;
		r->size = alias;
		r->hva = gm->rom_base + size - alias;
		r->kind = GMEM_ROM;
		r->name = "bios-alias";
	}
	return add_region(gm, GMEM_4G - size, size, gm->rom_base, GMEM_ROM,
			  "firmware");
}

void gmem_destroy(struct guest_memory *gm)
{
	if (gm->ram_base)
		munmap(gm->ram_base, gm->ram_map_size);
	if (gm->rom_base)
		munmap(gm->rom_base, gm->rom_size);
	memset(gm, 0, sizeof(*gm));
}

const struct gmem_region *gmem_find(const struct guest_memory *gm,
				    uint64_t gpa, uint64_t len)
{
	unsigned i;

	for (i = 0; i < gm->nregions; i++) {
		const struct gmem_region *r = &gm->regions[i];

		/* Written to avoid overflow for any gpa and len. */
		if (gpa >= r->gpa && gpa - r->gpa < r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r;
	}
	return NULL;
}

void *gmem_ptr(const struct guest_memory *gm, uint64_t gpa, uint64_t len)
{
	const struct gmem_region *r = gmem_find(gm, gpa, len);

	return r ? r->hva + (gpa - r->gpa) : NULL;
}

void *gmem_ptr_rw(const struct guest_memory *gm, uint64_t gpa, uint64_t len)
{
	const struct gmem_region *r = gmem_find(gm, gpa, len);

	if (!r || r->kind != GMEM_RAM)
		return NULL;
	return r->hva + (gpa - r->gpa);
}

int gmem_read(const struct guest_memory *gm, uint64_t gpa, void *buf, size_t len)
{
	const void *p = gmem_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int gmem_write(const struct guest_memory *gm, uint64_t gpa, const void *buf,
	       size_t len)
{
	void *p = gmem_ptr_rw(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	gmem_notify_write(gm, gpa, len);
	return 0;
}

void gmem_notify_write(const struct guest_memory *gm, uint64_t gpa, uint64_t len)
{
	if (gm->write_notify && len)
		gm->write_notify(gm->write_notify_opaque, gpa, len);
}

bool gmem_is_ram(const struct guest_memory *gm, uint64_t gpa, uint64_t len)
{
	return gmem_ptr_rw(gm, gpa, len) != NULL;
}

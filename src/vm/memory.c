/* Guest physical memory: layout of the PC's RAM and firmware, checked access. */
#include "vm/memory.h"

#include <errno.h>
#include <stdint.h>
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
	return gmem_init_hole(gm, ram_size, GMEM_PCI_HOLE_START);
}

int gmem_init_hole(struct guest_memory *gm, uint64_t ram_size,
		   uint64_t hole_start)
{
	uint64_t low;
	void *p;

	memset(gm, 0, sizeof(*gm));
	if (ram_size < GMEM_MIN_RAM || ram_size > GMEM_MAX_RAM ||
	    hole_start > GMEM_PCI_HOLE_START || hole_start < GMEM_MIN_RAM)
		return -EINVAL;
	low = ram_size < hole_start ? ram_size : hole_start;
	gm->ram_size = ram_size;
	gm->low_end = low;
	gm->high_size = ram_size - low;

	/* One mapping for all RAM; pages are only backed once touched. */
	p = mmap(NULL, ram_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	madvise(p, ram_size, MADV_MERGEABLE);
	madvise(p, ram_size, MADV_HUGEPAGE);
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

static uint64_t pam_segment_gpa(unsigned seg)
{
	return seg ? 0xC0000 + (seg - 1) * 0x4000ULL : 0xF0000;
}

static uint64_t pam_segment_size(unsigned seg)
{
	return seg ? 0x4000 : 0x10000;
}

/* Point segment seg's region where its attribute says. */
static void pam_apply(struct guest_memory *gm, unsigned seg)
{
	struct gmem_region *r = &gm->regions[gm->pam_region + seg];
	uint64_t alias = gm->rom_size < GMEM_1M - GMEM_BIOS_START ?
				 gm->rom_size : GMEM_1M - GMEM_BIOS_START;
	unsigned a = gm->pam[seg];

	/* The kind is written last: a concurrent reader sees either the old
	 * mapping or the new one with a valid pointer. */
	if (a & GMEM_PAM_RE) {
		r->hva = gm->ram_base + r->gpa;
		r->kind = (a & GMEM_PAM_WE) ? GMEM_RAM : GMEM_ROM;
	} else if (r->gpa >= GMEM_1M - alias) {
		r->kind = GMEM_ROM;
		r->hva = gm->rom_base + gm->rom_size - (GMEM_1M - r->gpa);
	} else {
		r->kind = GMEM_NONE;
	}
}

int gmem_add_firmware(struct guest_memory *gm, const void *image, size_t size)
{
	unsigned i, seg;
	int ret;
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

	ret = add_region(gm, GMEM_4G - size, size, gm->rom_base, GMEM_ROM,
			 "firmware");
	if (ret)
		return ret;
	/* The BIOS area's RAM gives way to the PAM segments, which start
	 * out showing the firmware's last 128 KiB (or nothing) there. */
	for (i = 0; i < gm->nregions; i++)
		if (gm->regions[i].gpa == GMEM_BIOS_START)
			gm->regions[i].kind = GMEM_NONE;
	gm->pam_region = gm->nregions;
	for (seg = 0; seg < GMEM_PAM_SEGMENTS; seg++) {
		ret = add_region(gm, pam_segment_gpa(seg), pam_segment_size(seg),
				 NULL, GMEM_NONE, "pam");
		if (ret)
			return ret;
		pam_apply(gm, seg);
	}
	return 0;
}

void gmem_set_pam(struct guest_memory *gm, unsigned seg, unsigned attr)
{
	attr &= GMEM_PAM_RE | GMEM_PAM_WE;
	if (!gm->pam_region || seg >= GMEM_PAM_SEGMENTS || gm->pam[seg] == attr)
		return;
	gm->pam[seg] = attr;
	pam_apply(gm, seg);
	if (gm->map_notify)
		gm->map_notify(gm->write_notify_opaque, pam_segment_gpa(seg),
			       pam_segment_size(seg));
}

void gmem_reset_pam(struct guest_memory *gm)
{
	unsigned seg;

	for (seg = 0; seg < GMEM_PAM_SEGMENTS; seg++)
		gmem_set_pam(gm, seg, 0);
}

void gmem_destroy(struct guest_memory *gm)
{
	if (gm->ram_base)
		munmap(gm->ram_base, gm->ram_map_size);
	if (gm->rom_base)
		munmap(gm->rom_base, gm->rom_size);
	memset(gm, 0, sizeof(*gm));
}

static bool region_holds(const struct gmem_region *r, uint64_t gpa, uint64_t len)
{
	/* Written to avoid overflow for any gpa and len. */
	return r->kind != GMEM_NONE && gpa >= r->gpa && gpa - r->gpa < r->size &&
	       len <= r->size - (gpa - r->gpa);
}

const struct gmem_region *gmem_find(const struct guest_memory *gm,
				    uint64_t gpa, uint64_t len)
{
	unsigned i;

	for (i = 0; i < gm->nregions; i++)
		if (region_holds(&gm->regions[i], gpa, len))
			return &gm->regions[i];
	return NULL;
}

/* (regions do not overlap: the hint, if it holds the range, is the one
 * gmem_find would return) */
const struct gmem_region *gmem_find_near(const struct guest_memory *gm,
					 const struct gmem_region *hint,
					 uint64_t gpa, uint64_t len)
{
	return hint && region_holds(hint, gpa, len) ? hint : gmem_find(gm, gpa, len);
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

int gmem_add_device_ram(struct guest_memory *gm, const char *name,
			uint8_t *hva, uint64_t size)
{
	int ret;

	if (!size || (size & 0xfff) || ((uintptr_t)hva & 0xfff))
		return -EINVAL;
	ret = add_region(gm, 0, size, hva, GMEM_NONE, name);
	if (ret)
		return ret;
	gm->regions[gm->nregions - 1].log_dirty = true;
	return gm->nregions - 1;
}

static bool overlaps_other(const struct guest_memory *gm, unsigned idx,
			   uint64_t gpa, uint64_t size)
{
	unsigned i;

	for (i = 0; i < gm->nregions; i++) {
		const struct gmem_region *r = &gm->regions[i];

		/* A PAM segment switched off may come back: count it. */
		if (i == idx || (r->kind == GMEM_NONE && r->log_dirty))
			continue;
		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return true;
	}
	return false;
}

int gmem_move_device_ram(struct guest_memory *gm, unsigned idx, uint64_t gpa)
{
	struct gmem_region *r;
	uint64_t old;
	bool was_mapped;
	int ret = 0;

	if (idx >= gm->nregions || !gm->regions[idx].log_dirty)
		return -EINVAL;
	r = &gm->regions[idx];
	old = r->gpa;
	was_mapped = r->kind != GMEM_NONE;
	if (was_mapped && old == gpa)
		return 0;
	if (!was_mapped && !gpa)
		return 0;
	/* Readers see the region gone before its address changes. */
	__atomic_store_n(&r->kind, GMEM_NONE, __ATOMIC_RELEASE);
	if (was_mapped && gm->map_notify)
		gm->map_notify(gm->write_notify_opaque, old, r->size);
	if (!gpa)
		return 0;
	if (gpa > GMEM_MAX_RAM * 4 || overlaps_other(gm, idx, gpa, r->size))
		return -EBUSY;
	r->gpa = gpa;
	__atomic_store_n(&r->kind, GMEM_RAM, __ATOMIC_RELEASE);
	if (gm->map_notify)
		gm->map_notify(gm->write_notify_opaque, gpa, r->size);
	return ret;
}

int gmem_add_rom_device(struct guest_memory *gm, const char *name,
			uint64_t gpa, uint8_t *hva, uint64_t size)
{
	unsigned i;
	int ret;

	if (!size || ((gpa | size) & 0xfff) || ((uintptr_t)hva & 0xfff))
		return -EINVAL;
	for (i = 0; i < gm->nregions; i++) {
		const struct gmem_region *r = &gm->regions[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EBUSY;
	}
	ret = add_region(gm, gpa, size, hva, GMEM_ROM, name);
	if (ret)
		return ret;
	gm->regions[gm->nregions - 1].rom_device = true;
	return gm->nregions - 1;
}

void gmem_rom_device_set_array(struct guest_memory *gm, unsigned idx,
			       bool array)
{
	enum gmem_kind kind = array ? GMEM_ROM : GMEM_NONE;
	struct gmem_region *r;

	if (idx >= gm->nregions || !gm->regions[idx].rom_device)
		return;
	r = &gm->regions[idx];
	if (r->kind == kind)
		return;
	__atomic_store_n(&r->kind, kind, __ATOMIC_RELEASE);
	if (gm->map_notify)
		gm->map_notify(gm->write_notify_opaque, r->gpa, r->size);
}

void gmem_fetch_dirty(struct guest_memory *gm, unsigned idx, uint64_t *bitmap)
{
	const struct gmem_region *r = &gm->regions[idx];
	uint64_t pages = r->size >> 12;

	memset(bitmap, 0, (pages + 63) / 64 * 8);
	if (r->kind != GMEM_NONE && gm->dirty_fetch &&
	    gm->dirty_fetch(gm->write_notify_opaque, idx, bitmap) == 0)
		return;
	memset(bitmap, 0xff, (pages + 63) / 64 * 8);
}

/*
 * Guest physical memory: a small set of regions, each backed by host memory.
 *
 * Every access a device or the emulator makes on behalf of the guest goes
 * through these helpers, which check that the whole range lies inside one
 * region: a guest can never make the VMM touch memory outside guest RAM.
 */
#ifndef WIRT_VM_MEMORY_H
#define WIRT_VM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 24

enum gmem_kind {
	GMEM_RAM, /* guest-writable */
	GMEM_ROM, /* guest writes are ignored (firmware) */
	GMEM_NONE, /* switched off (a PAM segment reading from the bus) */
};

/*
 * With firmware, 0xC0000-0xFFFFF is split into the 13 segments of the
 * host bridge's PAM registers (Programmable Attribute Map; Intel 3 Series
 * / Q35 MCH datasheet): segment 0 is 0xF0000-0xFFFFF, segments 1-12 are
 * 16 KiB each from 0xC0000.  Each reads either RAM (RE) or, with RE off,
 * the firmware image's alias (0xE0000 up) or nothing; writes reach RAM
 * only with both RE and WE set.  A write-only segment (WE without RE) is
 * modelled as RE off: firmware does not use that mode.
 */
#define GMEM_PAM_SEGMENTS 13
#define GMEM_PAM_RE 0x1
#define GMEM_PAM_WE 0x2

struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	enum gmem_kind kind;
	const char *name;
	bool log_dirty;  /* device memory whose written pages are tracked */
	bool rom_device; /* flash: reads as ROM, writes go to the MMIO bus */
};

struct guest_memory {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	unsigned nregions;
	uint64_t ram_size;   /* what the user asked for */
	uint64_t low_end;    /* end of RAM below the PCI hole */
	uint64_t high_size;  /* RAM mapped at 4 GiB and above */
	uint8_t *ram_base;   /* the one host mapping holding all RAM */
	uint64_t ram_map_size;
	uint8_t *rom_base;   /* firmware image, if any */
	uint64_t rom_size;
	unsigned pam_region; /* first of the PAM segments' regions, 0 if none */
	uint8_t pam[GMEM_PAM_SEGMENTS];
	/*
	 * Told when the map of [gpa, gpa+len) changed (PAM): the emulator
	 * drops translations and decoded code of it.  NULL under KVM.
	 */
	void (*map_notify)(void *opaque, uint64_t gpa, uint64_t len);
	/*
	 * Told about every write to guest RAM made from outside the vCPUs
	 * (device DMA, boot loading), so the emulator can drop code it has
	 * decoded from that memory.  NULL under KVM.
	 */
	void (*write_notify)(void *opaque, uint64_t gpa, uint64_t len);
	void *write_notify_opaque;
	/*
	 * The accelerator's dirty-page log of region idx (log_dirty): sets a
	 * bit per 4 KiB page written by the guest since the last call (all
	 * of them on the first) and starts over; 0 or negative errno.
	 */
	int (*dirty_fetch)(void *opaque, unsigned idx, uint64_t *bitmap);
	/*
	 * Live migration: have dirty_fetch work on every RAM region too
	 * (on), or stop.  NULL where it always does (the emulator).
	 */
	int (*dirty_log_ram)(void *opaque, bool on);
};

/* Guest-physical layout of the PC. */
#define GMEM_PCI_HOLE_START 0xC0000000ULL  /* low RAM never goes above 3 GiB */
#define GMEM_4G             0x100000000ULL
#define GMEM_LEGACY_START   0xA0000ULL     /* VGA window, option ROMs, BIOS */
#define GMEM_BIOS_START     0xE0000ULL     /* last 128 KiB below 1 MiB */
#define GMEM_1M             0x100000ULL
#define GMEM_MIN_RAM        (16ULL << 20)
#define GMEM_MAX_RAM        (1ULL << 40)

/*
 * Allocate guest RAM of ram_size bytes and lay it out: [0, 640K), the BIOS
 * area [0xE0000, 1M) (RAM for firmware tables, or the firmware alias),
 * [1M, low_end) and [4G, 4G + rest).  Returns 0 or negative errno.
 */
int gmem_init(struct guest_memory *gm, uint64_t ram_size);

/*
 * The same with low RAM ending at hole_start (at most
 * GMEM_PCI_HOLE_START).  With firmware, RAM of GMEM_FW_BIG_RAM or more
 * keeps below GMEM_FW_PCI_HOLE_START, as on QEMU's q35: firmware puts
 * ECAM at 0xB0000000 (PCIEXBAR), which must not be RAM.
 */
int gmem_init_hole(struct guest_memory *gm, uint64_t ram_size,
		   uint64_t hole_start);
#define GMEM_FW_PCI_HOLE_START 0x80000000ULL
#define GMEM_FW_BIG_RAM        0xB0000000ULL

/*
 * Map a flat firmware image so that it ends at 4 GiB, its last 128 KiB also
 * visible at 0xE0000-0xFFFFF.  Call after gmem_init; size 64 KiB..16 MiB.
 */
int gmem_add_firmware(struct guest_memory *gm, const void *image, size_t size);

/*
 * Flash memory below the firmware image (a pflash variable store): size
 * bytes at hva, read like ROM at gpa while the device is in read-array
 * mode, while every write goes to the device on the MMIO bus (which the
 * caller registers over the same range).  Returns the region's index or
 * negative errno (-EBUSY if it would overlap other memory).
 */
int gmem_add_rom_device(struct guest_memory *gm, const char *name,
			uint64_t gpa, uint8_t *hva, uint64_t size);
/*
 * Region idx reads as memory (array true) or from the MMIO bus (status
 * and query modes): the accelerators drop their mappings of it.
 */
void gmem_rom_device_set_array(struct guest_memory *gm, unsigned idx,
			       bool array);

/*
 * Set PAM segment seg's attribute (GMEM_PAM_RE | GMEM_PAM_WE); all start
 * at 0 (reads from the firmware alias).  Without firmware there are no
 * segments and nothing changes.
 */
void gmem_set_pam(struct guest_memory *gm, unsigned seg, unsigned attr);
/* Every segment back to 0, as at power-on. */
void gmem_reset_pam(struct guest_memory *gm);

void gmem_destroy(struct guest_memory *gm);

/* The region containing [gpa, gpa+len), or NULL if none holds all of it. */
const struct gmem_region *gmem_find(const struct guest_memory *gm,
				    uint64_t gpa, uint64_t len);
/* The same, trying hint (a region found before, or NULL) first: callers
 * whose lookups stay in one region (page walks) skip the scan. */
const struct gmem_region *gmem_find_near(const struct guest_memory *gm,
					 const struct gmem_region *hint,
					 uint64_t gpa, uint64_t len);

/*
 * Host pointer for [gpa, gpa+len) if that range lies in one region, else
 * NULL.  gmem_ptr_rw also refuses ROM.
 */
void *gmem_ptr(const struct guest_memory *gm, uint64_t gpa, uint64_t len);
void *gmem_ptr_rw(const struct guest_memory *gm, uint64_t gpa, uint64_t len);

/* Copy to/from the guest; -EFAULT if any byte is outside RAM/ROM. */
int gmem_read(const struct guest_memory *gm, uint64_t gpa, void *buf, size_t len);
int gmem_write(const struct guest_memory *gm, uint64_t gpa, const void *buf,
	       size_t len);

/* Is [gpa, gpa+len) entirely RAM the guest may use? */
/* Code that writes through a gmem_ptr_rw pointer calls this afterwards. */
void gmem_notify_write(const struct guest_memory *gm, uint64_t gpa, uint64_t len);

bool gmem_is_ram(const struct guest_memory *gm, uint64_t gpa, uint64_t len);

/*
 * Device memory the guest reaches like RAM (a display adapter's VRAM in
 * a PCI BAR): size bytes at hva (page-aligned), unmapped at first.
 * Returns the region's index or negative errno.  Writes to it are
 * tracked per page (gmem_fetch_dirty).
 */
int gmem_add_device_ram(struct guest_memory *gm, const char *name,
			uint8_t *hva, uint64_t size);
/*
 * Map device memory idx at gpa, or unmap it with gpa 0 (its BAR moved
 * or decoding went off).  -EBUSY (left unmapped) if it would overlap
 * other memory.
 */
int gmem_move_device_ram(struct guest_memory *gm, unsigned idx, uint64_t gpa);
/*
 * The pages of device memory idx the guest wrote since the last call:
 * bitmap gets one bit per 4 KiB page (cleared first).  Without a log
 * (unmapped, or the accelerator keeps none) every page is reported.
 */
void gmem_fetch_dirty(struct guest_memory *gm, unsigned idx, uint64_t *bitmap);

#endif

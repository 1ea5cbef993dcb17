/*
 * Loading a Linux kernel: bzImage through the x86 boot protocol (entered in
 * 64-bit mode), or an uncompressed vmlinux ELF through its PVH entry note.
 */
#ifndef WIRT_VM_LINUX_BOOT_H
#define WIRT_VM_LINUX_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "accel/cpu_state.h"
#include "vm/memory.h"

/* What the setup header of a bzImage says, after validation. */
struct bzimage_info {
	uint16_t version;        /* boot protocol version, e.g. 0x020f */
	uint8_t setup_sects;
	uint64_t setup_size;     /* bytes of real-mode setup code incl. sector 0 */
	uint64_t kernel_offset;  /* where the protected-mode kernel starts in the file */
	uint64_t kernel_size;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint8_t xloadflags;
	uint32_t cmdline_size;   /* max command line length (without NUL) */
	uint64_t pref_address;
	uint32_t init_size;      /* memory the kernel needs from its load address */
};

/*
 * Validate a bzImage; on failure return -ENOEXEC (or -EINVAL) and put one
 * line in err saying why (not a kernel, protocol too old, not 64-bit
 * capable, truncated).
 */
int bzimage_parse(const void *image, size_t size, struct bzimage_info *info,
		  char *err, size_t err_len);

/* The PVH entry point from a vmlinux ELF's Xen note; -ENOEXEC if absent. */
int pvh_find_entry(const void *elf, size_t size, uint32_t *entry,
		   char *err, size_t err_len);

/* Is this image an ELF file? */
int image_is_elf(const void *image, size_t size);

struct linux_boot_args {
	const void *kernel;
	size_t kernel_size;
	const void *initrd; /* may be NULL */
	size_t initrd_size;
	const char *cmdline;
	const char *kernel_name; /* the --kernel path (multiboot passes it on) */
	uint64_t rsdp_addr; /* ACPI RSDP for the guest, 0 if none */
};

/*
 * Load a bzImage or vmlinux (chosen by content) into guest memory with its
 * initrd and command line, write boot_params / hvm_start_info and the e820
 * map, and fill *bsp with the entry state.  -errno with err set on failure.
 */
int linux_boot_load(struct guest_memory *gm, const struct linux_boot_args *a,
		    struct cpu_state *bsp, char *err, size_t err_len);

/* Flat 32-bit protected mode (GDT at BOOT_GDT_ADDR, paging off), the entry
 * state of PVH and multiboot kernels. */
void boot_flat_protected_mode(struct guest_memory *gm, struct cpu_state *s);

/* Fixed guest-physical addresses used by boot code. */
#define BOOT_GDT_ADDR       0x1000
#define BOOT_ZERO_PAGE_ADDR 0x7000
#define BOOT_PVH_INFO_ADDR  0x6000
#define BOOT_CMDLINE_ADDR   0x20000
#define BOOT_CMDLINE_MAX    0x10000
#define BOOT_PML4_ADDR      0x9000
#define BOOT_PDPT_ADDR      0xA000
#define BOOT_PD_ADDR        0xB000  /* 4 pages: identity map of 4 GiB */

#endif

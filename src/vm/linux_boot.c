/*
 * Linux kernel loading.
 *
 * bzImage: the x86 boot protocol (Documentation/arch/x86/boot.rst), entered
 * at the 64-bit entry point with identity-mapped page tables, a flat GDT
 * and the zero page (boot_params) in RSI.
 * vmlinux: an ELF whose Xen note XEN_ELFNOTE_PHYS32_ENTRY gives the PVH
 * entry, entered in 32-bit protected mode with hvm_start_info in EBX.
 */
#include "vm/linux_boot.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/parse.h"
#include "vm/e820.h"
#include "vm/multiboot.h"

/* Setup header fields: offsets in the bzImage file and in boot_params. */
#define HDR_SETUP_SECTS      0x1f1
#define HDR_BOOT_FLAG        0x1fe
#define HDR_JUMP             0x200
#define HDR_MAGIC            0x202
#define HDR_VERSION          0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS        0x211
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_HEAP_END_PTR     0x224
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE      0x234
#define HDR_XLOADFLAGS       0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE        0x260
#define HDR_END_MAX          0x290

#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_E820_TABLE        0x2d0
#define BP_E820_MAX          128

#define HDRS_MAGIC 0x53726448 /* "HdrS" */
#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01
#define MIN_PROTOCOL 0x0206   /* cmdline_size, 64-bit entry era */

#define KERNEL_LOAD_ADDR 0x100000ULL

#define PVH_START_MAGIC 0x336ec578
#define XEN_ELFNOTE_PHYS32_ENTRY 18

static uint8_t rd8(const uint8_t *p, size_t off) { return p[off]; }
static uint16_t rd16(const uint8_t *p, size_t off) { uint16_t v; memcpy(&v, p + off, 2); return v; }
static uint32_t rd32(const uint8_t *p, size_t off) { uint32_t v; memcpy(&v, p + off, 4); return v; }
static uint64_t rd64(const uint8_t *p, size_t off) { uint64_t v; memcpy(&v, p + off, 8); return v; }
static void wr8(uint8_t *p, size_t off, uint8_t v) { p[off] = v; }
static void wr16(uint8_t *p, size_t off, uint16_t v) { memcpy(p + off, &v, 2); }
static void wr32(uint8_t *p, size_t off, uint32_t v) { memcpy(p + off, &v, 4); }

int image_is_elf(const void *image, size_t size)
{
	return size >= SELFMAG && !memcmp(image, ELFMAG, SELFMAG);
}

int bzimage_parse(const void *image, size_t size, struct bzimage_info *info,
		  char *err, size_t err_len)
{
	const uint8_t *p = image;
	unsigned sects;

	memset(info, 0, sizeof(*info));
	if (size < 0x400 || rd16(p, HDR_BOOT_FLAG) != 0xaa55 ||
	    rd32(p, HDR_MAGIC) != HDRS_MAGIC)
		return errorf(err, err_len, -ENOEXEC,
			    "not a Linux kernel (no bzImage setup header)");
	info->version = rd16(p, HDR_VERSION);
	if (info->version < MIN_PROTOCOL)
		return errorf(err, err_len, -ENOEXEC,
			    "boot protocol %u.%02u is too old (need 2.06 or later)",
			    info->version >> 8, info->version & 0xff);
	if (!(rd8(p, HDR_LOADFLAGS) & LOADED_HIGH))
		return errorf(err, err_len, -ENOEXEC,
			    "zImage kernels (loaded below 1 MiB) are not supported");
	sects = rd8(p, HDR_SETUP_SECTS);
	info->setup_sects = sects ? sects : 4;
	info->setup_size = (uint64_t)(info->setup_sects + 1) * 512;
	if (info->setup_size >= size)
		return errorf(err, err_len, -ENOEXEC,
			    "kernel image truncated (%zu bytes, setup code alone needs %llu)",
			    size, (unsigned long long)info->setup_size);
	info->kernel_offset = info->setup_size;
	info->kernel_size = size - info->setup_size;
	info->initrd_addr_max = rd32(p, HDR_INITRD_ADDR_MAX);
	info->kernel_alignment = rd32(p, HDR_KERNEL_ALIGNMENT);
	info->relocatable = rd8(p, HDR_RELOCATABLE);
	info->cmdline_size = rd32(p, HDR_CMDLINE_SIZE);
	if (info->version >= 0x020a) {
		info->pref_address = rd64(p, HDR_PREF_ADDRESS);
		info->init_size = rd32(p, HDR_INIT_SIZE);
	}
	if (info->version >= 0x020c)
		info->xloadflags = rd16(p, HDR_XLOADFLAGS);
	if (!(info->xloadflags & XLF_KERNEL_64))
		return errorf(err, err_len, -ENOEXEC,
			    "kernel has no 64-bit entry point (not an x86-64 kernel, or boot protocol before 2.12)");
	if (info->init_size < info->kernel_size)
		info->init_size = info->kernel_size;
	return 0;
}

/* Identity map of the low 4 GiB with 2 MiB pages, and a flat GDT. */
static void setup_long_mode(struct guest_memory *gm, struct cpu_state *s)
{
	uint64_t gdt[4] = {
		0, 0,
		0x00af9b000000ffffULL, /* 0x10: 64-bit code */
		0x00cf93000000ffffULL, /* 0x18: data */
	};
	uint64_t entry;
	unsigned i;
	int seg;

	entry = BOOT_PDPT_ADDR | 0x3;
	gmem_write(gm, BOOT_PML4_ADDR, &entry, 8);
	for (i = 0; i < 4; i++) {
		entry = (BOOT_PD_ADDR + i * 0x1000) | 0x3;
		gmem_write(gm, BOOT_PDPT_ADDR + i * 8, &entry, 8);
	}
	for (i = 0; i < 4 * 512; i++) {
		entry = ((uint64_t)i << 21) | 0x83; /* present, writable, 2 MiB */
		gmem_write(gm, BOOT_PD_ADDR + i * 8, &entry, 8);
	}
	gmem_write(gm, BOOT_GDT_ADDR, gdt, sizeof(gdt));

	cpu_state_reset(s);
	s->gdt.base = BOOT_GDT_ADDR;
	s->gdt.limit = sizeof(gdt) - 1;
	s->idt.base = 0;
	s->idt.limit = 0;
	s->seg[SEG_CS] = cpu_flat_code_segment(0x10, true);
	for (seg = 0; seg < NUM_SEGS; seg++)
		if (seg != SEG_CS)
			s->seg[seg] = cpu_flat_data_segment(0x18);
	s->cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
	s->cr3 = BOOT_PML4_ADDR;
	s->cr4 = CR4_PAE;
	s->efer = EFER_LME | EFER_LMA;
	s->rflags = RFLAGS_FIXED;
	s->gpr[GPR_RDX] = 0;
}

void boot_flat_protected_mode(struct guest_memory *gm, struct cpu_state *s)
{
	uint64_t gdt[4] = {
		0, 0,
		0x00cf9b000000ffffULL, /* 0x10: 32-bit code */
		0x00cf93000000ffffULL, /* 0x18: data */
	};
	int seg;

	gmem_write(gm, BOOT_GDT_ADDR, gdt, sizeof(gdt));
	cpu_state_reset(s);
	s->gdt.base = BOOT_GDT_ADDR;
	s->gdt.limit = sizeof(gdt) - 1;
	s->idt.limit = 0;
	s->seg[SEG_CS] = cpu_flat_code_segment(0x10, false);
	for (seg = 0; seg < NUM_SEGS; seg++)
		if (seg != SEG_CS)
			s->seg[seg] = cpu_flat_data_segment(0x18);
	s->cr0 = CR0_PE | CR0_ET | CR0_NE;
	s->rflags = RFLAGS_FIXED;
	s->gpr[GPR_RDX] = 0;
}

static int write_cmdline(struct guest_memory *gm, const char *cmdline,
			 uint32_t max, char *err, size_t err_len)
{
	size_t len = cmdline ? strlen(cmdline) : 0;

	if (max > BOOT_CMDLINE_MAX - 1)
		max = BOOT_CMDLINE_MAX - 1;
	if (len > max)
		return errorf(err, err_len, -E2BIG,
			    "kernel command line is %zu bytes; this kernel accepts at most %u",
			    len, max);
	if (gmem_write(gm, BOOT_CMDLINE_ADDR, cmdline ? cmdline : "", len) ||
	    gmem_write(gm, BOOT_CMDLINE_ADDR + len, "", 1))
		return errorf(err, err_len, -EFAULT, "no room for the command line");
	return 0;
}

/*
 * Put the initrd as high as it may go: below initrd_max, below the end of
 * low RAM, above the kernel's working area.
 */
static int place_initrd(struct guest_memory *gm, const struct linux_boot_args *a,
			uint64_t kernel_end, uint64_t initrd_max,
			uint64_t *addr, char *err, size_t err_len)
{
	uint64_t top = gm->low_end;

	if (initrd_max && initrd_max + 1 < top)
		top = initrd_max + 1;
	if (a->initrd_size > top || ((top - a->initrd_size) & ~0xfffULL) < kernel_end)
		return errorf(err, err_len, -ENOMEM,
			    "initrd (%zu MiB) does not fit in guest RAM above the kernel; give the VM more --memory",
			    a->initrd_size >> 20);
	*addr = (top - a->initrd_size) & ~0xfffULL;
	if (gmem_write(gm, *addr, a->initrd, a->initrd_size))
		return errorf(err, err_len, -EFAULT, "cannot place initrd");
	return 0;
}

static int load_bzimage(struct guest_memory *gm, const struct linux_boot_args *a,
			struct cpu_state *bsp, char *err, size_t err_len)
{
	const uint8_t *k = a->kernel;
	struct bzimage_info info;
	struct e820_entry map[E820_MAX_ENTRIES];
	uint8_t *zp;
	uint64_t load = KERNEL_LOAD_ADDR, initrd_addr = 0, kernel_end;
	size_t hdr_end;
	int ret, n, i;

	ret = bzimage_parse(a->kernel, a->kernel_size, &info, err, err_len);
	if (ret)
		return ret;
	kernel_end = load + info.init_size;
	if (kernel_end > gm->low_end)
		return errorf(err, err_len, -ENOMEM,
			    "kernel needs %u MiB from its load address; give the VM more --memory",
			    (info.init_size >> 20) + 1);
	if (gmem_write(gm, load, k + info.kernel_offset, info.kernel_size))
		return errorf(err, err_len, -EFAULT, "cannot load the kernel");

	zp = gmem_ptr_rw(gm, BOOT_ZERO_PAGE_ADDR, 4096);
	memset(zp, 0, 4096);
	/* The setup header ends where the jump at 0x200 lands. */
	hdr_end = 0x202 + rd8(k, HDR_JUMP + 1);
	if (hdr_end > HDR_END_MAX)
		hdr_end = HDR_END_MAX;
	memcpy(zp + HDR_SETUP_SECTS, k + HDR_SETUP_SECTS, hdr_end - HDR_SETUP_SECTS);

	wr8(zp, HDR_TYPE_OF_LOADER, 0xff); /* "undefined" boot loader */
	wr8(zp, HDR_LOADFLAGS, rd8(zp, HDR_LOADFLAGS) | CAN_USE_HEAP);
	wr16(zp, HDR_HEAP_END_PTR, 0xfe00);
	ret = write_cmdline(gm, a->cmdline, info.cmdline_size ? info.cmdline_size : 255,
			    err, err_len);
	if (ret)
		return ret;
	wr32(zp, HDR_CMD_LINE_PTR, BOOT_CMDLINE_ADDR);
	wr32(zp, BP_EXT_CMD_LINE_PTR, 0);

	if (a->initrd) {
		ret = place_initrd(gm, a, kernel_end, info.initrd_addr_max,
				   &initrd_addr, err, err_len);
		if (ret)
			return ret;
		wr32(zp, HDR_RAMDISK_IMAGE, (uint32_t)initrd_addr);
		wr32(zp, HDR_RAMDISK_SIZE, (uint32_t)a->initrd_size);
		wr32(zp, BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_addr >> 32));
		wr32(zp, BP_EXT_RAMDISK_SIZE, 0);
	}

	if (a->rsdp_addr)
		memcpy(zp + 0x070, &a->rsdp_addr, 8); /* acpi_rsdp_addr */
	n = e820_build(gm, map, E820_MAX_ENTRIES);
	for (i = 0; i < n && i < BP_E820_MAX; i++)
		memcpy(zp + BP_E820_TABLE + i * 20, &map[i], 20);
	wr8(zp, BP_E820_ENTRIES, (uint8_t)n);

	setup_long_mode(gm, bsp);
	bsp->rip = load + 0x200; /* the 64-bit entry point */
	bsp->gpr[GPR_RSI] = BOOT_ZERO_PAGE_ADDR;
	return 0;
}

/* Walk the notes of an ELF64 or ELF32 image for the PVH entry point. */
static int elf_note_entry(const uint8_t *p, size_t size, uint64_t off,
			  uint64_t len, uint32_t *entry)
{
	uint64_t pos = off, end;

	if (off > size || len > size - off)
		return -ENOEXEC;
	end = off + len;
	while (end - pos >= 12) {
		uint32_t namesz = rd32(p, pos), descsz = rd32(p, pos + 4);
		uint32_t type = rd32(p, pos + 8);
		uint64_t name = pos + 12;
		uint64_t desc = name + (((uint64_t)namesz + 3) & ~3ULL);
		uint64_t next = desc + (((uint64_t)descsz + 3) & ~3ULL);

		if (next > end)
			return -ENOEXEC;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    !memcmp(p + name, "Xen", 4) && (descsz == 4 || descsz == 8)) {
			uint64_t v = descsz == 8 ? rd64(p, desc) : rd32(p, desc);

			if (v >> 32)
				return -ENOEXEC;
			*entry = (uint32_t)v;
			return 0;
		}
		pos = next;
	}
	return -ENOENT;
}

/* Iterate program headers generically for ELF32 and ELF64. */
struct elf_phdr_view {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

static int elf_phdrs(const uint8_t *p, size_t size, struct elf_phdr_view *out,
		     int max, char *err, size_t err_len)
{
	int is64, n, i;
	uint64_t phoff, phentsize;

	if (size < sizeof(Elf32_Ehdr) || p[EI_CLASS] == ELFCLASSNONE)
		return errorf(err, err_len, -ENOEXEC, "truncated ELF header");
	is64 = p[EI_CLASS] == ELFCLASS64;
	if (is64 && size < sizeof(Elf64_Ehdr))
		return errorf(err, err_len, -ENOEXEC, "truncated ELF header");
	if (p[EI_DATA] != ELFDATA2LSB)
		return errorf(err, err_len, -ENOEXEC, "ELF kernel is not little-endian");
	phoff = is64 ? rd64(p, offsetof(Elf64_Ehdr, e_phoff)) : rd32(p, offsetof(Elf32_Ehdr, e_phoff));
	phentsize = rd16(p, is64 ? offsetof(Elf64_Ehdr, e_phentsize) : offsetof(Elf32_Ehdr, e_phentsize));
	n = rd16(p, is64 ? offsetof(Elf64_Ehdr, e_phnum) : offsetof(Elf32_Ehdr, e_phnum));
	if (phentsize < (is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)) ||
	    phoff > size || (uint64_t)n * phentsize > size - phoff)
		return errorf(err, err_len, -ENOEXEC, "ELF program headers out of bounds");
	if (n > max)
		return errorf(err, err_len, -ENOEXEC, "too many ELF program headers");
	for (i = 0; i < n; i++) {
		uint64_t h = phoff + i * phentsize;

		if (is64) {
			out[i].type = rd32(p, h + offsetof(Elf64_Phdr, p_type));
			out[i].offset = rd64(p, h + offsetof(Elf64_Phdr, p_offset));
			out[i].paddr = rd64(p, h + offsetof(Elf64_Phdr, p_paddr));
			out[i].filesz = rd64(p, h + offsetof(Elf64_Phdr, p_filesz));
			out[i].memsz = rd64(p, h + offsetof(Elf64_Phdr, p_memsz));
		} else {
			out[i].type = rd32(p, h + offsetof(Elf32_Phdr, p_type));
			out[i].offset = rd32(p, h + offsetof(Elf32_Phdr, p_offset));
			out[i].paddr = rd32(p, h + offsetof(Elf32_Phdr, p_paddr));
			out[i].filesz = rd32(p, h + offsetof(Elf32_Phdr, p_filesz));
			out[i].memsz = rd32(p, h + offsetof(Elf32_Phdr, p_memsz));
		}
	}
	return n;
}

int pvh_find_entry(const void *elf, size_t size, uint32_t *entry,
		   char *err, size_t err_len)
{
	struct elf_phdr_view ph[64];
	int n, i;

	if (!image_is_elf(elf, size))
		return errorf(err, err_len, -ENOEXEC, "not an ELF file");
	n = elf_phdrs(elf, size, ph, 64, err, err_len);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++)
		if (ph[i].type == PT_NOTE &&
		    !elf_note_entry(elf, size, ph[i].offset, ph[i].filesz, entry))
			return 0;
	return errorf(err, err_len, -ENOEXEC,
		    "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); build it with CONFIG_PVH or boot its bzImage");
}

static int load_pvh(struct guest_memory *gm, const struct linux_boot_args *a,
		    struct cpu_state *bsp, char *err, size_t err_len)
{
	const uint8_t *p = a->kernel;
	struct elf_phdr_view ph[64];
	struct e820_entry map[E820_MAX_ENTRIES];
	uint8_t info[56] = { 0 };
	uint64_t kernel_end = 0, memmap_addr, modlist_addr, mod[4] = { 0 };
	uint32_t entry;
	int n, i, ret, nmap;

	ret = pvh_find_entry(a->kernel, a->kernel_size, &entry, err, err_len);
	if (ret)
		return ret;
	n = elf_phdrs(p, a->kernel_size, ph, 64, err, err_len);
	for (i = 0; i < n; i++) {
		void *dst;

		if (ph[i].type != PT_LOAD)
			continue;
		if (ph[i].filesz > ph[i].memsz || ph[i].offset > a->kernel_size ||
		    ph[i].filesz > a->kernel_size - ph[i].offset)
			return errorf(err, err_len, -ENOEXEC,
				    "ELF segment %d lies outside the file", i);
		dst = gmem_ptr_rw(gm, ph[i].paddr, ph[i].memsz);
		if (!dst || ph[i].paddr < GMEM_1M)
			return errorf(err, err_len, -ENOMEM,
				    "kernel segment at 0x%llx (%llu KiB) does not fit in guest RAM; give the VM more --memory",
				    (unsigned long long)ph[i].paddr,
				    (unsigned long long)ph[i].memsz >> 10);
		memcpy(dst, p + ph[i].offset, ph[i].filesz);
		memset((uint8_t *)dst + ph[i].filesz, 0, ph[i].memsz - ph[i].filesz);
		if (ph[i].paddr + ph[i].memsz > kernel_end)
			kernel_end = ph[i].paddr + ph[i].memsz;
	}
	ret = write_cmdline(gm, a->cmdline, BOOT_CMDLINE_MAX - 1, err, err_len);
	if (ret)
		return ret;

	/* hvm_start_info, then the memory map and the module list after it. */
	memmap_addr = BOOT_PVH_INFO_ADDR + sizeof(info);
	nmap = e820_build(gm, map, E820_MAX_ENTRIES);
	for (i = 0; i < nmap; i++) {
		uint64_t e[3] = { map[i].addr, map[i].size, map[i].type };

		gmem_write(gm, memmap_addr + i * 24, e, 24);
	}
	modlist_addr = memmap_addr + nmap * 24;
	wr32(info, 0, PVH_START_MAGIC);
	wr32(info, 4, 1);                          /* version with memmap */
	memcpy(info + 24, &(uint64_t){ BOOT_CMDLINE_ADDR }, 8);
	memcpy(info + 32, &a->rsdp_addr, 8);
	memcpy(info + 40, &memmap_addr, 8);
	wr32(info, 48, nmap);
	if (a->initrd) {
		uint64_t addr;

		ret = place_initrd(gm, a, kernel_end, 0, &addr, err, err_len);
		if (ret)
			return ret;
		mod[0] = addr;
		mod[1] = a->initrd_size;
		gmem_write(gm, modlist_addr, mod, sizeof(mod));
		wr32(info, 12, 1);
		memcpy(info + 16, &modlist_addr, 8);
	}
	gmem_write(gm, BOOT_PVH_INFO_ADDR, info, sizeof(info));

	boot_flat_protected_mode(gm, bsp);
	bsp->rip = entry;
	bsp->gpr[GPR_RBX] = BOOT_PVH_INFO_ADDR;
	return 0;
}

int linux_boot_load(struct guest_memory *gm, const struct linux_boot_args *a,
		    struct cpu_state *bsp, char *err, size_t err_len)
{
	const uint8_t *k = a->kernel;

	/* A bzImage says so at 0x202; multiboot kernels carry their header in
	 * the first 8 KiB; other ELF images boot through their PVH note. */
	if (a->kernel_size > 0x206 && !memcmp(k + 0x202, "HdrS", 4))
		return load_bzimage(gm, a, bsp, err, err_len);
	if (multiboot_detect(a->kernel, a->kernel_size))
		return multiboot_load(gm, a, bsp, err, err_len);
	if (image_is_elf(a->kernel, a->kernel_size))
		return load_pvh(gm, a, bsp, err, err_len);
	return load_bzimage(gm, a, bsp, err, err_len);
}

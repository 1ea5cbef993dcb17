/* Multiboot v1 loader (see multiboot.h); layouts from the Multiboot 0.6.96 spec. */
#include "vm/multiboot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/parse.h"
#include "vm/e820.h"
#include "vm/linux_boot.h"

#define MB_MAGIC        0x1badb002u
#define MB_BOOT_MAGIC   0x2badb002u
#define MB_SEARCH       8192
#define MB_FLAG_AOUT    (1u << 16)
#define MB_INFO_ADDR    0x10000   /* info, memory map, module list, strings */
#define MB_INFO_SIZE    0x3000
#define MB_CMDLINE_MAX  0x1000

/* Info flags we fill in. */
#define INFO_MEM     (1u << 0)
#define INFO_CMDLINE (1u << 2)
#define INFO_MODS    (1u << 3)
#define INFO_MMAP    (1u << 6)
#define INFO_LOADER  (1u << 9)

static uint32_t rd32(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return v;
}

/* Offset of the header, or -1. */
static long find_header(const uint8_t *p, size_t size)
{
	size_t limit = size < MB_SEARCH ? size : MB_SEARCH;

	for (size_t off = 0; off + 12 <= limit; off += 4)
		if (rd32(p, off) == MB_MAGIC &&
		    (uint32_t)(rd32(p, off) + rd32(p, off + 4) + rd32(p, off + 8)) == 0)
			return off;
	return -1;
}

bool multiboot_detect(const void *image, size_t size)
{
	return find_header(image, size) >= 0;
}

/* Copy [file_off, file_off + len) of the image to guest address gpa. */
static int place(struct guest_memory *gm, const uint8_t *img, size_t size,
		 uint64_t file_off, uint64_t len, uint64_t gpa, uint64_t memsz,
		 char *err, size_t err_len)
{
	uint8_t *dst;

	if (file_off > size || len > size - file_off || len > memsz)
		return errorf(err, err_len, -EINVAL, "multiboot image is truncated (segment outside the file)");
	if (gpa < 0x1000 || gpa + memsz > gm->low_end ||
	    (gpa < MB_INFO_ADDR + MB_INFO_SIZE && gpa + memsz > MB_INFO_ADDR) ||
	    (gpa < 0xe1000 && gpa + memsz > 0xe0000) ||
	    !(dst = gmem_ptr_rw(gm, gpa, memsz)))
		return errorf(err, err_len, -ENOMEM,
			    "multiboot kernel wants [%#llx, %#llx), which is not free RAM (wirt keeps 0x10000-0x13000 and 0xe0000-0xe1000); give the VM more --memory or link the kernel elsewhere",
			    (unsigned long long)gpa, (unsigned long long)(gpa + memsz));
	memcpy(dst, img + file_off, len);
	memset(dst + len, 0, memsz - len);
	gmem_notify_write(gm, gpa, memsz);
	return 0;
}

static int load_elf32(struct guest_memory *gm, const uint8_t *p, size_t size,
		      uint32_t *entry, uint64_t *end, char *err, size_t err_len)
{
	uint32_t phoff, i;
	uint16_t phnum, phentsize;
	int ret;

	if (size < 52 || memcmp(p, "\177ELF", 4) || p[4] != 1)
		return errorf(err, err_len, -EINVAL,
			    "multiboot kernel is neither ELF32 nor uses the a.out kludge");
	*entry = rd32(p, 24);
	phoff = rd32(p, 28);
	memcpy(&phentsize, p + 42, 2);
	memcpy(&phnum, p + 44, 2);
	if (phentsize < 32 || phoff > size || (uint64_t)phnum * phentsize > size - phoff)
		return errorf(err, err_len, -EINVAL, "multiboot ELF has a bad program header table");
	*end = 0;
	for (i = 0; i < phnum; i++) {
		const uint8_t *ph = p + phoff + i * phentsize;
		uint32_t paddr = rd32(ph, 12), filesz = rd32(ph, 16), memsz = rd32(ph, 20);
		if (rd32(ph, 0) != 1 || !memsz) /* PT_LOAD */
			continue;
		ret = place(gm, p, size, rd32(ph, 4), filesz, paddr, memsz, err, err_len);
		if (ret)
			return ret;
		if (paddr + (uint64_t)memsz > *end)
			*end = paddr + (uint64_t)memsz;
	}
	if (!*end)
		return errorf(err, err_len, -EINVAL, "multiboot ELF has nothing to load");
	return 0;
}

static int load_aout(struct guest_memory *gm, const uint8_t *p, size_t size, long hdr,
		     uint32_t *entry, uint64_t *end, char *err, size_t err_len)
{
	uint32_t header_addr = rd32(p, hdr + 12), load_addr = rd32(p, hdr + 16);
	uint32_t load_end = rd32(p, hdr + 20), bss_end = rd32(p, hdr + 24);
	uint64_t file_off, len, memsz;

	*entry = rd32(p, hdr + 28);
	if (header_addr < load_addr || header_addr - load_addr > (uint32_t)hdr)
		return errorf(err, err_len, -EINVAL, "multiboot header addresses are inconsistent");
	file_off = hdr - (header_addr - load_addr);
	len = load_end ? (uint64_t)load_end - load_addr : size - file_off;
	memsz = bss_end > load_addr + len ? (uint64_t)bss_end - load_addr : len;
	*end = load_addr + memsz;
	return place(gm, p, size, file_off, len, load_addr, memsz, err, err_len);
}

int multiboot_load(struct guest_memory *gm, const struct linux_boot_args *a,
		   struct cpu_state *bsp, char *err, size_t err_len)
{
	const uint8_t *p = a->kernel;
	long hdr = find_header(p, a->kernel_size);
	uint32_t flags, entry = 0, info_flags = INFO_MEM | INFO_MMAP | INFO_LOADER;
	uint64_t end = 0, top;
	uint8_t *info;
	struct e820_entry map[E820_MAX_ENTRIES];
	uint32_t mmap_addr = MB_INFO_ADDR + 0x100, mods_addr, strings = MB_INFO_ADDR + 0x1000;
	int ret, n, i;

	if (hdr < 0)
		return errorf(err, err_len, -EINVAL, "no multiboot header in the first 8 KiB");
	flags = rd32(p, hdr + 4);
	if (flags & 0xfffcu) /* video modes and unknown required features */
		return errorf(err, err_len, -EINVAL,
			    "multiboot header asks for features wirt does not offer (flags %#x)", flags);
	ret = (flags & MB_FLAG_AOUT) ? load_aout(gm, p, a->kernel_size, hdr, &entry, &end, err, err_len)
				     : load_elf32(gm, p, a->kernel_size, &entry, &end, err, err_len);
	if (ret)
		return ret;

	info = gmem_ptr_rw(gm, MB_INFO_ADDR, MB_INFO_SIZE);
	memset(info, 0, MB_INFO_SIZE);
	/* Memory: KiB below 640 K and above 1 MiB up to the first hole. */
	memcpy(info + 4, &(uint32_t){ 640 }, 4);
	memcpy(info + 8, &(uint32_t){ (uint32_t)((gm->low_end - 0x100000) >> 10) }, 4);
	n = e820_build(gm, map, E820_MAX_ENTRIES);
	for (i = 0; i < n; i++) {
		uint8_t *e = info + 0x100 + i * 24;
		memcpy(e, &(uint32_t){ 20 }, 4);
		memcpy(e + 4, &map[i].addr, 8);
		memcpy(e + 12, &map[i].size, 8);
		memcpy(e + 20, &map[i].type, 4);
	}
	memcpy(info + 44, &(uint32_t){ n * 24 }, 4);
	memcpy(info + 48, &mmap_addr, 4);
	/* Command line and boot loader name. */
	/* As boot loaders do, the command line starts with the kernel's name. */
	snprintf((char *)info + 0x1000, MB_CMDLINE_MAX, "%s%s%s",
		 a->kernel_name ? a->kernel_name : "kernel",
		 a->cmdline && *a->cmdline ? " " : "", a->cmdline ? a->cmdline : "");
	memcpy(info + 16, &strings, 4);
	info_flags |= INFO_CMDLINE;
	memcpy(info + 0x1f00, "wirt", 5);
	memcpy(info + 64, &(uint32_t){ MB_INFO_ADDR + 0x1f00 }, 4);
	/* The --initrd file becomes module 0, page-aligned after the kernel. */
	if (a->initrd) {
		uint64_t mod = (end + 0xfff) & ~0xfffULL;
		uint32_t entry_mod[4];
		top = mod + a->initrd_size;
		if (top > gm->low_end || gmem_write(gm, mod, a->initrd, a->initrd_size))
			return errorf(err, err_len, -ENOMEM,
				    "module does not fit in RAM after the kernel; give the VM more --memory");
		mods_addr = MB_INFO_ADDR + 0x800;
		entry_mod[0] = mod;
		entry_mod[1] = top;
		entry_mod[2] = 0;
		entry_mod[3] = 0;
		memcpy(info + 0x800, entry_mod, sizeof(entry_mod));
		memcpy(info + 20, &(uint32_t){ 1 }, 4);
		memcpy(info + 24, &mods_addr, 4);
		info_flags |= INFO_MODS;
	}
	memcpy(info, &info_flags, 4);
	gmem_notify_write(gm, MB_INFO_ADDR, MB_INFO_SIZE);

	boot_flat_protected_mode(gm, bsp);
	bsp->rip = entry;
	bsp->gpr[GPR_RAX] = MB_BOOT_MAGIC;
	bsp->gpr[GPR_RBX] = MB_INFO_ADDR;
	return 0;
}

/*
 * What wirt tells firmware through fw_cfg (hw/fw_cfg.h): RAM size and
 * map, CPU count, boot order, the serial console SeaBIOS mirrors its
 * screen to, and wirt's own ACPI tables with the table-loader commands
 * that make the firmware install them (vm/acpi.h).  With --kernel too,
 * the kernel, initrd and command line go to the firmware as well, with
 * the option ROM that loads them (QEMU's linuxboot_dma.bin, Debian's
 * qemu-system-data): the firmware boots Linux as QEMU's -kernel does.
 */
#include "vm/firmware_cfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hw/fw_cfg.h"
#include "hw/pci.h"
#include "util/file.h"
#include "util/log.h"
#include "vm/acpi.h"
#include "vm/linux_boot.h"
#include "vm/smbios.h"
#include "vm/vm.h"

#define COM1_PORT 0x3f8
#define LINUXBOOT_ROM   "/usr/share/qemu/linuxboot_dma.bin"
#define LINUXBOOT_NAME  "genroms/linuxboot_dma.bin"
/* KVM's TSS and identity-map pages (docs/design-notes.md). */
#define KVM_PRIVATE_BASE 0xFEFFC000ULL
#define KVM_PRIVATE_SIZE 0x4000ULL

/* etc/e820: packed {u64 address, u64 length, u32 type}, little-endian.
 * The firmware reserves its own legacy areas; wirt lists RAM and what
 * it keeps for itself. */
static int add_e820(struct fw_cfg *cfg, const struct guest_memory *gm)
{
	uint8_t buf[3 * 20], *p = buf;
	const struct { uint64_t addr, len; uint32_t type; } ent[3] = {
		{ 0, gm->low_end, 1 },
		{ KVM_PRIVATE_BASE, KVM_PRIVATE_SIZE, 2 },
		{ GMEM_4G, gm->high_size, 1 },
	};
	unsigned i;

	for (i = 0; i < 3; i++) {
		if (!ent[i].len)
			continue;
		memcpy(p, &ent[i].addr, 8);
		memcpy(p + 8, &ent[i].len, 8);
		memcpy(p + 16, &ent[i].type, 4);
		p += 20;
	}
	return fw_cfg_add_file(cfg, "etc/e820", buf, p - buf);
}

/* bootorder: one OpenFirmware device path per line (vm/boot_order.h). */
static int add_bootorder(struct fw_cfg *cfg, struct vm *vm)
{
	char buf[64 + VM_MAX_BOOT_DEVICES * (BOOT_PATH_MAX + 1)];
	size_t len = 0;
	int ret;

	/* --kernel: the option ROM that boots it comes first (SeaBIOS;
	 * OVMF loads the kernel from fw_cfg itself). */
	if (vm->boot.kernel && !vm->config->firmware_uefi)
		len += snprintf(buf, sizeof(buf), "/rom@%s\n", LINUXBOOT_NAME);
	ret = boot_order_text(vm, vm->config->boot_order, buf + len, sizeof(buf) - len);
	if (ret < 0)
		return ret;
	len += ret;
	if (!len)
		return 0;
	return fw_cfg_add_file(cfg, "bootorder", buf, len);
}

static int add_u16_file(struct fw_cfg *cfg, const char *name, uint16_t v)
{
	return fw_cfg_add_file(cfg, name, &v, 2);
}

/* ---- --kernel through the firmware ---- */

#define SETUP_ADDR      0x10000		/* real-mode setup code */
#define CMDLINE_ADDR    0x20000
#define KERNEL_ADDR     0x100000	/* protected-mode kernel */
/* The initrd goes this far below the end of low RAM: clear of the
 * tables SeaBIOS keeps at the top. */
#define INITRD_GAP      (1ULL << 20)

#define FW_CFG_KERNEL_ADDR   0x07
#define FW_CFG_KERNEL_SIZE   0x08
#define FW_CFG_INITRD_ADDR   0x0a
#define FW_CFG_INITRD_SIZE   0x0b
#define FW_CFG_KERNEL_DATA   0x11
#define FW_CFG_INITRD_DATA   0x12
#define FW_CFG_CMDLINE_ADDR  0x13
#define FW_CFG_CMDLINE_SIZE  0x14
#define FW_CFG_CMDLINE_DATA  0x15
#define FW_CFG_SETUP_ADDR    0x16
#define FW_CFG_SETUP_SIZE    0x17
#define FW_CFG_SETUP_DATA    0x18

static int add_u32_item(struct fw_cfg *cfg, uint16_t key, uint32_t v)
{
	return fw_cfg_add_item(cfg, key, &v, 4);
}

static void put_le(uint8_t *p, uint32_t v, unsigned n)
{
	memcpy(p, &v, n);
}

/*
 * The bzImage split as the x86 boot protocol loads it: the setup code
 * (its header filled in as a boot loader does: loader type, heap,
 * command line and initrd addresses) for SETUP_ADDR, the rest for
 * KERNEL_ADDR.  The option ROM copies each item to its address and
 * jumps to the setup code in real mode.
 */
static int add_kernel(struct fw_cfg *cfg, struct vm *vm)
{
	const struct boot_images *b = &vm->boot;
	const char *cmdline = vm->config->append ? vm->config->append : "";
	size_t cmdline_len = strlen(cmdline) + 1;
	struct bzimage_info info;
	const char *rom_path;
	uint64_t initrd_addr = 0, top;
	uint8_t *setup;
	void *rom;
	size_t rom_size;
	char err[256];
	int ret;

	if (bzimage_parse(b->kernel, b->kernel_size, &info, err, sizeof(err))) {
		log_error("--kernel with --firmware: the firmware boots only bzImage kernels (%s)",
			  err);
		return -ENOEXEC;
	}
	if (cmdline_len > info.cmdline_size + 1 ||
	    cmdline_len > BOOT_CMDLINE_MAX) {
		log_error("--append: the command line is longer than the kernel takes (%u bytes)",
			  info.cmdline_size);
		return -E2BIG;
	}
	rom_path = getenv("WIRT_LINUXBOOT");
	if (!rom_path || !*rom_path)
		rom_path = LINUXBOOT_ROM;
	if (!vm->config->firmware_uefi) {
		ret = file_read_all(rom_path, 1 << 20, &rom, &rom_size);
		if (ret) {
			log_error("--kernel with --firmware needs the option ROM that loads it (%s: %s): "
				  "install Debian's qemu-system-data package",
				  rom_path, strerror(-ret));
			return ret;
		}
		ret = fw_cfg_add_file(cfg, LINUXBOOT_NAME, rom, rom_size);
		free(rom);
		if (ret)
			return ret;
	}
	if (b->initrd) {
		top = vm->mem.low_end - INITRD_GAP;
		if (info.initrd_addr_max && top > (uint64_t)info.initrd_addr_max + 1)
			top = (uint64_t)info.initrd_addr_max + 1;
		if (b->initrd_size > top - KERNEL_ADDR - info.init_size) {
			log_error("--initrd does not fit below %llu MiB with the kernel; give more --memory",
				  (unsigned long long)(top >> 20));
			return -ENOSPC;
		}
		initrd_addr = (top - b->initrd_size) & ~0xfffULL;
	}
	setup = malloc(info.setup_size);
	if (!setup)
		return -ENOMEM;
	memcpy(setup, b->kernel, info.setup_size);
	setup[0x210] = 0xff;			/* type_of_loader: unknown */
	setup[0x211] |= 0x80;			/* loadflags: CAN_USE_HEAP */
	put_le(setup + 0x224, CMDLINE_ADDR - SETUP_ADDR - 0x200, 2); /* heap_end_ptr */
	put_le(setup + 0x228, CMDLINE_ADDR, 4);	/* cmd_line_ptr */
	put_le(setup + 0x218, initrd_addr, 4);	/* ramdisk_image */
	put_le(setup + 0x21c, b->initrd ? b->initrd_size : 0, 4);
	ret = add_u32_item(cfg, FW_CFG_SETUP_ADDR, SETUP_ADDR);
	if (!ret)
		ret = add_u32_item(cfg, FW_CFG_SETUP_SIZE, info.setup_size);
	if (!ret)
		ret = fw_cfg_add_item(cfg, FW_CFG_SETUP_DATA, setup, info.setup_size);
	free(setup);
	if (!ret)
		ret = add_u32_item(cfg, FW_CFG_KERNEL_ADDR, KERNEL_ADDR);
	if (!ret)
		ret = add_u32_item(cfg, FW_CFG_KERNEL_SIZE, info.kernel_size);
	if (!ret)
		ret = fw_cfg_add_item(cfg, FW_CFG_KERNEL_DATA,
				      (const uint8_t *)b->kernel + info.kernel_offset,
				      info.kernel_size);
	if (!ret)
		ret = add_u32_item(cfg, FW_CFG_CMDLINE_ADDR, CMDLINE_ADDR);
	if (!ret)
		ret = add_u32_item(cfg, FW_CFG_CMDLINE_SIZE, cmdline_len);
	if (!ret)
		ret = fw_cfg_add_item(cfg, FW_CFG_CMDLINE_DATA, cmdline, cmdline_len);
	if (!ret)
		ret = add_u32_item(cfg, FW_CFG_INITRD_ADDR, initrd_addr);
	if (!ret)
		ret = add_u32_item(cfg, FW_CFG_INITRD_SIZE,
				   b->initrd ? b->initrd_size : 0);
	if (!ret && b->initrd)
		ret = fw_cfg_add_item(cfg, FW_CFG_INITRD_DATA, b->initrd,
				      b->initrd_size);
	return ret;
}

int firmware_cfg_create(struct vm *vm)
{
	struct fw_cfg *cfg = fw_cfg_new();
	uint64_t ram = vm->mem.ram_size;
	uint16_t ncpus = vm->config->cpus, zero = 0;
	int ret;

	if (!cfg)
		return -ENOMEM;
	ret = fw_cfg_add_item(cfg, FW_CFG_RAM_SIZE, &ram, 8);
	if (!ret)
		ret = fw_cfg_add_item(cfg, FW_CFG_NB_CPUS, &ncpus, 2);
	if (!ret)
		ret = fw_cfg_add_item(cfg, FW_CFG_MAX_CPUS, &ncpus, 2);
	if (!ret)
		ret = fw_cfg_add_item(cfg, FW_CFG_BOOT_MENU, &zero, 2);
	if (!ret)
		ret = add_e820(cfg, &vm->mem);
	if (!ret)
		ret = add_u16_file(cfg, "etc/sercon-port", COM1_PORT);
	/* No "Press ESC for boot menu" pause: wirt is headless. */
	if (!ret)
		ret = add_u16_file(cfg, "etc/show-boot-menu", 0);
	if (!ret && vm->boot.kernel)
		ret = add_kernel(cfg, vm);
	if (!ret)
		ret = add_bootorder(cfg, vm);
	if (!ret)
		ret = acpi_add_to_fw_cfg(vm, cfg);
	if (!ret)
		ret = smbios_add_to_fw_cfg(vm, cfg);
	if (ret) {
		log_error("fw_cfg: cannot build the firmware's items: %s",
			  strerror(-ret));
		fw_cfg_free(cfg);
		return ret;
	}
	return fw_cfg_attach(vm, cfg);
}

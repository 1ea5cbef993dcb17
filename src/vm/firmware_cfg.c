/*
 * What wirt tells firmware through fw_cfg (hw/fw_cfg.h): RAM size and
 * map, CPU count, boot order, the serial console SeaBIOS mirrors its
 * screen to, and wirt's own ACPI tables with the table-loader commands
 * that make the firmware install them (vm/acpi.h).
 */
#include "vm/firmware_cfg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hw/fw_cfg.h"
#include "hw/pci.h"
#include "util/log.h"
#include "vm/acpi.h"
#include "vm/vm.h"

#define COM1_PORT 0x3f8
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

#define VIRTIO_BLK_ID 0x10421af4u	/* device << 16 | vendor */

/* bootorder: one OpenFirmware device path per line: the virtio disks in
 * the order given, which is their slot order (SeaBIOS matches a path by
 * its PCI slot). */
static int add_bootorder(struct fw_cfg *cfg, struct vm *vm)
{
	char buf[PCI_MAX_SLOTS * 40];
	size_t len = 0;
	unsigned slot;

	for (slot = 0; slot < PCI_MAX_SLOTS; slot++)
		if (pci_config_read(vm, slot, 0, 0, 4) == VIRTIO_BLK_ID)
			len += snprintf(buf + len, sizeof(buf) - len,
					"/pci@i0cf8/scsi@%x/disk@0,0\n", slot);
	if (!len)
		return 0;
	return fw_cfg_add_file(cfg, "bootorder", buf, len);
}

static int add_u16_file(struct fw_cfg *cfg, const char *name, uint16_t v)
{
	return fw_cfg_add_file(cfg, name, &v, 2);
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
	if (!ret)
		ret = add_bootorder(cfg, vm);
	if (!ret)
		ret = acpi_add_to_fw_cfg(vm, cfg);
	if (ret) {
		log_error("fw_cfg: cannot build the firmware's items: %s",
			  strerror(-ret));
		fw_cfg_free(cfg);
		return ret;
	}
	return fw_cfg_attach(vm, cfg);
}

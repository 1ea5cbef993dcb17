/*
 * The Q35 memory controller hub's registers in the host bridge's
 * configuration space (Intel 3 Series Express Chipset Family datasheet,
 * "DRAM controller registers"), the ones PC firmware programs:
 *
 *   0x60 PCIEXBAR  where ECAM is: bit 0 enable, bits 2:1 length
 *                  (256/128/64 MiB), base from bit 26/27/28 up
 *   0x90-0x96 PAM0-PAM6  the attributes of the 13 segments of
 *                  0xC0000-0xFFFFF (vm/memory.h): firmware copies itself
 *                  from ROM into that RAM, then write-protects it
 *   0x9d SMRAM, 0x9e ESMRAMC  read-only: no SMRAM (G_SMRAME clear), so
 *                  firmware sets up no SMM handler
 *
 * wirt models Q35 rather than i440FX/PIIX3 because its host bridge and
 * ECAM already were Q35's (8086:29c0, MCFG): PCI Express configuration
 * space, MSI-X devices and an LPC bridge with an ACPI PM block are what
 * current firmware (SeaBIOS, OVMF) and operating systems expect of it.
 */
#include <string.h>

#include "hw/pci.h"
#include "vm/vm.h"

#define MCH_PCIEXBAR 0x60
#define MCH_PAM0     0x90
#define MCH_NPAM     7
#define MCH_SMRAM    0x9d
#define MCH_ESMRAMC  0x9e

#define PCIEXBAR_EN  0x1ULL

static bool touches(unsigned off, unsigned size, unsigned reg, unsigned len)
{
	return off < reg + len && off + size > reg;
}

static uint64_t pciexbar_base(uint64_t v)
{
	static const uint64_t low_mask[4] = {
		(1ULL << 28) - 1, (1ULL << 27) - 1, (1ULL << 26) - 1,
		(1ULL << 28) - 1, /* reserved length: as 256 MiB */
	};

	if (!(v & PCIEXBAR_EN))
		return 0;
	return v & ((1ULL << 36) - 1) & ~low_mask[(v >> 1) & 3];
}

static void mch_config_written(struct pci_device *dev, unsigned off,
			       unsigned size)
{
	uint8_t pam[MCH_NPAM];
	uint64_t bar;
	unsigned i;

	pthread_mutex_lock(&dev->lock);
	memcpy(&bar, dev->config + MCH_PCIEXBAR, 8);
	memcpy(pam, dev->config + MCH_PAM0, MCH_NPAM);
	pthread_mutex_unlock(&dev->lock);

	if (touches(off, size, MCH_PCIEXBAR, 8))
		pci_ecam_move(dev->vm, pciexbar_base(bar));
	if (!touches(off, size, MCH_PAM0, MCH_NPAM))
		return;
	/* PAM0's high nibble is 0xF0000-0xFFFFF; PAMn (n >= 1) holds the
	 * two 16 KiB segments from 0xC0000 + (n - 1) * 32 KiB. */
	gmem_set_pam(&dev->vm->mem, 0, pam[0] >> 4);
	for (i = 1; i < MCH_NPAM; i++) {
		gmem_set_pam(&dev->vm->mem, 2 * i - 1, pam[i] & 0xf);
		gmem_set_pam(&dev->vm->mem, 2 * i, pam[i] >> 4);
	}
}

void q35_mch_init(struct pci_device *bridge)
{
	uint64_t bar = PCI_ECAM_BASE | PCIEXBAR_EN;  /* 256 MiB length */
	uint64_t bar_wmask = (((1ULL << 36) - 1) & ~((1ULL << 26) - 1)) | 7;
	unsigned i;

	memcpy(bridge->config + MCH_PCIEXBAR, &bar, 8);
	memcpy(bridge->wmask + MCH_PCIEXBAR, &bar_wmask, 8);
	bridge->wmask[MCH_PAM0] = 0x30;
	for (i = 1; i < MCH_NPAM; i++)
		bridge->wmask[MCH_PAM0 + i] = 0x33;
	bridge->config[MCH_SMRAM] = 0x02;    /* C_BASE_SEG: compatible */
	bridge->config[MCH_ESMRAMC] = 0x00;
	bridge->config_written = mch_config_written;
}

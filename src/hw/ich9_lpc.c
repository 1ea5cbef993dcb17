/*
 * The ICH9 LPC bridge at 00:1f.0 (8086:2918; Intel I/O Controller Hub 9
 * datasheet, "LPC interface bridge registers"), present when wirt boots
 * firmware: the Q35 chipset function SeaBIOS and OVMF program.
 *
 *   0x40 PMBASE    where the ACPI PM block is (hw/acpi_pm.c): firmware
 *                  moves it and wirt's FADT follows (vm/acpi.c)
 *   0x44 ACPI_CNTL ACPI enable and SCI IRQ: kept; the PM block always
 *                  decodes and the SCI stays IRQ 9
 *   0x60-0x63, 0x68-0x6b PIRQA-H routing: kept for the firmware to read
 *                  back; INTx reach the IOAPIC's pins 16-19 (hw/pci.h)
 *                  and are not routed to the 8259s
 *   0xf0 RCBA      kept; no chipset configuration registers behind it
 *
 * At PMBASE + 0x20 sit GPE0 (reads 0) and SMI_EN, which reads with the
 * APMC SMI enabled: wirt has no SMM, and firmware that finds SMIs already
 * set up does not try to install an SMI handler (it would wait forever
 * for an SMI that never comes).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/devices.h"
#include "hw/pci.h"
#include "util/log.h"
#include "vm/acpi.h"
#include "vm/vm.h"

#define LPC_SLOT       31
#define LPC_PMBASE     0x40
#define LPC_ACPI_CNTL  0x44
#define LPC_PIRQA      0x60
#define LPC_PIRQE      0x68
#define LPC_RCBA       0xf0

#define PM_EXTRA_OFF   0x20	/* GPE0 and SMI registers */
#define PM_EXTRA_LEN   0x20
#define SMI_EN         0x10	/* from PM_EXTRA_OFF */
#define SMI_EN_GBL     0x01
#define SMI_EN_APMC    0x20

struct lpc {
	struct vm *vm;
	struct pci_device *dev;
	uint16_t extra_base;	/* where the GPE0/SMI range is mapped */
};

static uint64_t extra_read(void *opaque, uint64_t off, unsigned size)
{
	return off == SMI_EN ? SMI_EN_GBL | SMI_EN_APMC : 0;
}

static void extra_write(void *opaque, uint64_t off, uint64_t value,
			unsigned size)
{
}

static const struct io_ops extra_ops = { extra_read, extra_write };

static void move_pm(struct lpc *lpc, uint16_t base)
{
	struct vm *vm = lpc->vm;

	acpi_pm_move(vm, base);
	if (lpc->extra_base)
		bus_unregister(&vm->pio, lpc->extra_base, lpc);
	lpc->extra_base = 0;
	if (base && !bus_register(&vm->pio, base + PM_EXTRA_OFF, PM_EXTRA_LEN,
				  &extra_ops, lpc, "ich9 gpe0/smi"))
		lpc->extra_base = base + PM_EXTRA_OFF;
}

static void lpc_config_written(struct pci_device *dev, unsigned off,
			       unsigned size)
{
	struct lpc *lpc = dev->opaque;
	uint32_t pmbase;

	if (off >= LPC_PMBASE + 4 || off + size <= LPC_PMBASE)
		return;
	pthread_mutex_lock(&dev->lock);
	memcpy(&pmbase, dev->config + LPC_PMBASE, 4);
	pthread_mutex_unlock(&dev->lock);
	move_pm(lpc, pmbase & 0xff80);
}

static void lpc_destroy(void *opaque)
{
	free(opaque);
}

int ich9_lpc_create(struct vm *vm)
{
	struct device_hooks hooks = { .destroy = lpc_destroy };
	struct pci_device *dev;
	uint32_t pmbase = ACPI_PM_BASE | 1, rcba_mask = 0xffffc001;
	struct lpc *lpc;
	unsigned i;
	int ret;

	dev = pci_device_new_at(vm, "ICH9 LPC", LPC_SLOT, 0x8086, 0x2918,
				0x060100, 2);
	if (!dev)
		return -EBUSY;
	lpc = calloc(1, sizeof(*lpc));
	if (!lpc)
		return -ENOMEM;
	hooks.opaque = lpc;
	vm_add_device(vm, &hooks);
	lpc->vm = vm;
	lpc->dev = dev;
	dev->opaque = lpc;
	memcpy(dev->config + LPC_PMBASE, &pmbase, 4);
	dev->wmask[LPC_PMBASE] = 0x80;
	dev->wmask[LPC_PMBASE + 1] = 0xff;
	dev->wmask[LPC_ACPI_CNTL] = 0x87;
	for (i = 0; i < 4; i++) {
		dev->config[LPC_PIRQA + i] = dev->config[LPC_PIRQE + i] = 0x80;
		dev->wmask[LPC_PIRQA + i] = dev->wmask[LPC_PIRQE + i] = 0x8f;
	}
	memcpy(dev->wmask + LPC_RCBA, &rcba_mask, 4);
	dev->config_written = lpc_config_written;
	ret = pci_device_plug(dev);
	if (ret)
		return ret;
	/* A bridge function: no interrupt pin. */
	dev->config[PCI_INTERRUPT_PIN] = dev->config_at_plug[PCI_INTERRUPT_PIN] = 0;
	dev->config[PCI_INTERRUPT_LINE] = dev->config_at_plug[PCI_INTERRUPT_LINE] = 0;
	move_pm(lpc, ACPI_PM_BASE);
	return 0;
}

/* The board: which devices a wirt PC has, and where. */
#include "vm/board.h"

#include <errno.h>

#include "hw/devices.h"
#include "hw/hpet.h"
#include "hw/pci.h"
#include "hw/virtio/virtio.h"
#include "ui/console.h"
#include "util/log.h"
#include "vm/vm.h"

#define COM1_BASE 0x3f8
#define COM1_IRQ 4
#define DEBUG_EXIT_PORT 0xf4

static int pci_devices_create(struct vm *vm);

int board_create(struct vm *vm)
{
	struct serial *com1;
	int ret;

	com1 = serial_create(vm, COM1_BASE, COM1_IRQ);
	if (!com1)
		return -ENOMEM;
	if (!vm->config->virtio_console) {
		ret = console_attach_serial(vm, com1);
		if (ret)
			return ret;
	}
	ret = i8042_create(vm);
	if (!ret)
		ret = debug_exit_create(vm, DEBUG_EXIT_PORT);
	if (!ret)
		ret = post_port_create(vm);
	if (!ret)
		ret = isa_absent_create(vm);
	if (!ret)
		ret = rtc_create(vm);
	if (!ret)
		ret = acpi_pm_create(vm);
	if (!ret)
		ret = port92_create(vm);
	if (!ret)
		ret = hpet_create(vm);
	if (ret) {
		log_error("cannot create the board devices: %d", ret);
		return ret;
	}
	return pci_devices_create(vm);
}

/* The PCI bus and what the user put on it. */
static int pci_devices_create(struct vm *vm)
{
	const struct vm_config *cfg = vm->config;
	unsigned i;
	int ret;

	ret = pci_host_create(vm);
	if (ret) {
		log_error("cannot create the PCI host bridge: %d", ret);
		return ret;
	}
	if (cfg->virtio_console || cfg->nchannels) {
		ret = virtio_console_create(vm);
		if (ret)
			return ret;
	}
	for (i = 0; i < cfg->ndisks; i++) {
		ret = virtio_blk_create(vm, cfg->disks[i].spec);
		if (ret)
			return ret;
	}
	for (i = 0; i < cfg->nnets; i++) {
		ret = virtio_net_create(vm, cfg->nets[i].spec, i);
		if (ret)
			return ret;
	}
	if (cfg->rng)
		ret = virtio_rng_create(vm);
	return ret;
}

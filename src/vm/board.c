/* The board: which devices a wirt PC has, and where. */
#include "vm/board.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hw/devices.h"
#include "hw/e1000.h"
#include "hw/disk_spec.h"
#include "hw/hpet.h"
#include "hw/pci.h"
#include "hw/virtio/virtio.h"
#include "net/net.h"
#include "ui/console.h"
#include "ui/vnc.h"
#include "util/log.h"
#include "vm/cloud_init.h"
#include "vm/firmware_cfg.h"
#include "vm/vm.h"

#define COM1_BASE 0x3f8
#define COM1_IRQ 4
#define DEBUG_EXIT_PORT 0xf4

/* COM1, and the console on it unless the console is on virtio. */
static int com1_create(struct vm *vm)
{
	struct serial *com1 = serial_create(vm, COM1_BASE, COM1_IRQ);

	if (!com1)
		return -ENOMEM;
	return vm->config->virtio_console ? 0 : console_attach_serial(vm, com1);
}

static int debug_exit_port_create(struct vm *vm)
{
	return debug_exit_create(vm, DEBUG_EXIT_PORT);
}

/*
 * What every wirt PC has besides its PCI bus, in the order it is built
 * (the PCI bus and the user's devices come last and say themselves what
 * was wrong with an option).  Each constructor registers its device's
 * reset and destroy hooks with the VM (vm_add_device), which resets the
 * devices in this order and destroys them in reverse.
 */
static const struct {
	const char *name;
	int (*create)(struct vm *vm);	/* 0 or negative errno */
} board_devices[] = {
	{ "COM1", com1_create },
	{ "i8042", i8042_create },
	{ "debug-exit port", debug_exit_port_create },
	{ "POST port", post_port_create },
	{ "absent ISA devices", isa_absent_create },
	{ "RTC", rtc_create },
	{ "ACPI PM", acpi_pm_create },
	{ "port 0x92", port92_create },
	{ "HPET", hpet_create },
};

static int pci_devices_create(struct vm *vm);

/* A network card: the back end --net describes, and in front of it the
 * card its model= names. */
static int nic_create(struct vm *vm, const char *spec, unsigned index)
{
	struct net_backend *nb;
	int ret = net_backend_create(vm, spec, index, &nb);

	if (ret)
		return ret;
	if (nb->model == NET_MODEL_E1000)
		return e1000_create(vm, nb);
	return virtio_net_create(vm, nb);
}

/* --disk and --cdrom: virtio-blk devices in order, then one IDE
 * controller with the IDE drives in order (if there are any). */
/* --cloud-init: the seed volume as one more (read-only, virtio) disk,
 * after the user's, so that their names stay.  *seed_fd stays open until
 * the disk has opened the file (by its /proc/self/fd name). */
static int add_cloud_init_seed(const struct vm_config *cfg,
			       struct disk_spec *specs, unsigned *n,
			       int *seed_fd)
{
	char spec[64];
	int ret;

	if (*n == VM_MAX_DISKS) {
		log_error("--cloud-init: the seed would be disk %d; at most %d disks",
			  VM_MAX_DISKS + 1, VM_MAX_DISKS);
		return -E2BIG;
	}
	*seed_fd = cloud_init_seed_build(&cfg->cloud_init);
	if (*seed_fd < 0)
		return *seed_fd;
	snprintf(spec, sizeof(spec), "/proc/self/fd/%d,format=raw,readonly=on",
		 *seed_fd);
	ret = disk_spec_parse(spec, false, &specs[*n]);
	if (!ret)
		(*n)++;
	return ret;
}

static int disks_create(struct vm *vm)
{
	const struct vm_config *cfg = vm->config;
	struct disk_spec specs[VM_MAX_DISKS];
	const struct disk_spec *ide[VM_MAX_DISKS];
	unsigned i, n = 0, nide = 0;
	int ret = 0, seed_fd = -1;

	for (n = 0; n < cfg->ndisks && !ret; n++)
		ret = disk_spec_parse(cfg->disks[n].spec, cfg->disks[n].cdrom,
				      &specs[n]);
	if (ret)
		n--;
	if (!ret && cfg->cloud_init.user_data)
		ret = add_cloud_init_seed(cfg, specs, &n, &seed_fd);
	for (i = 0; i < n && !ret; i++) {
		if (specs[i].iface == DISK_IF_IDE)
			ide[nide++] = &specs[i];
		else
			ret = virtio_blk_create(vm, &specs[i]);
	}
	if (!ret && nide)
		ret = ide_create(vm, ide, nide);
	for (i = 0; i < n; i++)
		disk_spec_free(&specs[i]);
	if (seed_fd >= 0)
		close(seed_fd); /* the disk opened its own */
	return ret;
}

int board_create(struct vm *vm)
{
	size_t i;
	int ret;

	for (i = 0; i < sizeof(board_devices) / sizeof(board_devices[0]); i++) {
		ret = board_devices[i].create(vm);
		if (ret) {
			log_error("cannot create the %s: %s", board_devices[i].name,
				  strerror(-ret));
			return ret;
		}
	}
	ret = debugcon_create(vm, vm->config->debugcon);
	if (ret)
		return ret;
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
		log_error("cannot create the PCI host bridge: %s", strerror(-ret));
		return ret;
	}
	if (cfg->virtio_console || cfg->nchannels) {
		ret = virtio_console_create(vm);
		if (ret)
			return ret;
	}
	ret = disks_create(vm);
	if (ret)
		return ret;
	for (i = 0; i < cfg->nnets; i++) {
		ret = nic_create(vm, cfg->nets[i].spec, i);
		if (ret)
			return ret;
	}
	if (cfg->rng)
		ret = virtio_rng_create(vm);
	if (ret)
		return ret;
	if (cfg->vga) {
		ret = vga_create(vm, cfg->firmware != NULL);
		if (ret) {
			log_error("cannot create the VGA adapter: %s", strerror(-ret));
			return ret;
		}
	}
	if (cfg->vnc[0] || cfg->web[0]) {
		ret = vnc_start(vm, cfg->vnc[0] ? cfg->vnc : NULL,
				cfg->web[0] ? cfg->web : NULL, cfg->vnc_password_file);
		if (ret)
			return ret;
	}
	/* Firmware gets the rest of the Q35 chipset and its configuration
	 * (after the devices: the boot order names their slots). */
	if (cfg->firmware) {
		ret = ich9_lpc_create(vm);
		if (!ret)
			ret = firmware_cfg_create(vm);
	}
	return ret;
}

/*
 * The PCI host bridge (bus 0): configuration mechanism 1, ECAM, BAR
 * assignment and decoding, INTx routing.  See pci.h.
 */
#include "hw/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/vm.h"

#define CONF1_ADDR_PORT 0xcf8
#define CONF1_DATA_PORT 0xcfc
#define CONF1_ENABLE    0x80000000u
#define RESET_CONTROL_PORT 0xcf9 /* PIIX/ICH reset control register */

struct pci_host {
	struct vm *vm;
	pthread_mutex_t lock;          /* conf1 address, INTx counts */
	uint32_t conf1_addr;
	struct pci_device *slots[PCI_MAX_SLOTS];
	unsigned nslots;
	unsigned intx_count[4];        /* devices asserting each GSI */
	uint64_t next_mmio;
	uint32_t next_io;
	uint64_t ecam_base;            /* 0: ECAM switched off */
};

static struct pci_host *host_of(struct vm *vm)
{
	return vm->pci;
}

static uint32_t get_le(const uint8_t *p, unsigned size)
{
	uint32_t v = 0;

	memcpy(&v, p, size);
	return v;
}

/* The value a BAR register reads as, from the BAR's state. */
static void bar_store(struct pci_device *dev, unsigned i)
{
	struct pci_bar *b = &dev->bars[i];
	uint32_t v = b->io ? ((uint32_t)b->addr | 1) :
			     ((uint32_t)b->addr | (b->prefetch ? 0x8 : 0));

	memcpy(dev->config + PCI_BAR0 + 4 * i, &v, 4);
}

static bool decoding(struct pci_device *dev, unsigned i)
{
	uint16_t cmd = get_le(dev->config + PCI_COMMAND, 2);

	return cmd & (dev->bars[i].io ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY);
}

/* Make the bus match the BAR's address and the command register. */
static void bar_update_mapping(struct pci_device *dev, unsigned i)
{
	struct pci_bar *b = &dev->bars[i];
	struct bus *bus = b->io ? &dev->vm->pio : &dev->vm->mmio;
	bool want = b->size && decoding(dev, i) && b->addr &&
		    b->addr + b->size <= (b->io ? 0x10000ULL : 1ULL << 32);

	if (b->ram) {
		/* Device memory: its region follows the BAR. */
		b->mapped = gmem_move_device_ram(&dev->vm->mem, b->ram_region,
						 want ? b->addr : 0) == 0 && want;
		/* Firmware sizing the BAR (all ones) with decoding on puts it
		 * over the firmware for a moment: not worth a warning. */
		if (want && !b->mapped)
			log_debug("pci %s: BAR%u at %#llx overlaps other memory; "
				  "left unmapped", dev->name, i,
				  (unsigned long long)b->addr);
		b->mapped_addr = b->addr;
		return;
	}
	if (b->mapped) {
		bus_unregister(bus, b->mapped_addr, b->opaque);
		b->mapped = false;
	}
	if (!want)
		return;
	if (bus_register(bus, b->addr, b->size, b->ops, b->opaque, dev->name)) {
		log_warn_once("pci %s: BAR%u at %#llx overlaps another device; "
			      "left unmapped", dev->name, i,
			      (unsigned long long)b->addr);
		return;
	}
	b->mapped_addr = b->addr;
	b->mapped = true;
}

static void write_bar(struct pci_device *dev, unsigned i)
{
	struct pci_bar *b = &dev->bars[i];
	uint32_t raw = get_le(dev->config + PCI_BAR0 + 4 * i, 4);
	uint64_t mask = ~(b->size - 1);

	if (!b->size) {
		memset(dev->config + PCI_BAR0 + 4 * i, 0, 4);
		return;
	}
	/* Sizing writes all ones; the low bits are hard-wired to zero.  An
	 * I/O BAR keeps its upper 16 bits too, so that sizing reads them as
	 * ones (SeaBIOS computes the size from all 32 bits); an address above
	 * 64 KiB leaves it unmapped. */
	b->addr = raw & (uint32_t)mask & (b->io ? 0xfffffffcu : 0xfffffff0u);
	bar_store(dev, i);
	bar_update_mapping(dev, i);
}

/* Drive the shared INTx line from the device's level; dev->lock held. */
static void intx_update(struct pci_device *dev)
{
	struct pci_host *h = host_of(dev->vm);
	uint16_t cmd = get_le(dev->config + PCI_COMMAND, 2);
	int effective = dev->intx_level && !(cmd & PCI_COMMAND_INTX_DISABLE);
	unsigned gsi = pci_intx_gsi(dev->slot, 1), idx = gsi - PCI_FIRST_GSI;
	int assert;

	if (dev->intx_level)
		dev->config[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		dev->config[PCI_STATUS] &= ~PCI_STATUS_INTERRUPT;
	if (effective == dev->intx_asserted)
		return;
	dev->intx_asserted = effective;
	pthread_mutex_lock(&h->lock);
	if (effective)
		h->intx_count[idx]++;
	else
		h->intx_count[idx]--;
	/* Devices share the line: it is high while any of them holds it;
	 * set it under the lock so two devices' changes stay in order. */
	assert = h->intx_count[idx] > 0;
	irq_set_line(dev->vm, gsi, assert);
	pthread_mutex_unlock(&h->lock);
}

/* The expansion ROM: mapped while enabled (bit 0) and memory decodes. */
static void rom_update_mapping(struct pci_device *dev)
{
	struct pci_bar *r = &dev->rom;
	uint32_t raw = get_le(dev->config + PCI_ROM_ADDRESS, 4);
	bool want;

	if (!r->size)
		return;
	r->addr = raw & ~(uint32_t)(r->size - 1) & 0xfffff800u;
	want = (raw & 1) && r->addr && decoding(dev, 0) &&
	       r->addr + r->size <= 1ULL << 32;
	if (r->mapped && (!want || r->mapped_addr != r->addr)) {
		bus_unregister(&dev->vm->mmio, r->mapped_addr, r->opaque);
		r->mapped = false;
	}
	if (!want || r->mapped)
		return;
	if (bus_register(&dev->vm->mmio, r->addr, r->size, r->ops, r->opaque,
			 dev->name)) {
		log_warn_once("pci %s: its ROM at %#llx overlaps another device; "
			      "left unmapped", dev->name,
			      (unsigned long long)r->addr);
		return;
	}
	r->mapped_addr = r->addr;
	r->mapped = true;
}

static void command_written(struct pci_device *dev)
{
	unsigned i;

	rom_update_mapping(dev);

	for (i = 0; i < 6; i++)
		if (dev->bars[i].size)
			bar_update_mapping(dev, i);
	/* INTx disable masks (and re-enabling unmasks) a held level. */
	intx_update(dev);
}

void pci_config_write(struct vm *vm, unsigned slot, unsigned fn, unsigned off,
		      uint32_t value, unsigned size)
{
	struct pci_host *h = host_of(vm);
	struct pci_device *dev;
	unsigned i;

	if (!h || slot >= PCI_MAX_SLOTS || fn || off + size > 256 ||
	    (off & (size - 1)))
		return;
	dev = h->slots[slot];
	if (!dev)
		return;
	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < size; i++) {
		uint8_t m = dev->wmask[off + i], b = value >> (8 * i);

		dev->config[off + i] = (dev->config[off + i] & ~m) | (b & m);
	}
	for (i = 0; i < 6; i++)
		if (off < PCI_BAR0 + 4 * i + 4 && off + size > PCI_BAR0 + 4 * i)
			write_bar(dev, i);
	if (off < PCI_COMMAND + 2 && off + size > PCI_COMMAND)
		command_written(dev);
	if (off < PCI_ROM_ADDRESS + 4 && off + size > PCI_ROM_ADDRESS)
		rom_update_mapping(dev);
	if (dev->msix.nvectors && off < dev->msix.cap + 4 &&
	    off + size > dev->msix.cap + 2)
		pci_msix_control_written(dev);
	pthread_mutex_unlock(&dev->lock);
	if (dev->config_written)
		dev->config_written(dev, off, size);
}

uint32_t pci_config_read(struct vm *vm, unsigned slot, unsigned fn,
			 unsigned off, unsigned size)
{
	struct pci_host *h = host_of(vm);
	struct pci_device *dev;
	uint32_t v;

	if (!h || slot >= PCI_MAX_SLOTS || fn || !h->slots[slot])
		return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
	if (off + size > 256)
		return 0; /* extended config space: nothing there */
	dev = h->slots[slot];
	if (dev->config_read)
		dev->config_read(dev, off, size);
	pthread_mutex_lock(&dev->lock);
	v = get_le(dev->config + off, size);
	pthread_mutex_unlock(&dev->lock);
	return v;
}

/* Configuration mechanism 1. */
static uint64_t conf1_addr_read(void *opaque, uint64_t off, unsigned size)
{
	struct pci_host *h = opaque;
	uint32_t v;

	pthread_mutex_lock(&h->lock);
	v = h->conf1_addr;
	pthread_mutex_unlock(&h->lock);
	return size == 4 ? v : 0;
}

static void conf1_addr_write(void *opaque, uint64_t off, uint64_t value,
			     unsigned size)
{
	struct pci_host *h = opaque;

	if (size == 1 && off == 1) {
		/* 0xCF9: bit 2 starts a reset, as on the PIIX/ICH chipsets. */
		if (value & 4)
			vm_request_stop(h->vm, VM_STOP_RESET, 0);
		return;
	}
	if (size != 4)
		return;
	pthread_mutex_lock(&h->lock);
	h->conf1_addr = value & 0x80fffffcu;
	pthread_mutex_unlock(&h->lock);
}

/* Decode the address register; false if it selects nothing on bus 0. */
static bool conf1_target(struct pci_host *h, uint64_t off, unsigned *slot,
			 unsigned *fn, unsigned *reg)
{
	uint32_t a;

	pthread_mutex_lock(&h->lock);
	a = h->conf1_addr;
	pthread_mutex_unlock(&h->lock);
	if (!(a & CONF1_ENABLE) || ((a >> 16) & 0xff))
		return false;
	*slot = (a >> 11) & 0x1f;
	*fn = (a >> 8) & 7;
	*reg = (a & 0xfc) + off;
	return true;
}

static uint64_t conf1_data_read(void *opaque, uint64_t off, unsigned size)
{
	struct pci_host *h = opaque;
	unsigned slot, fn, reg;

	if (!conf1_target(h, off, &slot, &fn, &reg) || (reg & (size - 1)))
		return (1ull << (8 * size)) - 1;
	return pci_config_read(h->vm, slot, fn, reg, size);
}

static void conf1_data_write(void *opaque, uint64_t off, uint64_t value,
			     unsigned size)
{
	struct pci_host *h = opaque;
	unsigned slot, fn, reg;

	if (conf1_target(h, off, &slot, &fn, &reg))
		pci_config_write(h->vm, slot, fn, reg, value, size);
}

static const struct io_ops conf1_addr_ops = {
	.read = conf1_addr_read,
	.write = conf1_addr_write,
};

static const struct io_ops conf1_data_ops = {
	.read = conf1_data_read,
	.write = conf1_data_write,
};

/* ECAM: bus 0 only; offset = slot << 15 | fn << 12 | register. */
static uint64_t ecam_read(void *opaque, uint64_t off, unsigned size)
{
	struct pci_host *h = opaque;

	if (size == 8)
		return ecam_read(h, off, 4) |
		       (uint64_t)ecam_read(h, off + 4, 4) << 32;
	if ((off & 0xfff) & (size - 1))
		return (1ull << (8 * size)) - 1;
	return pci_config_read(h->vm, off >> 15, (off >> 12) & 7, off & 0xfff,
			       size);
}

static void ecam_write(void *opaque, uint64_t off, uint64_t value,
		       unsigned size)
{
	struct pci_host *h = opaque;

	if (size == 8) {
		ecam_write(h, off, (uint32_t)value, 4);
		ecam_write(h, off + 4, value >> 32, 4);
		return;
	}
	if (!((off & 0xfff) & (size - 1)))
		pci_config_write(h->vm, off >> 15, (off >> 12) & 7,
				 off & 0xfff, value, size);
}

static const struct io_ops ecam_ops = {
	.read = ecam_read,
	.write = ecam_write,
};

/*
 * Machine reset: every device's configuration space as wirt set it up
 * (BARs where they were assigned, MSI-X off), as firmware leaves a PC.
 */
static void pci_host_reset(void *opaque)
{
	struct pci_host *h = opaque;
	unsigned i, b;

	for (i = 0; i < PCI_MAX_SLOTS; i++) {
		struct pci_device *dev = h->slots[i];

		if (!dev)
			continue;
		pthread_mutex_lock(&dev->lock);
		memcpy(dev->config, dev->config_at_plug, sizeof(dev->config));
		for (b = 0; b < 6; b++)
			write_bar(dev, b);
		command_written(dev);	/* and the ROM BAR */
		pci_msix_reset(dev);
		pthread_mutex_unlock(&dev->lock);
		if (dev->config_written)
			dev->config_written(dev, 0, sizeof(dev->config));
	}
}

/*
 * Every device's configuration space, INTx level and MSI-X state, by
 * slot.  Load makes BARs, the command register and what the chipset's
 * registers control (PAM, PMBASE, ECAM: their config_written hooks) match.
 */
static unsigned plugged_count(const struct pci_host *h)
{
	unsigned i, n = 0;

	for (i = 0; i < PCI_MAX_SLOTS; i++)
		n += h->slots[i] != NULL;
	return n;
}

static void pci_host_save(void *opaque, struct vmstate_out *o)
{
	struct pci_host *h = opaque;

	pthread_mutex_lock(&h->lock);
	vmstate_put_u32(o, h->conf1_addr);
	pthread_mutex_unlock(&h->lock);
	vmstate_put_u32(o, plugged_count(h));
	for (unsigned i = 0; i < PCI_MAX_SLOTS; i++) {
		struct pci_device *dev = h->slots[i];

		if (!dev)
			continue;
		pthread_mutex_lock(&dev->lock);
		vmstate_put_u32(o, i);
		vmstate_put_u16(o, get_le(dev->config + PCI_VENDOR_ID, 2));
		vmstate_put_u16(o, get_le(dev->config + PCI_DEVICE_ID, 2));
		vmstate_put_bytes(o, dev->config, sizeof(dev->config));
		vmstate_put_bool(o, dev->intx_level);
		pci_msix_save(dev, o);
		pthread_mutex_unlock(&dev->lock);
	}
}

static int pci_device_load(struct pci_device *dev, struct vmstate_in *in)
{
	uint8_t config[256];
	unsigned b;

	if (vmstate_get_u16(in) != get_le(dev->config + PCI_VENDOR_ID, 2) ||
	    vmstate_get_u16(in) != get_le(dev->config + PCI_DEVICE_ID, 2))
		return vmstate_fail(in, -EINVAL, "pci slot %u: the saved machine has another device there than %s: start with the same devices as the saved machine",
				    dev->slot, dev->name);
	vmstate_get_bytes(in, config, sizeof(config));
	pthread_mutex_lock(&dev->lock);
	/* Read-only bytes stay as this device has them. */
	for (b = 0; b < sizeof(config); b++)
		dev->config[b] = (dev->config[b] & ~dev->wmask[b]) |
				 (config[b] & dev->wmask[b]);
	dev->config[PCI_STATUS] = config[PCI_STATUS];
	for (b = 0; b < 6; b++)
		write_bar(dev, b);
	dev->intx_level = vmstate_get_bool(in);
	command_written(dev);
	pci_msix_load(dev, in);
	pthread_mutex_unlock(&dev->lock);
	if (dev->config_written)
		dev->config_written(dev, 0, sizeof(dev->config));
	return in->error;
}

static int pci_host_load(void *opaque, struct vmstate_in *in)
{
	struct pci_host *h = opaque;
	unsigned n, i, slot;

	pthread_mutex_lock(&h->lock);
	h->conf1_addr = vmstate_get_u32(in);
	pthread_mutex_unlock(&h->lock);
	n = vmstate_get_u32(in);
	if (!in->error && n != plugged_count(h))
		return vmstate_fail(in, -EINVAL, "the saved machine has %u PCI devices, this one %u: start with the same devices as the saved machine",
				    n, plugged_count(h));
	for (i = 0; i < n && !in->error; i++) {
		slot = vmstate_get_u32(in);
		if (in->error)
			break;
		if (slot >= PCI_MAX_SLOTS || !h->slots[slot])
			return vmstate_fail(in, -EINVAL, "the saved machine has a PCI device in slot %u, this one none: start with the same devices as the saved machine",
					    slot);
		pci_device_load(h->slots[slot], in);
	}
	return in->error;
}

static void pci_host_destroy(void *opaque)
{
	struct pci_host *h = opaque;
	unsigned i;

	for (i = 0; i < PCI_MAX_SLOTS; i++) {
		struct pci_device *dev = h->slots[i];

		if (!dev)
			continue;
		pci_msix_destroy(dev);
		free((void *)dev->rom_data);
		free(dev);
	}
	h->vm->pci = NULL;
	free(h);
}

int pci_host_create(struct vm *vm)
{
	static const struct device_hooks hooks = { .reset = pci_host_reset,
						    .destroy = pci_host_destroy,
						    .name = "pci", .version = 1,
						    .save = pci_host_save,
						    .load = pci_host_load };
	struct device_hooks hk = hooks;
	struct pci_host *h = calloc(1, sizeof(*h));
	struct pci_device *bridge;
	int ret;

	if (!h)
		return -ENOMEM;
	h->vm = vm;
	pthread_mutex_init(&h->lock, NULL);
	h->next_mmio = PCI_MMIO_BASE;
	h->next_io = PCI_IO_BASE;
	vm->pci = h;
	hk.opaque = h;
	vm_add_device(vm, &hk);
	ret = bus_register(&vm->pio, CONF1_ADDR_PORT, 4, &conf1_addr_ops, h,
			   "pci conf1 address");
	if (!ret)
		ret = bus_register(&vm->pio, CONF1_DATA_PORT, 4,
				   &conf1_data_ops, h, "pci conf1 data");
	if (!ret)
		ret = bus_register(&vm->mmio, PCI_ECAM_BASE, PCI_ECAM_SIZE,
				   &ecam_ops, h, "pci ecam");
	if (ret)
		return ret;
	h->ecam_base = PCI_ECAM_BASE;
	/* Slot 0: the host bridge itself (Intel 82G33/Q35 DRAM controller IDs
	 * are what guests expect of a PC host bridge). */
	bridge = pci_device_new(vm, "host bridge", 0x8086, 0x29c0, 0x060000, 0);
	if (!bridge)
		return -ENOMEM;
	q35_mch_init(bridge);
	return pci_device_plug(bridge);
}

int pci_ecam_move(struct vm *vm, uint64_t base)
{
	struct pci_host *h = host_of(vm);
	int ret = 0;

	pthread_mutex_lock(&h->lock);
	if (base == h->ecam_base)
		goto out;
	if (h->ecam_base)
		bus_unregister(&vm->mmio, h->ecam_base, h);
	h->ecam_base = 0;
	if (base && gmem_find(&vm->mem, base, PCI_ECAM_SIZE)) {
		log_warn_once("pci: the guest put ECAM at %#llx, over RAM; ECAM is off",
			      (unsigned long long)base);
		ret = -EBUSY;
	} else if (base) {
		ret = bus_register(&vm->mmio, base, PCI_ECAM_SIZE, &ecam_ops, h,
				   "pci ecam");
		if (ret)
			log_warn_once("pci: the guest put ECAM at %#llx, over a device; ECAM is off",
				      (unsigned long long)base);
		else
			h->ecam_base = base;
	}
out:
	pthread_mutex_unlock(&h->lock);
	return ret;
}

uint64_t pci_ecam_base(struct vm *vm)
{
	struct pci_host *h = host_of(vm);
	uint64_t base;

	if (!h)
		return PCI_ECAM_BASE;
	pthread_mutex_lock(&h->lock);
	base = h->ecam_base;
	pthread_mutex_unlock(&h->lock);
	return base;
}

static struct pci_device *device_new(struct vm *vm, const char *name,
				     int slot_wanted, uint16_t vendor,
				     uint16_t device, uint32_t class_code,
				     uint8_t revision)
{
	struct pci_host *h = host_of(vm);
	struct pci_device *dev;

	if (slot_wanted < 0 &&
	    (h->nslots == PCI_MAX_SLOTS || h->slots[h->nslots])) {
		log_error("pci: no free slot for %s (at most %d devices)", name,
			  PCI_MAX_SLOTS);
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->vm = vm;
	dev->name = name;
	dev->slot = slot_wanted >= 0 ? (unsigned)slot_wanted : h->nslots;
	pthread_mutex_init(&dev->lock, NULL);
	memcpy(dev->config + PCI_VENDOR_ID, &vendor, 2);
	memcpy(dev->config + PCI_DEVICE_ID, &device, 2);
	dev->config[PCI_REVISION_ID] = revision;
	dev->config[PCI_CLASS_PROG] = class_code;
	dev->config[PCI_CLASS_PROG + 1] = class_code >> 8;
	dev->config[PCI_CLASS_PROG + 2] = class_code >> 16;
	/* Command: I/O, memory, bus master, INTx disable are writable. */
	dev->wmask[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
				  PCI_COMMAND_MASTER;
	dev->wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->next_cap = 0x40;
	h->slots[dev->slot] = dev;
	if (slot_wanted < 0)
		h->nslots++;
	return dev;
}

struct pci_device *pci_device_new(struct vm *vm, const char *name,
				  uint16_t vendor, uint16_t device,
				  uint32_t class_code, uint8_t revision)
{
	return device_new(vm, name, -1, vendor, device, class_code, revision);
}

struct pci_device *pci_device_new_at(struct vm *vm, const char *name,
				     unsigned slot, uint16_t vendor,
				     uint16_t device, uint32_t class_code,
				     uint8_t revision)
{
	struct pci_host *h = host_of(vm);

	if (slot >= PCI_MAX_SLOTS || slot < h->nslots || h->slots[slot]) {
		log_error("pci: slot %u for %s is taken", slot, name);
		return NULL;
	}
	return device_new(vm, name, slot, vendor, device, class_code, revision);
}

void pci_bar_init(struct pci_device *dev, unsigned bar, uint64_t size, bool io,
		  const struct io_ops *ops, void *opaque)
{
	struct pci_bar *b = &dev->bars[bar];

	b->size = size;
	b->io = io;
	b->ops = ops;
	b->opaque = opaque;
	memset(dev->wmask + PCI_BAR0 + 4 * bar, 0xff, 4);
}

void pci_bar_init_ram(struct pci_device *dev, unsigned bar, uint64_t size,
		      unsigned region)
{
	pci_bar_init(dev, bar, size, false, NULL, NULL);
	dev->bars[bar].ram = true;
	dev->bars[bar].ram_region = region;
	/* prefetchable: a framebuffer may be write-combined */
	dev->bars[bar].prefetch = true;
}

static uint64_t rom_read(void *opaque, uint64_t off, unsigned size)
{
	struct pci_device *dev = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		if (off + i < dev->rom_len)
			v |= (uint64_t)dev->rom_data[off + i] << (8 * i);
	return v;
}

static void rom_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
}

static const struct io_ops rom_ops = {
	.read = rom_read,
	.write = rom_write,
};

int pci_rom_init(struct pci_device *dev, void *data, size_t len)
{
	uint64_t size = 2048;
	uint32_t mask;

	if (!len || len > (16u << 20)) {
		free(data);
		return -EINVAL;
	}
	while (size < len)
		size <<= 1;
	dev->rom.size = size;
	dev->rom.ops = &rom_ops;
	dev->rom.opaque = dev;
	dev->rom_data = data;
	dev->rom_len = len;
	mask = ~(uint32_t)(size - 1) | 1;
	memcpy(dev->wmask + PCI_ROM_ADDRESS, &mask, 4);
	return 0;
}

unsigned pci_add_capability(struct pci_device *dev, uint8_t id, unsigned len)
{
	unsigned off = dev->next_cap;

	if (off + len > 256)
		return 0;
	dev->config[off] = id;
	dev->config[off + 1] = 0;
	if (dev->last_cap_next)
		*dev->last_cap_next = off;
	else
		dev->config[PCI_CAP_PTR] = off;
	dev->last_cap_next = dev->config + off + 1;
	dev->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	dev->next_cap = (off + len + 3) & ~3u;
	return off;
}

int pci_device_plug(struct pci_device *dev)
{
	struct pci_host *h = host_of(dev->vm);
	unsigned i;

	for (i = 0; i < 6; i++) {
		struct pci_bar *b = &dev->bars[i];

		if (!b->size)
			continue;
		if (b->io) {
			h->next_io = (h->next_io + b->size - 1) & ~(b->size - 1);
			if (h->next_io + b->size > PCI_IO_END)
				goto full;
			b->addr = h->next_io;
			h->next_io += b->size;
		} else {
			h->next_mmio = (h->next_mmio + b->size - 1) &
				       ~(b->size - 1);
			if (h->next_mmio + b->size > PCI_MMIO_END)
				goto full;
			b->addr = h->next_mmio;
			h->next_mmio += b->size;
		}
		bar_store(dev, i);
	}
	if (dev->slot) {
		dev->config[PCI_INTERRUPT_PIN] = 1;
		dev->config[PCI_INTERRUPT_LINE] = pci_intx_gsi(dev->slot, 1);
	}
	dev->config[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY;
	memcpy(dev->config_at_plug, dev->config, sizeof(dev->config));
	pthread_mutex_lock(&dev->lock);
	command_written(dev);
	pthread_mutex_unlock(&dev->lock);
	return 0;
full:
	log_error("pci %s: no room left for BAR%u (%llu bytes)", dev->name, i,
		  (unsigned long long)dev->bars[i].size);
	return -ENOSPC;
}

unsigned pci_intx_gsi(unsigned slot, unsigned pin)
{
	return PCI_FIRST_GSI + (slot + pin - 1) % 4;
}

void pci_set_intx(struct pci_device *dev, int level)
{
	pthread_mutex_lock(&dev->lock);
	dev->intx_level = level;
	intx_update(dev);
	pthread_mutex_unlock(&dev->lock);
}

unsigned pci_slots_used(struct vm *vm)
{
	struct pci_host *h = host_of(vm);

	return h ? h->nslots : 0;
}

/*
 * PCI: one host bridge with bus 0, reached through configuration mechanism
 * 1 (ports 0xCF8/0xCFC) and ECAM (MMIO, described by the ACPI MCFG table).
 *
 * Devices are single-function, one per slot.  wirt assigns every BAR at
 * start-up, as firmware would, and enables decoding; the guest may move
 * BARs and switch decoding off and on, and the bus follows.  Legacy INTx
 * pins are swizzled onto IOAPIC inputs 16-19 (see pci_intx_gsi), which the
 * ACPI _PRT and the MP table describe.
 */
#ifndef WIRT_HW_PCI_H
#define WIRT_HW_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/bus.h"

struct vm;

/* Guest-physical and port layout of the PCI host bridge. */
#define PCI_ECAM_BASE      0xE0000000ULL /* bus 0 only: 1 MiB */
#define PCI_ECAM_SIZE      0x100000ULL
#define PCI_MMIO_BASE      0xC0000000ULL /* BARs: [3 GiB, 3.5 GiB) */
#define PCI_MMIO_END       0xE0000000ULL
#define PCI_IO_BASE        0xC000
#define PCI_IO_END         0x10000
#define PCI_MAX_SLOTS      32
#define PCI_FIRST_GSI      16            /* INTx lines: IOAPIC pins 16-19 */

/* Configuration space registers used here (PCI Local Bus spec 3.0). */
#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define PCI_STATUS         0x06
#define PCI_REVISION_ID    0x08
#define PCI_CLASS_PROG     0x09
#define PCI_HEADER_TYPE    0x0e
#define PCI_BAR0           0x10
#define PCI_SUBSYS_VENDOR  0x2c
#define PCI_SUBSYS_ID      0x2e
#define PCI_CAP_PTR        0x34
#define PCI_ROM_ADDRESS    0x30
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN  0x3d

#define PCI_COMMAND_IO     0x0001
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_CAP_LIST 0x0010
#define PCI_STATUS_INTERRUPT 0x0008

#define PCI_CAP_ID_MSIX    0x11
#define PCI_CAP_ID_VNDR    0x09

struct pci_bar {
	uint64_t size;          /* power of two; 0 if the BAR is unused */
	uint64_t addr;          /* where it is mapped (or would be) */
	bool io;                /* port I/O rather than memory */
	bool mapped;            /* registered on the bus right now */
	uint64_t mapped_addr;   /* ... at this address */
	const struct io_ops *ops;
	void *opaque;
	bool prefetch;          /* a prefetchable memory BAR */
	bool ram;               /* guest-memory region ram_region, not ops */
	unsigned ram_region;
};

struct pci_device;

/* Called without dev->lock held: after the guest wrote config space
 * (config_written) or before it reads it (config_read). */
typedef void (*pci_config_hook)(struct pci_device *dev, unsigned off,
				unsigned size);

/* MSI-X state (pci_msix.c); the table and PBA live in a device BAR. */
struct pci_msix {
	unsigned nvectors;       /* 0: no MSI-X capability */
	unsigned cap;            /* config offset of the capability */
	uint32_t (*table)[4];    /* addr lo, addr hi, data, vector control */
	uint64_t *pending;       /* one bit per vector */
	/*
	 * Where the accelerator offers irqfds: an eventfd per vector and
	 * whether it is routed to the vector's current message.  Only an
	 * unmasked vector of an enabled function is routed.
	 */
	int *irqfd;
	bool *routed;
};

struct pci_device {
	struct vm *vm;
	const char *name;
	unsigned slot;
	uint8_t config[256];
	uint8_t wmask[256];      /* bits the guest may change */
	uint8_t config_at_plug[256]; /* what a machine reset restores */
	struct pci_bar bars[6];
	unsigned next_cap;       /* where the next capability goes */
	uint8_t *last_cap_next;  /* the "next" byte of the last capability */
	int intx_level;          /* what the device model asks for */
	int intx_asserted;       /* what reaches the line (INTx disable) */
	struct pci_msix msix;
	/* The expansion ROM BAR (config 0x30): its image, read-only. */
	struct pci_bar rom;
	const uint8_t *rom_data;
	size_t rom_len;
	pci_config_hook config_written;
	/* Called before the guest reads config space (may fill bytes in). */
	pci_config_hook config_read;
	void *opaque;            /* the device model */
	pthread_mutex_t lock;    /* config space and BAR state */
};

/* Create the host bridge (once per VM, before devices); 0 or -errno. */
int pci_host_create(struct vm *vm);

/*
 * Add a device in the next free slot: vendor/device IDs, class code
 * (base << 16 | sub << 8 | prog-if) and revision.  Returns NULL (logged)
 * when the bus is full.  Add BARs and capabilities, then pci_device_plug.
 */
struct pci_device *pci_device_new(struct vm *vm, const char *name,
				  uint16_t vendor, uint16_t device,
				  uint32_t class_code, uint8_t revision);
/* The same in a given slot, outside the sequence pci_device_new fills
 * (chipset functions such as the LPC bridge at 00:1f.0). */
struct pci_device *pci_device_new_at(struct vm *vm, const char *name,
				     unsigned slot, uint16_t vendor,
				     uint16_t device, uint32_t class_code,
				     uint8_t revision);
/* A memory (or port I/O) BAR of size bytes (power of two) served by ops. */
void pci_bar_init(struct pci_device *dev, unsigned bar, uint64_t size, bool io,
		  const struct io_ops *ops, void *opaque);
/* A memory BAR that is device memory the guest reaches like RAM
 * (gmem_add_device_ram's region), e.g. a framebuffer. */
void pci_bar_init_ram(struct pci_device *dev, unsigned bar, uint64_t size,
		      unsigned region);
/* An expansion ROM (config offset 0x30) holding the len bytes at data
 * (taken over: freed with the device); firmware maps it to run it. */
int pci_rom_init(struct pci_device *dev, void *data, size_t len);
/* Append a capability of len bytes; returns its config offset (0 if full). */
unsigned pci_add_capability(struct pci_device *dev, uint8_t id, unsigned len);
/* Assign the BARs, enable decoding and make the device visible. */
int pci_device_plug(struct pci_device *dev);

/* Raise or lower the device's INTA# line. */
void pci_set_intx(struct pci_device *dev, int level);
/* The GSI a slot's INTx pin (1 = INTA#) reaches. */
unsigned pci_intx_gsi(unsigned slot, unsigned pin);

/* Move ECAM (bus 0, 1 MiB) to base, or switch it off with 0 (the host
 * bridge's PCIEXBAR register); -EBUSY if base is RAM or a device. */
int pci_ecam_move(struct vm *vm, uint64_t base);
/* Where ECAM is now (0 if off), for the MCFG table firmware installs. */
uint64_t pci_ecam_base(struct vm *vm);

/* The Q35 MCH registers of the host bridge (hw/q35_mch.c): PAM, PCIEXBAR,
 * SMRAM; called before the bridge is plugged. */
void q35_mch_init(struct pci_device *bridge);

/* Read-only views for firmware tables: the slots in use. */
unsigned pci_slots_used(struct vm *vm);

/* Config-space access as the two mechanisms perform it (tests use it). */
uint32_t pci_config_read(struct vm *vm, unsigned slot, unsigned fn,
			 unsigned off, unsigned size);
void pci_config_write(struct vm *vm, unsigned slot, unsigned fn, unsigned off,
		      uint32_t value, unsigned size);

/* MSI-X (pci_msix.c). */
int pci_msix_init(struct pci_device *dev, unsigned nvectors, unsigned bar,
		  uint32_t table_off, uint32_t pba_off);
bool pci_msix_enabled(struct pci_device *dev);
/* Send vector (or mark it pending while masked); false if MSI-X is off. */
bool pci_msix_notify(struct pci_device *dev, unsigned vector);
uint64_t pci_msix_table_read(struct pci_device *dev, uint64_t off,
			     unsigned size);
void pci_msix_table_write(struct pci_device *dev, uint64_t off, uint64_t value,
			  unsigned size);
uint64_t pci_msix_pba_read(struct pci_device *dev, uint64_t off, unsigned size);
/* Config space hook: a write touched the MSI-X message control. */
void pci_msix_control_written(struct pci_device *dev);
/* Back to power-on state (disabled, all vectors masked); lock held. */
void pci_msix_reset(struct pci_device *dev);
/* The table and pending bits in the VM state (dev->lock held); load
 * routes and delivers as the restored control register says. */
struct vmstate_out;
struct vmstate_in;
void pci_msix_save(struct pci_device *dev, struct vmstate_out *o);
int pci_msix_load(struct pci_device *dev, struct vmstate_in *in);
void pci_msix_destroy(struct pci_device *dev);

#endif

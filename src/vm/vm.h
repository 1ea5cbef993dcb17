/*
 * The machine model: one x86-64 PC virtual machine.
 *
 * Owns guest memory, the device buses, the vCPUs and the lifecycle (run,
 * reset, power off).  Accelerators and devices reach the machine through
 * this struct; nothing here depends on which accelerator runs the guest.
 */
#ifndef WIRT_VM_VM_H
#define WIRT_VM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"
#include "hw/bus.h"
#include "hw/irq.h"
#include "vm/boot_order.h"
#include "vm/config.h"
#include "vm/memory.h"

struct event_loop;
struct pci_host;
struct acpi_pm;
struct display;
struct i8042;
struct block_dev;

/* Why the machine stops running its vCPUs. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_EXIT,      /* end wirt with vm->exit_status (debug-exit, quit) */
	VM_STOP_POWEROFF,  /* guest powered off: exit status 0 */
	VM_STOP_RESET,     /* guest asked for a reset (i8042, triple fault) */
	VM_STOP_ERROR,     /* unrecoverable: exit status 1 */
};

struct vcpu {
	struct vm *vm;
	unsigned index;
	pthread_t thread;
	int tid;          /* the host thread id, for query-cpus-fast */
	void *accel_data; /* the accelerator's per-vCPU state */
};

struct vmstate_out;
struct vmstate_in;

/*
 * A device that wants to hear about machine resets and teardown, and one
 * with state to save: its section in the VM state stream is name (one per
 * instance, counted in registration order), written at version; load is
 * given the section (in->version may be older) and returns 0 or negative
 * errno with the reason set (vmstate_fail).  Both run with the vCPUs
 * parked (migration/vm_save.c).
 */
struct device_hooks {
	void (*reset)(void *opaque);
	void (*destroy)(void *opaque);
	void *opaque;
	const char *name;
	uint32_t version;
	void (*save)(void *opaque, struct vmstate_out *o);
	int (*load)(void *opaque, struct vmstate_in *in);
};

#define VM_MAX_DEVICES 64

/* Lifecycle events the monitor reports (control/qmp.c). */
enum vm_event {
	VM_EVENT_STOP,      /* vCPUs paused (stop) */
	VM_EVENT_RESUME,    /* vCPUs run again (cont) */
	VM_EVENT_SHUTDOWN,  /* the machine ends */
	VM_EVENT_POWERDOWN, /* the power button was pressed */
	VM_EVENT_RESET,     /* the machine resets */
};

/* guest: the guest asked for it; why: QEMU's ShutdownCause name. */
typedef void (*vm_event_fn)(void *opaque, enum vm_event ev, bool guest,
			    const char *why);

/* Boot images read at start-up and loaded again at every reset. */
struct boot_images {
	void *kernel, *initrd, *firmware;
	size_t kernel_size, initrd_size, firmware_size;
};

struct vm {
	const struct vm_config *config;
	const struct accel_ops *accel;
	void *accel_data;

	struct guest_memory mem;
	struct bus pio;
	struct bus mmio;

	/* Where device interrupts go; set by the accelerator's vm_init. */
	struct irq_chip_ops irq_ops;
	void *irq_opaque;
	struct pci_host *pci; /* hw/pci.c; NULL until created */
	struct acpi_pm *acpi_pm; /* hw/acpi_pm.c; NULL until created */
	struct display *display; /* ui/display.c; NULL without a screen */
	struct i8042 *i8042;     /* hw/i8042.c: the keyboard's controller */
	bool has_apic;   /* local APICs and an IOAPIC exist (MADT lists them) */
	/* Physical address bits the A20 gate clears: 0, or bit 20 with the
	 * gate off (hw/port92.c; the emulator honours it). */
	uint64_t a20_clear;

	struct vcpu vcpus[VM_MAX_CPUS];
	unsigned ncpus;

	struct event_loop *loop;
	struct boot_images boot;

	struct device_hooks devices[VM_MAX_DEVICES];
	unsigned ndevices;
	/* The guest's disk images, for savevm/loadvm (vm_add_disk). */
	struct block_dev *disks[VM_MAX_DISKS];
	unsigned ndisks;
	/* The network back ends, for live migration's hand-over. */
	struct net_backend *nets[VM_MAX_NETS];
	unsigned nnets;

	/* Lifecycle: the first stop request wins until the VM runs again. */
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	enum vm_stop_reason stop_reason;
	int exit_status;
	int running_vcpus; /* vCPU threads of the current run */

	/* stop/cont: vCPU threads park while pause_count > 0 (vm_pause). */
	int pause_count;
	bool user_paused;
	unsigned parked_vcpus;
	uint64_t start_time;	/* CLOCK_REALTIME seconds at vm_create */

	/* Devices the firmware may boot from (vm/boot_order.h). */
	struct boot_device boot_devices[VM_MAX_BOOT_DEVICES];
	unsigned nboot_devices;

	/* The ACPI power button (hw/acpi_pm.c); NULL if the board has none. */
	void (*power_button)(void *opaque);
	void *power_button_opaque;
	/* Told about lifecycle events; any thread (control/qmp.c). */
	vm_event_fn event_fn;
	void *event_opaque;
};

/*
 * Build the machine from its configuration: memory, accelerator, devices,
 * boot images.  Returns 0 or a negative errno with the reason logged.
 */
int vm_create(struct vm *vm, const struct vm_config *cfg,
	      const struct accel_ops *accel);

/* Run until the guest or the user ends the VM; returns wirt's exit status. */
int vm_run(struct vm *vm);

void vm_destroy(struct vm *vm);

/*
 * Ask the machine to stop (any thread, including vCPU and device code).
 * The first request wins; status is used with VM_STOP_EXIT.
 */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status);

/*
 * The same for a request from the host (monitor, signal): why names it the
 * way QEMU's SHUTDOWN and RESET events do ("host-qmp-quit"...).
 */
void vm_request_stop_host(struct vm *vm, enum vm_stop_reason reason,
			  int status, const char *why);

/*
 * stop/cont: park every vCPU thread (returns once they are parked, or
 * -ETIMEDOUT) and let them run again.  Pausing a paused VM or resuming a
 * running one does nothing.  Events STOP and RESUME are reported.
 */
int vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);

/* Park the vCPUs briefly without telling anyone (to read registers). */
int vm_hold(struct vm *vm);
void vm_release(struct vm *vm);

/* Press the ACPI power button: 0, or -ENODEV without one. */
int vm_power_button(struct vm *vm);

/* True once a stop was requested: vCPU loops check this after a kick. */
bool vm_stop_requested(struct vm *vm);

/* vm_pause.c: report a lifecycle event; park a vCPU thread while paused. */
void vm_event(struct vm *vm, enum vm_event ev, bool guest, const char *why);
void vm_park(struct vcpu *vcpu);

/* Register reset/destroy callbacks for a device. */
void vm_add_device(struct vm *vm, const struct device_hooks *hooks);

/* A disk controller's image, which savevm snapshots with the machine. */
void vm_add_disk(struct vm *vm, struct block_dev *bs);

#endif

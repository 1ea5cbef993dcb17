/*
 * The accelerator interface: what runs guest instructions.
 *
 * Two implementations: Linux KVM (accel/kvm.c) and wirt's own x86-64
 * emulator (accel/emu/).  The machine model (vm/) and the devices (hw/)
 * use only this interface, so both run the same machine.
 *
 * Threads: one host thread per vCPU calls vcpu_run in a loop; any thread
 * may call vcpu_kick and nmi.  Devices raise interrupts through the
 * irq_ops an accelerator installs at vm_init (hw/irq.h).
 */
#ifndef WIRT_ACCEL_ACCEL_H
#define WIRT_ACCEL_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/cpu_state.h"

struct vm;
struct vcpu;

/* Why vcpu_run returned to the machine model. */
enum vcpu_exit_reason {
	VCPU_EXIT_KICKED,     /* vcpu_kick was called: check vm->stop_request */
	VCPU_EXIT_SHUTDOWN,   /* triple fault / shutdown: reset or stop the VM */
	VCPU_EXIT_ERROR,      /* the accelerator cannot go on; message logged */
};

struct accel_ops {
	const char *name; /* "kvm" or "emu" */

	/*
	 * Can this accelerator run guests on this host?  0 if so; otherwise a
	 * negative errno and one line in why saying what is missing.
	 * unmodified_linux says whether it can also run ordinary Linux kernels
	 * (false for KVM-PVM), which --accel auto uses to choose.
	 */
	int (*probe)(char *why, size_t why_len, int *unmodified_linux);

	/* Create the VM after vm->mem is laid out; map all memory regions. */
	int (*vm_init)(struct vm *vm);
	void (*vm_destroy)(struct vm *vm);

	int (*vcpu_init)(struct vcpu *vcpu);
	void (*vcpu_destroy)(struct vcpu *vcpu);
	int (*vcpu_set_state)(struct vcpu *vcpu, const struct cpu_state *s);
	int (*vcpu_get_state)(struct vcpu *vcpu, struct cpu_state *s);

	/*
	 * Optional: the whole vCPU for save/restore (accel/cpu_state.h), the
	 * vCPU parked.  Restore refuses, with a message, what this
	 * accelerator cannot offer.  0 or negative errno.
	 */
	int (*vcpu_save)(struct vcpu *vcpu, struct cpu_full_state *st);
	int (*vcpu_restore)(struct vcpu *vcpu, const struct cpu_full_state *st);

	/*
	 * Run guest code until something needs the machine model.  Port I/O
	 * and MMIO are dispatched to vm->pio / vm->mmio from inside; HLT is
	 * handled inside too (sleep until an interrupt or a kick).
	 */
	enum vcpu_exit_reason (*vcpu_run)(struct vcpu *vcpu);

	/* Make vcpu_run return VCPU_EXIT_KICKED soon; any thread. */
	void (*vcpu_kick)(struct vcpu *vcpu);

	/*
	 * Optional: let a guest write of len bytes to MMIO address addr
	 * signal eventfd fd without leaving the accelerator (KVM ioeventfd);
	 * assign false removes it.  0 or negative errno.
	 */
	int (*ioeventfd)(struct vm *vm, uint64_t addr, unsigned len, int fd,
			 bool assign);

	/*
	 * Optional: let a write to eventfd fd send the MSI (addr, data) from
	 * inside the accelerator (KVM irqfd).  Called again with the same fd
	 * it changes the message; assign false removes it.  0 or negative
	 * errno (then send the MSI through the irq_ops).
	 */
	int (*msi_irqfd)(struct vm *vm, int fd, uint64_t addr, uint32_t data,
			 bool assign);

	/*
	 * Optional: the VM was paused (true, every vCPU parked) or is about
	 * to run again (false): keep the guest's clock from jumping over
	 * the pause where the accelerator keeps one (KVM's kvmclock).
	 */
	void (*pause_clock)(struct vm *vm, bool paused);

	/* Optional: assert the board's NMI line, LINT1 of every CPU (what an
	 * NMI button or a chipset NMI does); any thread. */
	void (*nmi)(struct vm *vm);
};

extern const struct accel_ops accel_kvm_ops;
extern const struct accel_ops accel_emu_ops;

/* Look an accelerator up by name; NULL if unknown. */
const struct accel_ops *accel_find(const char *name);

#endif

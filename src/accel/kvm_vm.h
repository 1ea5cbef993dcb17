/*
 * State of one KVM virtual machine, shared by the files of the KVM
 * accelerator (kvm.c: VM, memory and vCPUs; kvm_irq.c: interrupt routing
 * and irqfds).  Nothing outside src/accel/kvm*.c includes this.
 */
#ifndef WIRT_ACCEL_KVM_VM_H
#define WIRT_ACCEL_KVM_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;

/* An MSI that an eventfd raises in the kernel (irqfd), on its own GSI. */
struct kvm_msi_route {
	int fd;
	uint32_t gsi;
	uint64_t addr;
	uint32_t data;
};

#define KVM_MAX_MSI_ROUTES 256

/* One vCPU (vcpu->accel_data). */
struct kvm_vcpu {
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	int thread_known;
	int kicked;
};

struct kvm_vm {
	int kvm_fd;
	int vm_fd;
	int run_size;
	struct kvm_cpuid2 *cpuid;
	bool log_ram;            /* RAM slots keep a dirty log (migration) */

	/* What this host's KVM offers for save/restore (kvm_state.c). */
	bool has_xsave, has_xcrs, has_debugregs, has_vcpu_events;

	/* Interrupt routing (kvm_irq.c), under route_lock. */
	pthread_mutex_t route_lock;
	bool has_routing;        /* KVM_SET_GSI_ROUTING and KVM_IRQFD work */
	unsigned max_gsi;        /* routes the kernel accepts */
	struct kvm_msi_route msi[KVM_MAX_MSI_ROUTES];
	unsigned nmsi;

	/* kvmclock at the monitor's stop, set again at cont (kvm_clock.c). */
	uint64_t paused_clock;
	bool clock_saved;
};

/* The accelerator op: see pause_clock in accel/accel.h. */
void kvm_pause_clock(struct vm *vm, bool paused);
/* kvmclock reads the guest clock (vm_clock_ns): at creation and after a
 * restore moved that clock (kvm_clock.c). */
void kvm_clock_follow_guest_clock(struct vm *vm);

/* The accelerator ops vcpu_save and vcpu_restore (kvm_state.c). */
struct cpu_full_state;
struct vcpu;
void kvm_state_probe(struct kvm_vm *k);
int kvm_vcpu_save(struct vcpu *vcpu, struct cpu_full_state *st);
int kvm_vcpu_restore(struct vcpu *vcpu, const struct cpu_full_state *st);

/* The in-kernel PIC, IOAPIC and PIT as devices with saved state
 * (kvm_irqchip.c); after KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2. */
void kvm_irqchip_register(struct vm *vm, struct kvm_vm *k);

/* Install the PC's interrupt wiring; without it irqfds are unavailable. */
void kvm_irq_routing_init(struct kvm_vm *k);
/* The accelerator op: see msi_irqfd in accel/accel.h. */
int kvm_msi_irqfd(struct vm *vm, int fd, uint64_t addr, uint32_t data,
		  bool assign);

#endif

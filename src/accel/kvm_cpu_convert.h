/*
 * A KVM vCPU's ioctl structs to and from the common saved form (struct
 * cpu_full_state, accel/cpu_state.h): registers, the FPU/SSE image, the
 * local APIC page, pending events and the run state.  Pure functions: no
 * /dev/kvm needed (the unit tests call them); kvm_state.c does the ioctls.
 */
#ifndef WIRT_ACCEL_KVM_CPU_CONVERT_H
#define WIRT_ACCEL_KVM_CPU_CONVERT_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "accel/cpu_state.h"

/* KVM's paravirtual MSRs (Documentation/virt/kvm/x86/msr.rst): saved
 * under KVM when the guest enabled them (non-zero); the emulator has
 * none, so a state that uses them does not restore there. */
#define KVM_PV_MSR_WALL_CLOCK       0x11
#define KVM_PV_MSR_SYSTEM_TIME      0x12
#define KVM_PV_MSR_WALL_CLOCK_NEW   0x4b564d00
#define KVM_PV_MSR_SYSTEM_TIME_NEW  0x4b564d01
#define KVM_PV_MSR_ASYNC_PF_EN      0x4b564d02
#define KVM_PV_MSR_STEAL_TIME       0x4b564d03
#define KVM_PV_MSR_PV_EOI_EN        0x4b564d04
#define KVM_PV_MSR_ASYNC_PF_INT     0x4b564d06

/* General registers and segments/control registers; sregs'
 * interrupt_bitmap is left zero (the pending interrupt travels in the
 * vCPU events). */
void kvm_regs_from_common(const struct cpu_state *s, struct kvm_regs *r,
			  struct kvm_sregs *sr);
void kvm_regs_to_common(const struct kvm_regs *r, const struct kvm_sregs *sr,
			struct cpu_state *s);

/* KVM_GET/SET_FPU's struct in the FXSAVE layout and back. */
void kvm_fpu_to_fxsave(const struct kvm_fpu *f, uint8_t fx[512]);
void kvm_fpu_from_fxsave(const uint8_t fx[512], struct kvm_fpu *f);

/* KVM_GET/SET_XSAVE's area (standard form): the legacy region, XSTATE_BV
 * and the components past SSE.  From common, XSTATE_BV has x87 and SSE
 * set (the legacy region is always given) and XCOMP_BV is zero. */
void kvm_xsave_to_common(const struct kvm_xsave *x, struct cpu_full_state *st);
void kvm_xsave_from_common(const struct cpu_full_state *st, struct kvm_xsave *x);

/* The local APIC page: the common form is KVM's layout (the ID in
 * xAPIC form, bits 31:24, as KVM gives it without KVM_CAP_X2APIC_API;
 * the timer's current count at 0x390). */
void kvm_lapic_to_common(const struct kvm_lapic_state *k, uint32_t regs[256]);
void kvm_lapic_from_common(const uint32_t regs[256], struct kvm_lapic_state *k);

/*
 * Pending and half-delivered events and the run state.  to_common
 * returns 0, or -ENOTSUP for an mp_state the common form has no place
 * for.  from_common returns 0, or -EINVAL with why set for what KVM
 * cannot take (an INIT not yet taken, an exception vector KVM refuses).
 */
int kvm_events_to_common(const struct kvm_vcpu_events *ev,
			 const struct kvm_mp_state *mp, struct cpu_full_state *st);
int kvm_events_from_common(const struct cpu_full_state *st,
			   struct kvm_vcpu_events *ev, struct kvm_mp_state *mp,
			   const char **why);

/*
 * A waiting AP with a start-up IPI received (sipi_vector non-zero) is
 * restored as having taken it: CS = vector << 8, IP 0, runnable.  KVM's
 * SIPI_RECEIVED would start it at the vector its local APIC last got,
 * which userspace cannot set (KVM_SET_VCPU_EVENTS' sipi_vector is not
 * that one).
 */
void kvm_take_sipi(struct cpu_state *s, uint8_t vector);

#endif

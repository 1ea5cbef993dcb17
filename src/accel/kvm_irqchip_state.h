/*
 * KVM's in-kernel 8259 pair, IOAPIC and PIT to and from the common saved
 * form of the same chips (hw/pic.h, hw/ioapic.h, hw/pit.h), so that a
 * state saved under one accelerator restores under the other.  Pure
 * functions: no /dev/kvm needed (the unit tests call them).
 */
#ifndef WIRT_ACCEL_KVM_IRQCHIP_STATE_H
#define WIRT_ACCEL_KVM_IRQCHIP_STATE_H

#include <linux/kvm.h>
#include <stdint.h>

#include "hw/ioapic.h"
#include "hw/pic.h"
#include "hw/pit.h"

/* Where KVM's IOAPIC sits (and wirt's: hw/ioapic.c). */
#define KVM_STATE_IOAPIC_BASE 0xfec00000ULL

/* chip: 0 master (KVM_IRQCHIP_PIC_MASTER), 1 slave. */
void kvm_pic_from_common(const struct pic_chip *c, unsigned chip,
			 struct kvm_pic_state *k);
void kvm_pic_to_common(const struct kvm_pic_state *k, unsigned chip,
		       struct pic_chip *c);

void kvm_ioapic_from_common(const struct ioapic_state *s,
			    struct kvm_ioapic_state *k);
void kvm_ioapic_to_common(const struct kvm_ioapic_state *k,
			  struct ioapic_state *s);

/*
 * KVM stamps counts with the host's CLOCK_MONOTONIC (count_load_time),
 * the common form with the guest clock (vm_clock_ns): vm_now and
 * host_now are the two clocks read at the same moment.
 */
void kvm_pit_from_common(const struct pit_state *s, uint64_t vm_now,
			 uint64_t host_now, struct kvm_pit_state2 *k);
void kvm_pit_to_common(const struct kvm_pit_state2 *k, uint64_t vm_now,
		       uint64_t host_now, struct pit_state *s);

#endif

/*
 * KVM's guest clock across the monitor's stop and cont: kvmclock (the
 * clock source Linux guests use under KVM) is read when the vCPUs are
 * parked and set back before they run again, so the guest does not see
 * the pause, as QEMU does.  The hardware TSC runs on.
 *
 * kvmclock reads the guest clock (vm_clock_ns): set so at creation, and
 * again when a restore moved the guest clock to the saved machine's
 * ("clock" section), so a restored guest's kvmclock goes on from where
 * it was saved, under KVM or after the emulator, with no jump.
 */
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "accel/kvm_vm.h"
#include "util/log.h"
#include "vm/vm.h"
#include "vm/vm_clock.h"

void kvm_pause_clock(struct vm *vm, bool paused)
{
	struct kvm_vm *k = vm->accel_data;
	struct kvm_clock_data d;

	memset(&d, 0, sizeof(d));
	if (paused) {
		k->clock_saved = ioctl(k->vm_fd, KVM_GET_CLOCK, &d) == 0;
		k->paused_clock = d.clock;
		return;
	}
	if (!k->clock_saved)
		return;
	d.clock = k->paused_clock;
	if (ioctl(k->vm_fd, KVM_SET_CLOCK, &d) < 0)
		log_warn_once("KVM_SET_CLOCK failed: the guest clock jumps over pauses");
	k->clock_saved = false;
}

void kvm_clock_follow_guest_clock(struct vm *vm)
{
	struct kvm_vm *k = vm->accel_data;
	struct kvm_clock_data d;

	memset(&d, 0, sizeof(d));
	d.clock = vm_clock_ns();
	/* Paused (the monitor's loadvm): cont sets it from paused_clock. */
	if (k->clock_saved)
		k->paused_clock = d.clock;
	if (ioctl(k->vm_fd, KVM_SET_CLOCK, &d) < 0)
		log_warn_once("KVM_SET_CLOCK failed: kvmclock does not follow the guest clock");
}

/*
 * KVM's guest clock across the monitor's stop and cont: kvmclock (the
 * clock source Linux guests use under KVM) is read when the vCPUs are
 * parked and set back before they run again, so the guest does not see
 * the pause, as QEMU does.  The hardware TSC runs on.
 */
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "accel/kvm_vm.h"
#include "util/log.h"
#include "vm/vm.h"

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

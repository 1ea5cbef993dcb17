/*
 * Pausing and resuming the machine (the monitor's stop and cont), the
 * power button, and lifecycle events for the monitor.
 *
 * A pause raises vm->pause_count and kicks every vCPU: the vCPU thread
 * loop (vm.c) sees the count once vcpu_run returns and parks in vm_park
 * on vm->stop_cond until the count drops or a stop is requested.  Nothing
 * is checked per instruction: the accelerators return on a kick only.
 */
#include <errno.h>
#include <time.h>

#include "vm/vm.h"
#include "vm/vm_clock.h"

#define PAUSE_TIMEOUT_S 5

void vm_event(struct vm *vm, enum vm_event ev, bool guest, const char *why)
{
	vm_event_fn fn = __atomic_load_n(&vm->event_fn, __ATOMIC_ACQUIRE);

	if (fn)
		fn(vm->event_opaque, ev, guest, why);
}

void vm_park(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	pthread_mutex_lock(&vm->stop_lock);
	vm->parked_vcpus++;
	pthread_cond_broadcast(&vm->stop_cond);
	while (vm->pause_count && vm->stop_reason == VM_RUNNING)
		pthread_cond_wait(&vm->stop_cond, &vm->stop_lock);
	vm->parked_vcpus--;
	pthread_mutex_unlock(&vm->stop_lock);
}

/* Raise the count, kick, wait until every vCPU thread is parked. */
int vm_hold(struct vm *vm)
{
	struct timespec deadline;
	unsigned i;
	int ret = 0;

	pthread_mutex_lock(&vm->stop_lock);
	vm->pause_count++;
	pthread_mutex_unlock(&vm->stop_lock);
	for (i = 0; i < vm->ncpus; i++)
		vm->accel->vcpu_kick(&vm->vcpus[i]);

	/* stop_cond waits on CLOCK_REALTIME (default attributes). */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += PAUSE_TIMEOUT_S;
	pthread_mutex_lock(&vm->stop_lock);
	while (vm->parked_vcpus < (unsigned)vm->running_vcpus &&
	       vm->stop_reason == VM_RUNNING && !ret)
		ret = pthread_cond_timedwait(&vm->stop_cond, &vm->stop_lock,
					     &deadline);
	pthread_mutex_unlock(&vm->stop_lock);
	return ret ? -ETIMEDOUT : 0;
}

void vm_release(struct vm *vm)
{
	pthread_mutex_lock(&vm->stop_lock);
	if (vm->pause_count > 0)
		vm->pause_count--;
	pthread_cond_broadcast(&vm->stop_cond);
	pthread_mutex_unlock(&vm->stop_lock);
}

int vm_pause(struct vm *vm)
{
	bool was;
	int ret;

	pthread_mutex_lock(&vm->stop_lock);
	was = vm->user_paused;
	vm->user_paused = true;
	pthread_mutex_unlock(&vm->stop_lock);
	if (was)
		return 0;
	ret = vm_hold(vm);
	vm_clock_stop();
	if (!ret && vm->accel->pause_clock)
		vm->accel->pause_clock(vm, true);
	vm_event(vm, VM_EVENT_STOP, false, NULL);
	return ret;
}

void vm_resume(struct vm *vm)
{
	bool was;

	pthread_mutex_lock(&vm->stop_lock);
	was = vm->user_paused;
	vm->user_paused = false;
	pthread_mutex_unlock(&vm->stop_lock);
	if (!was)
		return;
	if (vm->accel->pause_clock)
		vm->accel->pause_clock(vm, false);
	vm_clock_start();
	vm_release(vm);
	vm_event(vm, VM_EVENT_RESUME, false, NULL);
}

bool vm_is_paused(struct vm *vm)
{
	return __atomic_load_n(&vm->user_paused, __ATOMIC_ACQUIRE);
}

int vm_power_button(struct vm *vm)
{
	if (!vm->power_button)
		return -ENODEV;
	vm_event(vm, VM_EVENT_POWERDOWN, false, NULL);
	vm->power_button(vm->power_button_opaque);
	return 0;
}

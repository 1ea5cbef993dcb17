/*
 * The machine model: builds the PC from its configuration, runs one thread
 * per vCPU, and handles the lifecycle (exit, power-off, reset).
 */
#include "vm/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ui/console.h"
#include "util/event_loop.h"
#include "util/file.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "vm/board.h"
#include "vm/boot.h"

void vm_add_device(struct vm *vm, const struct device_hooks *hooks)
{
	if (vm->ndevices == VM_MAX_DEVICES)
		die("too many devices (at most %d)", VM_MAX_DEVICES);
	vm->devices[vm->ndevices++] = *hooks;
}

void vm_add_disk(struct vm *vm, struct block_dev *bs)
{
	if (vm->ndisks == VM_MAX_DISKS)
		die("too many disks (at most %d)", VM_MAX_DISKS);
	vm->disks[vm->ndisks++] = bs;
}

/* Tell the monitor what a stop request means; why NULL: the guest's. */
static void vm_report_stop(struct vm *vm, enum vm_stop_reason reason,
			   const char *why)
{
	bool guest = !why;

	if (reason == VM_STOP_RESET)
		vm_event(vm, VM_EVENT_RESET, guest, why ? why : "guest-reset");
	else if (reason == VM_STOP_POWEROFF || reason == VM_STOP_EXIT)
		vm_event(vm, VM_EVENT_SHUTDOWN, guest,
			 why ? why : "guest-shutdown");
}

void vm_request_stop_host(struct vm *vm, enum vm_stop_reason reason,
			  int status, const char *why)
{
	bool first = false;
	unsigned i;

	pthread_mutex_lock(&vm->stop_lock);
	/* A stop also overrides a reset still in progress (quit during a
	 * reboot must not be lost). */
	if (vm->stop_reason == VM_RUNNING ||
	    (vm->stop_reason == VM_STOP_RESET && reason != VM_STOP_RESET)) {
		vm->stop_reason = reason;
		vm->exit_status = status;
		first = true;
		pthread_cond_broadcast(&vm->stop_cond);
	}
	pthread_mutex_unlock(&vm->stop_lock);
	for (i = 0; i < vm->ncpus; i++)
		vm->accel->vcpu_kick(&vm->vcpus[i]);
	if (first)
		vm_report_stop(vm, reason, why);
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status)
{
	vm_request_stop_host(vm, reason, status, NULL);
}

bool vm_stop_requested(struct vm *vm)
{
	return __atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) != VM_RUNNING;
}

static void vcpu_report(struct vcpu *vcpu, const char *what)
{
	struct cpu_state s;

	log_error("vCPU %u: %s; registers:", vcpu->index, what);
	if (!vcpu->vm->accel->vcpu_get_state(vcpu, &s))
		cpu_state_dump(&s, stderr);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	char name[16];
	sigset_t set;

	/* Only vCPU threads take the kick signal; see accel/kvm.c. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	vcpu->tid = gettid();
	snprintf(name, sizeof(name), "vcpu%u", vcpu->index);
	pthread_setname_np(pthread_self(), name);
	sandbox_thread_enter(SANDBOX_THREAD_VCPU);

	while (!vm_stop_requested(vm)) {
		/* stop (vm_pause.c): checked after each kick, not per instruction. */
		if (__atomic_load_n(&vm->pause_count, __ATOMIC_ACQUIRE)) {
			vm_park(vcpu);
			continue;
		}
		switch (vm->accel->vcpu_run(vcpu)) {
		case VCPU_EXIT_KICKED:
			break;
		case VCPU_EXIT_SHUTDOWN:
			if (vm->config->no_reboot) {
				vcpu_report(vcpu, "triple fault (shutdown); --no-reboot given, stopping");
				vm_request_stop(vm, VM_STOP_EXIT, 2);
			} else {
				log_warn("vCPU %u: triple fault, resetting the machine", vcpu->index);
				vm_request_stop(vm, VM_STOP_RESET, 0);
			}
			return NULL;
		case VCPU_EXIT_ERROR:
			vcpu_report(vcpu, "the accelerator cannot continue");
			vm_request_stop(vm, VM_STOP_ERROR, 1);
			return NULL;
		}
	}
	return NULL;
}

/* Put the machine in its power-on state: devices, images, vCPU registers. */
static int vm_power_on(struct vm *vm)
{
	struct cpu_state s;
	unsigned i;
	int ret;

	for (i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].reset)
			vm->devices[i].reset(vm->devices[i].opaque);
	for (i = 0; i < vm->ncpus; i++) {
		cpu_state_reset(&s);
		if (i == 0) {
			ret = boot_load(vm, &s);
			if (ret)
				return ret;
		} else {
			s.apic_base &= ~(1ULL << 8); /* not the BSP */
		}
		ret = vm->accel->vcpu_set_state(&vm->vcpus[i], &s);
		if (ret) {
			log_error("cannot set the initial state of vCPU %u: %s",
				  i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg,
	      const struct accel_ops *accel)
{
	unsigned i;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->start_time = time(NULL);
	vm->config = cfg;
	vm->accel = accel;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_cond_init(&vm->stop_cond, NULL);
	bus_init(&vm->pio, "port I/O");
	bus_init(&vm->mmio, "MMIO");

	ret = gmem_init_hole(&vm->mem, cfg->memory,
			     cfg->firmware && cfg->memory >= GMEM_FW_BIG_RAM ?
			     GMEM_FW_PCI_HOLE_START : GMEM_PCI_HOLE_START);
	if (ret) {
		log_error("cannot allocate %llu MiB of guest memory: %s",
			  (unsigned long long)(cfg->memory >> 20), strerror(-ret));
		return ret;
	}
	ret = boot_prepare(vm);
	if (ret)
		return ret;
	vm->loop = event_loop_create();
	if (!vm->loop) {
		log_error("cannot create the event loop");
		return -ENOMEM;
	}
	ret = accel->vm_init(vm);
	if (ret)
		return ret;
	vm->ncpus = cfg->cpus;
	for (i = 0; i < vm->ncpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].index = i;
		ret = accel->vcpu_init(&vm->vcpus[i]);
		if (ret) {
			log_error("cannot create vCPU %u: %s", i, strerror(-ret));
			return ret;
		}
	}
	ret = board_create(vm);
	if (ret)
		return ret;
	return vm_power_on(vm);
}

static int vm_run_once(struct vm *vm)
{
	unsigned i;
	int ret;

	pthread_mutex_lock(&vm->stop_lock);
	if (vm->stop_reason != VM_RUNNING && vm->stop_reason != VM_STOP_RESET) {
		/* Stopped while the machine was being reset. */
		pthread_mutex_unlock(&vm->stop_lock);
		return vm->stop_reason;
	}
	vm->stop_reason = VM_RUNNING;
	pthread_mutex_unlock(&vm->stop_lock);
	for (i = 0; i < vm->ncpus; i++) {
		ret = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread,
				     &vm->vcpus[i]);
		if (ret) {
			log_error("cannot start vCPU thread: %s", strerror(ret));
			vm_request_stop(vm, VM_STOP_ERROR, 1);
			break;
		}
	}
	pthread_mutex_lock(&vm->stop_lock);
	vm->running_vcpus = i; /* vm_hold waits for these to park */
	while (vm->stop_reason == VM_RUNNING)
		pthread_cond_wait(&vm->stop_cond, &vm->stop_lock);
	pthread_mutex_unlock(&vm->stop_lock);
	for (; i > 0; i--)
		pthread_join(vm->vcpus[i - 1].thread, NULL);
	pthread_mutex_lock(&vm->stop_lock);
	vm->running_vcpus = 0;
	pthread_mutex_unlock(&vm->stop_lock);
	return vm->stop_reason;
}

int vm_run(struct vm *vm)
{
	sigset_t set;
	int ret;

	/* The kick signal stays blocked everywhere but in vCPU threads. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	ret = event_loop_start(vm->loop);
	if (ret) {
		log_error("cannot start the event loop: %s", strerror(-ret));
		return 1;
	}
	for (;;) {
		switch (vm_run_once(vm)) {
		case VM_STOP_RESET:
			if (vm->config->no_reboot) {
				log_info("guest reset; --no-reboot given, stopping");
				return 0;
			}
			if (vm_power_on(vm))
				return 1;
			continue;
		case VM_STOP_POWEROFF:
			return 0;
		case VM_STOP_EXIT:
			return vm->exit_status;
		default:
			return 1;
		}
	}
}

void vm_destroy(struct vm *vm)
{
	unsigned i;

	if (vm->loop)
		event_loop_stop(vm->loop);
	for (i = vm->ndevices; i > 0; i--)
		if (vm->devices[i - 1].destroy)
			vm->devices[i - 1].destroy(vm->devices[i - 1].opaque);
	for (i = 0; i < vm->ncpus; i++)
		if (vm->accel->vcpu_destroy)
			vm->accel->vcpu_destroy(&vm->vcpus[i]);
	if (vm->accel->vm_destroy)
		vm->accel->vm_destroy(vm);
	event_loop_destroy(vm->loop);
	boot_release(vm);
	gmem_destroy(&vm->mem);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
}

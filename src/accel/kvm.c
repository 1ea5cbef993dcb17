/*
 * The KVM accelerator: guest code runs on the host CPU through /dev/kvm.
 *
 * The in-kernel irqchip (PIC, IOAPIC, LAPIC) and PIT serve the guest
 * (routing and irqfds: kvm_irq.c); port I/O and MMIO exits go to the
 * device bus.  A kick is SIGUSR1 plus the
 * run structure's immediate_exit flag, so no kick is lost between checking
 * for it and entering the guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/accel.h"
#include "accel/kvm_cpu_convert.h"
#include "accel/kvm_vm.h"
#include "util/log.h"
#include "vm/vm.h"

#define KVM_DEVICE "/dev/kvm"
/* Three pages for the VMX real-mode TSS and one for its identity map,
 * below the firmware window (which may reach down to 0xff000000). */
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ULL
#define KVM_TSS_ADDR 0xfeffd000ULL

static int kvm_is_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

static int kvm_probe(char *why, size_t why_len, int *unmodified_linux)
{
	int fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	int version;

	*unmodified_linux = 0;
	if (fd < 0) {
		if (errno == ENOENT)
			snprintf(why, why_len, "%s is not present (no KVM on this host)", KVM_DEVICE);
		else if (errno == EACCES || errno == EPERM)
			snprintf(why, why_len, "no permission to open %s (join the 'kvm' group)", KVM_DEVICE);
		else
			snprintf(why, why_len, "cannot open %s: %s", KVM_DEVICE, strerror(errno));
		return -errno;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION ||
	    ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
	    ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
		snprintf(why, why_len, "%s lacks what wirt needs (API 12, in-kernel irqchip)", KVM_DEVICE);
		close(fd);
		return -ENOTSUP;
	}
	close(fd);
	if (kvm_is_pvm()) {
		snprintf(why, why_len,
			 "this host's KVM is KVM-PVM (module kvm_pvm), which cannot run unmodified Linux kernels; --accel emu can");
		return 0;
	}
	*unmodified_linux = 1;
	return 0;
}

static void kvm_kick_signal(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

static int kvm_get_cpuid(struct kvm_vm *k)
{
	int nent = 64;

	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (ioctl(k->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			k->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG || nent > 4096)
			return -errno;
		nent *= 2;
	}
}

static void kvm_set_irq_line(void *opaque, unsigned gsi, int level)
{
	struct kvm_vm *k = opaque;
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (ioctl(k->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_warn_once("KVM_IRQ_LINE %u: %s", gsi, strerror(errno));
}

static void kvm_send_msi(void *opaque, uint64_t addr, uint32_t data)
{
	struct kvm_vm *k = opaque;
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};

	if (ioctl(k->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		log_warn_once("KVM_SIGNAL_MSI: %s", strerror(errno));
}

static int kvm_vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned len,
			    int fd, bool assign)
{
	struct kvm_vm *k = vm->accel_data;
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	if (ioctl(k->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		log_warn_once("KVM_IOEVENTFD: %s; notifications exit to wirt",
			      strerror(errno));
		return -errno;
	}
	return 0;
}

static int kvm_map_region(struct kvm_vm *k, const struct guest_memory *gm,
			  unsigned i)
{
	const struct gmem_region *r = &gm->regions[i];
	struct kvm_userspace_memory_region m = {
		.slot = i,
		.flags = (r->kind == GMEM_ROM ? KVM_MEM_READONLY : 0) |
			 (r->log_dirty || (k->log_ram && r->kind == GMEM_RAM) ?
			  KVM_MEM_LOG_DIRTY_PAGES : 0),
		.guest_phys_addr = r->gpa,
		.memory_size = r->size,
		.userspace_addr = (uintptr_t)r->hva,
	};

	if (r->kind == GMEM_NONE)
		return 0;
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &m) < 0) {
		log_error("KVM: cannot map %s at 0x%llx: %s", r->name,
			  (unsigned long long)r->gpa, strerror(errno));
		return -errno;
	}
	return 0;
}

static int kvm_map_memory(struct kvm_vm *k, const struct guest_memory *gm)
{
	unsigned i;
	int ret;

	for (i = 0; i < gm->nregions; i++) {
		ret = kvm_map_region(k, gm, i);
		if (ret)
			return ret;
	}
	return 0;
}

/* A PAM segment changed: its slot goes and comes back as it is now
 * (KVM does not change a slot's flags in place). */
static void kvm_memory_remapped(void *opaque, uint64_t gpa, uint64_t len)
{
	struct vm *vm = opaque;
	struct kvm_vm *k = vm->accel_data;
	const struct guest_memory *gm = &vm->mem;
	unsigned i;

	for (i = 0; i < gm->nregions; i++) {
		const struct gmem_region *r = &gm->regions[i];
		struct kvm_userspace_memory_region del = { .slot = i };

		if (r->gpa >= gpa + len || r->gpa + r->size <= gpa)
			continue;
		ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &del);
		kvm_map_region(k, gm, i);
	}
}

/* Device memory's dirty pages: KVM's log of the region's slot, which
 * KVM_GET_DIRTY_LOG clears as it reads it. */
static int kvm_dirty_fetch(void *opaque, unsigned idx, uint64_t *bitmap)
{
	struct vm *vm = opaque;
	struct kvm_vm *k = vm->accel_data;
	struct kvm_dirty_log log = { .slot = idx, .dirty_bitmap = bitmap };

	if (ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return -errno;
	return 0;
}

/* Live migration: every RAM slot keeps a dirty log while on (KVM lets
 * a slot's flags change in place), read through kvm_dirty_fetch. */
static int kvm_dirty_log_ram(void *opaque, bool on)
{
	struct vm *vm = opaque;
	struct kvm_vm *k = vm->accel_data;
	const struct guest_memory *gm = &vm->mem;
	unsigned i;
	int ret;

	k->log_ram = on;
	for (i = 0; i < gm->nregions; i++) {
		if (gm->regions[i].kind != GMEM_RAM || gm->regions[i].log_dirty)
			continue;
		ret = kvm_map_region(k, gm, i);
		if (ret)
			return ret;
	}
	return 0;
}

static int kvm_vm_init(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	struct sigaction sa = { .sa_handler = kvm_kick_signal };
	struct kvm_vm *k = calloc(1, sizeof(*k));
	int ret;

	if (!k)
		return -ENOMEM;
	vm->accel_data = k;
	k->vm_fd = -1;
	k->kvm_fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	if (k->kvm_fd < 0) {
		log_error("cannot open %s: %s", KVM_DEVICE, strerror(errno));
		return -errno;
	}
	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		log_error("KVM_CREATE_VM: %s", strerror(errno));
		return -errno;
	}
	k->run_size = ioctl(k->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size <= 0 ||
	    ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ KVM_IDENTITY_MAP_ADDR }) < 0 ||
	    ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0 ||
	    ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_error("KVM: cannot set up the VM (irqchip, PIT, TSS): %s", strerror(errno));
		return -errno;
	}
	kvm_irq_routing_init(k);
	kvm_irqchip_register(vm, k);
	kvm_state_probe(k);
	kvm_clock_follow_guest_clock(vm);
	ret = kvm_get_cpuid(k);
	if (ret) {
		log_error("KVM_GET_SUPPORTED_CPUID: %s", strerror(-ret));
		return ret;
	}
	ret = kvm_map_memory(k, &vm->mem);
	if (ret)
		return ret;
	vm->mem.map_notify = kvm_memory_remapped;
	vm->mem.dirty_fetch = kvm_dirty_fetch;
	vm->mem.dirty_log_ram = kvm_dirty_log_ram;
	vm->mem.write_notify_opaque = vm;
	sigaction(SIGUSR1, &sa, NULL);
	vm->irq_ops.set_line = kvm_set_irq_line;
	vm->irq_ops.send_msi = kvm_send_msi;
	vm->irq_opaque = k;
	vm->has_apic = true; /* the in-kernel irqchip */
	return 0;
}

static void kvm_vm_destroy(struct vm *vm)
{
	struct kvm_vm *k = vm->accel_data;

	if (!k)
		return;
	vm->mem.map_notify = NULL;
	vm->mem.dirty_fetch = NULL;
	vm->mem.dirty_log_ram = NULL;
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	free(k->cpuid);
	free(k);
	vm->accel_data = NULL;
}

/* The host's CPUID, with this vCPU's APIC ID and the hypervisor bit. */
static int kvm_vcpu_set_cpuid(struct kvm_vm *k, struct kvm_vcpu *v, unsigned index)
{
	size_t size = sizeof(*k->cpuid) + k->cpuid->nent * sizeof(k->cpuid->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	unsigned i;
	int ret = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, k->cpuid, size);
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1) {
			e->ebx = (e->ebx & 0x00ffffff) | (index << 24);
			e->ecx |= 1u << 31; /* running under a hypervisor */
		} else if (e->function == 0xb || e->function == 0x1f) {
			e->edx = index; /* x2APIC ID */
		}
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
		ret = -errno;
	free(c);
	return ret;
}

static int kvm_vcpu_init(struct vcpu *vcpu)
{
	struct kvm_vm *k = vcpu->vm->accel_data;
	struct kvm_vcpu *v = calloc(1, sizeof(*v));
	int ret;

	if (!v)
		return -ENOMEM;
	vcpu->accel_data = v;
	v->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, vcpu->index);
	if (v->fd < 0)
		return -errno;
	v->run = mmap(NULL, k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -errno;
	}
	ret = kvm_vcpu_set_cpuid(k, v, vcpu->index);
	if (ret)
		log_error("KVM_SET_CPUID2: %s", strerror(-ret));
	return ret;
}

static void kvm_vcpu_destroy(struct vcpu *vcpu)
{
	struct kvm_vm *k = vcpu->vm->accel_data;
	struct kvm_vcpu *v = vcpu->accel_data;

	if (!v)
		return;
	if (v->run && k)
		munmap(v->run, k->run_size);
	if (v->fd >= 0)
		close(v->fd);
	free(v);
	vcpu->accel_data = NULL;
}

static int kvm_vcpu_set_state(struct vcpu *vcpu, const struct cpu_state *s)
{
	struct kvm_vcpu *v = vcpu->accel_data;
	struct kvm_sregs sr;
	struct kvm_regs r;
	struct kvm_mp_state mp = {
		.mp_state = vcpu->index == 0 ? KVM_MP_STATE_RUNNABLE
					     : KVM_MP_STATE_UNINITIALIZED,
	};

	kvm_regs_from_common(s, &r, &sr);
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	/* After a reset the application processors wait for INIT/SIPI again. */
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		return -errno;
	return 0;
}

static int kvm_vcpu_get_state(struct vcpu *vcpu, struct cpu_state *s)
{
	struct kvm_vcpu *v = vcpu->accel_data;
	struct kvm_sregs sr;
	struct kvm_regs r;

	if (!v || ioctl(v->fd, KVM_GET_SREGS, &sr) < 0 ||
	    ioctl(v->fd, KVM_GET_REGS, &r) < 0)
		return -EIO;
	kvm_regs_to_common(&r, &sr, s);
	return 0;
}

static void kvm_handle_io(struct vm *vm, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t i;

	for (i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&vm->pio, run->io.port, data, run->io.size);
		else
			bus_read(&vm->pio, run->io.port, data, run->io.size);
	}
}

static void kvm_handle_mmio(struct vm *vm, struct kvm_run *run)
{
	const struct gmem_region *r;
	unsigned len = run->mmio.len;

	if (len != 1 && len != 2 && len != 4 && len != 8)
		return;
	r = gmem_find(&vm->mem, run->mmio.phys_addr, len);
	if (r && r->kind == GMEM_ROM && !r->rom_device) {
		/* Writes to firmware ROM are ignored; reads never exit. */
		return;
	}
	/* Flash (rom_device) in read-array mode is a read-only slot whose
	 * writes exit here; in its other modes it has no slot at all, so
	 * reads exit too: both go to the device on the bus. */
	if (run->mmio.is_write)
		bus_write(&vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
	else
		bus_read(&vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
}

static enum vcpu_exit_reason kvm_vcpu_run(struct vcpu *vcpu)
{
	struct kvm_vcpu *v = vcpu->accel_data;
	struct vm *vm = vcpu->vm;
	struct kvm_run *run = v->run;

	if (!v->thread_known) {
		v->thread = pthread_self();
		__atomic_store_n(&v->thread_known, 1, __ATOMIC_RELEASE);
	}
	for (;;) {
		if (__atomic_exchange_n(&v->kicked, 0, __ATOMIC_ACQ_REL)) {
			run->immediate_exit = 0;
			return VCPU_EXIT_KICKED;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_error("KVM_RUN: %s", strerror(errno));
			return VCPU_EXIT_ERROR;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			kvm_handle_io(vm, run);
			break;
		case KVM_EXIT_MMIO:
			kvm_handle_mmio(vm, run);
			break;
		case KVM_EXIT_INTR:
			break;
		case KVM_EXIT_SHUTDOWN:
			return VCPU_EXIT_SHUTDOWN;
		case KVM_EXIT_SYSTEM_EVENT:
			if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
				vm_request_stop(vm, VM_STOP_RESET, 0);
			else
				vm_request_stop(vm, VM_STOP_POWEROFF, 0);
			break;
		case KVM_EXIT_FAIL_ENTRY:
			log_error("KVM: the CPU refused to enter the guest (hardware reason 0x%llx)",
				  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			return VCPU_EXIT_ERROR;
		case KVM_EXIT_INTERNAL_ERROR:
			log_error("KVM internal error (suberror %u)%s", run->internal.suberror,
				  run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
				  ": KVM could not emulate an instruction" : "");
			return VCPU_EXIT_ERROR;
		default:
			log_error("KVM: unexpected exit reason %u", run->exit_reason);
			return VCPU_EXIT_ERROR;
		}
	}
}

static void kvm_vcpu_kick(struct vcpu *vcpu)
{
	struct kvm_vcpu *v = vcpu->accel_data;

	if (!v || !v->run)
		return;
	v->run->immediate_exit = 1;
	__atomic_store_n(&v->kicked, 1, __ATOMIC_RELEASE);
	if (__atomic_load_n(&v->thread_known, __ATOMIC_ACQUIRE) &&
	    !pthread_equal(v->thread, pthread_self()))
		pthread_kill(v->thread, SIGUSR1);
}

const struct accel_ops accel_kvm_ops = {
	.name = "kvm",
	.probe = kvm_probe,
	.vm_init = kvm_vm_init,
	.vm_destroy = kvm_vm_destroy,
	.vcpu_init = kvm_vcpu_init,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_set_state = kvm_vcpu_set_state,
	.vcpu_get_state = kvm_vcpu_get_state,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.ioeventfd = kvm_vm_ioeventfd,
	.msi_irqfd = kvm_msi_irqfd,
	.pause_clock = kvm_pause_clock,
	.vcpu_save = kvm_vcpu_save,
	.vcpu_restore = kvm_vcpu_restore,
};

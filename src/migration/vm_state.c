/*
 * The whole machine's state: what must match, the clock, the vCPUs, RAM
 * and every device, written and read as sections of vmstate.h.
 */
#include "migration/migration.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "migration/precopy.h"
#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/vm.h"
#include "vm/vm_clock.h"

#define MACHINE_VERSION 1
#define CLOCK_VERSION 1

/* ---- what must match ---- */

static uint32_t firmware_crc(const struct vm *vm)
{
	if (!vm->mem.rom_base)
		return 0;
	return crc32(crc32(0, NULL, 0), vm->mem.rom_base, vm->mem.rom_size);
}

static void machine_save(struct vm *vm, struct vmstate_out *o)
{
	size_t alen = strlen(vm->accel->name);

	vmstate_begin(o, "machine", 0, MACHINE_VERSION);
	vmstate_put_u64(o, vm->mem.ram_size);
	vmstate_put_u32(o, vm->ncpus);
	vmstate_put_u64(o, vm->mem.rom_size);
	vmstate_put_u32(o, firmware_crc(vm));
	vmstate_put_u8(o, alen);
	vmstate_put_bytes(o, vm->accel->name, alen);
	vmstate_end(o);
}

static int machine_check(struct vm *vm, struct vmstate_in *in)
{
	uint64_t ram = vmstate_get_u64(in), rom;
	uint32_t ncpus = vmstate_get_u32(in), crc;
	char accel[32] = "";
	uint8_t alen;

	rom = vmstate_get_u64(in);
	crc = vmstate_get_u32(in);
	alen = vmstate_get_u8(in);
	if (alen >= sizeof(accel))
		return vmstate_fail(in, -EINVAL, "the state is damaged: an accelerator name of %u bytes", alen);
	vmstate_get_bytes(in, accel, alen);
	if (in->error)
		return in->error;
	if (ram != vm->mem.ram_size)
		return vmstate_fail(in, -EINVAL, "the saved machine has %llu MiB of RAM, this one %llu MiB: start with --memory %lluM",
				    (unsigned long long)(ram >> 20),
				    (unsigned long long)(vm->mem.ram_size >> 20),
				    (unsigned long long)(ram >> 20));
	if (ncpus != vm->ncpus)
		return vmstate_fail(in, -EINVAL, "the saved machine has %u vCPUs, this one %u: start with --cpus %u",
				    ncpus, vm->ncpus, ncpus);
	if (rom != vm->mem.rom_size || crc != firmware_crc(vm))
		return vmstate_fail(in, -EINVAL, rom ? "the saved machine ran other firmware than this one: start with the same --firmware"
						     : "the saved machine ran without firmware, this one has some: start without --firmware");
	if (strcmp(accel, vm->accel->name))
		log_info("restoring a state saved under --accel %s under --accel %s", accel,
			 vm->accel->name);
	return 0;
}

/* ---- vCPUs in the common form ---- */

static void put_segment(struct vmstate_out *o, const struct segment *s)
{
	vmstate_put_u64(o, s->base);
	vmstate_put_u32(o, s->limit);
	vmstate_put_u16(o, s->selector);
	vmstate_put_u8(o, s->type);
	vmstate_put_u8(o, s->s);
	vmstate_put_u8(o, s->dpl);
	vmstate_put_u8(o, s->present);
	vmstate_put_u8(o, s->avl);
	vmstate_put_u8(o, s->l);
	vmstate_put_u8(o, s->db);
	vmstate_put_u8(o, s->g);
	vmstate_put_u8(o, s->unusable);
}

static void get_segment(struct vmstate_in *in, struct segment *s)
{
	s->base = vmstate_get_u64(in);
	s->limit = vmstate_get_u32(in);
	s->selector = vmstate_get_u16(in);
	s->type = vmstate_get_u8(in) & 15;
	s->s = vmstate_get_u8(in) & 1;
	s->dpl = vmstate_get_u8(in) & 3;
	s->present = vmstate_get_u8(in) & 1;
	s->avl = vmstate_get_u8(in) & 1;
	s->l = vmstate_get_u8(in) & 1;
	s->db = vmstate_get_u8(in) & 1;
	s->g = vmstate_get_u8(in) & 1;
	s->unusable = vmstate_get_u8(in) & 1;
}

void vm_state_cpu_put(struct vmstate_out *o, unsigned index,
		     const struct cpu_full_state *st)
{
	const struct cpu_state *s = &st->s;
	unsigned i;

	vmstate_begin(o, "cpu", index, VM_STATE_CPU_VERSION);
	for (i = 0; i < NUM_GPRS; i++)
		vmstate_put_u64(o, s->gpr[i]);
	vmstate_put_u64(o, s->rip);
	vmstate_put_u64(o, s->rflags);
	for (i = 0; i < NUM_SEGS; i++)
		put_segment(o, &s->seg[i]);
	put_segment(o, &s->tr);
	put_segment(o, &s->ldt);
	vmstate_put_u64(o, s->gdt.base);
	vmstate_put_u16(o, s->gdt.limit);
	vmstate_put_u64(o, s->idt.base);
	vmstate_put_u16(o, s->idt.limit);
	vmstate_put_u64(o, s->cr0);
	vmstate_put_u64(o, s->cr2);
	vmstate_put_u64(o, s->cr3);
	vmstate_put_u64(o, s->cr4);
	vmstate_put_u64(o, s->cr8);
	vmstate_put_u64(o, s->efer);
	vmstate_put_u64(o, s->apic_base);
	vmstate_put_bytes(o, st->fxsave, sizeof(st->fxsave));
	vmstate_put_u64(o, st->xcr0);
	for (i = 0; i < 8; i++)
		vmstate_put_u64(o, st->dr[i]);
	vmstate_put_u32(o, st->nmsrs);
	for (i = 0; i < st->nmsrs; i++) {
		vmstate_put_u32(o, st->msrs[i].index);
		vmstate_put_u64(o, st->msrs[i].value);
	}
	vmstate_put_bool(o, st->halted);
	vmstate_put_bool(o, st->wait_for_sipi);
	vmstate_put_bool(o, st->nmi_pending);
	vmstate_put_bool(o, st->nmi_blocked);
	vmstate_put_bool(o, st->irq_shadow);
	vmstate_put_bool(o, st->init_pending);
	vmstate_put_u8(o, st->sipi_vector);
	for (i = 0; i < 256; i++)
		vmstate_put_u32(o, st->lapic[i]);
	vmstate_put_u64(o, st->lapic_base);
	vmstate_put_u64(o, st->tsc_deadline);
	vmstate_put_u8(o, st->delivering.kind);
	vmstate_put_u8(o, st->delivering.vector);
	vmstate_put_bool(o, st->delivering.has_error_code);
	vmstate_put_u32(o, st->delivering.error_code);
	vmstate_put_u64(o, st->xstate_bv);
	vmstate_put_u32(o, st->xsave_ext_len);
	vmstate_put_bytes(o, st->xsave_ext, st->xsave_ext_len);
	vmstate_end(o);
}

int vm_state_cpu_get(struct vmstate_in *in, struct cpu_full_state *st)
{
	struct cpu_state *s = &st->s;
	unsigned i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < NUM_GPRS; i++)
		s->gpr[i] = vmstate_get_u64(in);
	s->rip = vmstate_get_u64(in);
	s->rflags = vmstate_get_u64(in);
	for (i = 0; i < NUM_SEGS; i++)
		get_segment(in, &s->seg[i]);
	get_segment(in, &s->tr);
	get_segment(in, &s->ldt);
	s->gdt.base = vmstate_get_u64(in);
	s->gdt.limit = vmstate_get_u16(in);
	s->idt.base = vmstate_get_u64(in);
	s->idt.limit = vmstate_get_u16(in);
	s->cr0 = vmstate_get_u64(in);
	s->cr2 = vmstate_get_u64(in);
	s->cr3 = vmstate_get_u64(in);
	s->cr4 = vmstate_get_u64(in);
	s->cr8 = vmstate_get_u64(in);
	s->efer = vmstate_get_u64(in);
	s->apic_base = vmstate_get_u64(in);
	vmstate_get_bytes(in, st->fxsave, sizeof(st->fxsave));
	st->xcr0 = vmstate_get_u64(in);
	for (i = 0; i < 8; i++)
		st->dr[i] = vmstate_get_u64(in);
	st->nmsrs = vmstate_get_u32(in);
	if (st->nmsrs > CPU_MAX_SAVED_MSRS)
		return vmstate_fail(in, -EINVAL, "vCPU %u: %u MSRs saved, at most %u are known",
				    in->instance, st->nmsrs, CPU_MAX_SAVED_MSRS);
	for (i = 0; i < st->nmsrs; i++) {
		st->msrs[i].index = vmstate_get_u32(in);
		st->msrs[i].value = vmstate_get_u64(in);
	}
	st->halted = vmstate_get_bool(in);
	st->wait_for_sipi = vmstate_get_bool(in);
	st->nmi_pending = vmstate_get_bool(in);
	st->nmi_blocked = vmstate_get_bool(in);
	st->irq_shadow = vmstate_get_bool(in);
	st->init_pending = vmstate_get_bool(in);
	st->sipi_vector = vmstate_get_u8(in);
	for (i = 0; i < 256; i++)
		st->lapic[i] = vmstate_get_u32(in);
	st->lapic_base = vmstate_get_u64(in);
	st->tsc_deadline = vmstate_get_u64(in);
	st->xstate_bv = CPU_XSTATE_X87_SSE;
	if (in->version < 2) /* nothing being delivered, no AVX state */
		return in->error;
	st->delivering.kind = vmstate_get_u8(in);
	st->delivering.vector = vmstate_get_u8(in);
	st->delivering.has_error_code = vmstate_get_bool(in);
	st->delivering.error_code = vmstate_get_u32(in);
	if (!in->error && st->delivering.kind >= CPU_EVENT_KINDS)
		return vmstate_fail(in, -EINVAL, "vCPU %u: the state is damaged: an event of kind %u being delivered",
				    in->instance, st->delivering.kind);
	st->xstate_bv = vmstate_get_u64(in) | CPU_XSTATE_X87_SSE;
	st->xsave_ext_len = vmstate_get_u32(in);
	if (!in->error && st->xsave_ext_len > CPU_XSAVE_EXT_MAX)
		return vmstate_fail(in, -EINVAL, "vCPU %u: %u bytes of XSAVE state saved, at most %u are known",
				    in->instance, st->xsave_ext_len, CPU_XSAVE_EXT_MAX);
	vmstate_get_bytes(in, st->xsave_ext, st->xsave_ext_len);
	return in->error;
}

/* ---- the whole machine ---- */

/* The instance number of device i: devices of the same name before it. */
static unsigned device_instance(const struct vm *vm, unsigned i)
{
	unsigned j, n = 0;

	for (j = 0; j < i; j++)
		n += vm->devices[j].name && !strcmp(vm->devices[j].name, vm->devices[i].name);
	return n;
}

int vm_state_save(struct vm *vm, int fd, char *why, size_t why_len)
{
	struct vmstate_out o;

	vmstate_out_init(&o, fd);
	return vm_state_save_to(vm, &o, why, why_len);
}

int vm_state_check_savable(struct vm *vm, char *why, size_t why_len)
{
	unsigned i;

	if (!vm->accel->vcpu_save) {
		snprintf(why, why_len, "saving a running machine is not supported under --accel %s yet",
			 vm->accel->name);
		return -ENOTSUP;
	}
	/* A device with a name but no save hook holds guest-visible state
	 * that cannot be saved yet: refuse rather than lose it. */
	for (i = 0; i < vm->ndevices; i++) {
		if (vm->devices[i].name && !vm->devices[i].save) {
			snprintf(why, why_len, "the %s device cannot be saved yet",
				 vm->devices[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

void vm_state_save_machine(struct vm *vm, struct vmstate_out *o)
{
	machine_save(vm, o);
}

int vm_state_save_cpus(struct vm *vm, struct vmstate_out *o, char *why, size_t why_len)
{
	struct cpu_full_state *st = malloc(sizeof(*st));
	unsigned i;
	int ret;

	if (!st) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	vmstate_begin(o, "clock", 0, CLOCK_VERSION);
	vmstate_put_u64(o, vm_clock_ns());
	vmstate_end(o);
	for (i = 0; i < vm->ncpus && !o->error; i++) {
		ret = vm->accel->vcpu_save(&vm->vcpus[i], st);
		if (ret) {
			snprintf(why, why_len, "cannot read the state of vCPU %u: %s", i,
				 strerror(-ret));
			free(st);
			return ret;
		}
		vm_state_cpu_put(o, i, st);
	}
	free(st);
	return 0;
}

void vm_state_save_devices(struct vm *vm, struct vmstate_out *o)
{
	unsigned i;

	for (i = 0; i < vm->ndevices && !o->error; i++) {
		const struct device_hooks *d = &vm->devices[i];

		if (!d->save)
			continue;
		vmstate_begin(o, d->name, device_instance(vm, i), d->version);
		d->save(d->opaque, o);
		vmstate_end(o);
	}
}

int vm_state_save_to(struct vm *vm, struct vmstate_out *o, char *why, size_t why_len)
{
	int ret = vm_state_check_savable(vm, why, why_len);

	if (!ret) {
		machine_save(vm, o);
		ret = vm_state_save_cpus(vm, o, why, why_len);
	}
	if (ret) {
		vmstate_out_free(o);
		return ret;
	}
	ram_state_save(vm, o);
	vm_state_save_devices(vm, o);
	ret = vmstate_out_finish(o);
	if (ret)
		snprintf(why, why_len, "cannot write the state: %s", strerror(-ret));
	return ret;
}

/* The registered device a section belongs to, or -1. */
static int find_device(const struct vm *vm, const struct vmstate_in *in)
{
	unsigned i;

	for (i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].save && !strcmp(vm->devices[i].name, in->name) &&
		    device_instance(vm, i) == in->instance)
			return i;
	return -1;
}

/* One section after "machine"; seen tracks what was loaded. */
static int load_section(struct vm *vm, struct vmstate_in *in, bool *dev_seen,
			bool *cpu_seen, bool *ram_seen, bool *pages_seen,
			struct cpu_full_state *st)
{
	int d, ret;

	if (!strcmp(in->name, "clock")) {
		vm_clock_set(vmstate_get_u64(in));
		return in->error;
	}
	if (!strcmp(in->name, "cpu")) {
		if (in->version > VM_STATE_CPU_VERSION)
			return vmstate_fail(in, -ENOTSUP, "section 'cpu' has version %u, newer than this wirt reads (%u)",
					    in->version, VM_STATE_CPU_VERSION);
		if (in->instance >= vm->ncpus)
			return vmstate_fail(in, -EINVAL, "the state has a vCPU %u, this machine %u vCPUs",
					    in->instance, vm->ncpus);
		if (vm_state_cpu_get(in, st))
			return in->error;
		ret = vm->accel->vcpu_restore(&vm->vcpus[in->instance], st);
		if (ret)
			return vmstate_fail(in, ret, "vCPU %u cannot take the saved state under --accel %s (see above)",
					    in->instance, vm->accel->name);
		cpu_seen[in->instance] = true;
		return 0;
	}
	if (!strcmp(in->name, "ram-pages")) {
		bool first = !*ram_seen;

		if (in->version > RAM_PAGES_VERSION)
			return vmstate_fail(in, -ENOTSUP, "section 'ram-pages' has version %u, newer than this wirt reads (%u)",
					    in->version, RAM_PAGES_VERSION);
		*ram_seen = true;
		*pages_seen = true;
		return ram_pages_load(vm, in, first);
	}
	if (!strcmp(in->name, "ram")) {
		if (in->version > RAM_STATE_VERSION)
			return vmstate_fail(in, -ENOTSUP, "section 'ram' has version %u, newer than this wirt reads (%u)",
					    in->version, RAM_STATE_VERSION);
		*ram_seen = true;
		return ram_state_load(vm, in);
	}
	d = find_device(vm, in);
	if (d < 0)
		return vmstate_fail(in, -EINVAL, "the saved machine has a device '%s' (#%u), which this one lacks: start with the same devices as the saved machine",
				    in->name, in->instance);
	if (in->version > vm->devices[d].version)
		return vmstate_fail(in, -ENOTSUP, "the state of device '%s' has version %u, newer than this wirt reads (%u): restore it with a newer wirt",
				    in->name, in->version, vm->devices[d].version);
	ret = vm->devices[d].load(vm->devices[d].opaque, in);
	if (!ret && !in->error && vmstate_left(in))
		return vmstate_fail(in, -EINVAL, "section '%s' has %zu bytes more than this wirt reads",
				    in->name, vmstate_left(in));
	if (ret && !in->error)
		vmstate_fail(in, ret, "device '%s' cannot take its saved state", in->name);
	dev_seen[d] = true;
	return in->error;
}

/* Every vCPU, RAM and every device with state must have been loaded. */
static int check_complete(struct vm *vm, struct vmstate_in *in, const bool *dev_seen,
			  const bool *cpu_seen, bool ram_seen)
{
	unsigned i;

	if (!ram_seen)
		return vmstate_fail(in, -EINVAL, "the state has no guest RAM");
	for (i = 0; i < vm->ncpus; i++)
		if (!cpu_seen[i])
			return vmstate_fail(in, -EINVAL, "the state has no vCPU %u", i);
	for (i = 0; i < vm->ndevices; i++)
		if (vm->devices[i].save && !dev_seen[i])
			return vmstate_fail(in, -EINVAL, "the saved machine lacks device '%s' (#%u) of this one: start with the same devices as the saved machine",
					    vm->devices[i].name, device_instance(vm, i));
	return 0;
}

int vm_state_load(struct vm *vm, int fd, char *why, size_t why_len)
{
	return vm_state_load_from(vm, NULL, &fd, why, why_len);
}

int vm_state_load_from(struct vm *vm, vmstate_io_fn read, void *opaque,
		       char *why, size_t why_len)
{
	bool dev_seen[VM_MAX_DEVICES] = { false }, cpu_seen[VM_MAX_CPUS] = { false };
	bool ram_seen = false, pages_seen = false;
	struct cpu_full_state *st = malloc(sizeof(*st));
	struct vmstate_in in;
	int ret;

	if (!vm->accel->vcpu_restore) {
		snprintf(why, why_len, "restoring a saved machine is not supported under --accel %s yet",
			 vm->accel->name);
		free(st);
		return -ENOTSUP;
	}
	if (!st) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	ret = read ? vmstate_in_init_fn(&in, read, opaque) : vmstate_in_init(&in, *(int *)opaque);
	if (!ret) {
		ret = vmstate_next_section(&in);
		if (ret == 1 && (strcmp(in.name, "machine") || in.version > MACHINE_VERSION))
			ret = vmstate_fail(&in, -EINVAL, "the state does not start with a machine section this wirt reads");
		else if (ret == 0)
			ret = vmstate_fail(&in, -EINVAL, "the state is empty");
		if (ret == 1)
			ret = machine_check(vm, &in);
	}
	while (!ret) {
		ret = vmstate_next_section(&in);
		if (ret == 0)
			break;
		if (ret == 1)
			ret = load_section(vm, &in, dev_seen, cpu_seen, &ram_seen,
					   &pages_seen, st);
	}
	if (pages_seen)
		ram_pages_loaded(vm);
	if (!ret)
		ret = check_complete(vm, &in, dev_seen, cpu_seen, ram_seen);
	if (ret)
		snprintf(why, why_len, "%s", in.msg[0] ? in.msg : strerror(-ret));
	vmstate_in_free(&in);
	free(st);
	return ret;
}

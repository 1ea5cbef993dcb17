/*
 * A KVM vCPU to and from the common saved form (struct cpu_full_state,
 * accel/cpu_state.h) for save, restore and migration, with the vCPU
 * parked (not in KVM_RUN).  The conversions are kvm_cpu_convert.c's;
 * this file does the ioctls, in an order KVM needs on restore: sregs
 * (with IA32_APIC_BASE, so the APIC mode is right) before the local
 * APIC, the local APIC before the TSC deadline, the TSC before the
 * deadline too, then the events and last the run state.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "accel/kvm_cpu_convert.h"
#include "accel/kvm_vm.h"
#include "util/log.h"
#include "vm/vm.h"

/* Saved when non-zero (the guest turned them on); ASYNC_PF_INT before
 * ASYNC_PF_EN, which checks it. */
static const uint32_t kvm_pv_msrs[] = {
	KVM_PV_MSR_WALL_CLOCK, KVM_PV_MSR_SYSTEM_TIME,
	KVM_PV_MSR_WALL_CLOCK_NEW, KVM_PV_MSR_SYSTEM_TIME_NEW,
	KVM_PV_MSR_ASYNC_PF_INT, KVM_PV_MSR_ASYNC_PF_EN,
	KVM_PV_MSR_STEAL_TIME, KVM_PV_MSR_PV_EOI_EN,
};

#define N_PV_MSRS (sizeof(kvm_pv_msrs) / sizeof(kvm_pv_msrs[0]))

void kvm_state_probe(struct kvm_vm *k)
{
	k->has_xsave = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0;
	k->has_xcrs = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
	k->has_debugregs = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DEBUGREGS) > 0;
	k->has_vcpu_events = ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_VCPU_EVENTS) > 0;
}

/* The XCR0 bits KVM lets the guest enable (CPUID leaf 0xD, sub-leaf 0). */
static uint64_t supported_xcr0(const struct kvm_vm *k)
{
	for (unsigned i = 0; i < k->cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &k->cpuid->entries[i];

		if (e->function == 0xd && e->index == 0)
			return e->eax | ((uint64_t)e->edx << 32);
	}
	return CPU_XSTATE_X87_SSE;
}

static struct kvm_msrs *msrs_alloc(unsigned n)
{
	return calloc(1, sizeof(struct kvm_msrs) + n * sizeof(struct kvm_msr_entry));
}

static bool is_pv_msr(uint32_t index)
{
	for (unsigned i = 0; i < N_PV_MSRS; i++)
		if (kvm_pv_msrs[i] == index)
			return true;
	return false;
}

/* One MSR KVM read: into the saved list, or the TSC deadline. */
static void keep_msr(const struct kvm_msr_entry *e, struct cpu_full_state *st)
{
	if (e->index == CPU_MSR_IA32_TSC_DEADLINE) {
		st->tsc_deadline = e->data;
		return;
	}
	if (is_pv_msr(e->index) && !e->data)
		return; /* not in use: the emulator may take the state */
	if (st->nmsrs < CPU_MAX_SAVED_MSRS) {
		st->msrs[st->nmsrs].index = e->index;
		st->msrs[st->nmsrs++].value = e->data;
	}
}

/* Read the MSRs KVM has; KVM_GET_MSRS stops at the first it refuses,
 * which is left out of the saved state, and goes on after it. */
static int save_msrs(struct kvm_vcpu *v, unsigned index, struct cpu_full_state *st)
{
	uint32_t want[CPU_MAX_SAVED_MSRS];
	unsigned n = 0, start, i;
	struct kvm_msrs *m;
	int got;

	want[n++] = CPU_MSR_IA32_TSC;
	for (i = 0; i < cpu_n_saved_msrs; i++)
		want[n++] = cpu_saved_msrs[i];
	for (i = 0; i < N_PV_MSRS; i++)
		want[n++] = kvm_pv_msrs[i];
	want[n++] = CPU_MSR_IA32_TSC_DEADLINE;
	m = msrs_alloc(n);
	if (!m)
		return -ENOMEM;
	st->nmsrs = 0;
	for (start = 0; start < n; start += got + 1) {
		m->nmsrs = n - start;
		for (i = start; i < n; i++)
			m->entries[i - start] = (struct kvm_msr_entry){ .index = want[i] };
		got = ioctl(v->fd, KVM_GET_MSRS, m);
		if (got < 0) {
			got = -errno;
			free(m);
			return got;
		}
		for (i = 0; i < (unsigned)got; i++)
			keep_msr(&m->entries[i], st);
		if (start + got < n)
			log_debug("KVM: vCPU %u: MSR %#x is not readable and not saved",
				  index, want[start + got]);
	}
	free(m);
	return 0;
}

static int save_fpu(struct kvm_vm *k, struct kvm_vcpu *v, struct cpu_full_state *st)
{
	struct kvm_xcrs xcrs;
	struct kvm_fpu fpu;

	st->xcr0 = 1; /* x87 only, as after reset */
	if (k->has_xcrs) {
		if (ioctl(v->fd, KVM_GET_XCRS, &xcrs) < 0)
			return -errno;
		for (unsigned i = 0; i < xcrs.nr_xcrs && i < KVM_MAX_XCRS; i++)
			if (xcrs.xcrs[i].xcr == 0)
				st->xcr0 = xcrs.xcrs[i].value;
	}
	if (k->has_xsave) {
		struct kvm_xsave *x = calloc(1, sizeof(*x));

		if (!x)
			return -ENOMEM;
		if (ioctl(v->fd, KVM_GET_XSAVE, x) < 0) {
			free(x);
			return -errno;
		}
		kvm_xsave_to_common(x, st);
		free(x);
		return 0;
	}
	if (ioctl(v->fd, KVM_GET_FPU, &fpu) < 0)
		return -errno;
	kvm_fpu_to_fxsave(&fpu, st->fxsave);
	st->xstate_bv = CPU_XSTATE_X87_SSE;
	return 0;
}

static int save_events(struct kvm_vm *k, struct kvm_vcpu *v, unsigned index,
		       struct cpu_full_state *st)
{
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;

	memset(&ev, 0, sizeof(ev));
	if (k->has_vcpu_events && ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0)
		return -errno;
	if (kvm_events_to_common(&ev, &mp, st)) {
		log_error("KVM: vCPU %u is in run state %u, which a saved state cannot hold",
			  index, mp.mp_state);
		return -ENOTSUP;
	}
	return 0;
}

int kvm_vcpu_save(struct vcpu *vcpu, struct cpu_full_state *st)
{
	struct kvm_vm *k = vcpu->vm->accel_data;
	struct kvm_vcpu *v = vcpu->accel_data;
	struct kvm_debugregs dbg;
	struct kvm_lapic_state *lapic;
	struct kvm_sregs sr;
	struct kvm_regs r;
	int ret;

	memset(st, 0, sizeof(*st));
	/* The events first: KVM_GET_MP_STATE takes a pending INIT or SIPI,
	 * which changes the registers. */
	ret = save_events(k, v, vcpu->index, st);
	if (ret)
		return ret;
	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	kvm_regs_to_common(&r, &sr, &st->s);
	st->lapic_base = sr.apic_base;
	ret = save_fpu(k, v, st);
	if (ret)
		return ret;
	if (k->has_debugregs) {
		if (ioctl(v->fd, KVM_GET_DEBUGREGS, &dbg) < 0)
			return -errno;
		memcpy(st->dr, dbg.db, sizeof(dbg.db));
		st->dr[6] = dbg.dr6;
		st->dr[7] = dbg.dr7;
	}
	ret = save_msrs(v, vcpu->index, st);
	if (ret)
		return ret;
	lapic = calloc(1, sizeof(*lapic));
	if (!lapic)
		return -ENOMEM;
	if (ioctl(v->fd, KVM_GET_LAPIC, lapic) < 0) {
		ret = -errno;
		free(lapic);
		return ret;
	}
	kvm_lapic_to_common(lapic, st->lapic);
	free(lapic);
	return 0;
}

/* ---- restore ---- */

/* What KVM on this host cannot take, refused with the reason. */
static int check_offer(struct kvm_vm *k, const struct cpu_full_state *st, unsigned index)
{
	uint64_t xcr0 = supported_xcr0(k);

	if (st->xcr0 != 1 && !k->has_xcrs) {
		log_error("vCPU %u: the guest enabled XSAVE (XCR0 %#llx), but this host's KVM cannot set XCR0 (no KVM_CAP_XCRS)",
			  index, (unsigned long long)st->xcr0);
		return -ENOTSUP;
	}
	if (st->xcr0 & ~xcr0) {
		log_error("vCPU %u: the guest enabled XSAVE state components %#llx, which this host's KVM does not offer (it has %#llx)",
			  index, (unsigned long long)(st->xcr0 & ~xcr0),
			  (unsigned long long)xcr0);
		return -ENOTSUP;
	}
	if ((st->xstate_bv & ~CPU_XSTATE_X87_SSE) && !k->has_xsave) {
		log_error("vCPU %u: the saved state holds XSAVE components %#llx, but this host's KVM has no KVM_CAP_XSAVE",
			  index, (unsigned long long)st->xstate_bv);
		return -ENOTSUP;
	}
	if ((st->delivering.kind || st->nmi_pending || st->nmi_blocked || st->irq_shadow) &&
	    !k->has_vcpu_events) {
		log_error("vCPU %u: the saved state has an event pending, but this host's KVM has no KVM_CAP_VCPU_EVENTS",
			  index);
		return -ENOTSUP;
	}
	return 0;
}

static int restore_fpu(struct kvm_vm *k, struct kvm_vcpu *v, const struct cpu_full_state *st)
{
	struct kvm_xcrs xcrs;
	struct kvm_fpu fpu;
	int ret = 0;

	if (k->has_xcrs) {
		memset(&xcrs, 0, sizeof(xcrs));
		xcrs.nr_xcrs = 1;
		xcrs.xcrs[0].xcr = 0;
		xcrs.xcrs[0].value = st->xcr0 ? st->xcr0 : 1;
		if (ioctl(v->fd, KVM_SET_XCRS, &xcrs) < 0)
			return -errno;
	}
	if (k->has_xsave) {
		struct kvm_xsave *x = malloc(sizeof(*x));

		if (!x)
			return -ENOMEM;
		kvm_xsave_from_common(st, x);
		if (ioctl(v->fd, KVM_SET_XSAVE, x) < 0)
			ret = -errno;
		free(x);
		return ret;
	}
	kvm_fpu_from_fxsave(st->fxsave, &fpu);
	return ioctl(v->fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

static void add_msr(struct kvm_msrs *m, uint32_t index, uint64_t value)
{
	m->entries[m->nmsrs].index = index;
	m->entries[m->nmsrs++].data = value;
}

/* Every saved MSR but the TSC deadline, the TSC first; or (deadline)
 * just the TSC deadline, once the local APIC is in its mode. */
static int restore_msrs(struct kvm_vcpu *v, unsigned index,
			const struct cpu_full_state *st, bool deadline)
{
	struct kvm_msrs *m = msrs_alloc(CPU_MAX_SAVED_MSRS + 1);
	unsigned n = st->nmsrs < CPU_MAX_SAVED_MSRS ? st->nmsrs : CPU_MAX_SAVED_MSRS, i;
	int got;

	if (!m)
		return -ENOMEM;
	m->nmsrs = 0;
	if (deadline)
		add_msr(m, CPU_MSR_IA32_TSC_DEADLINE, st->tsc_deadline);
	for (i = 0; !deadline && i < n; i++)
		if (st->msrs[i].index == CPU_MSR_IA32_TSC)
			add_msr(m, CPU_MSR_IA32_TSC, st->msrs[i].value);
	for (i = 0; !deadline && i < n; i++)
		if (st->msrs[i].index != CPU_MSR_IA32_TSC &&
		    st->msrs[i].index != CPU_MSR_IA32_TSC_DEADLINE)
			add_msr(m, st->msrs[i].index, st->msrs[i].value);
	got = ioctl(v->fd, KVM_SET_MSRS, m);
	if (got >= 0 && (unsigned)got < m->nmsrs) {
		log_error("vCPU %u: KVM does not take the saved MSR %#x = %#llx",
			  index, m->entries[got].index,
			  (unsigned long long)m->entries[got].data);
		got = -EINVAL;
	} else if (got < 0) {
		got = -errno;
		log_error("vCPU %u: KVM refused the saved MSRs: %s", index, strerror(-got));
	} else {
		got = 0;
	}
	free(m);
	return got;
}

static int restore_lapic(struct kvm_vcpu *v, const struct cpu_full_state *st)
{
	struct kvm_lapic_state *lapic = malloc(sizeof(*lapic));
	int ret = 0;

	if (!lapic)
		return -ENOMEM;
	kvm_lapic_from_common(st->lapic, lapic);
	if (ioctl(v->fd, KVM_SET_LAPIC, lapic) < 0)
		ret = -errno;
	free(lapic);
	return ret;
}

/* Log which step KVM refused; the caller's message names the vCPU. */
static int refused(unsigned index, const char *what, int err)
{
	log_error("vCPU %u: KVM refused the saved %s: %s", index, what, strerror(-err));
	return err;
}

int kvm_vcpu_restore(struct vcpu *vcpu, const struct cpu_full_state *st)
{
	struct kvm_vm *k = vcpu->vm->accel_data;
	struct kvm_vcpu *v = vcpu->accel_data;
	unsigned index = vcpu->index;
	struct kvm_debugregs dbg;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	struct cpu_state s = st->s;
	struct kvm_sregs sr;
	struct kvm_regs r;
	const char *why = NULL;
	int ret;

	ret = check_offer(k, st, index);
	if (ret)
		return ret;
	if (kvm_events_from_common(st, &ev, &mp, &why)) {
		log_error("vCPU %u: the saved state holds %s, which KVM cannot take", index, why);
		return -EINVAL;
	}
	if (st->lapic_base)
		s.apic_base = st->lapic_base;
	if (st->wait_for_sipi && st->sipi_vector)
		kvm_take_sipi(&s, st->sipi_vector - 1);
	kvm_regs_from_common(&s, &r, &sr);
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		return refused(index, "segment and control registers", -errno);
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return refused(index, "registers", -errno);
	ret = restore_fpu(k, v, st);
	if (ret)
		return refused(index, "x87/SSE/XSAVE state or XCR0", ret);
	if (k->has_debugregs) {
		memset(&dbg, 0, sizeof(dbg));
		memcpy(dbg.db, st->dr, sizeof(dbg.db));
		dbg.dr6 = st->dr[6];
		dbg.dr7 = st->dr[7];
		if (ioctl(v->fd, KVM_SET_DEBUGREGS, &dbg) < 0)
			return refused(index, "debug registers", -errno);
	}
	ret = restore_lapic(v, st);
	if (ret)
		return refused(index, "local APIC", ret);
	ret = restore_msrs(v, index, st, false);
	if (!ret)
		ret = restore_msrs(v, index, st, true);
	if (ret)
		return ret;
	if (k->has_vcpu_events && ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return refused(index, "pending events", -errno);
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		return refused(index, "run state", -errno);
	/* The "clock" section came first and moved the guest clock. */
	if (index == 0)
		kvm_clock_follow_guest_clock(vcpu->vm);
	return 0;
}

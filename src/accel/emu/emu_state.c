/*
 * The emulator's vCPU to and from the common saved form (struct
 * cpu_full_state, accel/cpu_state.h) for save, restore and migration.
 * Called with the vCPU parked between instructions: nothing is being
 * delivered and no block is being walked.
 */
#include <errno.h>
#include <string.h>

#include "accel/emu/emu.h"
#include "accel/emu/jit/jit.h"
#include "hw/lapic.h"
#include "util/log.h"
#include "vm/vm.h"
#include "vm/vm_clock.h"

int emu_vcpu_save(struct vcpu *vcpu, struct cpu_full_state *st)
{
	struct emu_cpu *c = vcpu->accel_data;
	bool ok;
	unsigned i;

	memset(st, 0, sizeof(*st));
	st->s = c->s;
	st->s.rflags = emu_get_rflags(c);
	emu_fpu_get_image(c, st->fxsave, 16);
	st->xcr0 = c->xcr0 ? c->xcr0 : 1;
	st->xstate_bv = CPU_XSTATE_X87_SSE; /* no components past SSE */
	memcpy(st->dr, c->dr, sizeof(st->dr));
	/* The MSRs kept apart from struct cpu_state, as RDMSR reads them. */
	for (i = 0; i < cpu_n_saved_msrs; i++) {
		st->msrs[st->nmsrs].index = cpu_saved_msrs[i];
		st->msrs[st->nmsrs].value = emu_rdmsr(c, cpu_saved_msrs[i], &ok);
		st->nmsrs += ok;
	}
	st->msrs[st->nmsrs].index = CPU_MSR_IA32_TSC;
	st->msrs[st->nmsrs++].value = emu_rdtsc(c);
	st->halted = c->halted;
	st->wait_for_sipi = c->wait_for_sipi;
	st->nmi_pending = atomic_load(&c->pending_nmi);
	st->nmi_blocked = c->nmi_blocked;
	st->irq_shadow = c->irq_shadow;
	st->init_pending = atomic_load(&c->pending_init);
	st->sipi_vector = atomic_load(&c->pending_sipi);
	lapic_get_state(c->lapic, st->lapic, &st->lapic_base, &st->tsc_deadline);
	st->delivering = c->saved_event; /* restored, not run since */
	return 0;
}

/* An exception has a vector below 32; an NMI is vector 2. */
static bool event_ok(const struct cpu_event *e)
{
	switch (e->kind) {
	case CPU_EVENT_NONE:
	case CPU_EVENT_EXTINT:
	case CPU_EVENT_SOFT:
		return true;
	case CPU_EVENT_NMI:
		return e->vector == 2;
	case CPU_EVENT_EXCEPTION:
		return e->vector < 32;
	default:
		return false;
	}
}

/* What this emulator cannot be: refused with the reason. */
static int check_offer(const struct cpu_full_state *st, unsigned index)
{
	if (st->xcr0 & ~3ULL) {
		log_error("vCPU %u: the guest enabled XSAVE state components %#llx (AVX or later), which the emulator does not offer",
			  index, (unsigned long long)st->xcr0);
		return -ENOTSUP;
	}
	if (st->xstate_bv & ~CPU_XSTATE_X87_SSE) {
		log_error("vCPU %u: the saved state holds XSAVE components %#llx (AVX or later), which the emulator does not offer",
			  index, (unsigned long long)(st->xstate_bv & ~CPU_XSTATE_X87_SSE));
		return -ENOTSUP;
	}
	if (!event_ok(&st->delivering)) {
		log_error("vCPU %u: the saved state was delivering an event the emulator cannot take (kind %u, vector %u)",
			  index, st->delivering.kind, st->delivering.vector);
		return -EINVAL;
	}
	if (st->s.cr4 & ~EMU_CR4_ALLOWED) {
		log_error("vCPU %u: the guest set CR4 bits %#llx, which the emulator does not offer",
			  index, (unsigned long long)(st->s.cr4 & ~EMU_CR4_ALLOWED));
		return -ENOTSUP;
	}
	return 0;
}

int emu_vcpu_restore(struct vcpu *vcpu, const struct cpu_full_state *st)
{
	struct emu_cpu *c = vcpu->accel_data;
	uint64_t tsc = 0;
	unsigned i;
	int ret;

	ret = check_offer(st, vcpu->index);
	if (ret)
		return ret;
	c->s = st->s;
	c->s.cr0 |= CR0_ET;
	emu_set_rflags(c, st->s.rflags);
	if (!(c->s.cr0 & CR0_PE))
		c->cpl = 0;
	else if (st->s.rflags & RFLAGS_VM)
		c->cpl = 3;
	else
		c->cpl = c->s.seg[SEG_SS].dpl;
	emu_update_mode(c);
	emu_tlb_flush(c, true);
	c->blk = NULL;
	c->jit_chain_from = NULL;
	c->delivering = -1;
	c->shutdown = false;
	c->irq_checked = false;
	c->locked_insn = false;
	emu_fpu_set_image(c, st->fxsave, 16);
	c->xcr0 = st->xcr0;
	emu_debug_reset(c);
	for (i = 0; i < 8; i++)
		if (i != 4 && i != 5)
			c->dr[i] = st->dr[i];
	emu_debug_update(c);
	for (i = 0; i < st->nmsrs && i < CPU_MAX_SAVED_MSRS; i++) {
		const struct cpu_msr *m = &st->msrs[i];

		if (m->index == CPU_MSR_IA32_TSC) {
			tsc = m->value;
			continue;
		}
		if (m->index == CPU_MSR_IA32_TSC_DEADLINE)
			continue; /* with the local APIC below */
		if (!emu_wrmsr(c, m->index, m->value)) {
			log_error("vCPU %u: the saved MSR %#x = %#llx is not one the emulator takes",
				  vcpu->index, m->index, (unsigned long long)m->value);
			return -EINVAL;
		}
	}
	/* The TSC goes on from the saved value (the guest clock does too). */
	c->tsc_offset = tsc - vm_clock_ns();
	ret = lapic_set_state(c->lapic, st->lapic, st->lapic_base, st->tsc_deadline);
	if (ret) {
		log_error("vCPU %u: the saved local APIC base %#llx is invalid",
			  vcpu->index, (unsigned long long)st->lapic_base);
		return ret;
	}
	c->s.apic_base = lapic_get_base(c->lapic);
	c->halted = st->halted;
	c->wait_for_sipi = st->wait_for_sipi;
	c->nmi_blocked = st->nmi_blocked;
	c->irq_shadow = st->irq_shadow;
	atomic_store(&c->pending_nmi, st->nmi_pending);
	atomic_store(&c->pending_init, st->init_pending);
	atomic_store(&c->pending_sipi, st->sipi_vector);
	c->saved_event = st->delivering;
	return 0;
}

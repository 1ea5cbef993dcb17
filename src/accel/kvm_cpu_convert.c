/*
 * A KVM vCPU's ioctl structs to and from the common saved form (see
 * kvm_cpu_convert.h).  Field meanings: Documentation/virt/kvm/api.rst
 * and <asm/kvm.h>; the FXSAVE and XSAVE layouts: Intel SDM vol. 1, 10.5
 * and 13.4.
 */
#include "accel/kvm_cpu_convert.h"

#include <errno.h>
#include <string.h>

/* ---- registers ---- */

static void seg_to_kvm(const struct segment *s, struct kvm_segment *k)
{
	*k = (struct kvm_segment){
		.base = s->base, .limit = s->limit, .selector = s->selector,
		.type = s->type, .present = s->present, .dpl = s->dpl,
		.db = s->db, .s = s->s, .l = s->l, .g = s->g, .avl = s->avl,
		.unusable = s->unusable,
	};
}

static void seg_from_kvm(const struct kvm_segment *k, struct segment *s)
{
	*s = (struct segment){
		.base = k->base, .limit = k->limit, .selector = k->selector,
		.type = k->type, .present = k->present, .dpl = k->dpl,
		.db = k->db, .s = k->s, .l = k->l, .g = k->g, .avl = k->avl,
		.unusable = k->unusable,
	};
}

#define KVM_SEGS(sr) { &(sr)->es, &(sr)->cs, &(sr)->ss, &(sr)->ds, &(sr)->fs, &(sr)->gs }

void kvm_regs_from_common(const struct cpu_state *s, struct kvm_regs *r,
			  struct kvm_sregs *sr)
{
	struct kvm_segment *segs[NUM_SEGS] = KVM_SEGS(sr);
	int i;

	memset(sr, 0, sizeof(*sr));
	for (i = 0; i < NUM_SEGS; i++)
		seg_to_kvm(&s->seg[i], segs[i]);
	seg_to_kvm(&s->tr, &sr->tr);
	seg_to_kvm(&s->ldt, &sr->ldt);
	sr->gdt.base = s->gdt.base;
	sr->gdt.limit = s->gdt.limit;
	sr->idt.base = s->idt.base;
	sr->idt.limit = s->idt.limit;
	sr->cr0 = s->cr0;
	sr->cr2 = s->cr2;
	sr->cr3 = s->cr3;
	sr->cr4 = s->cr4;
	sr->cr8 = s->cr8;
	sr->efer = s->efer;
	sr->apic_base = s->apic_base;

	memset(r, 0, sizeof(*r));
	r->rax = s->gpr[GPR_RAX]; r->rbx = s->gpr[GPR_RBX];
	r->rcx = s->gpr[GPR_RCX]; r->rdx = s->gpr[GPR_RDX];
	r->rsi = s->gpr[GPR_RSI]; r->rdi = s->gpr[GPR_RDI];
	r->rsp = s->gpr[GPR_RSP]; r->rbp = s->gpr[GPR_RBP];
	r->r8 = s->gpr[GPR_R8]; r->r9 = s->gpr[GPR_R9];
	r->r10 = s->gpr[GPR_R10]; r->r11 = s->gpr[GPR_R11];
	r->r12 = s->gpr[GPR_R12]; r->r13 = s->gpr[GPR_R13];
	r->r14 = s->gpr[GPR_R14]; r->r15 = s->gpr[GPR_R15];
	r->rip = s->rip;
	r->rflags = s->rflags;
}

void kvm_regs_to_common(const struct kvm_regs *r, const struct kvm_sregs *sr,
			struct cpu_state *s)
{
	const struct kvm_segment *segs[NUM_SEGS] = KVM_SEGS(sr);
	int i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < NUM_SEGS; i++)
		seg_from_kvm(segs[i], &s->seg[i]);
	seg_from_kvm(&sr->tr, &s->tr);
	seg_from_kvm(&sr->ldt, &s->ldt);
	s->gdt = (struct dtable){ sr->gdt.base, sr->gdt.limit };
	s->idt = (struct dtable){ sr->idt.base, sr->idt.limit };
	s->cr0 = sr->cr0; s->cr2 = sr->cr2; s->cr3 = sr->cr3;
	s->cr4 = sr->cr4; s->cr8 = sr->cr8;
	s->efer = sr->efer;
	s->apic_base = sr->apic_base;
	s->gpr[GPR_RAX] = r->rax; s->gpr[GPR_RBX] = r->rbx;
	s->gpr[GPR_RCX] = r->rcx; s->gpr[GPR_RDX] = r->rdx;
	s->gpr[GPR_RSI] = r->rsi; s->gpr[GPR_RDI] = r->rdi;
	s->gpr[GPR_RSP] = r->rsp; s->gpr[GPR_RBP] = r->rbp;
	s->gpr[GPR_R8] = r->r8; s->gpr[GPR_R9] = r->r9;
	s->gpr[GPR_R10] = r->r10; s->gpr[GPR_R11] = r->r11;
	s->gpr[GPR_R12] = r->r12; s->gpr[GPR_R13] = r->r13;
	s->gpr[GPR_R14] = r->r14; s->gpr[GPR_R15] = r->r15;
	s->rip = r->rip;
	s->rflags = r->rflags;
}

/* ---- FPU / SSE ---- */

/* FXSAVE (64-bit form): FCW 0, FSW 2, abridged FTW 4, FOP 6, FIP 8,
 * FDP 16, MXCSR 24, MXCSR_MASK 28, ST0-7 at 32 (16 bytes each), XMM0-15
 * at 160. */
#define FX_FCW 0
#define FX_FSW 2
#define FX_FTW 4
#define FX_FOP 6
#define FX_FIP 8
#define FX_FDP 16
#define FX_MXCSR 24
#define FX_MXCSR_MASK 28
#define FX_ST 32
#define FX_XMM 160
/* What KVM_GET_FPU does not give: the mask of MXCSR bits a CPU with
 * SSE2's DAZ has. */
#define FX_DEFAULT_MXCSR_MASK 0xffff

void kvm_fpu_to_fxsave(const struct kvm_fpu *f, uint8_t fx[512])
{
	uint32_t mask = FX_DEFAULT_MXCSR_MASK;

	memset(fx, 0, 512);
	memcpy(fx + FX_FCW, &f->fcw, 2);
	memcpy(fx + FX_FSW, &f->fsw, 2);
	fx[FX_FTW] = f->ftwx;
	memcpy(fx + FX_FOP, &f->last_opcode, 2);
	memcpy(fx + FX_FIP, &f->last_ip, 8);
	memcpy(fx + FX_FDP, &f->last_dp, 8);
	memcpy(fx + FX_MXCSR, &f->mxcsr, 4);
	memcpy(fx + FX_MXCSR_MASK, &mask, 4);
	memcpy(fx + FX_ST, f->fpr, sizeof(f->fpr));
	memcpy(fx + FX_XMM, f->xmm, sizeof(f->xmm));
}

void kvm_fpu_from_fxsave(const uint8_t fx[512], struct kvm_fpu *f)
{
	memset(f, 0, sizeof(*f));
	memcpy(&f->fcw, fx + FX_FCW, 2);
	memcpy(&f->fsw, fx + FX_FSW, 2);
	f->ftwx = fx[FX_FTW];
	memcpy(&f->last_opcode, fx + FX_FOP, 2);
	memcpy(&f->last_ip, fx + FX_FIP, 8);
	memcpy(&f->last_dp, fx + FX_FDP, 8);
	memcpy(&f->mxcsr, fx + FX_MXCSR, 4);
	memcpy(f->fpr, fx + FX_ST, sizeof(f->fpr));
	memcpy(f->xmm, fx + FX_XMM, sizeof(f->xmm));
}

/* The XSAVE header follows the legacy region: XSTATE_BV, XCOMP_BV, and
 * 48 reserved bytes that must be zero. */
#define XSAVE_HDR 512
#define XSAVE_HDR_LEN 64

void kvm_xsave_to_common(const struct kvm_xsave *x, struct cpu_full_state *st)
{
	const uint8_t *a = (const uint8_t *)x->region;
	uint64_t bv;

	/* KVM fills the legacy region with the init values of x87/SSE
	 * that XSTATE_BV marks as in their initial state, so it is
	 * always valid as it is. */
	memcpy(st->fxsave, a, 512);
	memcpy(&bv, a + XSAVE_HDR, 8);
	st->xstate_bv = bv | CPU_XSTATE_X87_SSE;
	if (bv & ~CPU_XSTATE_X87_SSE) {
		st->xsave_ext_len = CPU_XSAVE_EXT_MAX;
		memcpy(st->xsave_ext, a + CPU_XSAVE_EXT_OFFSET, CPU_XSAVE_EXT_MAX);
	} else {
		st->xsave_ext_len = 0;
	}
}

void kvm_xsave_from_common(const struct cpu_full_state *st, struct kvm_xsave *x)
{
	uint8_t *a = (uint8_t *)x->region;
	uint64_t bv = st->xstate_bv | CPU_XSTATE_X87_SSE;
	uint32_t len = st->xsave_ext_len <= CPU_XSAVE_EXT_MAX ? st->xsave_ext_len : 0;

	memset(x, 0, sizeof(*x));
	memcpy(a, st->fxsave, 512);
	/* Components past SSE without their saved bytes start from their
	 * initial state. */
	if (!len)
		bv = CPU_XSTATE_X87_SSE;
	memcpy(a + XSAVE_HDR, &bv, 8);
	memcpy(a + CPU_XSAVE_EXT_OFFSET, st->xsave_ext, len);
}

/* ---- local APIC ---- */

void kvm_lapic_to_common(const struct kvm_lapic_state *k, uint32_t regs[256])
{
	for (unsigned i = 0; i < 256; i++)
		memcpy(&regs[i], k->regs + i * 4, 4);
}

void kvm_lapic_from_common(const uint32_t regs[256], struct kvm_lapic_state *k)
{
	memset(k, 0, sizeof(*k));
	for (unsigned i = 0; i < 256; i++)
		memcpy(k->regs + i * 4, &regs[i], 4);
}

/* ---- events and run state ---- */

#define NMI_VECTOR 2

/* One event being delivered in the common form; KVM may report an
 * exception, an NMI and an interrupt at once (an exception raised while
 * delivering one of the others): the exception goes first, an NMI that
 * waits stays pending, an interrupt would be lost (KVM acknowledged it
 * at the local APIC already), which KVM itself avoids by reporting at
 * most one. */
static void event_to_common(const struct kvm_vcpu_events *ev, struct cpu_full_state *st)
{
	struct cpu_event *e = &st->delivering;

	memset(e, 0, sizeof(*e));
	if (ev->exception.injected || ev->exception.pending) {
		e->kind = CPU_EVENT_EXCEPTION;
		e->vector = ev->exception.nr;
		e->has_error_code = ev->exception.has_error_code;
		e->error_code = ev->exception.error_code;
		if (ev->nmi.injected)
			st->nmi_pending = true;
	} else if (ev->nmi.injected) {
		e->kind = CPU_EVENT_NMI;
		e->vector = NMI_VECTOR;
	} else if (ev->interrupt.injected) {
		e->kind = ev->interrupt.soft ? CPU_EVENT_SOFT : CPU_EVENT_EXTINT;
		e->vector = ev->interrupt.nr;
	}
}

int kvm_events_to_common(const struct kvm_vcpu_events *ev,
			 const struct kvm_mp_state *mp, struct cpu_full_state *st)
{
	st->nmi_pending = ev->nmi.pending;
	st->nmi_blocked = ev->nmi.masked;
	st->irq_shadow = ev->interrupt.shadow != 0;
	/* KVM takes a pending INIT in KVM_GET_MP_STATE: none is left. */
	st->init_pending = false;
	st->halted = false;
	st->wait_for_sipi = false;
	st->sipi_vector = 0;
	event_to_common(ev, st);
	switch (mp->mp_state) {
	case KVM_MP_STATE_RUNNABLE:
		break;
	case KVM_MP_STATE_HALTED:
		st->halted = true;
		break;
	case KVM_MP_STATE_UNINITIALIZED: /* an AP never started */
	case KVM_MP_STATE_INIT_RECEIVED:
		st->wait_for_sipi = true;
		break;
	case KVM_MP_STATE_SIPI_RECEIVED: /* KVM_GET_MP_STATE takes a SIPI first */
		st->wait_for_sipi = true;
		st->sipi_vector = (uint8_t)ev->sipi_vector + 1;
		break;
	default:
		return -ENOTSUP;
	}
	return 0;
}

int kvm_events_from_common(const struct cpu_full_state *st,
			   struct kvm_vcpu_events *ev, struct kvm_mp_state *mp,
			   const char **why)
{
	const struct cpu_event *e = &st->delivering;

	memset(ev, 0, sizeof(*ev));
	memset(mp, 0, sizeof(*mp));
	if (st->init_pending) {
		*why = "an INIT it had not taken yet (save it again once the guest ran on)";
		return -EINVAL;
	}
	ev->flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
	ev->nmi.pending = st->nmi_pending;
	ev->nmi.masked = st->nmi_blocked;
	/* VM entry refuses STI blocking with IF clear; MOV SS blocking
	 * holds off the same interrupts and NMIs. */
	if (st->irq_shadow)
		ev->interrupt.shadow = st->s.rflags & RFLAGS_IF ? KVM_X86_SHADOW_INT_STI
								 : KVM_X86_SHADOW_INT_MOV_SS;
	switch (e->kind) {
	case CPU_EVENT_NONE:
		break;
	case CPU_EVENT_NMI:
		ev->nmi.injected = 1;
		break;
	case CPU_EVENT_EXTINT:
		ev->interrupt.injected = 1;
		ev->interrupt.nr = e->vector;
		break;
	case CPU_EVENT_EXCEPTION:
	case CPU_EVENT_SOFT:
		/*
		 * KVM re-injects a software interrupt with the length of its
		 * instruction, which it does not take from userspace: a soft
		 * event is delivered as the same vector with the same error
		 * code, returning to RIP, as the emulator does.
		 */
		if (e->kind == CPU_EVENT_SOFT && e->vector >= 32) {
			ev->interrupt.injected = 1;
			ev->interrupt.nr = e->vector;
			break;
		}
		if (e->vector >= 32 || e->vector == NMI_VECTOR) {
			*why = "an exception with a vector KVM does not inject";
			return -EINVAL;
		}
		ev->exception.injected = 1;
		ev->exception.nr = e->vector;
		ev->exception.has_error_code = e->has_error_code;
		ev->exception.error_code = e->error_code;
		break;
	default:
		*why = "an event of an unknown kind";
		return -EINVAL;
	}
	if (st->wait_for_sipi && !st->sipi_vector) {
		/* INIT_RECEIVED takes a start-up IPI as the emulator's
		 * waiting AP does (UNINITIALIZED would want an INIT first). */
		mp->mp_state = KVM_MP_STATE_INIT_RECEIVED;
	} else {
		/* A start-up IPI received is taken by the caller
		 * (kvm_take_sipi); an event being delivered wakes a halted
		 * CPU. */
		mp->mp_state = st->halted && !st->wait_for_sipi && !e->kind ?
			       KVM_MP_STATE_HALTED : KVM_MP_STATE_RUNNABLE;
	}
	return 0;
}

void kvm_take_sipi(struct cpu_state *s, uint8_t vector)
{
	s->seg[SEG_CS].selector = (uint16_t)vector << 8;
	s->seg[SEG_CS].base = (uint64_t)vector << 12;
	s->rip = 0;
}

/*
 * Exceptions and interrupts: raising a fault from anywhere in an
 * instruction (longjmp back to the run loop), and delivering vectors
 * through the real-mode IVT or the protected/long-mode IDT with privilege
 * changes, TSS and IST stack switches, double faults and triple faults.
 */
#include <stdio.h>

#include "accel/emu/emu.h"
#include "util/log.h"
#include "vm/vm.h"

_Noreturn void emu_raise(struct emu_cpu *c, int vector, uint32_t error, bool has_error)
{
	c->fault_vector = vector;
	c->fault_error = error;
	c->fault_has_error = has_error;
	longjmp(c->fault_jmp, 1);
}

_Noreturn void emu_raise_gp(struct emu_cpu *c, uint32_t error)
{
	emu_raise(c, EXC_GP, error, true);
}

_Noreturn void emu_raise_ud(struct emu_cpu *c)
{
	emu_raise(c, EXC_UD, 0, false);
}

static void deliver_real(struct emu_cpu *c, int vector, uint64_t ret)
{
	uint16_t sp = c->s.gpr[GPR_RSP];
	uint64_t ss = c->s.seg[SEG_SS].base;
	uint32_t ivt = c->s.idt.base + vector * 4;
	uint32_t target;

	if ((uint32_t)vector * 4 + 3 > c->s.idt.limit)
		emu_raise_gp(c, vector * 8 + 2);
	target = emu_read_sys(c, ivt, 4);
	emu_write_sys(c, (ss + (uint16_t)(sp - 2)) & 0xffffffff, 2, emu_get_rflags(c));
	emu_write_sys(c, (ss + (uint16_t)(sp - 4)) & 0xffffffff, 2, c->s.seg[SEG_CS].selector);
	emu_write_sys(c, (ss + (uint16_t)(sp - 6)) & 0xffffffff, 2, ret);
	c->s.gpr[GPR_RSP] = (c->s.gpr[GPR_RSP] & ~0xffffULL) | (uint16_t)(sp - 6);
	emu_load_seg_real(c, SEG_CS, target >> 16);
	c->s.rip = target & 0xffff;
	c->s.rflags &= ~(RFLAGS_IF | RFLAGS_TF | RFLAGS_AC | RFLAGS_RF);
}

/* Stack pointer for privilege level cpl (or IST n) from the current TSS. */
static uint64_t tss_stack(struct emu_cpu *c, unsigned cpl, unsigned ist,
			  uint16_t *ss_out)
{
	uint64_t base = c->s.tr.base;

	if (c->long_mode) {
		unsigned off = ist ? 0x24 + (ist - 1) * 8 : 4 + cpl * 8;
		if (off + 7 > c->s.tr.limit)
			emu_raise(c, EXC_TS, c->s.tr.selector & 0xfffc, true);
		*ss_out = cpl;
		return emu_read_sys(c, base + off, 8);
	}
	if (8 + cpl * 8 + 1 > c->s.tr.limit)
		emu_raise(c, EXC_TS, c->s.tr.selector & 0xfffc, true);
	*ss_out = emu_read_sys(c, base + 8 + cpl * 8, 2);
	return emu_read_sys(c, base + 4 + cpl * 8, 4);
}

static void push_frame(struct emu_cpu *c, uint64_t *rsp, uint64_t ss_base,
		       uint64_t smask, unsigned size, uint64_t v)
{
	*rsp -= size;
	if (smask == ~0ULL)
		emu_write_lin(c, *rsp, size, v, false);
	else
		emu_write_lin(c, (ss_base + (*rsp & smask)) & 0xffffffff, size, v, false);
}

static void deliver_protected(struct emu_cpu *c, int vector, uint32_t error,
			      bool has_error, bool soft, uint64_t ret)
{
	bool lm = c->long_mode;
	unsigned gsize = lm ? 16 : 8, type, gate_dpl, new_cpl, ist = 0;
	uint64_t gate_lo, gate_hi = 0, target, desc, rsp, ss_base;
	uint64_t old_rflags = emu_get_rflags(c), old_rsp = c->s.gpr[GPR_RSP];
	uint16_t sel, old_ss = c->s.seg[SEG_SS].selector, new_ss = 0;
	uint16_t old_cs = c->s.seg[SEG_CS].selector;
	uint32_t idt_err = vector * 8 + 2 + (soft ? 0 : 1);
	unsigned psize, old_cpl = c->cpl;
	uint64_t smask;
	bool stack_switch;

	if ((uint32_t)vector * gsize + gsize - 1 > c->s.idt.limit)
		emu_raise_gp(c, idt_err);
	gate_lo = emu_read_sys(c, c->s.idt.base + vector * gsize, 8);
	if (lm)
		gate_hi = emu_read_sys(c, c->s.idt.base + vector * gsize + 8, 8);
	type = (gate_lo >> 40) & 0x1f;  /* with the S bit, which must be 0 */
	gate_dpl = (gate_lo >> 45) & 3;
	if (lm ? (type != 0xe && type != 0xf)
	       : (type != 0xe && type != 0xf && type != 0x6 && type != 0x7)) {
		if (type == 0x5)
			log_warn_once("emu: task-gate interrupt delivery is not supported");
		emu_raise_gp(c, idt_err);
	}
	if (soft && gate_dpl < c->cpl)
		emu_raise_gp(c, idt_err);
	if (!((gate_lo >> 47) & 1))
		emu_raise(c, EXC_NP, idt_err, true);
	sel = (gate_lo >> 16) & 0xffff;
	target = (gate_lo & 0xffff) | ((gate_lo >> 32) & 0xffff0000);
	if (lm) {
		target |= gate_hi << 32;
		ist = (gate_lo >> 32) & 7;
	}
	if ((sel & ~3) == 0)
		emu_raise_gp(c, 0);
	desc = emu_read_descriptor(c, sel, EXC_GP);
	if (!((desc >> 44) & 1) || !((desc >> 43) & 1))
		emu_raise_gp(c, sel & 0xfffc);
	if (!((desc >> 47) & 1))
		emu_raise(c, EXC_NP, sel & 0xfffc, true);
	new_cpl = ((desc >> 42) & 1) ? c->cpl : (desc >> 45) & 3; /* conforming keeps CPL */
	if (new_cpl > c->cpl)
		emu_raise_gp(c, sel & 0xfffc);

	stack_switch = new_cpl < c->cpl || (lm && ist);
	rsp = stack_switch ? tss_stack(c, new_cpl, lm ? ist : 0, &new_ss) : old_rsp;
	if (lm) {
		psize = 8;
		rsp &= ~0xfULL;
		if (new_cpl < old_cpl)
			new_ss = new_cpl;  /* null selector with RPL = new CPL */
		ss_base = 0;
		smask = ~0ULL;
	} else {
		psize = (type & 8) ? 4 : 2;
		if (new_cpl < old_cpl) {
			struct segment tmp;
			emu_seg_from_descriptor(&tmp, new_ss,
						emu_read_descriptor(c, new_ss, EXC_TS));
			ss_base = tmp.base;
			smask = tmp.db ? 0xffffffff : 0xffff;
		} else {
			ss_base = c->s.seg[SEG_SS].base;
			smask = c->s.seg[SEG_SS].db ? 0xffffffff : 0xffff;
		}
	}

	/* 64-bit frames always hold SS:RSP; legacy ones on a privilege change. */
	if (lm || new_cpl < old_cpl) {
		push_frame(c, &rsp, ss_base, smask, psize, old_ss);
		push_frame(c, &rsp, ss_base, smask, psize, old_rsp);
	}
	push_frame(c, &rsp, ss_base, smask, psize, old_rflags);
	push_frame(c, &rsp, ss_base, smask, psize, old_cs);
	push_frame(c, &rsp, ss_base, smask, psize, ret);
	if (has_error)
		push_frame(c, &rsp, ss_base, smask, psize, error);

	/* Commit: the frame is written. */
	if (new_cpl < old_cpl) {
		if (lm) {
			c->s.seg[SEG_SS] = (struct segment){ .selector = new_ss, .unusable = 1,
							     .dpl = new_cpl, .db = 0 };
		} else {
			uint64_t ssd = emu_read_descriptor(c, new_ss, EXC_TS);
			emu_seg_from_descriptor(&c->s.seg[SEG_SS], new_ss, ssd);
		}
	}
	emu_load_cs(c, sel, desc, new_cpl);
	if (smask == 0xffff && new_cpl == old_cpl)
		c->s.gpr[GPR_RSP] = (old_rsp & ~0xffffULL) | (rsp & 0xffff);
	else
		c->s.gpr[GPR_RSP] = rsp & smask;
	c->s.rip = lm ? target : target & (psize == 2 ? 0xffff : 0xffffffff);
	if (!(type & 1))  /* interrupt gate */
		c->s.rflags &= ~RFLAGS_IF;
	c->s.rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
}

void emu_deliver(struct emu_cpu *c, int vector, uint32_t error, bool has_error,
		 bool soft, uint64_t ret)
{
	c->halted = false;
	c->blk = NULL;
	c->dbg_tf = false;  /* delivery clears TF: no single-step trap after it */
	if (!(c->s.cr0 & CR0_PE))
		deliver_real(c, vector, ret);
	else
		deliver_protected(c, vector, error, has_error, soft, ret);
}

static bool contributory(int v)
{
	return v == EXC_DE || (v >= EXC_TS && v <= EXC_GP);
}

/* With -v: where #UD was raised and the bytes there, to tell an opcode
 * the emulator lacks from a guest's deliberate UD2 (the first 1000). */
static void log_ud(struct emu_cpu *c)
{
	static unsigned logged;
	uint8_t b[15];
	char hex[15 * 3 + 1] = "";
	unsigned n = emu_peek_code(c, c->insn_rip, b, sizeof(b));

	if (__atomic_fetch_add(&logged, 1, __ATOMIC_RELAXED) >= 1000)
		return;
	for (unsigned i = 0; i < n; i++)
		snprintf(hex + i * 3, 4, "%02x ", b[i]);
	log_info("emu: vCPU %u: #UD at %04x:%llx (cpl %u, cr3 %#llx): %s",
		 c->vcpu ? c->vcpu->index : 0, c->s.seg[SEG_CS].selector,
		 (unsigned long long)c->insn_rip, c->cpl,
		 (unsigned long long)c->s.cr3, n ? hex : "(not mapped)");
}

void emu_deliver_saved_event(struct emu_cpu *c)
{
	struct cpu_event e = c->saved_event;

	c->saved_event.kind = CPU_EVENT_NONE;
	c->insn_rip = c->s.rip;
	if (e.kind == CPU_EVENT_NMI)
		c->nmi_blocked = true;
	/* A fault while delivering an exception escalates as it would
	 * have before the save (#DF, shutdown). */
	if (e.kind == CPU_EVENT_EXCEPTION)
		c->delivering = e.vector;
	/* A software interrupt cannot be rewound to its instruction: it is
	 * delivered as it was, returning to RIP. */
	emu_deliver(c, e.vector, e.error_code, e.has_error_code,
		    e.kind == CPU_EVENT_SOFT, c->s.rip);
	c->delivering = -1;
}

void emu_deliver_fault(struct emu_cpu *c)
{
	int v = c->fault_vector, first = c->delivering;

	c->s.rip = c->insn_rip;
	/* Faults push RF set, so that the instruction restarts without
	 * hitting its instruction breakpoint again; the instruction
	 * breakpoint #DB itself pushes RF as it is. */
	if (!c->dbg_no_rf)
		c->s.rflags |= RFLAGS_RF;
	c->dbg_no_rf = false;
	c->dbg_deferred = 0;
	/* the first 200 exceptions only: a guest takes millions */
	static int logged;
	if (log_threshold >= LOG_DEBUG && logged++ < 200) {
		log_debug("emu: exception %d (error %#x) at %04x:%llx, cr2 %#llx",
			  v, c->fault_error, c->s.seg[SEG_CS].selector,
			  (unsigned long long)c->insn_rip, (unsigned long long)c->s.cr2);
		if (v == EXC_PF && (c->fault_error & 0x10))  /* instruction fetch */
			for (int i = 1; i <= 64; i++)
				log_debug("emu: trace %d: %llx", i,
					  (unsigned long long)c->trace[(c->trace_pos - i) & 63]);
	}
	if (v == EXC_UD && log_threshold >= LOG_INFO)
		log_ud(c);
	if (first == EXC_DF) {
		log_error("emu: triple fault (exception %d while delivering a double fault)", v);
		c->shutdown = true;
		c->delivering = -1;
		return;
	}
	if (first >= 0 && ((contributory(first) && contributory(v)) ||
			   (first == EXC_PF && (contributory(v) || v == EXC_PF)))) {
		c->delivering = EXC_DF;
		emu_deliver(c, EXC_DF, 0, true, false, c->insn_rip);
		c->delivering = -1;
		return;
	}
	c->delivering = v;
	emu_deliver(c, v, c->fault_error, c->fault_has_error, false, c->insn_rip);
	c->delivering = -1;
}

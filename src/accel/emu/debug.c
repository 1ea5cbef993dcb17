/*
 * Debug facilities (Intel SDM vol. 3, "Debug, Branch Profile, TSC and
 * Intel RDT Features"): single-step traps (RFLAGS.TF), the resume flag
 * (RFLAGS.RF), hardware breakpoints in DR0-DR3 enabled by DR7 (execute,
 * data write, data read/write and, with CR4.DE, I/O), DR6 status, general
 * detect (DR7.GD) and MOV to and from debug registers.
 *
 * None of it costs anything while unused: the run loop looks at
 * c->debug_active once per step, and only while it is set (TF, RF, or a
 * DR7 enable bit) does it run one instruction at a time through
 * emu_debug_step.  Data breakpoints are seen in the slow memory paths:
 * while some are armed, a page they cover gets TLB entries without data
 * permissions, so that every access to it takes the slow path.
 */
#include "accel/emu/emu.h"

#define DR6_BD (1u << 13)
#define DR6_BS (1u << 14)
#define DR6_FIXED 0xffff0ff0u  /* reserved bits read as ones */
#define DR6_WRITABLE 0xe00fu   /* B0-B3, BD, BS, BT */
#define DR7_GD (1u << 13)
#define DR7_FIXED 0x400u
#define DR7_WRITABLE 0xffff23ffu

enum { BP_EXEC = 0, BP_WRITE = 1, BP_IO = 2, BP_RW = 3 };

static bool bp_enabled(const struct emu_cpu *c, unsigned i)
{
	return (c->dr[7] >> (2 * i)) & 3;
}

static unsigned bp_type(const struct emu_cpu *c, unsigned i)
{
	return (c->dr[7] >> (16 + 4 * i)) & 3;
}

/* LEN: 00 one byte, 01 two, 11 four, 10 eight. */
static unsigned bp_len(const struct emu_cpu *c, unsigned i)
{
	static const unsigned len[4] = { 1, 2, 8, 4 };

	return len[(c->dr[7] >> (18 + 4 * i)) & 3];
}

/* Does breakpoint i (an address range aligned to its length) overlap
 * [addr, addr + size)? */
static bool bp_overlaps(const struct emu_cpu *c, unsigned i, uint64_t addr, unsigned size)
{
	unsigned len = bp_len(c, i);
	uint64_t start = c->dr[i] & ~(uint64_t)(len - 1);

	return addr < start + len && start < addr + size;
}

/* Whether the run loop must step through emu_debug_step. */
static void update_active(struct emu_cpu *c)
{
	c->debug_active = (c->s.rflags & (RFLAGS_TF | RFLAGS_RF)) || (c->dr[7] & 0xff) ||
			  c->dbg_deferred;
}

void emu_debug_update(struct emu_cpu *c)
{
	bool data = false, io = false;

	for (unsigned i = 0; i < 4; i++) {
		if (!bp_enabled(c, i))
			continue;
		switch (bp_type(c, i)) {
		case BP_WRITE: case BP_RW:
			data = true;
			break;
		case BP_IO:  /* undefined without CR4.DE: ignored */
			io = io || (c->s.cr4 & CR4_DE);
			break;
		}
	}
	/* Drop the TLB so that pages now armed (or no longer armed) get
	 * entries of the right kind. */
	if (data || c->dbg_data)
		emu_tlb_flush(c, true);
	c->dbg_data = data;
	c->dbg_io = io;
	update_active(c);
}

void emu_debug_reset(struct emu_cpu *c)
{
	c->dr[0] = c->dr[1] = c->dr[2] = c->dr[3] = 0;
	c->dr[6] = 0;
	c->dr[7] = 0;
	c->dbg_deferred = 0;
	c->dbg_hits = 0;
	c->dbg_no_rf = false;
	emu_debug_update(c);
}

bool emu_debug_page_armed(const struct emu_cpu *c, uint64_t lin)
{
	uint64_t page = lin & ~0xfffULL;

	for (unsigned i = 0; i < 4; i++)
		if (bp_enabled(c, i) && (bp_type(c, i) == BP_WRITE || bp_type(c, i) == BP_RW) &&
		    bp_overlaps(c, i, page, 4096))
			return true;
	return false;
}

void emu_debug_data(struct emu_cpu *c, uint64_t lin, unsigned size, bool write)
{
	for (unsigned i = 0; i < 4; i++) {
		unsigned t = bp_type(c, i);
		if (bp_enabled(c, i) && (t == BP_RW || (t == BP_WRITE && write)) &&
		    bp_overlaps(c, i, lin, size))
			c->dbg_hits |= 1u << i;
	}
}

void emu_debug_io(struct emu_cpu *c, uint16_t port, unsigned size)
{
	for (unsigned i = 0; i < 4; i++)
		if (bp_enabled(c, i) && bp_type(c, i) == BP_IO &&
		    bp_overlaps(c, i, port, size))
			c->dbg_hits |= 1u << i;
}

/* Set status bits in DR6: breakpoint hits replace B0-B3, the other
 * conditions add to what is there. */
static void set_dr6(struct emu_cpu *c, uint32_t bits)
{
	if (bits & 0xf)
		c->dr[6] &= ~0xfULL;
	c->dr[6] |= bits;
}

/* Instruction breakpoints: a fault before the instruction runs, unless
 * RF says it was already reported. */
static void check_insn_breakpoints(struct emu_cpu *c)
{
	uint64_t lin = c->code_size == 8 ? c->s.rip :
		       (c->s.seg[SEG_CS].base + c->s.rip) & 0xffffffffULL;
	uint32_t hits = 0;

	for (unsigned i = 0; i < 4; i++)
		if (bp_enabled(c, i) && bp_type(c, i) == BP_EXEC && c->dr[i] == lin)
			hits |= 1u << i;
	if (!hits)
		return;
	set_dr6(c, hits);
	c->dr[7] &= ~(uint64_t)DR7_GD;
	c->insn_rip = c->s.rip;
	c->dbg_no_rf = true;  /* RF is pushed as it is (0), not set */
	emu_raise(c, EXC_DB, 0, false);
}

/* Deliver a #DB trap with these DR6 bits before the instruction at RIP. */
static void db_trap(struct emu_cpu *c, uint32_t dr6)
{
	set_dr6(c, dr6);
	c->dr[7] &= ~(uint64_t)DR7_GD;
	c->insn_rip = c->s.rip;
	emu_deliver(c, EXC_DB, 0, false, false, c->s.rip);
}

/* Delivered from within the instruction, as INT n is: it comes before
 * any interrupt the run loop would take next, and cancels the step's
 * own trap. */
void emu_debug_trap_now(struct emu_cpu *c)
{
	if (c->s.rflags & RFLAGS_TF)
		db_trap(c, DR6_BS);
	else
		c->dbg_tf = false;
}

/*
 * One instruction with the debug checks around it: instruction
 * breakpoints before, then (it completed without a fault) the
 * single-step and data/I/O breakpoint traps after it, held over one more
 * instruction after MOV SS / POP SS.  RF is cleared at the start of every
 * instruction once the breakpoint check is past; an IRET may load it
 * again.  A fault unwinds out of here: no trap follows a faulting
 * instruction.
 */
unsigned emu_debug_step(struct emu_cpu *c)
{
	uint64_t fl = c->s.rflags;
	uint32_t dr6;

	if (!(fl & RFLAGS_RF) && (c->dr[7] & 0xff))
		check_insn_breakpoints(c);
	c->s.rflags &= ~RFLAGS_RF;
	c->dbg_hits = 0;
	c->dbg_tf = fl & RFLAGS_TF;
	c->mov_ss = false;
	emu_step(c);
	dr6 = c->dbg_hits | (c->dbg_tf ? DR6_BS : 0);
	if (c->mov_ss) {
		c->dbg_deferred |= dr6;
	} else if (dr6 || c->dbg_deferred) {
		dr6 |= c->dbg_deferred;
		c->dbg_deferred = 0;
		db_trap(c, dr6);
	}
	update_active(c);
	return 1;
}

/* MOV from or to DRn (0F 21 / 0F 23). */
void emu_mov_dr(struct emu_cpu *c, const struct insn *in, bool to_dr)
{
	unsigned dr = in->reg;
	uint64_t mask = c->code_size == 8 ? ~0ULL : 0xffffffffULL, v;

	if (dr > 7)
		emu_raise_ud(c);
	if (c->cpl)
		emu_raise_gp(c, 0);
	if (dr == 4 || dr == 5) {
		if (c->s.cr4 & CR4_DE)
			emu_raise_ud(c);
		dr += 2;
	}
	if (c->dr[7] & DR7_GD) {
		/* General detect: a fault before the access, with BD set and
		 * GD cleared so that the handler may use the registers. */
		set_dr6(c, DR6_BD);
		c->dr[7] &= ~(uint64_t)DR7_GD;
		emu_raise(c, EXC_DB, 0, false);
	}
	if (!to_dr) {
		v = dr == 6 ? (c->dr[6] & DR6_WRITABLE) | DR6_FIXED :
		    dr == 7 ? (c->dr[7] & DR7_WRITABLE) | DR7_FIXED : c->dr[dr];
		c->s.gpr[in->rm] = v & mask;
		return;
	}
	v = c->s.gpr[in->rm] & mask;
	if (dr >= 6 && (v >> 32))
		emu_raise_gp(c, 0);
	if (dr == 6) {
		c->dr[6] = v & DR6_WRITABLE;
		return;
	}
	c->dr[dr] = dr == 7 ? v & DR7_WRITABLE : v;
	emu_debug_update(c);
}

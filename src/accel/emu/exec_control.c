/*
 * String instructions (with REP), far control transfers (far JMP/CALL,
 * RETF, IRET) in every mode, and I/O permission checks.
 */
#include <string.h>
#include <sys/random.h>

#include "accel/emu/exec.h"
#include "util/log.h"

/* Iterations of a REP string instruction per step: interrupts and kicks
 * are checked between batches, the instruction restarts where it was. */
#define REP_BATCH 4096

/* IN/OUT/INS/OUTS: CPL > IOPL needs the TSS I/O permission bitmap. */
void emu_check_io(struct emu_cpu *c, uint16_t port, unsigned size);
void emu_check_io(struct emu_cpu *c, uint16_t port, unsigned size)
{
	unsigned iopl = (c->s.rflags & RFLAGS_IOPL) >> 12;
	uint64_t tss = c->s.tr.base;
	uint16_t bitmap, bits;

	if (!(c->s.cr0 & CR0_PE) || (c->cpl <= iopl && !(c->s.rflags & RFLAGS_VM)))
		return;
	if (c->s.tr.limit < 0x67)
		emu_raise_gp(c, 0);
	bitmap = emu_read_sys(c, tss + 0x66, 2);
	if ((uint32_t)bitmap + port / 8 + 1 > c->s.tr.limit)
		emu_raise_gp(c, 0);
	bits = emu_read_sys(c, tss + bitmap + port / 8, 2);
	if ((bits >> (port & 7)) & ((1u << size) - 1))
		emu_raise_gp(c, 0);
}

/* RDRAND and RDSEED: the host kernel's random numbers (its pool is
 * seeded from the host's own sources); false, as a CPU's CF = 0, if it
 * has none to give. */
bool emu_random(uint64_t *v)
{
	if (getrandom(v, sizeof(*v), GRND_NONBLOCK) == sizeof(*v))
		return true;
	*v = 0;
	return false;
}

/* STOS's bulk form: bytes of size-byte elements v.  Elements whose bytes
 * are all alike (Linux clears pages with REP STOSQ of 0) are a memset;
 * others are stored element by element with the size known to the
 * compiler (a memcpy of a variable size per element was a call each). */
static void fill_elements(uint8_t *dp, uint64_t v, unsigned size, uint64_t bytes)
{
	uint64_t m = emu_size_mask(size);

	if ((v & m) == ((v & 0xff) * (0x0101010101010101ULL & m))) {
		memset(dp, (uint8_t)v, bytes);
		return;
	}
	switch (size) {
	case 2:
		for (uint64_t i = 0; i < bytes; i += 2) {
			uint16_t x = (uint16_t)v;
			memcpy(dp + i, &x, 2);
		}
		break;
	case 4:
		for (uint64_t i = 0; i < bytes; i += 4) {
			uint32_t x = (uint32_t)v;
			memcpy(dp + i, &x, 4);
		}
		break;
	default:
		for (uint64_t i = 0; i < bytes; i += 8)
			memcpy(dp + i, &v, 8);
		break;
	}
}

/*
 * REP MOVS and REP STOS going forward in 64-bit mode: as many elements as
 * lie within the current page on both sides, when both are RAM the TLB
 * already allows, with one host memmove or fill.  Returns how many were
 * done; 0 leaves the next element to the element-by-element loop (which
 * also fills the TLB, faults, and handles code pages and overlaps).
 */
static uint64_t string_bulk(struct emu_cpu *c, const struct insn *in, unsigned size,
			    uint64_t count)
{
	uint64_t di = c->s.gpr[GPR_RDI], si = c->s.gpr[GPR_RSI], n, bytes;
	bool movs = in->op == 0xa4 || in->op == 0xa5;
	uint8_t *dp, *sp = NULL;

	if (c->code_size != 8 || in->adsize != 8 || (c->s.rflags & RFLAGS_DF))
		return 0;
	dp = emu_fast_host(c, SEG_ES, di, size, true);
	if (!dp)
		return 0;
	n = (4096 - (emu_lin64(c, SEG_ES, di) & 0xfff)) / size;
	if (movs) {
		uint64_t in_page;

		sp = emu_fast_host(c, insn_seg(in), si, size, false);
		if (!sp)
			return 0;
		in_page = (4096 - (emu_lin64(c, insn_seg(in), si) & 0xfff)) / size;
		if (in_page < n)
			n = in_page;
	}
	if (count < n)
		n = count;
	bytes = n * size;
	if (movs) {
		/* Forward element copies equal memmove unless the destination
		 * starts inside the source. */
		if (dp > sp && dp < sp + bytes)
			return 0;
		memmove(dp, sp, bytes);
		c->s.gpr[GPR_RSI] = si + bytes;
	} else {
		fill_elements(dp, c->s.gpr[GPR_RAX], size, bytes);
	}
	c->s.gpr[GPR_RDI] = di + bytes;
	c->s.gpr[GPR_RCX] -= n;
	return n;
}

/*
 * A REP string instruction stops after an iteration that is not its
 * last, RIP still at it: events taken meanwhile push RF set, so that its
 * instruction breakpoint does not fire again when it resumes (SDM vol. 3,
 * 18.3.1.1); the debug step clears RF when it does.
 */
static void rep_suspend(struct emu_cpu *c)
{
	c->s.rip = c->insn_rip;
	c->s.rflags |= RFLAGS_RF;
	c->debug_active = true;
}

/* Single-stepping and data breakpoints trap after each iteration (pages
 * with data breakpoints never take the bulk path: their TLB entries do
 * not allow it). */
static inline bool rep_single_stepped(const struct emu_cpu *c)
{
	return __builtin_expect(c->debug_active, 0) && c->dbg_tf;
}

static inline bool rep_debug_stop(const struct emu_cpu *c)
{
	return __builtin_expect(c->debug_active, 0) && (c->dbg_tf || c->dbg_hits);
}

bool emu_exec_string(struct emu_cpu *c, const struct insn *in)
{
	unsigned op = in->op, size = (op & 1) ? in->opsize : 1;
	uint64_t am = emu_size_mask(in->adsize);
	int64_t step = (c->s.rflags & RFLAGS_DF) ? -(int64_t)size : (int64_t)size;
	bool rep = in->prefixes & (PFX_REP | PFX_REPNE);
	int src_seg = insn_seg(in);
	unsigned n = 0;

	if (op == 0x6d || op == 0x6f)
		size = in->opsize == 8 ? 4 : in->opsize;
	step = (c->s.rflags & RFLAGS_DF) ? -(int64_t)size : (int64_t)size;
	if (op >= 0x6c && op <= 0x6f)
		emu_check_io(c, c->s.gpr[GPR_RDX], size);

	for (;;) {
		uint64_t si = c->s.gpr[GPR_RSI] & am, di = c->s.gpr[GPR_RDI] & am;
		uint64_t a, b;
		bool stop = false;

		if (rep && (c->s.gpr[GPR_RCX] & am) == 0)
			break;
		if (rep && (op == 0xa4 || op == 0xa5 || op == 0xaa || op == 0xab) &&
		    !rep_single_stepped(c)) {
			uint64_t done = string_bulk(c, in, size, c->s.gpr[GPR_RCX] & am);
			if (done) {
				n += done;
				if (n >= REP_BATCH && (c->s.gpr[GPR_RCX] & am)) {
					rep_suspend(c);  /* continue in the next step */
					break;
				}
				continue;
			}
		}
		switch (op) {
		case 0xa4: case 0xa5: /* MOVS */
			a = emu_read(c, src_seg, si, size);
			emu_write(c, SEG_ES, di, size, a);
			reg_write(c, in, GPR_RSI, in->adsize, si + step);
			reg_write(c, in, GPR_RDI, in->adsize, di + step);
			break;
		case 0xa6: case 0xa7: /* CMPS */
			a = emu_read(c, src_seg, si, size);
			b = emu_read(c, SEG_ES, di, size);
			emu_flags_arith(c, CC_SUB, size, (a - b) & emu_size_mask(size), a, b);
			reg_write(c, in, GPR_RSI, in->adsize, si + step);
			reg_write(c, in, GPR_RDI, in->adsize, di + step);
			stop = true;
			break;
		case 0xaa: case 0xab: /* STOS */
			emu_write(c, SEG_ES, di, size, c->s.gpr[GPR_RAX]);
			reg_write(c, in, GPR_RDI, in->adsize, di + step);
			break;
		case 0xac: case 0xad: /* LODS */
			a = emu_read(c, src_seg, si, size);
			reg_write(c, in, GPR_RAX, size, a);
			reg_write(c, in, GPR_RSI, in->adsize, si + step);
			break;
		case 0xae: case 0xaf: /* SCAS */
			a = c->s.gpr[GPR_RAX] & emu_size_mask(size);
			b = emu_read(c, SEG_ES, di, size);
			emu_flags_arith(c, CC_SUB, size, (a - b) & emu_size_mask(size), a, b);
			reg_write(c, in, GPR_RDI, in->adsize, di + step);
			stop = true;
			break;
		case 0x6c: case 0x6d: /* INS */
			/* Check the destination before consuming the port value. */
			emu_linear(c, SEG_ES, di, size, true);
			a = emu_pio_read(c, c->s.gpr[GPR_RDX], size);
			emu_write(c, SEG_ES, di, size, a);
			reg_write(c, in, GPR_RDI, in->adsize, di + step);
			break;
		default: /* OUTS */
			a = emu_read(c, src_seg, si, size);
			emu_pio_write(c, c->s.gpr[GPR_RDX], size, a);
			reg_write(c, in, GPR_RSI, in->adsize, si + step);
			break;
		}
		if (!rep)
			return true;
		reg_write(c, in, GPR_RCX, in->adsize, (c->s.gpr[GPR_RCX] - 1) & am);
		if (stop) {
			bool zf = emu_zf(c);
			if ((in->prefixes & PFX_REP) ? !zf : zf)
				break;
		}
		if ((++n >= REP_BATCH || rep_debug_stop(c)) && (c->s.gpr[GPR_RCX] & am)) {
			rep_suspend(c);  /* continue in the next step */
			break;
		}
	}
	return true;
}

static bool real_or_v86(const struct emu_cpu *c)
{
	return !(c->s.cr0 & CR0_PE) || (c->s.rflags & RFLAGS_VM);
}

/* Check a code-segment descriptor for a far transfer to privilege cpl. */
static void check_code_desc(struct emu_cpu *c, uint16_t sel, uint64_t desc)
{
	unsigned dpl = (desc >> 45) & 3, rpl = sel & 3;
	bool conforming = (desc >> 42) & 1;

	if (!((desc >> 44) & 1) || !((desc >> 43) & 1))
		emu_raise_gp(c, sel & 0xfffc);
	if (conforming ? dpl > c->cpl : (rpl > c->cpl || dpl != c->cpl))
		emu_raise_gp(c, sel & 0xfffc);
	if (!((desc >> 47) & 1))
		emu_raise(c, EXC_NP, sel & 0xfffc, true);
}

void emu_far_jump(struct emu_cpu *c, uint16_t sel, uint64_t off, bool call,
		  unsigned opsize)
{
	uint16_t old_cs = c->s.seg[SEG_CS].selector;
	uint64_t ret = c->s.rip, desc;

	if (real_or_v86(c)) {
		if (call) {
			push(c, opsize, old_cs);
			push(c, opsize, ret);
		}
		emu_load_seg_real(c, SEG_CS, sel);
		c->s.rip = off & emu_size_mask(opsize);
		return;
	}
	if ((sel & ~3) == 0)
		emu_raise_gp(c, 0);
	desc = emu_read_descriptor(c, sel, EXC_GP);
	if (!((desc >> 44) & 1)) {
		log_warn_once("emu: far %s through a gate or TSS (type %u) is not supported",
			      call ? "call" : "jump", (unsigned)((desc >> 40) & 0xf));
		emu_raise_gp(c, sel & 0xfffc);
	}
	check_code_desc(c, sel, desc);
	if (call) {
		/* Push with the old stack; commit only after both writes. */
		uint64_t sp = c->s.gpr[GPR_RSP];
		unsigned sz = opsize;
		emu_write(c, SEG_SS, sp_masked(c, sp - sz), sz, old_cs);
		emu_write(c, SEG_SS, sp_masked(c, sp - 2 * sz), sz, ret);
		sp_set(c, sp - 2 * sz);
	}
	emu_load_cs(c, sel, desc, c->cpl);
	/* The offset operand is opsize wide and zero-extended, also into
	 * 64-bit code (OVMF enters long mode with a 32-bit far jump to
	 * 0xfffff8xx: sign-extending it faults). */
	c->s.rip = off & emu_size_mask(opsize);
}

/* After a return to an outer privilege level: data segments the new CPL
 * may not use become null. */
static void null_inaccessible_segments(struct emu_cpu *c)
{
	static const int segs[] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };

	for (unsigned i = 0; i < 4; i++) {
		struct segment *sg = &c->s.seg[segs[i]];
		bool conforming_code = (sg->type & 0xc) == 0xc;
		if (!sg->unusable && sg->s && !conforming_code && sg->dpl < c->cpl) {
			sg->unusable = 1;
			sg->selector = 0;
		}
	}
}

/* Return to (sel:off) at privilege rpl, loading SS:RSP if it changes. */
static void return_far(struct emu_cpu *c, uint16_t sel, uint64_t off, unsigned opsize,
		       unsigned frame, bool outer_stack_on_same_level)
{
	uint64_t desc, new_sp = 0;
	uint16_t new_ss = 0;
	unsigned rpl = sel & 3, dpl;
	bool conforming;

	if ((sel & ~3) == 0)
		emu_raise_gp(c, 0);
	desc = emu_read_descriptor(c, sel, EXC_GP);
	dpl = (desc >> 45) & 3;
	conforming = (desc >> 42) & 1;
	if (!((desc >> 44) & 1) || !((desc >> 43) & 1) || rpl < c->cpl ||
	    (conforming ? dpl > rpl : dpl != rpl))
		emu_raise_gp(c, sel & 0xfffc);
	if (!((desc >> 47) & 1))
		emu_raise(c, EXC_NP, sel & 0xfffc, true);

	if (rpl > c->cpl || outer_stack_on_same_level) {
		new_sp = stack_peek(c, opsize, frame);
		new_ss = stack_peek(c, opsize, frame + opsize);
		if (rpl > c->cpl || (new_ss & ~3)) {
			unsigned old_cpl = c->cpl;
			uint64_t ssd = 0;
			if ((new_ss & ~3) == 0) {
				if (!(c->code_size == 8 || ((desc >> 53) & 1)) || rpl == 3)
					emu_raise_gp(c, 0);
			} else {
				ssd = emu_read_descriptor(c, new_ss, EXC_GP);
				if ((new_ss & 3) != rpl || ((ssd >> 45) & 3) != rpl ||
				    ((ssd >> 40) & 0xa) != 0x2 || !((ssd >> 44) & 1))
					emu_raise_gp(c, new_ss & 0xfffc);
				if (!((ssd >> 47) & 1))
					emu_raise(c, EXC_SS, new_ss & 0xfffc, true);
			}
			emu_load_cs(c, sel, desc, rpl);
			if ((new_ss & ~3) == 0)
				c->s.seg[SEG_SS] = (struct segment){ .selector = new_ss,
								     .unusable = 1, .dpl = rpl };
			else
				emu_seg_from_descriptor(&c->s.seg[SEG_SS], new_ss, ssd | (1ULL << 40));
			c->s.gpr[GPR_RSP] = new_sp & (c->code_size == 8 ? ~0ULL :
						      c->s.seg[SEG_SS].db ? 0xffffffff : 0xffff);
			if (c->code_size != 8 && !c->s.seg[SEG_SS].db)
				c->s.gpr[GPR_RSP] = new_sp & 0xffff;
			if (rpl > old_cpl)
				null_inaccessible_segments(c);
			c->s.rip = c->code_size == 8 ? off : off & emu_size_mask(opsize == 8 ? 4 : opsize);
			return;
		}
		/* 64-bit IRET at the same level with a null SS: RSP still
		 * comes from the frame. */
		emu_load_cs(c, sel, desc, c->cpl);
		c->s.seg[SEG_SS] = (struct segment){ .selector = new_ss, .unusable = 1,
						     .dpl = c->cpl };
		c->s.gpr[GPR_RSP] = new_sp;
		c->s.rip = c->code_size == 8 ? off : off & emu_size_mask(opsize == 8 ? 4 : opsize);
		return;
	}
	emu_load_cs(c, sel, desc, c->cpl);
	sp_set(c, c->s.gpr[GPR_RSP] + frame + (outer_stack_on_same_level ? 2 * opsize : 0));
	c->s.rip = c->code_size == 8 ? off : off & emu_size_mask(opsize == 8 ? 4 : opsize);
}

void emu_far_return(struct emu_cpu *c, unsigned opsize, uint16_t extra)
{
	uint64_t off = stack_peek(c, opsize, 0);
	uint16_t sel = stack_peek(c, opsize, opsize);

	if (real_or_v86(c)) {
		emu_load_seg_real(c, SEG_CS, sel);
		c->s.rip = off & emu_size_mask(opsize);
		sp_set(c, c->s.gpr[GPR_RSP] + 2 * opsize + extra);
		return;
	}
	return_far(c, sel, off, opsize, 2 * opsize + extra, false);
}

void emu_iret(struct emu_cpu *c, unsigned opsize)
{
	uint64_t ip, flags, mask;
	uint16_t cs;
	unsigned old_cpl = c->cpl, iopl = (c->s.rflags & RFLAGS_IOPL) >> 12;

	c->nmi_blocked = false;
	if (!(c->s.cr0 & CR0_PE)) {
		ip = stack_peek(c, opsize, 0);
		cs = stack_peek(c, opsize, opsize);
		flags = stack_peek(c, opsize, 2 * opsize);
		emu_load_seg_real(c, SEG_CS, cs);
		c->s.rip = ip & emu_size_mask(opsize);
		sp_set(c, c->s.gpr[GPR_RSP] + 3 * opsize);
		mask = opsize == 2 ? 0xffff : 0x257fd5;
		emu_set_rflags(c, (emu_get_rflags(c) & ~mask) | (flags & mask));
		return;
	}
	if (c->s.rflags & RFLAGS_VM) {
		log_warn_once("emu: IRET in virtual-8086 mode is not supported");
		emu_raise_gp(c, 0);
	}
	if (c->s.rflags & RFLAGS_NT) {
		log_warn_once("emu: IRET with NT set (task return) is not supported");
		emu_raise_gp(c, 0);
	}
	ip = stack_peek(c, opsize, 0);
	cs = stack_peek(c, opsize, opsize);
	flags = stack_peek(c, opsize, 2 * opsize);
	if ((flags & RFLAGS_VM) && old_cpl == 0 && !c->long_mode) {
		log_warn_once("emu: IRET to virtual-8086 mode is not supported");
		emu_raise_gp(c, 0);
	}
	/* 64-bit IRET always pops SS:RSP. */
	return_far(c, cs, ip, opsize, 3 * opsize, c->code_size == 8);
	mask = RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF |
	       RFLAGS_TF | RFLAGS_DF | RFLAGS_OF | RFLAGS_NT | RFLAGS_RF |
	       RFLAGS_AC | RFLAGS_ID | RFLAGS_VIF | RFLAGS_VIP;
	if (old_cpl == 0)
		mask |= RFLAGS_IOPL;
	if (old_cpl <= iopl)
		mask |= RFLAGS_IF;
	if (opsize == 2)
		mask &= 0xffff;
	emu_set_rflags(c, (emu_get_rflags(c) & ~mask) | (flags & mask));
}

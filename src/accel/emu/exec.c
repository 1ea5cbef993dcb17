/*
 * The integer instruction set: one switch over the decoded opcode.
 * System instructions live in exec_system.c, string instructions and far
 * control transfers in exec_control.c.
 */
#include "accel/emu/exec.h"
#include "util/log.h"

/* ---- ALU ---- */

enum { ALU_ADD, ALU_OR, ALU_ADC, ALU_SBB, ALU_AND, ALU_SUB, ALU_XOR, ALU_CMP };

static uint64_t alu(struct emu_cpu *c, unsigned op, unsigned size, uint64_t a, uint64_t b)
{
	uint64_t m = emu_size_mask(size), r, cf;

	a &= m;
	b &= m;
	switch (op) {
	case ALU_ADD:
		r = (a + b) & m;
		emu_flags_arith(c, CC_ADD, size, r, a, b);
		return r;
	case ALU_OR:
		r = a | b;
		emu_flags_arith(c, CC_LOGIC, size, r, a, b);
		return r;
	case ALU_ADC:
		cf = emu_cf(c);
		r = (a + b + cf) & m;
		emu_flags_arith(c, CC_ADC, size, r, a, b);
		c->cc_carry = cf;
		return r;
	case ALU_SBB:
		cf = emu_cf(c);
		r = (a - b - cf) & m;
		emu_flags_arith(c, CC_SBB, size, r, a, b);
		c->cc_carry = cf;
		return r;
	case ALU_AND:
		r = a & b;
		emu_flags_arith(c, CC_LOGIC, size, r, a, b);
		return r;
	case ALU_XOR:
		r = a ^ b;
		emu_flags_arith(c, CC_LOGIC, size, r, a, b);
		return r;
	default: /* SUB, CMP */
		r = (a - b) & m;
		emu_flags_arith(c, CC_SUB, size, r, a, b);
		return r;
	}
}

/* Shifts and rotates (group 2): op is ModRM.reg. */
uint64_t emu_shift(struct emu_cpu *c, unsigned op, unsigned size, uint64_t a,
		   unsigned count)
{
	unsigned bits = size * 8;
	uint64_t m = emu_size_mask(size), r, cf, of, msb;

	count &= size == 8 ? 63 : 31;
	a &= m;
	if (!count)
		return a;
	msb = 1ULL << (bits - 1);
	switch (op & 7) {
	case 0: /* ROL */
		count %= bits;
		r = count ? ((a << count) | (a >> (bits - count))) & m : a;
		cf = r & 1;
		of = !!(r & msb) ^ cf;
		emu_flags_set(c, RFLAGS_CF | RFLAGS_OF,
			      (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0));
		return r;
	case 1: /* ROR */
		count %= bits;
		r = count ? ((a >> count) | (a << (bits - count))) & m : a;
		cf = !!(r & msb);
		of = cf ^ !!(r & (msb >> 1));
		emu_flags_set(c, RFLAGS_CF | RFLAGS_OF,
			      (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0));
		return r;
	case 2: { /* RCL: rotate through CF as a bits+1 wide value */
		unsigned __int128 v = a | ((unsigned __int128)emu_cf(c) << bits);
		unsigned __int128 wm = ((unsigned __int128)1 << (bits + 1)) - 1;
		count %= bits + 1;
		if (count)
			v = ((v << count) | (v >> (bits + 1 - count))) & wm;
		r = (uint64_t)v & m;
		cf = (uint64_t)(v >> bits) & 1;
		of = !!(r & msb) ^ cf;
		emu_flags_set(c, RFLAGS_CF | RFLAGS_OF,
			      (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0));
		return r;
	}
	case 3: { /* RCR */
		unsigned __int128 v = a | ((unsigned __int128)emu_cf(c) << bits);
		unsigned __int128 wm = ((unsigned __int128)1 << (bits + 1)) - 1;
		count %= bits + 1;
		if (count)
			v = ((v >> count) | (v << (bits + 1 - count))) & wm;
		r = (uint64_t)v & m;
		cf = (uint64_t)(v >> bits) & 1;
		of = !!(r & msb) ^ !!(r & (msb >> 1));
		emu_flags_set(c, RFLAGS_CF | RFLAGS_OF,
			      (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0));
		return r;
	}
	case 4: case 6: /* SHL/SAL */
		r = count < 64 ? (a << count) & m : 0;
		cf = count <= bits ? (a >> (bits - count)) & 1 : 0;
		of = !!(r & msb) ^ cf;
		break;
	case 5: /* SHR */
		r = count < 64 ? a >> count : 0;
		cf = (a >> (count - 1)) & 1;
		of = !!(a & msb);
		break;
	default: { /* SAR */
		int64_t s = emu_sign_extend(a, size);
		r = (uint64_t)(s >> (count > 63 ? 63 : count)) & m;
		cf = (uint64_t)(s >> (count - 1 > 63 ? 63 : count - 1)) & 1;
		of = 0;
		break;
	}
	}
	emu_flags_szp(c, size, r, (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0));
	return r;
}

/* SHLD/SHRD: shift dst, filling from src. */
static uint64_t shift_double(struct emu_cpu *c, bool left, unsigned size,
			     uint64_t dst, uint64_t src, unsigned count)
{
	unsigned bits = size * 8;
	uint64_t m = emu_size_mask(size), r, cf, of;
	unsigned __int128 v;

	count &= size == 8 ? 63 : 31;
	if (!count)
		return dst & m;
	dst &= m;
	src &= m;
	if (left) {
		v = ((unsigned __int128)dst << bits) | src;
		r = (uint64_t)((v << count) >> bits) & m;
		cf = (dst >> (bits - count)) & 1;
		if (count > bits)
			cf = 0;
	} else {
		v = ((unsigned __int128)src << bits) | dst;
		r = (uint64_t)(v >> count) & m;
		cf = (dst >> (count - 1)) & 1;
	}
	of = ((r ^ dst) >> (bits - 1)) & 1;
	emu_flags_szp(c, size, r, (cf ? RFLAGS_CF : 0) | (of ? RFLAGS_OF : 0));
	return r;
}

/* ---- multiply and divide ---- */

static void mul_group(struct emu_cpu *c, const struct insn *in, unsigned size, unsigned op)
{
	uint64_t m = emu_size_mask(size), src = rm_read(c, in, size) & m;
	uint64_t a = c->s.gpr[GPR_RAX] & m, lo, hi;
	bool over;

	if (op == 4 || op == 5) { /* MUL, IMUL */
		if (op == 4) {
			unsigned __int128 p = (unsigned __int128)a * src;
			lo = (uint64_t)p & m;
			hi = size == 8 ? (uint64_t)(p >> 64) : (uint64_t)(p >> (size * 8)) & m;
			over = hi != 0;
		} else {
			__int128 p = (__int128)emu_sign_extend(a, size) * emu_sign_extend(src, size);
			lo = (uint64_t)p & m;
			hi = size == 8 ? (uint64_t)(p >> 64) : (uint64_t)(p >> (size * 8)) & m;
			over = p != (__int128)emu_sign_extend(lo, size);
		}
		if (size == 1) {
			reg_write(c, in, GPR_RAX, 2, lo | (hi << 8));
		} else {
			reg_write(c, in, GPR_RAX, size, lo);
			reg_write(c, in, GPR_RDX, size, hi);
		}
		emu_flags_szp(c, size, lo, over ? RFLAGS_CF | RFLAGS_OF : 0);
		return;
	}
	/* DIV, IDIV: dividend is DX:AX-style, twice the size. */
	if (!src)
		emu_raise(c, EXC_DE, 0, false);
	if (size == 1)
		hi = (c->s.gpr[GPR_RAX] >> 8) & 0xff;
	else
		hi = c->s.gpr[GPR_RDX] & m;
	if (op == 6) {
		unsigned __int128 n = ((unsigned __int128)hi << (size * 8)) | a, q, r;
		if (size == 8)
			n = ((unsigned __int128)hi << 64) | a;
		q = n / src;
		r = n % src;
		if (q > m)
			emu_raise(c, EXC_DE, 0, false);
		lo = (uint64_t)q;
		hi = (uint64_t)r;
	} else {
		__int128 n, q, r;
		unsigned __int128 un = ((unsigned __int128)hi << (size * 8)) | a;
		int64_t d = emu_sign_extend(src, size);
		/* Sign-extend the 2*size-bit dividend. */
		if (size == 8)
			n = (__int128)(((unsigned __int128)hi << 64) | a);
		else
			n = (__int128)(int64_t)((uint64_t)un << (64 - size * 16)) >> (64 - size * 16);
		if (size == 8 && n == (__int128)((unsigned __int128)1 << 127) && d == -1)
			emu_raise(c, EXC_DE, 0, false);
		q = n / d;
		r = n % d;
		if (q != (__int128)emu_sign_extend((uint64_t)q, size))
			emu_raise(c, EXC_DE, 0, false);
		lo = (uint64_t)q & m;
		hi = (uint64_t)r & m;
	}
	if (size == 1) {
		reg_write(c, in, GPR_RAX, 2, lo | (hi << 8));
	} else {
		reg_write(c, in, GPR_RAX, size, lo);
		reg_write(c, in, GPR_RDX, size, hi);
	}
}

static uint64_t imul2(struct emu_cpu *c, unsigned size, uint64_t a, uint64_t b)
{
	__int128 p = (__int128)emu_sign_extend(a, size) * emu_sign_extend(b, size);
	uint64_t lo = (uint64_t)p & emu_size_mask(size);
	bool over = p != (__int128)emu_sign_extend(lo, size);

	emu_flags_szp(c, size, lo, over ? RFLAGS_CF | RFLAGS_OF : 0);
	return lo;
}

/* ---- bit instructions ---- */

static void bit_test(struct emu_cpu *c, const struct insn *in, unsigned op,
		     uint64_t bitoff, bool imm)
{
	unsigned size = in->opsize, bits = size * 8;
	uint64_t v, mask;
	int64_t off;

	if (!in->has_mem || imm) {
		bitoff &= bits - 1;
		v = rm_read(c, in, size);
		mask = 1ULL << bitoff;
		emu_flags_set(c, RFLAGS_CF, (v & mask) ? RFLAGS_CF : 0);
		if (op)
			rm_write(c, in, size, op == 1 ? v | mask : op == 2 ? v & ~mask : v ^ mask);
		return;
	}
	/* Memory with a register bit offset: the offset is signed and may
	 * reach outside the operand. */
	off = emu_sign_extend(bitoff, size);
	{
		uint64_t ea = (insn_ea(c, in) + (off >> 3)) & emu_size_mask(in->adsize);
		uint8_t b = emu_read(c, insn_seg(in), ea, 1);
		uint8_t bm = 1u << (off & 7);
		emu_flags_set(c, RFLAGS_CF, (b & bm) ? RFLAGS_CF : 0);
		if (op)
			emu_write(c, insn_seg(in), ea, 1,
				  op == 1 ? b | bm : op == 2 ? b & ~bm : b ^ bm);
	}
}

/* ---- BCD ---- */

static void exec_bcd(struct emu_cpu *c, const struct insn *in)
{
	uint8_t al = c->s.gpr[GPR_RAX], ah = c->s.gpr[GPR_RAX] >> 8;
	uint64_t f = emu_get_rflags(c);
	bool cf = f & RFLAGS_CF, af = f & RFLAGS_AF;
	uint8_t old = al;

	switch (in->op) {
	case 0x27: /* DAA */
		if ((al & 0xf) > 9 || af) {
			al += 6;
			af = true;
		} else
			af = false;
		if (old > 0x99 || cf) {
			al += 0x60;
			cf = true;
		} else
			cf = false;
		break;
	case 0x2f: { /* DAS: the borrow of the low step survives (SDM) */
		bool ncf = false;

		if ((al & 0xf) > 9 || af) {
			ncf = cf || al < 6;
			al -= 6;
			af = true;
		} else
			af = false;
		if (old > 0x99 || cf) {
			al -= 0x60;
			ncf = true;
		}
		cf = ncf;
		break;
	}
	case 0x37: /* AAA */
	case 0x3f: /* AAS */
		if ((al & 0xf) > 9 || af) {
			/* AX + 106h, AX - 6 then AH - 1: the low step carries
			 * into AH (as every CPU since the 286). */
			uint16_t ax = al | (ah << 8);

			ax = in->op == 0x37 ? ax + 0x106 : ax - 6 - 0x100;
			al = ax;
			ah = ax >> 8;
			af = cf = true;
		} else
			af = cf = false;
		al &= 0xf;
		reg_write(c, in, GPR_RAX, 2, al | (ah << 8));
		emu_flags_set(c, RFLAGS_CF | RFLAGS_AF,
			      (cf ? RFLAGS_CF : 0) | (af ? RFLAGS_AF : 0));
		return;
	case 0xd4: /* AAM */
		if (!(in->imm & 0xff))
			emu_raise(c, EXC_DE, 0, false);
		ah = al / (uint8_t)in->imm;
		al = al % (uint8_t)in->imm;
		reg_write(c, in, GPR_RAX, 2, al | (ah << 8));
		emu_flags_szp(c, 1, al, 0);
		return;
	case 0xd5: /* AAD */
		al = al + ah * (uint8_t)in->imm;
		reg_write(c, in, GPR_RAX, 2, al);
		emu_flags_szp(c, 1, al, 0);
		return;
	}
	reg_write(c, in, GPR_RAX, 1, al);
	emu_flags_szp(c, 1, al, (cf ? RFLAGS_CF : 0) | (af ? RFLAGS_AF : 0));
}

/* ---- the main switch ---- */

static void check_lock(struct emu_cpu *c, const struct insn *in)
{
	/* LOCK is valid only on read-modify-write instructions with memory. */
	if ((in->prefixes & PFX_LOCK) && !in->has_mem)
		emu_raise_ud(c);
}

static void exec_one_byte(struct emu_cpu *c, const struct insn *in)
{
	unsigned op = in->op, size = in->opsize, bsize;
	uint64_t a, b, r;

	if (op < 0x40 && (op & 7) < 6) {
		unsigned aop = op >> 3;
		bsize = (op & 1) ? size : 1;
		switch (op & 7) {
		case 0: case 1:
			check_lock(c, in);
			a = rm_read(c, in, bsize);
			r = alu(c, aop, bsize, a, reg_read(c, in, in->reg, bsize));
			if (aop != ALU_CMP)
				rm_write(c, in, bsize, r);
			return;
		case 2: case 3:
			if (in->prefixes & PFX_LOCK)
				emu_raise_ud(c);
			b = rm_read(c, in, bsize);
			r = alu(c, aop, bsize, reg_read(c, in, in->reg, bsize), b);
			if (aop != ALU_CMP)
				reg_write(c, in, in->reg, bsize, r);
			return;
		default:
			bsize = (op & 1) ? size : 1;
			r = alu(c, aop, bsize, reg_read(c, in, GPR_RAX, bsize), in->imm);
			if (aop != ALU_CMP)
				reg_write(c, in, GPR_RAX, bsize, r);
			return;
		}
	}
	if (in->prefixes & PFX_LOCK) {
		switch (op) {
		case 0x80: case 0x81: case 0x83: case 0x86: case 0x87:
		case 0xf6: case 0xf7: case 0xfe: case 0xff:
			check_lock(c, in);
			break;
		default:
			emu_raise_ud(c);
		}
	}

	switch (op) {
	case 0x06: push(c, size, c->s.seg[SEG_ES].selector); return;
	case 0x0e: push(c, size, c->s.seg[SEG_CS].selector); return;
	case 0x16: push(c, size, c->s.seg[SEG_SS].selector); return;
	case 0x1e: push(c, size, c->s.seg[SEG_DS].selector); return;
	case 0x07: case 0x17: case 0x1f: {
		int seg = op == 0x07 ? SEG_ES : op == 0x17 ? SEG_SS : SEG_DS;
		pop_seg(c, seg, size);
		if (seg == SEG_SS)
			c->irq_shadow = c->mov_ss = true;
		return;
	}
	case 0x27: case 0x2f: case 0x37: case 0x3f: case 0xd4: case 0xd5:
		exec_bcd(c, in);
		return;
	case 0x40 ... 0x47:
		a = reg_read(c, in, op & 7, size);
		r = (a + 1) & emu_size_mask(size);
		emu_flags_arith(c, CC_INC, size, r, a, 1);
		reg_write(c, in, op & 7, size, r);
		return;
	case 0x48 ... 0x4f:
		a = reg_read(c, in, op & 7, size);
		r = (a - 1) & emu_size_mask(size);
		emu_flags_arith(c, CC_DEC, size, r, a, 1);
		reg_write(c, in, op & 7, size, r);
		return;
	case 0x50 ... 0x57:
		push(c, size, reg_read(c, in, (op & 7) | ((in->rex & 1) << 3), size));
		return;
	case 0x58 ... 0x5f: {
		unsigned rg = (op & 7) | ((in->rex & 1) << 3);
		a = pop(c, size);
		reg_write(c, in, rg, size, a);
		return;
	}
	case 0x60: { /* PUSHA */
		uint64_t sp = c->s.gpr[GPR_RSP];
		for (unsigned i = 0; i < 8; i++) {
			uint64_t v = i == GPR_RSP ? sp : c->s.gpr[i];
			emu_write(c, SEG_SS, sp_masked(c, sp - (i + 1) * size), size, v);
		}
		sp_set(c, sp - 8 * size);
		return;
	}
	case 0x61: { /* POPA */
		uint64_t vals[8];
		for (unsigned i = 0; i < 8; i++)
			vals[7 - i] = stack_peek(c, size, i * size);
		for (unsigned i = 0; i < 8; i++)
			if (i != GPR_RSP)
				reg_write(c, in, i, size, vals[i]);
		sp_set(c, c->s.gpr[GPR_RSP] + 8 * size);
		return;
	}
	case 0x62: { /* BOUND */
		int64_t idx = emu_sign_extend(reg_read(c, in, in->reg, size), size);
		uint64_t ea = insn_ea(c, in);
		int64_t lo, hi;
		if (!in->has_mem)
			emu_raise_ud(c);
		lo = emu_sign_extend(emu_read(c, insn_seg(in), ea, size), size);
		hi = emu_sign_extend(emu_read(c, insn_seg(in), (ea + size) & emu_size_mask(in->adsize), size), size);
		if (idx < lo || idx > hi)
			emu_raise(c, EXC_BR, 0, false);
		return;
	}
	case 0x63:
		if (c->code_size == 8) { /* MOVSXD */
			a = rm_read(c, in, 4);
			reg_write(c, in, in->reg, size, emu_sign_extend(a, 4));
			return;
		}
		if (!(c->s.cr0 & CR0_PE) || (c->s.rflags & RFLAGS_VM))
			emu_raise_ud(c);
		/* ARPL */
		a = rm_read(c, in, 2);
		b = reg_read(c, in, in->reg, 2);
		if ((a & 3) < (b & 3)) {
			rm_write(c, in, 2, (a & ~3ULL) | (b & 3));
			emu_flags_set(c, RFLAGS_ZF, RFLAGS_ZF);
		} else
			emu_flags_set(c, RFLAGS_ZF, 0);
		return;
	case 0x68: case 0x6a:
		push(c, size, in->imm);
		return;
	case 0x69: case 0x6b:
		r = imul2(c, size, rm_read(c, in, size), in->imm);
		reg_write(c, in, in->reg, size, r);
		return;
	case 0x70 ... 0x7f:
		if (emu_cond(c, op & 0xf))
			jump_near(c, size, c->s.rip + in->imm);
		return;
	case 0x80: case 0x81: case 0x82: case 0x83:
		bsize = (op == 0x81 || op == 0x83) ? size : 1;
		a = rm_read(c, in, bsize);
		r = alu(c, in->reg & 7, bsize, a, in->imm);
		if ((in->reg & 7) != ALU_CMP)
			rm_write(c, in, bsize, r);
		return;
	case 0x84: case 0x85:
		bsize = op == 0x85 ? size : 1;
		alu(c, ALU_AND, bsize, rm_read(c, in, bsize), reg_read(c, in, in->reg, bsize));
		return;
	case 0x86: case 0x87:
		bsize = op == 0x87 ? size : 1;
		a = rm_read(c, in, bsize);
		b = reg_read(c, in, in->reg, bsize);
		rm_write(c, in, bsize, b);
		reg_write(c, in, in->reg, bsize, a);
		return;
	case 0x88: case 0x89:
		bsize = op == 0x89 ? size : 1;
		rm_write(c, in, bsize, reg_read(c, in, in->reg, bsize));
		return;
	case 0x8a: case 0x8b:
		bsize = op == 0x8b ? size : 1;
		reg_write(c, in, in->reg, bsize, rm_read(c, in, bsize));
		return;
	case 0x8c:
		if ((in->reg & 7) > 5)
			emu_raise_ud(c);
		a = c->s.seg[in->reg & 7].selector;
		if (in->has_mem)
			rm_write(c, in, 2, a);
		else
			reg_write(c, in, in->rm, size, a);
		return;
	case 0x8d:
		if (!in->has_mem)
			emu_raise_ud(c);
		reg_write(c, in, in->reg, size, insn_ea(c, in));
		return;
	case 0x8e:
		if ((in->reg & 7) == SEG_CS || (in->reg & 7) > 5)
			emu_raise_ud(c);
		emu_load_seg(c, in->reg & 7, rm_read(c, in, 2));
		if ((in->reg & 7) == SEG_SS)
			c->irq_shadow = c->mov_ss = true;
		return;
	case 0x8f: {
		/* POP r/m: the address uses RSP after the pop. */
		uint64_t old_sp = c->s.gpr[GPR_RSP];
		a = stack_peek(c, size, 0);
		sp_set(c, old_sp + size);
		if (in->has_mem) {
			uint64_t ea = insn_ea(c, in);
			c->s.gpr[GPR_RSP] = old_sp;
			emu_write(c, insn_seg(in), ea, size, a);
			sp_set(c, old_sp + size);
		} else
			reg_write(c, in, in->rm, size, a);
		return;
	}
	case 0x90:
		if (!(in->rex & 1))
			return; /* NOP, PAUSE */
		/* XCHG r8, rax */
		/* fall through */
	case 0x91 ... 0x97: {
		unsigned rg = (op & 7) | ((in->rex & 1) << 3);
		a = reg_read(c, in, rg, size);
		reg_write(c, in, rg, size, reg_read(c, in, GPR_RAX, size));
		reg_write(c, in, GPR_RAX, size, a);
		return;
	}
	case 0x98: /* CBW, CWDE, CDQE */
		reg_write(c, in, GPR_RAX, size, emu_sign_extend(c->s.gpr[GPR_RAX], size / 2));
		return;
	case 0x99: /* CWD, CDQ, CQO */
		a = emu_sign_extend(c->s.gpr[GPR_RAX], size) < 0 ? ~0ULL : 0;
		reg_write(c, in, GPR_RDX, size, a);
		return;
	case 0x9a:
		emu_far_jump(c, (uint16_t)in->disp, in->imm, true, size);
		return;
	case 0x9b: /* FWAIT: device-not-available, then pending x87 errors */
		if ((c->s.cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
			emu_raise(c, EXC_NM, 0, false);
		if ((c->fpu_sw & 0x80) && (c->s.cr0 & CR0_NE))
			emu_raise(c, EXC_MF, 0, false);
		return;
	case 0x9c: { /* PUSHF */
		uint64_t f = emu_get_rflags(c) & ~(RFLAGS_VM | RFLAGS_RF);
		if ((c->s.rflags & RFLAGS_VM) && ((c->s.rflags & RFLAGS_IOPL) >> 12) < 3)
			emu_raise_gp(c, 0);
		push(c, size, f);
		return;
	}
	case 0x9d: { /* POPF */
		uint64_t f, mask = RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF |
				   RFLAGS_SF | RFLAGS_TF | RFLAGS_DF | RFLAGS_OF |
				   RFLAGS_NT | RFLAGS_AC | RFLAGS_ID;
		unsigned iopl = (c->s.rflags & RFLAGS_IOPL) >> 12;
		if ((c->s.rflags & RFLAGS_VM) && iopl < 3)
			emu_raise_gp(c, 0);
		f = stack_peek(c, size, 0);
		sp_set(c, c->s.gpr[GPR_RSP] + size);
		if (c->cpl == 0)
			mask |= RFLAGS_IOPL | RFLAGS_IF;
		else if (c->cpl <= iopl)
			mask |= RFLAGS_IF;
		if (size == 2)
			mask &= 0xffff;
		emu_set_rflags(c, (emu_get_rflags(c) & ~mask) | (f & mask));
		return;
	}
	case 0x9e: /* SAHF */
		emu_flags_set(c, RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF,
			      (c->s.gpr[GPR_RAX] >> 8) & 0xd5);
		return;
	case 0x9f: /* LAHF */
		c->s.gpr[GPR_RAX] = (c->s.gpr[GPR_RAX] & ~0xff00ULL) |
				    (((emu_get_rflags(c) & 0xd5) | 2) << 8);
		return;
	case 0xa0: case 0xa1:
		bsize = op == 0xa1 ? size : 1;
		reg_write(c, in, GPR_RAX, bsize, emu_read(c, insn_seg(in), in->imm, bsize));
		return;
	case 0xa2: case 0xa3:
		bsize = op == 0xa3 ? size : 1;
		emu_write(c, insn_seg(in), in->imm, bsize, reg_read(c, in, GPR_RAX, bsize));
		return;
	case 0xa8: case 0xa9:
		bsize = op == 0xa9 ? size : 1;
		alu(c, ALU_AND, bsize, reg_read(c, in, GPR_RAX, bsize), in->imm);
		return;
	case 0xb0 ... 0xb7:
		reg_write(c, in, (op & 7) | ((in->rex & 1) << 3), 1, in->imm);
		return;
	case 0xb8 ... 0xbf:
		reg_write(c, in, (op & 7) | ((in->rex & 1) << 3), size, in->imm);
		return;
	case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
		unsigned count = (op <= 0xc1) ? in->imm : (op <= 0xd1) ? 1 : c->s.gpr[GPR_RCX];
		bsize = (op & 1) ? size : 1;
		a = rm_read(c, in, bsize);
		r = emu_shift(c, in->reg, bsize, a, count & 0xff);
		rm_write(c, in, bsize, r);
		return;
	}
	case 0xc2: case 0xc3: {
		uint64_t target = stack_peek(c, size, 0);
		jump_near(c, size, target);
		sp_set(c, c->s.gpr[GPR_RSP] + size + (op == 0xc2 ? (in->imm & 0xffff) : 0));
		return;
	}
	case 0xc4: case 0xc5: { /* LES, LDS */
		uint64_t ea = insn_ea(c, in);
		uint64_t off;
		uint16_t sel;
		if (!in->has_mem)
			emu_raise_ud(c);
		off = emu_read(c, insn_seg(in), ea, size);
		sel = emu_read(c, insn_seg(in), (ea + size) & emu_size_mask(in->adsize), 2);
		emu_load_seg(c, op == 0xc4 ? SEG_ES : SEG_DS, sel);
		reg_write(c, in, in->reg, size, off);
		return;
	}
	case 0xc6: case 0xc7:
		if ((in->reg & 7) != 0)
			emu_raise_ud(c);
		rm_write(c, in, op == 0xc7 ? size : 1, in->imm);
		return;
	case 0xc8: { /* ENTER */
		unsigned level = in->disp & 31, ss = stack_size(c);
		uint64_t bp = c->s.gpr[GPR_RBP], frame;
		push(c, size, bp);
		frame = sp_masked(c, c->s.gpr[GPR_RSP]);
		for (unsigned i = 1; i < level; i++) {
			bp = (bp - size) & emu_size_mask(ss);
			push(c, size, emu_read(c, SEG_SS, bp, size));
		}
		if (level)
			push(c, size, frame);
		reg_write(c, in, GPR_RBP, ss == 2 ? 2 : ss, frame);
		sp_set(c, c->s.gpr[GPR_RSP] - (in->imm & 0xffff));
		return;
	}
	case 0xc9: { /* LEAVE */
		unsigned ss = stack_size(c);
		uint64_t bp = c->s.gpr[GPR_RBP] & emu_size_mask(ss);
		a = emu_read(c, SEG_SS, bp, size);
		sp_set(c, bp + size);
		reg_write(c, in, GPR_RBP, size, a);
		return;
	}
	case 0xca: case 0xcb:
		emu_far_return(c, size, op == 0xca ? in->imm : 0);
		return;
	case 0xcc:
		emu_deliver(c, EXC_BP, 0, false, true, c->s.rip);
		return;
	case 0xcd:
		if ((c->s.rflags & RFLAGS_VM) && ((c->s.rflags & RFLAGS_IOPL) >> 12) < 3)
			emu_raise_gp(c, 0);
		emu_deliver(c, in->imm & 0xff, 0, false, true, c->s.rip);
		return;
	case 0xce:
		if (emu_get_rflags(c) & RFLAGS_OF)
			emu_deliver(c, EXC_OF, 0, false, true, c->s.rip);
		return;
	case 0xcf:
		emu_iret(c, size);
		return;
	case 0xd7: { /* XLAT */
		uint64_t ea = (c->s.gpr[GPR_RBX] + (c->s.gpr[GPR_RAX] & 0xff)) &
			      emu_size_mask(in->adsize);
		reg_write(c, in, GPR_RAX, 1, emu_read(c, insn_seg(in), ea, 1));
		return;
	}
	case 0xd8 ... 0xdf:
		emu_exec_x87(c, in);
		return;
	case 0xe0 ... 0xe3: {
		uint64_t am = emu_size_mask(in->adsize);
		uint64_t cnt = c->s.gpr[GPR_RCX] & am;
		bool take;
		if (op == 0xe3) {
			take = cnt == 0;
		} else {
			cnt = (cnt - 1) & am;
			reg_write(c, in, GPR_RCX, in->adsize, cnt);
			take = cnt != 0;
			if (op == 0xe0)
				take = take && !emu_zf(c);
			else if (op == 0xe1)
				take = take && emu_zf(c);
		}
		if (take)
			jump_near(c, size, c->s.rip + in->imm);
		return;
	}
	case 0xe4: case 0xe5: case 0xec: case 0xed: {
		uint16_t port = op <= 0xe5 ? in->imm & 0xff : c->s.gpr[GPR_RDX] & 0xffff;
		bsize = (op & 1) ? (size == 8 ? 4 : size) : 1;
		extern void emu_check_io(struct emu_cpu *, uint16_t, unsigned);
		emu_check_io(c, port, bsize);
		reg_write(c, in, GPR_RAX, bsize, emu_pio_read(c, port, bsize));
		return;
	}
	case 0xe6: case 0xe7: case 0xee: case 0xef: {
		uint16_t port = op <= 0xe7 ? in->imm & 0xff : c->s.gpr[GPR_RDX] & 0xffff;
		bsize = (op & 1) ? (size == 8 ? 4 : size) : 1;
		extern void emu_check_io(struct emu_cpu *, uint16_t, unsigned);
		emu_check_io(c, port, bsize);
		emu_pio_write(c, port, bsize, reg_read(c, in, GPR_RAX, bsize));
		return;
	}
	case 0xe8: {
		uint64_t target = c->s.rip + in->imm;
		push(c, size, c->s.rip);
		jump_near(c, size, target);
		return;
	}
	case 0xe9: case 0xeb:
		jump_near(c, size, c->s.rip + in->imm);
		return;
	case 0xea:
		emu_far_jump(c, (uint16_t)in->disp, in->imm, false, size);
		return;
	case 0xf1:
		emu_deliver(c, EXC_DB, 0, false, false, c->s.rip);
		return;
	case 0xf4: /* HLT */
		if (c->cpl)
			emu_raise_gp(c, 0);
		c->halted = true;
		return;
	case 0xf5:
		emu_flags_set(c, RFLAGS_CF, emu_cf(c) ? 0 : RFLAGS_CF);
		return;
	case 0xf6: case 0xf7: {
		unsigned g = in->reg & 7;
		bsize = op == 0xf7 ? size : 1;
		switch (g) {
		case 0: case 1:
			alu(c, ALU_AND, bsize, rm_read(c, in, bsize), in->imm);
			return;
		case 2:
			rm_write(c, in, bsize, ~rm_read(c, in, bsize));
			return;
		case 3:
			a = rm_read(c, in, bsize);
			r = alu(c, ALU_SUB, bsize, 0, a);
			rm_write(c, in, bsize, r);
			return;
		default:
			mul_group(c, in, bsize, g);
			return;
		}
	}
	case 0xf8: emu_flags_set(c, RFLAGS_CF, 0); return;
	case 0xf9: emu_flags_set(c, RFLAGS_CF, RFLAGS_CF); return;
	case 0xfa: case 0xfb: {
		unsigned iopl = (c->s.rflags & RFLAGS_IOPL) >> 12;
		if ((c->s.cr0 & CR0_PE) && c->cpl > iopl)
			emu_raise_gp(c, 0);
		if (op == 0xfa) {
			c->s.rflags &= ~RFLAGS_IF;
		} else {
			if (!(c->s.rflags & RFLAGS_IF))
				c->irq_shadow = true;
			c->s.rflags |= RFLAGS_IF;
		}
		return;
	}
	case 0xfc: c->s.rflags &= ~RFLAGS_DF; return;
	case 0xfd: c->s.rflags |= RFLAGS_DF; return;
	case 0xfe: case 0xff: {
		unsigned g = in->reg & 7;
		bsize = op == 0xff ? size : 1;
		if (op == 0xfe && g > 1)
			emu_raise_ud(c);
		switch (g) {
		case 0: case 1:
			a = rm_read(c, in, bsize);
			r = (g == 0 ? a + 1 : a - 1) & emu_size_mask(bsize);
			emu_flags_arith(c, g == 0 ? CC_INC : CC_DEC, bsize, r, a, 1);
			rm_write(c, in, bsize, r);
			return;
		case 2: { /* CALL near indirect: 64-bit operand in long mode */
			unsigned sz = c->code_size == 8 ? 8 : size;
			uint64_t target = rm_read(c, in, sz);
			push(c, sz, c->s.rip);
			jump_near(c, sz, target);
			return;
		}
		case 4: {
			unsigned sz = c->code_size == 8 ? 8 : size;
			jump_near(c, sz, rm_read(c, in, sz));
			return;
		}
		case 3: case 5: { /* far CALL/JMP through memory */
			uint64_t ea = insn_ea(c, in), off;
			uint16_t sel;
			if (!in->has_mem)
				emu_raise_ud(c);
			off = emu_read(c, insn_seg(in), ea, size);
			sel = emu_read(c, insn_seg(in), (ea + size) & emu_size_mask(in->adsize), 2);
			emu_far_jump(c, sel, off, g == 3, size);
			return;
		}
		case 6: {
			unsigned sz = c->code_size == 8 ? (size == 2 ? 2 : 8) : size;
			push(c, sz, rm_read(c, in, sz));
			return;
		}
		default:
			emu_raise_ud(c);
		}
	}
	case 0xa4 ... 0xa7: case 0xaa ... 0xaf: case 0x6c ... 0x6f:
		emu_exec_string(c, in);
		return;
	}
	emu_raise_ud(c);
}

/* Two-byte opcodes that are not system instructions. */
static bool exec_two_byte(struct emu_cpu *c, const struct insn *in)
{
	unsigned op = in->op & 0xff, size = in->opsize;
	uint64_t a, b, r;

	switch (op) {
	case 0x0d: case 0x18 ... 0x1f: /* prefetch and hint NOPs, ENDBR */
		if (!in->has_modrm)
			emu_raise_ud(c);
		return true;
	case 0x40 ... 0x4f:
		a = rm_read(c, in, size);
		if (emu_cond(c, op & 0xf))
			reg_write(c, in, in->reg, size, a);
		else if (size == 4)
			reg_write(c, in, in->reg, 4, reg_read(c, in, in->reg, 4));
		return true;
	case 0x80 ... 0x8f:
		if (emu_cond(c, op & 0xf))
			jump_near(c, size, c->s.rip + in->imm);
		return true;
	case 0x90 ... 0x9f:
		rm_write(c, in, 1, emu_cond(c, op & 0xf));
		return true;
	case 0xa0: push(c, size, c->s.seg[SEG_FS].selector); return true;
	case 0xa8: push(c, size, c->s.seg[SEG_GS].selector); return true;
	case 0xa1: case 0xa9: {
		pop_seg(c, op == 0xa1 ? SEG_FS : SEG_GS, size);
		return true;
	}
	case 0xa3: bit_test(c, in, 0, reg_read(c, in, in->reg, size), false); return true;
	case 0xab: bit_test(c, in, 1, reg_read(c, in, in->reg, size), false); return true;
	case 0xb3: bit_test(c, in, 2, reg_read(c, in, in->reg, size), false); return true;
	case 0xbb: bit_test(c, in, 3, reg_read(c, in, in->reg, size), false); return true;
	case 0xba:
		if ((in->reg & 7) < 4)
			emu_raise_ud(c);
		bit_test(c, in, (in->reg & 7) - 4, in->imm & 0xff, true);
		return true;
	case 0xa4: case 0xa5: case 0xac: case 0xad: {
		unsigned count = (op & 1) ? c->s.gpr[GPR_RCX] : in->imm;
		a = rm_read(c, in, size);
		r = shift_double(c, op < 0xa8, size, a, reg_read(c, in, in->reg, size), count & 0xff);
		rm_write(c, in, size, r);
		return true;
	}
	case 0xaf:
		r = imul2(c, size, reg_read(c, in, in->reg, size), rm_read(c, in, size));
		reg_write(c, in, in->reg, size, r);
		return true;
	case 0xb0: case 0xb1: { /* CMPXCHG */
		unsigned bs = op == 0xb1 ? size : 1;
		a = rm_read(c, in, bs);
		b = reg_read(c, in, GPR_RAX, bs);
		alu(c, ALU_CMP, bs, b, a);
		if (a == b) {
			rm_write(c, in, bs, reg_read(c, in, in->reg, bs));
		} else {
			if (in->has_mem) /* memory is always written (locked cycle) */
				rm_write(c, in, bs, a);
			reg_write(c, in, GPR_RAX, bs, a);
		}
		return true;
	}
	case 0xb2: case 0xb4: case 0xb5: { /* LSS, LFS, LGS */
		uint64_t ea = insn_ea(c, in), off;
		uint16_t sel;
		if (!in->has_mem)
			emu_raise_ud(c);
		off = emu_read(c, insn_seg(in), ea, size);
		sel = emu_read(c, insn_seg(in), (ea + size) & emu_size_mask(in->adsize), 2);
		emu_load_seg(c, op == 0xb2 ? SEG_SS : op == 0xb4 ? SEG_FS : SEG_GS, sel);
		reg_write(c, in, in->reg, size, off);
		return true;
	}
	case 0xb6: case 0xb7:
		reg_write(c, in, in->reg, size, rm_read(c, in, op == 0xb6 ? 1 : 2));
		return true;
	case 0xbe: case 0xbf: {
		unsigned s = op == 0xbe ? 1 : 2;
		reg_write(c, in, in->reg, size, emu_sign_extend(rm_read(c, in, s), s));
		return true;
	}
	case 0xb8: /* POPCNT (F3) */
		if (!(in->prefixes & PFX_REP))
			emu_raise_ud(c);
		a = rm_read(c, in, size);
		r = __builtin_popcountll(a);
		reg_write(c, in, in->reg, size, r);
		emu_flags_set(c, RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF,
			      a ? 0 : RFLAGS_ZF);
		return true;
	case 0xbc: case 0xbd:
		a = rm_read(c, in, size);
		if (in->prefixes & PFX_REP) { /* TZCNT, LZCNT */
			unsigned bits = size * 8;
			if (op == 0xbc)
				r = a ? (uint64_t)__builtin_ctzll(a) : bits;
			else
				r = a ? (uint64_t)(__builtin_clzll(a) - (64 - bits)) : bits;
			reg_write(c, in, in->reg, size, r);
			emu_flags_szp(c, size, r, a ? 0 : RFLAGS_CF);
			emu_flags_set(c, RFLAGS_ZF, r ? 0 : RFLAGS_ZF);
			return true;
		}
		if (!a) {
			emu_flags_set(c, RFLAGS_ZF, RFLAGS_ZF);
			return true;  /* destination unchanged */
		}
		r = op == 0xbc ? (uint64_t)__builtin_ctzll(a) : (uint64_t)(63 - __builtin_clzll(a));
		reg_write(c, in, in->reg, size, r);
		emu_flags_set(c, RFLAGS_ZF, 0);
		return true;
	case 0xc0: case 0xc1: { /* XADD */
		unsigned bs = op == 0xc1 ? size : 1;
		a = rm_read(c, in, bs);
		b = reg_read(c, in, in->reg, bs);
		r = alu(c, ALU_ADD, bs, a, b);
		rm_write(c, in, bs, r);
		reg_write(c, in, in->reg, bs, a);
		return true;
	}
	case 0xc3: /* MOVNTI */
		if (!in->has_mem)
			emu_raise_ud(c);
		rm_write(c, in, size == 8 ? 8 : 4, reg_read(c, in, in->reg, size == 8 ? 8 : 4));
		return true;
	case 0xc7: {
		unsigned g = in->reg & 7;
		if (g == 1 && in->has_mem) { /* CMPXCHG8B / CMPXCHG16B */
			uint64_t ea = insn_ea(c, in), lo, hi;
			unsigned wide = size == 8 ? 16 : 8;
			bool ok;
			if (wide == 16 && (ea & 15))
				emu_raise_gp(c, 0);
			if (wide == 16)
				ok = emu_cmpxchg_wide(c, insn_seg(in), ea, 16, c->s.gpr[GPR_RAX],
						      c->s.gpr[GPR_RDX], c->s.gpr[GPR_RBX],
						      c->s.gpr[GPR_RCX], &lo, &hi);
			else
				ok = emu_cmpxchg_wide(c, insn_seg(in), ea, 8,
						      (c->s.gpr[GPR_RAX] & 0xffffffff) | (c->s.gpr[GPR_RDX] << 32), 0,
						      (c->s.gpr[GPR_RBX] & 0xffffffff) | (c->s.gpr[GPR_RCX] << 32), 0,
						      &lo, &hi);
			if (!ok) {
				if (wide == 16) {
					c->s.gpr[GPR_RAX] = lo;
					c->s.gpr[GPR_RDX] = hi;
				} else {
					c->s.gpr[GPR_RAX] = lo & 0xffffffff;
					c->s.gpr[GPR_RDX] = lo >> 32;
				}
			}
			emu_flags_set(c, RFLAGS_ZF, ok ? RFLAGS_ZF : 0);
			return true;
		}
		if ((g == 6 || g == 7) && !in->has_mem) { /* RDRAND, RDSEED */
			uint64_t v = 0;
			bool ok = emu_random(&v);

			/* CF clear and 0: no random number this time (SDM) */
			reg_write(c, in, in->rm, size, v);
			emu_flags_set(c, RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF |
				      RFLAGS_SF | RFLAGS_OF, ok ? RFLAGS_CF : 0);
			return true;
		}
		emu_raise_ud(c);
	}
	case 0xc8 ... 0xcf: {
		unsigned rg = (op & 7) | ((in->rex & 1) << 3);
		a = reg_read(c, in, rg, size);
		if (size == 8)
			r = __builtin_bswap64(a);
		else if (size == 4)
			r = __builtin_bswap32(a);
		else
			r = 0; /* BSWAP of a 16-bit register is undefined: zero as CPUs do */
		reg_write(c, in, rg, size, r);
		return true;
	}
	}
	return false;
}

void emu_step(struct emu_cpu *c)
{
	emu_step_inline(c);
}

/* An instruction without a fast handler, RIP already past it. */
void emu_exec_general(struct emu_cpu *c, const struct insn *in)
{
	c->locked_insn = c->evm->smp && in->has_mem &&
			 ((in->prefixes & PFX_LOCK) || in->op == 0x86 || in->op == 0x87);
	if (c->locked_insn)
		emu_lock_begin(c);
	if (in->op < 0x100) {
		exec_one_byte(c, in);
		return;
	}
	if (in->op >= 0x200 && (in->prefixes & PFX_LOCK))
		emu_raise_ud(c); /* nothing in the 0F 38 / 0F 3A maps takes LOCK */
	if (in->op < 0x200 && (in->prefixes & PFX_LOCK)) {
		switch (in->op & 0xff) {
		case 0xab: case 0xb3: case 0xbb: case 0xba: case 0xb0: case 0xb1:
		case 0xc0: case 0xc1: case 0xc7:
			check_lock(c, in);
			break;
		default:
			emu_raise_ud(c);
		}
	}
	if (in->op < 0x200 && exec_two_byte(c, in))
		return;
	if (emu_exec_sse(c, in))
		return;
	emu_exec_system(c, in);
}

/*
 * The translator's native forms (translate.h): the commonest register
 * instructions emitted as the same host instruction, and the guest's
 * lazy flag record they keep exactly as the interpreter's handlers do,
 * left out where nothing can read it.
 */
#include <string.h>

#include "accel/emu/jit/translate.h"

#if defined(__x86_64__)

/* Byte operations (the ALU, TEST and MOV forms the translator knows). */
static bool byte_op(const struct insn *in)
{
	unsigned op = in->op;

	if (op < 0x40)
		return (op & 7) < 6 && !(op & 1);
	switch (op) {
	case 0x80: case 0x84: case 0x88: case 0x8a: case 0xa8: case 0xb0 ... 0xb7:
	case 0xc0: case 0xc6: case 0xd0: case 0xd2: case 0xf6:
		return true;
	}
	return false;
}

/* The operand size of in: 1 for a byte operation. */
unsigned op_size(const struct insn *in)
{
	return byte_op(in) ? 1 : in->opsize;
}

/* The bytes of register r in an operation of n's size. */
int32_t reg_field(const struct nat *n, unsigned r)
{
	if (n->size == 1 && n->legacy8 && r >= 4 && r < 8)
		return gpr_field(r - 4) + 1;
	return gpr_field(r);
}

/* A result's store: a byte or word operation writes its bytes, others
 * the register (a 4-byte result zero-extended, as the handlers do). */
unsigned store_size(const struct nat *n)
{
	return n->size <= 2 ? n->size : 8;
}

/* The common start of the pick functions: the operand size, the
 * immediate masked to it; false without a fast handler (the slow path
 * of a memory form). */
bool nat_init(const struct insn *in, struct nat *n)
{
	memset(n, 0, sizeof(*n));
	n->size = op_size(in);
	n->legacy8 = !in->rex;
	n->src = ~0u;
	n->imm = in->imm & emu_size_mask(n->size);
	return in->fast;
}

/* ModRM.reg of 80-83 and the ALU opcodes 00-3F: the host operation and
 * the flag record (ADC and SBB: carry_in, which only the register forms
 * take). */
static bool alu_of(unsigned aop, struct nat *n)
{
	static const struct { enum jit_alu op; enum cc_op cc; } t[8] = {
		{ JIT_ADD, CC_ADD }, { JIT_OR, CC_LOGIC }, { JIT_ADC, CC_ADC }, { JIT_SBB, CC_SBB },
		{ JIT_AND, CC_LOGIC }, { JIT_SUB, CC_SUB }, { JIT_XOR, CC_LOGIC },
		{ JIT_SUB, CC_SUB },
	};

	n->kind = NAT_ALU;
	n->op = t[aop].op;
	n->cc = t[aop].cc;
	n->store = aop != 7;
	n->carry_in = aop == 2 || aop == 3;
	return true;
}

/* MOVZX, MOVSX (0F B6, B7, BE, BF) and MOVSXD (63): the source size and
 * signedness; the register source's bytes (AH-BH: the second byte of
 * RAX-RBX, without REX). */
static void ext_of(const struct insn *in, struct nat *n)
{
	n->kind = NAT_EXT;
	n->dst = in->reg;
	n->from = in->op == 0x63 ? 4 : (in->op & 1) ? 2 : 1;
	n->sign = in->op != 0x1b6 && in->op != 0x1b7;
	if (n->from == 1 && in->rm >= 4 && in->rm < 8 && !in->rex)
		n->src_field = gpr_field(in->rm - 4) + 1;
	else
		n->src_field = gpr_field(in->rm);
}

/* SHL/SAL, SHR, SAR of a register: of 4 or 8 bytes by 1, imm8 or CL,
 * of 1 or 2 bytes by 1 or an imm8 below their width (the host's CF is
 * undefined beyond; the handler knows).  A count that masks to 0 stays a
 * handler. */
static bool shift_of(const struct insn *in, struct nat *n)
{
	static const int kind[8] = { -1, -1, -1, -1, JIT_SHL, JIT_SHR, JIT_SHL, JIT_SAR };
	unsigned mask;

	n->size = (in->op & 1) ? in->opsize : 1;
	mask = n->size == 8 ? 63 : 31;
	if (kind[in->reg & 7] < 0)
		return false;
	n->kind = NAT_SHIFT;
	n->shift = kind[in->reg & 7];
	n->dst = in->rm;
	n->cc = CC_SZP;
	n->count_cl = in->op == 0xd3 || in->op == 0xd2;
	n->imm = in->op == 0xd0 || in->op == 0xd1 ? 1 : in->imm & mask;
	if (n->size < 4)
		return !n->count_cl && n->imm && n->imm < n->size * 8u;
	return n->count_cl || n->imm;
}

/* NOT and NEG (F6, F7 /2, /3) of r/m. */
static bool not_neg_of(const struct insn *in, struct nat *n)
{
	n->kind = (in->reg & 7) == 2 ? NAT_NOT : NAT_NEG;
	n->dst = in->rm;
	n->store = true;
	return (in->reg & 7) == 2 || (in->reg & 7) == 3;
}

/* MUL, IMUL r/m (F7 /4, /5; a fast handler: no DIV) of 4 or 8 bytes:
 * RAX the destination of emit_operands, the source in src or memory. */
static bool mul_of(const struct insn *in, struct nat *n)
{
	n->kind = NAT_MUL;
	n->dst = GPR_RAX;
	n->sign = (in->reg & 7) == 5;
	n->cc = CC_SZP;
	return n->size >= 4;
}

/* Whether in (which has a fast handler, so no LOCK or REP) has a native
 * form with register operands, and which (ROL and ROR, whose flag
 * updates the translator does not compute, only for flags_dead). */
bool pick_native(const struct jit_tb *tb, const struct insn *in, struct nat *n)
{
	unsigned op = in->op, rr = (op & 7) | ((in->rex & 1) << 3);

	if (!nat_init(in, n) || in->has_mem)
		return false;
	if (op < 0x40 && (op & 7) < 4) {
		n->dst = (op & 2) ? in->reg : in->rm;
		n->src = (op & 2) ? in->rm : in->reg;
		return alu_of(op >> 3, n);
	}
	if (op < 0x40 && (op & 7) >= 4) {
		n->dst = GPR_RAX;
		return alu_of(op >> 3, n);
	}
	switch (op) {
	case 0x80: case 0x81: case 0x83:
		n->dst = in->rm;
		return alu_of(in->reg & 7, n);
	case 0x84: case 0x85: case 0xa8: case 0xa9: case 0xf6: case 0xf7:
		if (op == 0xf7 && (in->reg & 7) >= 4) {
			n->src = in->rm;
			return mul_of(in, n);
		}
		if ((op == 0xf6 || op == 0xf7) && (in->reg & 7) >= 2)
			return not_neg_of(in, n);
		n->kind = NAT_ALU;
		n->op = JIT_AND;
		n->cc = CC_LOGIC;
		n->dst = op == 0xa8 || op == 0xa9 ? GPR_RAX : in->rm;
		if (op == 0x84 || op == 0x85)
			n->src = in->reg;
		return true;
	case 0x88 ... 0x8b:
		n->kind = NAT_MOV;
		n->dst = (op & 2) ? in->reg : in->rm;
		n->src = (op & 2) ? in->rm : in->reg;
		return true;
	case 0xb0 ... 0xbf:
		n->kind = NAT_MOV;
		n->dst = rr;
		return true;
	case 0xc6:
	case 0xc7:
		n->kind = NAT_MOV;
		n->dst = in->rm;
		return (in->reg & 7) == 0;
	case 0xff:
		n->kind = NAT_INCDEC;
		n->dst = in->rm;
		n->dec = in->reg & 1;
		return (in->reg & 7) < 2;
	case 0x40 ... 0x4f:  /* INC/DEC reg outside 64-bit code */
		n->kind = NAT_INCDEC;
		n->dst = op & 7;
		n->dec = op & 8;
		return tb->code_size != 8;
	case 0x63: case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf:
		ext_of(in, n);
		return true;
	case 0xc0: case 0xd0:
		return shift_of(in, n);
	case 0xc1: case 0xd1:
		if ((in->reg & 7) < 2) {    /* ROL, ROR of 4 or 8 bytes */
			n->kind = NAT_ROT;
			n->dst = in->rm;
			n->right = in->reg & 1;
			n->imm = in->op == 0xd1 ? 1 : in->imm & (n->size == 8 ? 63 : 31);
			return (n->size == 4 || n->size == 8) && n->imm;
		}
		return shift_of(in, n);
	case 0xd3:
		return shift_of(in, n);
	case 0x1af:
		n->kind = NAT_IMUL;
		n->dst = in->reg;
		n->src = in->rm;
		n->cc = CC_SZP;
		return n->size != 2;
	case 0x140 ... 0x14f:  /* CMOVcc: where emit_tb can rebuild the flags */
		n->kind = NAT_CMOV;
		n->dst = in->reg;
		n->src = in->rm;
		return true;
	}
	return false;
}

/* The same operations with a memory operand (the address sizes are
 * pick_mem's choice): the operand is loaded through the inline TLB path, *pre
 * says which it is and *load_size how many bytes. */
bool pick_native_mem(const struct insn *in, struct nat *n, enum preload *pre,
		     unsigned *load_size)
{
	unsigned op = in->op;

	*pre = PRE_SRC;
	if (!nat_init(in, n) || !in->has_mem)
		return false;
	*load_size = n->size;
	if (op < 0x40 && (op & 6) == 2) {          /* ALU reg, [m] */
		n->dst = in->reg;
		return alu_of(op >> 3, n) && !n->carry_in;
	}
	switch (op) {
	case 0x63: case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf:
		ext_of(in, n);
		*load_size = n->from;
		return true;
	case 0x1af:
		n->kind = NAT_IMUL;
		n->dst = in->reg;
		n->cc = CC_SZP;
		return n->size != 2;
	case 0xf7:
		if ((in->reg & 7) >= 4)
			return mul_of(in, n);
		break;
	}
	*pre = PRE_DST;                             /* CMP/TEST [m], reg/imm */
	switch (op) {
	case 0x38: case 0x39:
		n->src = in->reg;
		return alu_of(7, n);
	case 0x80: case 0x81: case 0x83:
		return (in->reg & 7) == 7 && alu_of(7, n);
	case 0x84: case 0x85: case 0xf6: case 0xf7:
		if ((op == 0xf6 || op == 0xf7) && (in->reg & 7) != 0)
			return false;
		n->kind = NAT_ALU;
		n->op = JIT_AND;
		n->cc = CC_LOGIC;
		if (op == 0x84 || op == 0x85)
			n->src = in->reg;
		return true;
	}
	return false;
}

/* ADD/OR/AND/SUB/XOR [m], reg or imm, NOT, NEG, INC, DEC [m] (the
 * address sizes are pick_mem's choice): the memory operand read and written through one inline
 * TLB lookup. */
bool pick_native_rmw(const struct insn *in, struct nat *n)
{
	unsigned op = in->op, aop;

	if (!nat_init(in, n) || !in->has_mem)
		return false;
	n->store_held = true;
	if (op < 0x40 && (op & 6) == 0) {
		n->src = in->reg;
		aop = op >> 3;
	} else if (op == 0x80 || op == 0x81 || op == 0x83) {
		aop = in->reg & 7;
	} else if (op == 0xf6 || op == 0xf7) {
		return not_neg_of(in, n);
	} else if (op == 0xff && (in->reg & 7) < 2) {
		n->kind = NAT_INCDEC;
		n->dec = in->reg & 1;
		return true;
	} else if (op == 0xc0 || op == 0xc1 || (op >= 0xd0 && op <= 0xd3)) {
		return shift_of(in, n);
	} else {
		return false;
	}
	return aop != 7 && alu_of(aop, n) && !n->carry_in;   /* not CMP (no write), ADC, SBB */
}

/* LEA of a 4- or 8-byte register with 4- or 8-byte addressing. */
bool pick_lea(const struct insn *in)
{
	return in->op == 0x8d && in->fast && in->has_mem && (in->opsize == 4 || in->opsize == 8) &&
	       (in->adsize == 4 || in->adsize == 8);
}

void emit_lea(struct jit_emit *e, const struct insn *in, int64_t end)
{
	jit_emit_ea(e, in->base >= 0 && in->base < 16 ? gpr_field(in->base) : -1,
		    in->base == 16, end, in->index >= 0 ? gpr_field(in->index) : -1,
		    in->scale, in->disp, -1);
	if (in->adsize == 4 || in->opsize == 4)
		jit_emit_zext32(e);
	jit_emit_store(e, JIT_T0, gpr_field(in->reg), 8);
}

/* Fast-handled instructions that leave the flags alone. */
bool keeps_flags(const struct insn *in)
{
	switch (in->op) {
	case 0x50 ... 0x5f: case 0x63: case 0x68: case 0x6a: case 0x88 ... 0x8b:
	case 0x8d: case 0x90: case 0xb0 ... 0xbf: case 0xc6: case 0xc7: case 0x10d: case 0x118 ... 0x11f:
	case 0x140 ... 0x14f: case 0x190 ... 0x19f: case 0x1b6: case 0x1b7:
	case 0x1be: case 0x1bf:
		return true;
	}
	return false;
}

/*
 * Instructions without a fast handler after which the block goes on:
 * those that only compute (data, flags, x87/MMX/SSE state, memory) and
 * change nothing the run loop watches between instructions (IF, TF, the
 * interrupt shadow, HLT, CS, SS, the mode, control registers, MSRs, the
 * TLB) and talk to no device through ports.  Indirect JMP/CALL are here
 * too: like any of these they leave the block if RIP is not the next
 * instruction's.  LOCK and XCHG with memory go on too: when the handler
 * loses a race it restarts the instruction through the run loop, as a
 * fault would.
 */
bool continues_after(const struct insn *in)
{
	unsigned op = in->op;

	if ((in->prefixes & PFX_LOCK) && !in->has_mem)
		return false;        /* #UD */
	if (op >= 0x200)                        /* 0F 38, 0F 3A: SSSE3, SSE4 */
		return true;
	if (op < 0x40)
		return (op & 7) < 6;                /* ALU; not segment pushes/pops, DAA... */
	if (op >= 0x100) {
		op &= 0xff;
		switch (op) {
		case 0x01:                          /* SWAPGS, RDTSCP (GS's base and TSC_AUX
						     * are read where used) */
			return !in->has_mem && (in->reg & 7) == 7 && (in->rm & 7) <= 1;
		case 0x20: case 0x21:               /* MOV from CR, DR: reads */
			return true;
		case 0xae:                          /* fences, FXSAVE/FXRSTOR, MXCSR, XSAVE,
						     * CLFLUSH, FS/GS base */
			return true;
		case 0xc7:                          /* CMPXCHG8B/16B, RDRAND, RDSEED */
			return in->has_mem ? (in->reg & 7) == 1 : (in->reg & 7) >= 6;
		case 0x0d: case 0x10 ... 0x17: case 0x18 ... 0x1f: case 0x28 ... 0x2f:
		case 0x31:                          /* RDTSC */
		case 0x40 ... 0x7f:                 /* CMOVcc, SSE, MMX (EMMS) */
		case 0x80 ... 0x9f:                 /* Jcc, SETcc */
		case 0xa3 ... 0xa5: case 0xab ... 0xad: case 0xaf:
		case 0xb0 ... 0xb1: case 0xb3: case 0xb6 ... 0xbf:
		case 0xc0 ... 0xc6: case 0xc8 ... 0xff:
			return true;
		}
		return false;
	}
	switch (op) {
	case 0x69: case 0x6b: case 0x80 ... 0x85: case 0x88 ... 0x8b: case 0x8d:
	case 0x90 ... 0x99: case 0x9b: case 0x9c: case 0x9e: case 0x9f:
	case 0xa4 ... 0xaf:                     /* string operations, also REP */
	case 0xb0 ... 0xbf: case 0xc0: case 0xc1:
	case 0xc6 ... 0xc9: case 0xd0 ... 0xd3: case 0xd7: case 0xd8 ... 0xdf:
	case 0xf5: case 0xf6: case 0xf7: case 0xf8: case 0xf9: case 0xfc: case 0xfd:
	case 0xfe:
		return true;
	case 0x86: case 0x87:
	case 0x50 ... 0x5f: case 0x68: case 0x6a:  /* PUSH, POP outside 64-bit code */
	case 0xe8: case 0xe9: case 0xeb:        /* CALL, JMP rel: on at the target */
	case 0xfa:                              /* CLI (STI ends: its shadow) */
	case 0x9d:                              /* POPF (emit_tb leaves if it set TF) */
		return true;
	case 0xff:                              /* INC, DEC, CALL, JMP near, PUSH */
		return (in->reg & 7) != 3 && (in->reg & 7) != 5 && (in->reg & 7) != 7;
	}
	return false;
}

/* The host's arithmetic flags = the guest's after the known record of
 * an ADD, SUB, ADC or SBB: the operation done again on its operands. */
static void emit_redo(struct jit_emit *e, const struct flag_state *fs)
{
	static const enum jit_alu op[] = {
		[CC_ADD] = JIT_ADD, [CC_SUB] = JIT_SUB, [CC_ADC] = JIT_ADC, [CC_SBB] = JIT_SBB,
	};

	if (fs->op == CC_ADC || fs->op == CC_SBB)
		jit_emit_cf_from(e, F(cc_carry));
	jit_emit_load(e, JIT_T0, F(cc_src1), fs->size);
	jit_emit_load(e, JIT_T1, F(cc_src2), fs->size);
	jit_emit_alu(e, op[fs->op], fs->size);
}

/* The flag record's operation and size, as the handler would set them. */
void emit_record(struct jit_emit *e, enum cc_op op, unsigned size,
		 struct flag_state *fs)
{
	_Static_assert(offsetof(struct emu_cpu, cc_size) == offsetof(struct emu_cpu, cc_op) + 1 &&
		       offsetof(struct emu_cpu, cc_pad) == offsetof(struct emu_cpu, cc_op) + 2,
		       "cc_op, cc_size and cc_pad: one 4-byte store");
	jit_emit_store_imm(e, F(cc_op), 4, (int32_t)(op | size << 8));
	fs->op = op;
	fs->size = size;
	fs->eager = false;
}

/* T0 = the destination and T1 = the source of a two-operand operation,
 * from registers, the immediate or what the memory path loaded. */
static void emit_operands(struct jit_emit *e, const struct nat *n, enum preload pre)
{
	if (pre == PRE_SRC) {
		jit_emit_copy_t0_to_t1(e);
		jit_emit_load(e, JIT_T0, reg_field(n, n->dst), n->size);
		return;
	}
	if (pre == PRE_NONE)
		jit_emit_load(e, JIT_T0, reg_field(n, n->dst), n->size);
	if (n->src == ~0u)
		jit_emit_load_imm(e, JIT_T1, n->imm);
	else
		jit_emit_load(e, JIT_T1, reg_field(n, n->src), n->size);
}

/* SHL/SHR/SAR: the record of emu_flags_szp; a count of 0 (by CL)
 * changes no flag but still zero-extends a 4-byte register, as the
 * handler's write does (memory keeps its value).  PRE_DST: the operand
 * is in T0, the result goes to the held address. */
static void emit_shift(struct jit_emit *e, const struct nat *n, struct flag_state *fs,
		       enum preload pre)
{
	unsigned s = n->size;
	jit_fixup zero = NULL, done;

	if (n->flags_dead && !n->count_cl) {  /* the result alone */
		if (pre == PRE_NONE)
			jit_emit_load(e, JIT_T0, reg_field(n, n->dst), s);
		jit_emit_shift_imm(e, n->shift, s, (uint8_t)n->imm);
		if (n->store_held)
			jit_emit_store_held(e, s);
		else
			jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
		return;
	}
	if (n->count_cl)
		jit_emit_load(e, JIT_T1, gpr_field(GPR_RCX), 4);
	else
		jit_emit_load_imm(e, JIT_T1, n->imm);
	if (pre == PRE_NONE)
		jit_emit_load(e, JIT_T0, reg_field(n, n->dst), s);
	if (n->count_cl)
		zero = jit_emit_branch_t1_zero(e, s == 8 ? 63 : 31);
	jit_emit_shift(e, n->shift, s);
	if (n->store_held)
		jit_emit_store_held(e, s);
	else
		jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
	if (!n->flags_dead) {   /* else the record stays the older one */
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		jit_emit_store(e, JIT_T1, F(cc_src1), 8);
		emit_record(e, CC_SZP, s, fs);
	}
	if (!zero)
		return;
	done = jit_emit_jump(e);
	jit_emit_bind(e, zero);
	if (!n->store_held)
		jit_emit_store(e, JIT_T0, gpr_field(n->dst), 8);
	jit_emit_bind(e, done);
	fs->op = CC_EAGER;  /* either record: not known here */
	fs->eager = false;
}

/* Before INC or DEC (first in their code): CF survives in cc_carry,
 * computed from the record before theirs replaces it (as
 * emu_flags_arith does), or taken from the host's flags where the
 * instruction before left the guest's there.  It may call C. */
void emit_keep_cf(struct jit_emit *e, const struct flag_state *fs)
{
	jit_fixup keep;

	if (fs->host_prev == HOST_ALL) {
		jit_emit_store_cf(e, F(cc_carry));
	} else if (fs->op == CC_LOGIC) {
		jit_emit_store_imm(e, F(cc_carry), 8, 0);
	} else if (fs->op == CC_SUB || fs->op == CC_ADD || fs->op == CC_ADC ||
		   fs->op == CC_SBB) {
		emit_redo(e, fs);
		jit_emit_store_cf(e, F(cc_carry));
	} else if (fs->op == CC_SZP) {  /* CF is bit 0 of the word */
		jit_emit_cf_from(e, F(cc_src1));
		jit_emit_store_cf(e, F(cc_carry));
	} else if (fs->op == CC_EAGER) {
		/* known only at run time: after SUB/CMP CF is a < b of the
		 * operands the record holds (every writer stores them
		 * zero-extended from their size), after a logic operation
		 * 0, in eager flags bit 0, after ADD the result below the
		 * first operand at the record's size; others ask C */
		jit_fixup sub, add, logic, eager, done[4];

		jit_emit_load(e, JIT_T0, F(cc_op), 1);
		keep = jit_emit_branch_t0_in(e, CC_INC, CC_DEC);
		add = jit_emit_branch_t0_in(e, CC_ADD, CC_ADD);
		sub = jit_emit_branch_t0_in(e, CC_SUB, CC_SUB);
		logic = jit_emit_branch_t0_in(e, CC_LOGIC, CC_LOGIC);
		eager = jit_emit_branch_t0_in(e, CC_EAGER, CC_EAGER);
		jit_emit_call_store_bool(e, (const void *)emu_cf, F(cc_carry));
		done[0] = jit_emit_jump(e);
		jit_emit_bind(e, sub);
		jit_emit_load(e, JIT_T0, F(cc_src1), 8);
		jit_emit_load(e, JIT_T1, F(cc_src2), 8);
		jit_emit_alu(e, JIT_CMP, 8);
		jit_emit_store_cf(e, F(cc_carry));
		done[1] = jit_emit_jump(e);
		jit_emit_bind(e, add);
		jit_emit_add_carry(e, F(cc_size), F(cc_res), F(cc_src1));
		jit_emit_store_cf(e, F(cc_carry));
		done[2] = jit_emit_jump(e);
		jit_emit_bind(e, eager);
		jit_emit_cf_from(e, F(s.rflags));
		jit_emit_store_cf(e, F(cc_carry));
		done[3] = jit_emit_jump(e);
		jit_emit_bind(e, logic);
		jit_emit_store_imm(e, F(cc_carry), 8, 0);
		jit_emit_bind(e, keep);
		for (unsigned i = 0; i < 4; i++)
			jit_emit_bind(e, done[i]);
	}  /* after INC or DEC it is in cc_carry already */
}

/* The host's CF = the guest's, for ADC and SBB; false where the record
 * is not known here. */
bool emit_guest_cf(struct jit_emit *e, const struct flag_state *fs, bool emit)
{
	if (fs->host_prev == HOST_ALL)
		return true;
	if (fs->host_prev == HOST_NO_CF || fs->op == CC_INC || fs->op == CC_DEC) {
		if (emit)
			jit_emit_cf_from(e, F(cc_carry));
		return true;
	}
	if (fs->eager) {
		if (emit)
			jit_emit_cf_from(e, F(s.rflags));
		return true;
	}
	switch (fs->op) {
	case CC_ADD: case CC_SUB: case CC_ADC: case CC_SBB:
		if (emit)
			emit_redo(e, fs);
		return true;
	case CC_LOGIC:
		if (emit)
			jit_emit_clear_cf(e);
		return true;
	case CC_SZP:    /* CF is bit 0 of the word */
		if (emit)
			jit_emit_cf_from(e, F(cc_src1));
		return true;
	default:
		return false;
	}
}

/* n's ALU operation on T0 and T1 or its immediate (imm), the result
 * stored where n puts it. */
static void emit_alu_result(struct jit_emit *e, const struct nat *n, bool imm)
{
	if (imm)
		jit_emit_alu_imm(e, n->op, n->size, n->imm);
	else
		jit_emit_alu(e, n->op, n->size);
	if (n->store_held)
		jit_emit_store_held(e, n->size);
	else if (n->store)
		jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
}

/*
 * Before ROL or ROR, whose record keeps SF, ZF, PF and AF of the one
 * before (the result and size stay; CF and OF go into the word of
 * CC_SZP): cc_src1 = that record's AF alone.  False where the record is
 * not known here.
 */
bool emit_keep_af(struct jit_emit *e, const struct flag_state *fs, bool emit)
{
	if (fs->eager)
		return false;
	switch (fs->op) {
	case CC_LOGIC:
		if (emit)
			jit_emit_store_imm(e, F(cc_src1), 8, 0);
		return true;
	case CC_SZP:
		if (emit)
			jit_emit_load(e, JIT_T0, F(cc_src1), 8);
		break;
	case CC_ADD: case CC_SUB: case CC_ADC: case CC_SBB:
		if (emit) {    /* AF = bit 4 of a ^ b ^ r */
			jit_emit_load(e, JIT_T0, F(cc_src1), 8);
			jit_emit_load(e, JIT_T1, F(cc_src2), 8);
			jit_emit_alu(e, JIT_XOR, 8);
			jit_emit_load(e, JIT_T1, F(cc_res), 8);
			jit_emit_alu(e, JIT_XOR, 8);
		}
		break;
	default:
		return false;
	}
	if (emit) {
		jit_emit_load_imm(e, JIT_T1, RFLAGS_AF);
		jit_emit_alu(e, JIT_AND, 8);
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
	}
	return true;
}

/* n's code (pre: which operand the memory path loaded into T0), and its
 * flag record as the interpreter's handler leaves it unless n marks it
 * not needed (flags_dead, record_taken, cf_only, record_slow). */
void emit_native(struct jit_emit *e, const struct nat *n, struct flag_state *fs,
		 enum preload pre)
{
	unsigned s = n->size;

	switch (n->kind) {
	case NAT_MOV:
		if (n->src == ~0u)
			jit_emit_load_imm(e, JIT_T0, n->imm);
		else
			jit_emit_load(e, JIT_T0, reg_field(n, n->src), s);
		jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
		return;
	case NAT_EXT:
		if (pre == PRE_NONE)
			jit_emit_load_ext(e, JIT_T0, n->src_field, n->from, n->sign);
		if (s == 4 && n->sign)  /* else the load zero-extended it */
			jit_emit_zext32(e);
		jit_emit_store(e, JIT_T0, gpr_field(n->dst), store_size(n));
		return;
	case NAT_SHIFT:
		emit_shift(e, n, fs, pre);
		return;
	case NAT_IMUL:  /* the record of CC_SZP: the result, CF | OF */
		emit_operands(e, n, pre);
		jit_emit_imul(e, s);
		jit_emit_store(e, JIT_T0, gpr_field(n->dst), 8);
		if (n->flags_dead)
			return;
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		jit_emit_store(e, JIT_T1, F(cc_src1), 8);
		break;
	case NAT_MUL:   /* RDX:RAX = RAX * src, the record of IMUL's */
		emit_operands(e, n, pre);
		jit_emit_mul(e, n->sign, s, gpr_field(GPR_RDX));
		jit_emit_store(e, JIT_T0, gpr_field(GPR_RAX), 8);
		if (n->flags_dead)
			return;
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		jit_emit_store(e, JIT_T1, F(cc_src1), 8);
		break;
	case NAT_ROT:
		if (!n->flags_dead)
			emit_keep_af(e, fs, true);
		jit_emit_load(e, JIT_T0, gpr_field(n->dst), s);
		jit_emit_rotate(e, n->right, s, (uint8_t)n->imm);
		jit_emit_store(e, JIT_T0, gpr_field(n->dst), 8);
		if (n->flags_dead)
			return;
		jit_emit_rotate_flags(e, n->right, s);
		jit_emit_load(e, JIT_T0, F(cc_src1), 8);
		jit_emit_alu(e, JIT_OR, 8);
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
		jit_emit_store_imm(e, F(cc_op), sizeof(((struct emu_cpu *)0)->cc_op), CC_SZP);
		fs->op = CC_SZP;    /* the size stays the earlier record's */
		fs->eager = false;
		return;
	case NAT_ALU: {
		/* an immediate goes into the host instruction, and into the
		 * record as one (zero-extended from its size) */
		bool imm = n->src == ~0u && pre != PRE_SRC &&
			   (n->flags_dead || n->cf_only || n->record_slow || n->cc == CC_LOGIC ||
			    n->imm == (uint64_t)(int64_t)(int32_t)n->imm) &&
			   (s < 8 || n->imm == (uint64_t)(int64_t)(int32_t)n->imm);

		if (n->carry_in) {  /* the carry goes into the record too */
			emit_guest_cf(e, fs, true);
			jit_emit_store_cf(e, F(cc_carry));
		}
		if (!imm)
			emit_operands(e, n, pre);
		else if (pre == PRE_NONE)
			jit_emit_load(e, JIT_T0, reg_field(n, n->dst), s);
		if (n->record_taken || n->cf_only || n->record_slow) {
			/* the flags for the Jcc alone, CF for the INC/DEC, or
			 * none (the next instruction's slow path stores the
			 * record) */
			emit_alu_result(e, n, imm);
			fs->op = CC_EAGER;  /* the record in memory: the older one */
			fs->eager = false;
			fs->host = HOST_ALL;
			return;
		}
		if (n->flags_dead) {    /* the record stays the older one */
			if (n->store)
				emit_alu_result(e, n, imm);
			return;
		}
		if (n->cc != CC_LOGIC) {  /* a logic record's flags come from its result */
			jit_emit_store(e, JIT_T0, F(cc_src1), 8);
			if (imm)
				jit_emit_store_imm(e, F(cc_src2), 8, (int32_t)n->imm);
			else
				jit_emit_store(e, JIT_T1, F(cc_src2), 8);
		}
		emit_alu_result(e, n, imm);
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		break;
	}
	case NAT_INCDEC:
		if (n->flags_dead || n->record_slow) {
			/* a register, no record: if dead, no CF to keep; if
			 * stored on slow paths, CF saved here only if cheap */
			if (n->record_slow && fs->host_prev == HOST_ALL)
				jit_emit_store_cf(e, F(cc_carry));
			jit_emit_load(e, JIT_T0, gpr_field(n->dst), s);
			jit_emit_incdec(e, n->dec, s);
			jit_emit_store(e, JIT_T0, gpr_field(n->dst), store_size(n));
			if (n->record_slow) {
				fs->op = CC_EAGER;  /* the record in memory: the older one */
				fs->eager = false;
				fs->host = HOST_NO_CF;
			}
			return;
		}
		if (pre == PRE_NONE) {  /* for memory, emit_mem did it first */
			emit_keep_cf(e, fs);
			jit_emit_load(e, JIT_T0, gpr_field(n->dst), s);
		}
		/* the record: the result alone (and CF in cc_carry) */
		jit_emit_incdec(e, n->dec, s);
		if (n->store_held)
			jit_emit_store_held(e, s);
		else
			jit_emit_store(e, JIT_T0, gpr_field(n->dst), store_size(n));
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		break;
	case NAT_NOT:   /* XOR with all ones; no flag changes */
		if (pre == PRE_NONE)
			jit_emit_load(e, JIT_T0, reg_field(n, n->dst), s);
		jit_emit_load_imm(e, JIT_T1, emu_size_mask(s));
		jit_emit_alu(e, JIT_XOR, s);
		if (n->store_held)
			jit_emit_store_held(e, s);
		else
			jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
		return;
	case NAT_NEG:   /* 0 - a: the record of SUB */
		if (pre == PRE_NONE)
			jit_emit_load(e, JIT_T0, reg_field(n, n->dst), s);
		jit_emit_copy_t0_to_t1(e);
		jit_emit_load_imm(e, JIT_T0, 0);
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
		jit_emit_store(e, JIT_T1, F(cc_src2), 8);
		jit_emit_alu(e, JIT_SUB, s);
		if (n->store_held)
			jit_emit_store_held(e, s);
		else
			jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		emit_record(e, CC_SUB, s, fs);
		fs->host = HOST_ALL;
		return;
	case NAT_CMOV:  /* emit_tb's, after the flags */
	case NAT_NONE:
		return;
	}
	emit_record(e, n->kind == NAT_INCDEC ? (n->dec ? CC_DEC : CC_INC) : n->cc, s, fs);
	/* only stores since the operation: its host flags are the guest's */
	if (n->kind == NAT_INCDEC)
		fs->host = HOST_NO_CF;
	else if (n->kind == NAT_ALU)
		fs->host = HOST_ALL;
}

/*
 * Whether the flags instruction i of the block writes are dead: a later
 * instruction is a native register operation that replaces the whole
 * record without reading it (ALU but ADC/SBB, TEST, NEG, or a ROL/ROR
 * whose own flags are dead), and all between are native register moves
 * (MOV, MOVZX/MOVSX, LEA, a folded JMP), which neither read flags nor
 * fault.  Nothing runs between that could fault,
 * leave the block or take an interrupt.
 */
/* A native register operation that replaces the whole flag record
 * without reading it (ALU but ADC/SBB, NEG, IMUL, MUL, a shift by a
 * constant). */
static bool replaces_record(const struct nat *n)
{
	return (n->kind == NAT_ALU && !n->carry_in) || n->kind == NAT_NEG ||
	       n->kind == NAT_IMUL || n->kind == NAT_MUL ||
	       (n->kind == NAT_SHIFT && !n->count_cl);
}

bool flags_dead_after(const struct jit_tb *tb, unsigned i)
{
	struct nat n;

	for (unsigned k = i + 1; k < tb->n; k++) {
		const struct insn *in = &tb->in[k];

		if (pick_lea(in) || emu_folded_jmp(in))
			continue;
		if (!pick_native(tb, in, &n))
			return false;
		if (replaces_record(&n))
			return true;
		/* ROL/ROR read the record only to keep parts of it in
		 * theirs: not if theirs is dead too (ChaCha's ADD, XOR, ROL) */
		if (n.kind == NAT_ROT && flags_dead_after(tb, k))
			return true;
		if (n.kind != NAT_MOV && n.kind != NAT_EXT)
			return false;
	}
	return false;
}

/*
 * Whether of the flags instruction i writes only CF is read: the next
 * instruction is an INC or DEC of a register, which replaces the rest of
 * the record and saves CF from the host's flags (emit_keep_cf), or whose
 * own flags are dead too.  Nothing between can fault or leave.
 */
bool only_cf_read_after(const struct jit_tb *tb, unsigned i)
{
	struct nat n;

	if (i + 1 >= tb->n || (i + 2 == tb->n && tb->cross_pa != JIT_NO_CROSS))
		return false;
	return !tb->in[i + 1].has_mem && pick_native(tb, &tb->in[i + 1], &n) &&
	       n.kind == NAT_INCDEC;
}

/* A Jcc that emit_tb branches on natively (its taken side a stub that
 * leaves the block), end its offset past it. */
bool jcc_native(const struct jit_tb *tb, const struct insn *in, int64_t end)
{
	return is_jcc(in) && in->fast && in->opsize == tb->code_size &&
	       (chainable(tb, end + (int64_t)in->imm) ||
		(tb->code_size == 8 && offset_fits(in->imm)));
}

/*
 * Whether the record of CMP or TEST at i (n) is needed only where the
 * Jcc right after it leaves the block: on its other side a later
 * instruction replaces the flags with nothing between that could read
 * them, fault or leave (flags_dead_after), or with only register moves
 * and MOV loads and stores between that leave CMP's operands as they
 * are (record_slow_until from the Jcc: *until, the replacing
 * instruction's index; their slow paths store the record first).  The
 * Jcc's exit stub then stores the record (emit_record_again: the
 * registers are unchanged), and the fall-through path stores none.
 * next: the Jcc's offset.
 */
bool record_if_taken(const struct jit_tb *tb, unsigned i, const struct nat *n,
		     int64_t next, unsigned *until)
{
	*until = 0;
	if (n->kind != NAT_ALU || n->store || n->carry_in || i + 1 >= tb->n ||
	    !jcc_native(tb, &tb->in[i + 1], next + tb->in[i + 1].len))
		return false;
	if (flags_dead_after(tb, i + 1))
		return true;
	*until = record_slow_until(tb, i + 1, n);
	return *until != 0;
}

/* The record CMP or TEST n skipped (record_taken), from its registers,
 * which nothing changed since. */
void emit_record_again(struct jit_emit *e, const struct nat *n)
{
	jit_emit_load(e, JIT_T0, reg_field(n, n->dst), n->size);
	if (n->src == ~0u)
		jit_emit_load_imm(e, JIT_T1, n->imm);
	else
		jit_emit_load(e, JIT_T1, reg_field(n, n->src), n->size);
	if (n->cc != CC_LOGIC) {
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
		jit_emit_store(e, JIT_T1, F(cc_src2), 8);
	}
	jit_emit_alu(e, n->op, n->size);
	jit_emit_store(e, JIT_T0, F(cc_res), 8);
	jit_emit_store_imm(e, F(cc_op), 4, (int32_t)(n->cc | n->size << 8));
}

/* The host's flags as the guest's after the known record, for a Jcc on
 * condition cc; false if the record is not one this can rebuild. */
bool emit_flags(struct jit_emit *e, const struct flag_state *fs, unsigned cc)
{
	unsigned s = fs->size;

	/* still there from the instruction before (not for CF after INC
	 * and DEC: B/AE and BE/A) */
	if (fs->host_prev == HOST_ALL ||
	    (fs->host_prev == HOST_NO_CF && (cc >> 1) != 1 && (cc >> 1) != 3))
		return true;
	if (fs->eager) {
		jit_emit_flags_from_rflags(e, F(s.rflags));
		return true;
	}
	if (fs->op == CC_EAGER && (cc >> 1) == 2) {
		/* the record not known here (a block's start): ZF for JZ,
		 * JNZ, SETZ, CMOVZ... from whichever kind it is */
		jit_emit_zf_from_record(e, F(cc_op), F(cc_size), F(cc_res), F(s.rflags));
		return true;
	}

	switch (fs->op) {
	case CC_SUB: case CC_ADD: case CC_ADC: case CC_SBB:
		emit_redo(e, fs);
		return true;
	case CC_SZP:
		/* ZF, SF and PF come from the result (a TEST of it); CF and
		 * OF would need the word: those conditions stay handlers */
		if ((cc >> 1) != 2 && (cc >> 1) != 4 && (cc >> 1) != 5)
			return false;
		/* fall through */
	case CC_LOGIC:
		jit_emit_load(e, JIT_T0, F(cc_res), s);
		jit_emit_load(e, JIT_T1, F(cc_res), s);
		jit_emit_alu(e, JIT_AND, s);
		return true;
	case CC_INC: case CC_DEC:
		/* again on the operand: the result minus one (plus one) */
		jit_emit_load(e, JIT_T0, F(cc_res), s);
		jit_emit_load_imm(e, JIT_T1, fs->op == CC_DEC ? 1 : ~0ULL);
		jit_emit_add_keep_flags(e);
		jit_emit_cf_from(e, F(cc_carry));
		jit_emit_incdec(e, fs->op == CC_DEC, s);
		return true;
	default:
		return false;
	}
}

unsigned gpr_of(int32_t field)
{
	return (unsigned)(field - F(s.gpr)) / 8;
}

/* The general register a register-only native operation or MOV load
 * (not a stack operation) writes, or ~0u: none. */
static unsigned gpr_written(const struct jit_tb *tb, const struct insn *in, enum mem_kind k)
{
	struct nat n;

	if (k == MEM_LOAD) {
		nat_init(in, &n);
		return gpr_of(reg_field(&n, in->reg));
	}
	if (k != MEM_NONE)
		return ~0u;
	if (pick_lea(in))
		return in->reg;
	if (pick_native(tb, in, &n) &&
	    (n.kind == NAT_MOV || n.kind == NAT_EXT || (n.store && !n.store_held)))
		return gpr_of(reg_field(&n, n.dst));
	return ~0u;
}

/*
 * Whether the record of instruction i (n: an INC/DEC, or an ALU operation
 * of registers whose operands the registers still hold after it) is
 * needed only where a later instruction takes its slow path: until an
 * instruction that replaces the whole record (returned: its index; 0:
 * there is none), all between are register moves and MOV loads and
 * stores that write neither operand register.  Each of those slow paths
 * stores the record before its handler runs (emit_pending_record; an
 * INC/DEC's CF from the record before it, still in memory); no fast path
 * stores it.  The replacing one is a native register operation as for
 * flags_dead_after, or an ALU operation on memory (not ADC/SBB), whose
 * slow path stores it too (if that one keeps only CF for an INC/DEC
 * right after it, the INC/DEC replaces the rest).
 */
unsigned record_slow_until(const struct jit_tb *tb, unsigned i, const struct nat *this)
{
	unsigned dst, src = ~0u;

	if (this->flags_dead || this->record_taken || this->cf_only)
		return 0;
	if (this->kind == NAT_ALU &&
	    (this->carry_in || (this->store && this->cc != CC_LOGIC && this->src != ~0u &&
				reg_field(this, this->src) == reg_field(this, this->dst))))
		return 0;
	if (this->kind == NAT_INCDEC)
		dst = this->dst;
	else if (this->kind == NAT_ALU)
		dst = gpr_of(reg_field(this, this->dst));
	else
		return 0;
	if (this->kind == NAT_ALU && this->src != ~0u)
		src = gpr_of(reg_field(this, this->src));
	for (unsigned k = i + 1; k < tb->n; k++) {
		const struct insn *in = &tb->in[k];
		enum mem_kind mk;
		enum preload pre;
		unsigned size, w;
		struct nat n;

		if (k + 1 == tb->n && tb->cross_pa != JIT_NO_CROSS)
			return 0;
		if (emu_fast_is_nop(in) || emu_folded_jmp(in))
			continue;
		mk = pick_mem(tb, in);
		if (mk == MEM_NATIVE || mk == MEM_RMW) {
			if (mk == MEM_NATIVE)
				pick_native_mem(in, &n, &pre, &size);
			else if (!pick_native_rmw(in, &n))
				return 0;
			/* (if cf_only, the INC/DEC right after it replaces the
			 * rest: nothing between can fault) */
			return n.kind == NAT_ALU && !n.carry_in ? k : 0;
		}
		if (mk == MEM_NONE && !pick_lea(in)) {
			if (!pick_native(tb, in, &n))
				return 0;
			if (replaces_record(&n))
				return k;
			if (n.kind != NAT_MOV && n.kind != NAT_EXT)
				return 0;
		} else if (mk != MEM_NONE && mk != MEM_LOAD && mk != MEM_STORE &&
			   mk != MEM_STORE_IMM) {
			return 0;
		}
		w = gpr_written(tb, in, mk);
		if (w == dst || w == src)
			return 0;
	}
	return 0;
}

void emit_pending_record(struct jit_emit *e, const struct pending_record *p)
{
	struct flag_state fs = p->fs;

	const struct nat *n = &p->n;

	if (!p->on)
		return;
	if (n->kind == NAT_ALU && (!n->store || n->cc == CC_LOGIC)) {
		/* CMP/TEST: their operands; a logic operation: its result */
		if (n->store)
			jit_emit_load(e, JIT_T0, reg_field(n, n->dst), n->size);
		else
			emit_record_again(e, n);
		if (n->store) {
			jit_emit_store(e, JIT_T0, F(cc_res), 8);
			emit_record(e, n->cc, n->size, &fs);
		}
		return;
	}
	if (n->kind == NAT_ALU) {  /* ADD, SUB: the first operand again */
		jit_emit_load(e, JIT_T0, reg_field(n, n->dst), n->size);
		if (n->src == ~0u)
			jit_emit_load_imm(e, JIT_T1, n->imm);
		else
			jit_emit_load(e, JIT_T1, reg_field(n, n->src), n->size);
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		jit_emit_store(e, JIT_T1, F(cc_src2), 8);
		jit_emit_alu(e, n->cc == CC_ADD ? JIT_SUB : JIT_ADD, n->size);
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
		emit_record(e, n->cc, n->size, &fs);
		return;
	}
	fs.host_prev = HOST_NONE;  /* the host's flags are long gone */
	if (p->keep_cf)
		emit_keep_cf(e, &fs);
	jit_emit_load(e, JIT_T0, gpr_field(n->dst), n->size);
	jit_emit_store(e, JIT_T0, F(cc_res), 8);
	emit_record(e, n->dec ? CC_DEC : CC_INC, n->size, &fs);
}

/* The fast path of a memory instruction; its slow path is the handler. */

#endif

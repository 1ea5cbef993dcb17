/*
 * Fast paths for the commonest instruction forms.
 *
 * Compiled kernel and user code is mostly 32- and 64-bit moves, ALU
 * operations, compares and branches.  The general interpreter (exec.c)
 * reaches them through opcode switches, operand-size switches and
 * out-of-line operand and flag helpers.  The decoder instead picks one of
 * the handlers below for such an instruction once (emu_fast_pick), and
 * the run loop calls it directly each time the cached instruction runs,
 * several in a row while a block falls through (emu_accel.c run_fast).
 *
 * Each handler does exactly what exec.c does for that form and changes
 * nothing but registers, flags and memory (never IF, CS or the mode);
 * anything else (LOCK and REP prefixes, most 16-bit forms, string, system
 * and SSE instructions, ...) keeps going through exec.c.
 */
#include "accel/emu/exec.h"

/* ---- operands ---- */

static inline uint64_t mem_read(struct emu_cpu *c, const struct insn *in, unsigned size)
{
	return emu_read(c, insn_seg(in), insn_ea(c, in), size);
}

static inline void mem_write(struct emu_cpu *c, const struct insn *in, unsigned size,
			     uint64_t v)
{
	emu_write(c, insn_seg(in), insn_ea(c, in), size, v);
}

/* A ModRM operand of 2, 4 or 8 bytes, register or memory. */
static inline uint64_t rm_get(struct emu_cpu *c, const struct insn *in, unsigned size)
{
	return in->has_mem ? mem_read(c, in, size) : c->s.gpr[in->rm];
}

/* Writes of 4 bytes zero the upper half, as in 64-bit mode; writes of
 * 2 bytes keep the register's other bytes. */
static inline void gpr_set(struct emu_cpu *c, unsigned r, unsigned size, uint64_t v)
{
	if (size == 2)
		c->s.gpr[r] = (c->s.gpr[r] & ~0xffffULL) | (v & 0xffff);
	else
		c->s.gpr[r] = v & emu_size_mask(size);
}

/* ---- lazy flags (the same record emu_flags_arith keeps) ---- */

static inline void record(struct emu_cpu *c, enum cc_op op, unsigned size,
			  uint64_t r, uint64_t a, uint64_t b)
{
	c->cc_op = op;
	c->cc_size = size;
	c->cc_res = r;
	c->cc_src1 = a;
	c->cc_src2 = b;
}

/* Conditions after the two commonest records (CMP/SUB and logic ops)
 * without building the flags; the rest goes to emu_cond. */
static inline bool cond(struct emu_cpu *c, unsigned cc)
{
	unsigned size = c->cc_size;
	uint64_t m = emu_size_mask(size), a, b, r;
	bool v;

	if (c->cc_op == CC_SUB) {
		a = c->cc_src1 & m;
		b = c->cc_src2 & m;
		switch (cc >> 1) {
		case 1: v = a < b; break;
		case 2: v = a == b; break;
		case 3: v = a <= b; break;
		case 6: v = emu_sign_extend(a, size) < emu_sign_extend(b, size); break;
		case 7: v = emu_sign_extend(a, size) <= emu_sign_extend(b, size); break;
		default: return emu_cond(c, cc);
		}
	} else if (c->cc_op == CC_LOGIC) {
		r = c->cc_res & m;
		switch (cc >> 1) {
		case 0: case 1: v = false; break;          /* OF, CF clear */
		case 2: case 3: v = r == 0; break;         /* ZF (or CF) */
		case 4: case 6: v = r >> (size * 8 - 1); break;  /* SF (SF != OF) */
		case 7: v = r == 0 || r >> (size * 8 - 1); break;
		default: return emu_cond(c, cc);
		}
	} else if (c->cc_op != CC_EAGER && ((cc >> 1) == 2 || (cc >> 1) == 4)) {
		/* ZF and SF come from the result for every lazy record */
		r = c->cc_res & m;
		v = (cc >> 1) == 2 ? r == 0 : r >> (size * 8 - 1);
	} else {
		return emu_cond(c, cc);
	}
	return (cc & 1) ? !v : v;
}

/* ---- ALU operations of 1, 2, 4 or 8 bytes ---- */

/* A register operand (byte registers: AH-BH without REX). */
static inline uint64_t reg_get(struct emu_cpu *c, const struct insn *in, unsigned r,
			       unsigned size)
{
	return size == 1 ? reg_read(c, in, r, 1) : c->s.gpr[r];
}

static inline void reg_put(struct emu_cpu *c, const struct insn *in, unsigned r,
			   unsigned size, uint64_t v)
{
	if (size == 1)
		reg_write(c, in, r, 1, v);
	else
		gpr_set(c, r, size, v);
}

/* Operand order as in exec.c's alu(): a OP b, a the destination; cf is
 * the carry in for ADC and SBB. */
#define OP_ADD(a, b, cf) ((a) + (b))
#define OP_OR(a, b, cf)  ((a) | (b))
#define OP_ADC(a, b, cf) ((a) + (b) + (cf))
#define OP_SBB(a, b, cf) ((a) - (b) - (cf))
#define OP_AND(a, b, cf) ((a) & (b))
#define OP_SUB(a, b, cf) ((a) - (b))
#define OP_XOR(a, b, cf) ((a) ^ (b))

/*
 * The forms of each operation, of 2, 4 or 8 bytes (name) or of one byte
 * (name8): "rm_r" is r/m OP= reg (00-39 with bit 1 clear, 84, 85),
 * "r_rm" is reg OP= r/m (02-3B), "rm_i" is r/m OP= imm (80, 81, 83, F6,
 * F7), "a_i" is AL/EAX/RAX OP= imm (04-3D, A8, A9).  A memory destination
 * is written before the flags are recorded, so a write fault leaves them
 * as they were.  CMP and TEST store nothing.
 */
#define ALU_FORMS_SIZED(name, OP, ccop, store, carry, SIZE)		\
/* r/m OP= b */								\
static inline void name##_into_rm(struct emu_cpu *c, const struct insn *in, \
				  unsigned s, uint64_t b)		\
{									\
	uint64_t m = emu_size_mask(s), cf = carry ? emu_cf(c) : 0, a, r;	\
	b &= m;								\
	if (in->has_mem) {						\
		uint64_t ea = insn_ea(c, in);				\
		a = emu_read(c, insn_seg(in), ea, s) & m;		\
		r = OP(a, b, cf) & m;					\
		if (store)						\
			emu_write(c, insn_seg(in), ea, s, r);		\
	} else {							\
		a = reg_get(c, in, in->rm, s) & m;			\
		r = OP(a, b, cf) & m;					\
		if (store)						\
			reg_put(c, in, in->rm, s, r);			\
	}								\
	record(c, ccop, s, r, a, b);					\
	if (carry)							\
		c->cc_carry = cf;					\
}									\
/* register reg OP= b */						\
static inline void name##_into_reg(struct emu_cpu *c, const struct insn *in, \
				   unsigned s, unsigned reg, uint64_t b) \
{									\
	uint64_t m = emu_size_mask(s), cf = carry ? emu_cf(c) : 0;	\
	uint64_t a = reg_get(c, in, reg, s) & m, r;			\
	b &= m;								\
	r = OP(a, b, cf) & m;						\
	if (store)							\
		reg_put(c, in, reg, s, r);				\
	record(c, ccop, s, r, a, b);					\
	if (carry)							\
		c->cc_carry = cf;					\
}									\
__attribute__((unused))							\
static void name##_rm_r(struct emu_cpu *c, const struct insn *in)	\
{									\
	name##_into_rm(c, in, SIZE, reg_get(c, in, in->reg, SIZE));	\
}									\
__attribute__((unused))							\
static void name##_rm_i(struct emu_cpu *c, const struct insn *in)	\
{									\
	name##_into_rm(c, in, SIZE, in->imm);				\
}									\
__attribute__((unused))							\
static void name##_r_rm(struct emu_cpu *c, const struct insn *in)	\
{									\
	unsigned s = SIZE;						\
	uint64_t b = in->has_mem ? mem_read(c, in, s) : reg_get(c, in, in->rm, s); \
	name##_into_reg(c, in, s, in->reg, b);				\
}									\
__attribute__((unused))							\
static void name##_a_i(struct emu_cpu *c, const struct insn *in)	\
{									\
	name##_into_reg(c, in, SIZE, GPR_RAX, in->imm);			\
}

#define ALU_FORMS(name, OP, ccop, store, carry)				\
	ALU_FORMS_SIZED(name, OP, ccop, store, carry, in->opsize)	\
	ALU_FORMS_SIZED(name##8, OP, ccop, store, carry, 1)

ALU_FORMS(add, OP_ADD, CC_ADD, true, false)
ALU_FORMS(or, OP_OR, CC_LOGIC, true, false)
ALU_FORMS(adc, OP_ADC, CC_ADC, true, true)
ALU_FORMS(sbb, OP_SBB, CC_SBB, true, true)
ALU_FORMS(and, OP_AND, CC_LOGIC, true, false)
ALU_FORMS(sub, OP_SUB, CC_SUB, true, false)
ALU_FORMS(xor, OP_XOR, CC_LOGIC, true, false)
ALU_FORMS(cmp, OP_SUB, CC_SUB, false, false)
ALU_FORMS(test, OP_AND, CC_LOGIC, false, false)

/* NOT, NEG (F6, F7 /2, /3), written before NEG records the SUB 0 - a;
 * NOT changes no flag. */
static void not_neg(struct emu_cpu *c, const struct insn *in)
{
	unsigned s = (in->op & 1) ? in->opsize : 1;
	uint64_t m = emu_size_mask(s), ea = 0, a, r;
	bool neg = in->reg & 1;

	if (in->has_mem) {
		ea = insn_ea(c, in);
		a = emu_read(c, insn_seg(in), ea, s) & m;
	} else {
		a = reg_get(c, in, in->rm, s) & m;
	}
	r = (neg ? 0 - a : ~a) & m;
	if (in->has_mem)
		emu_write(c, insn_seg(in), ea, s, r);
	else
		reg_put(c, in, in->rm, s, r);
	if (neg)
		record(c, CC_SUB, s, r, 0, a);
}

/* INC, DEC (FF /0, /1): they keep CF, which emu_flags_arith saves. */
static void inc_dec(struct emu_cpu *c, const struct insn *in)
{
	unsigned s = in->opsize;
	uint64_t m = emu_size_mask(s), a, r;
	bool dec = in->reg & 1;

	if (in->has_mem) {
		uint64_t ea = insn_ea(c, in);
		a = emu_read(c, insn_seg(in), ea, s) & m;
		r = (dec ? a - 1 : a + 1) & m;
		emu_write(c, insn_seg(in), ea, s, r);
	} else {
		a = c->s.gpr[in->rm] & m;
		r = (dec ? a - 1 : a + 1) & m;
		gpr_set(c, in->rm, s, r);
	}
	emu_flags_arith(c, dec ? CC_DEC : CC_INC, s, r, a, 1);
}

/* INC, DEC of a register (40-4F outside 64-bit mode, where they are REX),
 * 16 or 32 bits. */
static void inc_dec_reg(struct emu_cpu *c, const struct insn *in)
{
	unsigned s = in->opsize, r = in->op & 7;
	bool dec = in->op & 8;
	uint64_t a = reg_read(c, in, r, s), v = (dec ? a - 1 : a + 1) & emu_size_mask(s);

	reg_write(c, in, r, s, v);
	emu_flags_arith(c, dec ? CC_DEC : CC_INC, s, v, a, 1);
}

/* Shifts and rotates (C0, C1, D0-D3), any operand size. */
static void shift_group(struct emu_cpu *c, const struct insn *in)
{
	unsigned op = in->op, s = (op & 1) ? in->opsize : 1;
	unsigned count = op <= 0xc1 ? in->imm : op <= 0xd1 ? 1 : c->s.gpr[GPR_RCX];
	uint64_t v, ea = 0;

	if (in->has_mem) {
		ea = insn_ea(c, in);
		v = emu_read(c, insn_seg(in), ea, s);
	} else {
		v = reg_read(c, in, in->rm, s);
	}
	v = emu_shift(c, in->reg, s, v, count & 0xff);
	if (in->has_mem)
		emu_write(c, insn_seg(in), ea, s, v);
	else
		reg_write(c, in, in->rm, s, v);
}

/* NOP, PAUSE, hint NOPs (0F 0D, 0F 18-1F) and ENDBR. */
static void nop(struct emu_cpu *c, const struct insn *in)
{
}

/* IMUL reg, r/m (0F AF). */
static void imul_r_rm(struct emu_cpu *c, const struct insn *in)
{
	unsigned s = in->opsize;
	__int128 p = (__int128)emu_sign_extend(c->s.gpr[in->reg], s) *
		     emu_sign_extend(rm_get(c, in, s), s);
	uint64_t lo = (uint64_t)p & emu_size_mask(s);
	bool over = p != (__int128)emu_sign_extend(lo, s);

	gpr_set(c, in->reg, s, lo);
	emu_flags_szp(c, s, lo, over ? RFLAGS_CF | RFLAGS_OF : 0);
}

/* MUL, IMUL r/m (F7 /4, /5): RDX:RAX = RAX * r/m, of 2, 4 or 8 bytes. */
static void mul_rm(struct emu_cpu *c, const struct insn *in)
{
	unsigned s = in->opsize;
	uint64_t m = emu_size_mask(s), a = c->s.gpr[GPR_RAX] & m, b = rm_get(c, in, s) & m;
	uint64_t lo, hi;
	bool over;

	if (in->reg & 1) {
		__int128 p = (__int128)emu_sign_extend(a, s) * emu_sign_extend(b, s);

		lo = (uint64_t)p & m;
		hi = (uint64_t)(p >> (s * 8)) & m;
		over = p != (__int128)emu_sign_extend(lo, s);
	} else {
		unsigned __int128 p = (unsigned __int128)a * b;

		lo = (uint64_t)p & m;
		hi = (uint64_t)(p >> (s * 8)) & m;
		over = hi != 0;
	}
	gpr_set(c, GPR_RAX, s, lo);
	gpr_set(c, GPR_RDX, s, hi);
	emu_flags_szp(c, s, lo, over ? RFLAGS_CF | RFLAGS_OF : 0);
}

/* ---- moves ---- */

static void mov_rm_r(struct emu_cpu *c, const struct insn *in)   /* 89 */
{
	if (in->has_mem)
		mem_write(c, in, in->opsize, c->s.gpr[in->reg]);
	else
		gpr_set(c, in->rm, in->opsize, c->s.gpr[in->reg]);
}

static void mov_r_rm(struct emu_cpu *c, const struct insn *in)   /* 8B */
{
	gpr_set(c, in->reg, in->opsize, rm_get(c, in, in->opsize));
}

static void mov_rm8_r8(struct emu_cpu *c, const struct insn *in) /* 88 */
{
	uint64_t v = reg_read(c, in, in->reg, 1);

	if (in->has_mem)
		mem_write(c, in, 1, v);
	else
		reg_write(c, in, in->rm, 1, v);
}

static void mov_r8_rm8(struct emu_cpu *c, const struct insn *in) /* 8A */
{
	reg_write(c, in, in->reg, 1, in->has_mem ? mem_read(c, in, 1) : reg_read(c, in, in->rm, 1));
}

static void mov_rm_imm(struct emu_cpu *c, const struct insn *in) /* C7 /0 */
{
	if (in->has_mem)
		mem_write(c, in, in->opsize, in->imm);
	else
		gpr_set(c, in->rm, in->opsize, in->imm);
}

static void mov_rm8_imm(struct emu_cpu *c, const struct insn *in) /* C6 /0 */
{
	if (in->has_mem)
		mem_write(c, in, 1, in->imm);
	else
		reg_write(c, in, in->rm, 1, in->imm);
}

static void mov_r_imm(struct emu_cpu *c, const struct insn *in)  /* B8+r */
{
	gpr_set(c, (in->op & 7) | ((in->rex & 1) << 3), in->opsize, in->imm);
}

static void lea(struct emu_cpu *c, const struct insn *in)        /* 8D */
{
	gpr_set(c, in->reg, in->opsize, insn_ea(c, in));
}

/* MOVZX, MOVSX (0F B6, B7, BE, BF), MOVSXD (63 in 64-bit mode). */
static void mov_extend(struct emu_cpu *c, const struct insn *in)
{
	unsigned from = in->op == 0x63 ? 4 : (in->op & 1) ? 2 : 1;
	uint64_t v = in->has_mem ? mem_read(c, in, from) : reg_read(c, in, in->rm, from);

	if (in->op != 0x1b6 && in->op != 0x1b7)
		v = emu_sign_extend(v, from);
	gpr_set(c, in->reg, in->opsize, v);
}

/* CMOVcc (0F 40-4F): the source is read whatever the condition. */
static void cmov(struct emu_cpu *c, const struct insn *in)
{
	uint64_t v = rm_get(c, in, in->opsize);

	if (cond(c, in->op & 0xf))
		gpr_set(c, in->reg, in->opsize, v);
	else
		gpr_set(c, in->reg, in->opsize, c->s.gpr[in->reg]);
}

/* SETcc (0F 90-9F). */
static void setcc(struct emu_cpu *c, const struct insn *in)
{
	bool v = cond(c, in->op & 0xf);

	if (in->has_mem)
		mem_write(c, in, 1, v);
	else
		reg_write(c, in, in->rm, 1, v);
}

/* ---- branches and the stack in 64-bit mode ---- */

static void jcc(struct emu_cpu *c, const struct insn *in)  /* 70-7F, 0F 80-8F */
{
	if (cond(c, in->op & 0xf))
		jump_near(c, in->opsize, c->s.rip + in->imm);
}

static void jmp_rel(struct emu_cpu *c, const struct insn *in)  /* E9, EB */
{
	jump_near(c, in->opsize, c->s.rip + in->imm);
}

static void push64(struct emu_cpu *c, const struct insn *in)  /* 50+r */
{
	uint64_t sp = c->s.gpr[GPR_RSP] - 8;

	emu_write(c, SEG_SS, sp, 8, c->s.gpr[(in->op & 7) | ((in->rex & 1) << 3)]);
	c->s.gpr[GPR_RSP] = sp;
}

static void pop64(struct emu_cpu *c, const struct insn *in)   /* 58+r */
{
	uint64_t v = emu_read(c, SEG_SS, c->s.gpr[GPR_RSP], 8);

	c->s.gpr[GPR_RSP] += 8;
	c->s.gpr[(in->op & 7) | ((in->rex & 1) << 3)] = v;
}

static void call64(struct emu_cpu *c, const struct insn *in)  /* E8 */
{
	uint64_t target = c->s.rip + in->imm, sp = c->s.gpr[GPR_RSP] - 8;

	emu_write(c, SEG_SS, sp, 8, c->s.rip);
	c->s.gpr[GPR_RSP] = sp;
	jump_near(c, 8, target);
}

/* CALL and JMP near through r/m (FF /2, /4): 8-byte operands in 64-bit
 * code whatever the prefixes. */
static void call_ind64(struct emu_cpu *c, const struct insn *in)
{
	uint64_t target = rm_get(c, in, 8), sp = c->s.gpr[GPR_RSP] - 8;

	emu_write(c, SEG_SS, sp, 8, c->s.rip);
	c->s.gpr[GPR_RSP] = sp;
	jump_near(c, 8, target);
}

static void jmp_ind64(struct emu_cpu *c, const struct insn *in)
{
	jump_near(c, 8, rm_get(c, in, 8));
}

static void ret64(struct emu_cpu *c, const struct insn *in)   /* C3 */
{
	uint64_t target = emu_read(c, SEG_SS, c->s.gpr[GPR_RSP], 8);

	jump_near(c, 8, target);
	c->s.gpr[GPR_RSP] += 8;
}

/* PUSH, POP, CALL rel and RET outside 64-bit code: 2- or 4-byte operands
 * on a stack SS.B makes 2 or 4 bytes wide (as the general interpreter). */
static void push_legacy(struct emu_cpu *c, const struct insn *in)  /* 50+r */
{
	push(c, in->opsize, reg_read(c, in, in->op & 7, in->opsize));
}

static void pop_legacy(struct emu_cpu *c, const struct insn *in)   /* 58+r */
{
	uint64_t v = pop(c, in->opsize);

	reg_write(c, in, in->op & 7, in->opsize, v);
}

static void call_legacy(struct emu_cpu *c, const struct insn *in)  /* E8 */
{
	uint64_t target = c->s.rip + in->imm;

	push(c, in->opsize, c->s.rip);
	jump_near(c, in->opsize, target);
}

static void ret_legacy(struct emu_cpu *c, const struct insn *in)   /* C3 */
{
	jump_near(c, in->opsize, stack_peek(c, in->opsize, 0));
	sp_set(c, c->s.gpr[GPR_RSP] + in->opsize);
}

/* ---- the choice, made once per decoded instruction ---- */

/* Each ALU operation's forms, in the order alu_form() counts on. */
#define ALU_IDS(X, n) X(n##_rm_r) X(n##_r_rm) X(n##_rm_i) X(n##_a_i)	\
	X(n##8_rm_r) X(n##8_r_rm) X(n##8_rm_i) X(n##8_a_i)

#define FAST_HANDLERS(X)						\
	ALU_IDS(X, add) ALU_IDS(X, or) ALU_IDS(X, adc) ALU_IDS(X, sbb)	\
	ALU_IDS(X, and) ALU_IDS(X, sub) ALU_IDS(X, xor) ALU_IDS(X, cmp)	\
	ALU_IDS(X, test)						\
	X(not_neg) X(inc_dec) X(inc_dec_reg) X(shift_group) X(imul_r_rm)	\
	X(mul_rm) X(nop)						\
	X(mov_rm_r) X(mov_r_rm) X(mov_rm8_r8) X(mov_r8_rm8) X(mov_rm_imm)	\
	X(mov_rm8_imm) X(mov_r_imm) X(lea) X(mov_extend) X(cmov) X(setcc)	\
	X(jcc) X(jmp_rel) X(push64) X(pop64) X(call64) X(ret64)	\
	X(call_ind64) X(jmp_ind64) X(push_legacy) X(pop_legacy)	\
	X(call_legacy) X(ret_legacy)

#define FAST_ID(name) FAST_##name,
enum { FAST_NONE, FAST_HANDLERS(FAST_ID) FAST_COUNT };
#define FAST_ENTRY(name) name,
fast_fn *const emu_fast_handlers[FAST_COUNT] = { NULL, FAST_HANDLERS(FAST_ENTRY) };
_Static_assert(FAST_COUNT <= 256, "handler index is a byte");

bool emu_fast_is_nop(const struct insn *in)
{
	return in->fast == FAST_nop;
}

enum alu_form { FORM_RM_R, FORM_R_RM, FORM_RM_I, FORM_A_I };
#define ALU_TEST 8  /* after the eight of 00-3F and 80-83 */

/* The handler for ALU operation aop (0-7 as in ModRM.reg of 80-83, or
 * ALU_TEST) in the given form, of any operand size. */
static uint8_t alu_form(unsigned aop, enum alu_form form, bool byte, unsigned opsize)
{
	static const uint8_t first[9] = {
		FAST_add_rm_r, FAST_or_rm_r, FAST_adc_rm_r, FAST_sbb_rm_r,
		FAST_and_rm_r, FAST_sub_rm_r, FAST_xor_rm_r, FAST_cmp_rm_r,
		FAST_test_rm_r,
	};

	return first[aop] + form + (byte ? 4 : 0);
}

uint8_t emu_fast_pick(const struct insn *in, unsigned code_size)
{
	unsigned op = in->op, s = in->opsize;
	bool wide = s == 4 || s == 8, lm64 = code_size == 8;

	if (in->prefixes & PFX_LOCK)
		return 0;
	/* NOP and PAUSE (F3 90), but not XCHG R8, RAX; hint NOPs, ENDBR */
	if ((op == 0x90 && !(in->rex & 1)) ||
	    ((op == 0x10d || (op >= 0x118 && op <= 0x11f)) && in->has_modrm))
		return FAST_nop;
	if (in->prefixes & (PFX_REP | PFX_REPNE))
		return 0;
	if (op < 0x40 && (op & 7) < 6) {
		static const enum alu_form form[3] = { FORM_RM_R, FORM_R_RM, FORM_A_I };
		return alu_form(op >> 3, form[(op & 7) >> 1], !(op & 1), s);
	}
	switch (op) {
	case 0x40 ... 0x4f:
		return !lm64 ? FAST_inc_dec_reg : 0;
	case 0x50 ... 0x57:
		return lm64 ? (s == 8 ? FAST_push64 : 0) : FAST_push_legacy;
	case 0x58 ... 0x5f:
		return lm64 ? (s == 8 ? FAST_pop64 : 0) : FAST_pop_legacy;
	case 0x63:
		return lm64 && wide ? FAST_mov_extend : 0;
	case 0x70 ... 0x7f: case 0x180 ... 0x18f:
		return FAST_jcc;
	case 0x80: case 0x81: case 0x83:
		return alu_form(in->reg & 7, FORM_RM_I, op == 0x80, s);
	case 0x84: case 0x85:
		return alu_form(ALU_TEST, FORM_RM_R, op == 0x84, s);
	case 0x88:
		return FAST_mov_rm8_r8;
	case 0x89:
		return FAST_mov_rm_r;
	case 0x8a:
		return FAST_mov_r8_rm8;
	case 0x8b:
		return FAST_mov_r_rm;
	case 0x8d:
		return in->has_mem ? FAST_lea : 0;
	case 0xa8: case 0xa9:
		return alu_form(ALU_TEST, FORM_A_I, op == 0xa8, s);
	case 0xb8 ... 0xbf:
		return FAST_mov_r_imm;
	case 0xc0: case 0xc1: case 0xd0 ... 0xd3:
		return FAST_shift_group;
	case 0xc3:
		return lm64 ? (s == 8 ? FAST_ret64 : 0) : FAST_ret_legacy;
	case 0xc6:
		return (in->reg & 7) == 0 ? FAST_mov_rm8_imm : 0;
	case 0xc7:
		return (in->reg & 7) == 0 ? FAST_mov_rm_imm : 0;
	case 0xe8:
		return lm64 ? (s == 8 ? FAST_call64 : 0) : FAST_call_legacy;
	case 0xe9: case 0xeb:
		return FAST_jmp_rel;
	case 0xf6: case 0xf7:
		if ((in->reg & 7) == 2 || (in->reg & 7) == 3)
			return FAST_not_neg;
		if (op == 0xf7 && ((in->reg & 7) == 4 || (in->reg & 7) == 5))
			return FAST_mul_rm;
		return (in->reg & 7) < 2 ? alu_form(ALU_TEST, FORM_RM_I, op == 0xf6, s) : 0;
	case 0xff:
		if ((in->reg & 7) == 2 || (in->reg & 7) == 4)
			return lm64 ? ((in->reg & 7) == 2 ? FAST_call_ind64 : FAST_jmp_ind64) : 0;
		return (in->reg & 7) < 2 ? FAST_inc_dec : 0;
	case 0x140 ... 0x14f:
		return FAST_cmov;
	case 0x190 ... 0x19f:
		return FAST_setcc;
	case 0x1af:
		return FAST_imul_r_rm;
	case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf:
		return FAST_mov_extend;
	}
	return 0;
}

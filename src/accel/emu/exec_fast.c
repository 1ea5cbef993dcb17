/*
 * Fast paths for the commonest instruction forms.
 *
 * Compiled kernel and user code is mostly 32- and 64-bit moves, ALU
 * operations, compares and branches.  The general interpreter (exec.c)
 * reaches them through opcode switches, operand-size switches and
 * out-of-line operand and flag helpers.  The decoder instead picks one of
 * the handlers below for such an instruction once (emu_fast_pick), and
 * emu_step calls it directly each time the cached instruction runs.
 *
 * Each handler does exactly what exec.c does for that form; anything
 * unusual (LOCK and REP prefixes, 8- and 16-bit operands where the form is
 * rare, segment loads, ...) keeps going through exec.c.
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

/* A ModRM operand of 4 or 8 bytes, register or memory. */
static inline uint64_t rm_get(struct emu_cpu *c, const struct insn *in, unsigned size)
{
	return in->has_mem ? mem_read(c, in, size) : c->s.gpr[in->rm];
}

/* Writes of 4 bytes zero the upper half, as in 64-bit mode. */
static inline void gpr_set(struct emu_cpu *c, unsigned r, unsigned size, uint64_t v)
{
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
	} else {
		return emu_cond(c, cc);
	}
	return (cc & 1) ? !v : v;
}

/* ---- ALU operations of 4 or 8 bytes ---- */

/* Operand order as in exec.c's alu(): a OP b, a the destination. */
#define OP_ADD(a, b) ((a) + (b))
#define OP_OR(a, b)  ((a) | (b))
#define OP_AND(a, b) ((a) & (b))
#define OP_SUB(a, b) ((a) - (b))
#define OP_XOR(a, b) ((a) ^ (b))

/*
 * The forms of each operation: "rm_r" is r/m OP= reg (01-39, 85),
 * "r_rm" is reg OP= r/m (03-3B), "rm_i" is r/m OP= imm (81, 83).  A
 * memory destination is written before the flags are recorded, so a
 * write fault leaves them as they were.  CMP and TEST store nothing.
 */
#define ALU_FORMS(name, OP, ccop, store)					\
__attribute__((unused))							\
static void name##_rm_r(struct emu_cpu *c, const struct insn *in)	\
{									\
	unsigned s = in->opsize;					\
	uint64_t m = emu_size_mask(s), a, b = c->s.gpr[in->reg] & m, r;	\
	if (in->has_mem) {						\
		uint64_t ea = insn_ea(c, in);				\
		a = emu_read(c, insn_seg(in), ea, s) & m;		\
		r = OP(a, b) & m;					\
		if (store)						\
			emu_write(c, insn_seg(in), ea, s, r);		\
	} else {							\
		a = c->s.gpr[in->rm] & m;				\
		r = OP(a, b) & m;					\
		if (store)						\
			c->s.gpr[in->rm] = r;				\
	}								\
	record(c, ccop, s, r, a, b);					\
}									\
__attribute__((unused))							\
static void name##_r_rm(struct emu_cpu *c, const struct insn *in)	\
{									\
	unsigned s = in->opsize;					\
	uint64_t m = emu_size_mask(s);					\
	uint64_t b = rm_get(c, in, s) & m, a = c->s.gpr[in->reg] & m;	\
	uint64_t r = OP(a, b) & m;					\
	if (store)							\
		c->s.gpr[in->reg] = r;					\
	record(c, ccop, s, r, a, b);					\
}									\
__attribute__((unused))							\
static void name##_rm_i(struct emu_cpu *c, const struct insn *in)	\
{									\
	unsigned s = in->opsize;					\
	uint64_t m = emu_size_mask(s), a, b = in->imm & m, r;		\
	if (in->has_mem) {						\
		uint64_t ea = insn_ea(c, in);				\
		a = emu_read(c, insn_seg(in), ea, s) & m;		\
		r = OP(a, b) & m;					\
		if (store)						\
			emu_write(c, insn_seg(in), ea, s, r);		\
	} else {							\
		a = c->s.gpr[in->rm] & m;				\
		r = OP(a, b) & m;					\
		if (store)						\
			c->s.gpr[in->rm] = r;				\
	}								\
	record(c, ccop, s, r, a, b);					\
}
ALU_FORMS(add, OP_ADD, CC_ADD, true)
ALU_FORMS(or, OP_OR, CC_LOGIC, true)
ALU_FORMS(and, OP_AND, CC_LOGIC, true)
ALU_FORMS(sub, OP_SUB, CC_SUB, true)
ALU_FORMS(xor, OP_XOR, CC_LOGIC, true)
ALU_FORMS(cmp, OP_SUB, CC_SUB, false)
ALU_FORMS(test, OP_AND, CC_LOGIC, false)

/* Indexed by the ALU operation number (ModRM.reg of 81/83, bits 5-3 of
 * 00-3F); ADC and SBB (2, 3) stay in exec.c. */
static fast_fn *const alu_rm_r[8] = { add_rm_r, or_rm_r, NULL, NULL, and_rm_r, sub_rm_r, xor_rm_r, cmp_rm_r };
static fast_fn *const alu_r_rm[8] = { add_r_rm, or_r_rm, NULL, NULL, and_r_rm, sub_r_rm, xor_r_rm, cmp_r_rm };
static fast_fn *const alu_rm_i[8] = { add_rm_i, or_rm_i, NULL, NULL, and_rm_i, sub_rm_i, xor_rm_i, cmp_rm_i };

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
		c->s.gpr[in->rm] = r;
	}
	emu_flags_arith(c, dec ? CC_DEC : CC_INC, s, r, a, 1);
}

/* SHL, SHR, SAR of a register by an immediate (C1 /4, /5, /7). */
static void shift_imm(struct emu_cpu *c, const struct insn *in)
{
	unsigned s = in->opsize;

	c->s.gpr[in->rm] = emu_shift(c, in->reg, s, c->s.gpr[in->rm], in->imm & 0xff);
}

/* IMUL reg, r/m (0F AF). */
static void imul_r_rm(struct emu_cpu *c, const struct insn *in)
{
	unsigned s = in->opsize;
	__int128 p = (__int128)emu_sign_extend(c->s.gpr[in->reg], s) *
		     emu_sign_extend(rm_get(c, in, s), s);
	uint64_t lo = (uint64_t)p & emu_size_mask(s);
	bool over = p != (__int128)emu_sign_extend(lo, s);

	c->s.gpr[in->reg] = lo;
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

static void ret64(struct emu_cpu *c, const struct insn *in)   /* C3 */
{
	uint64_t target = emu_read(c, SEG_SS, c->s.gpr[GPR_RSP], 8);

	jump_near(c, 8, target);
	c->s.gpr[GPR_RSP] += 8;
}

/* ---- the choice, made once per decoded instruction ---- */

fast_fn *emu_fast_pick(const struct insn *in, unsigned code_size)
{
	unsigned op = in->op, s = in->opsize;
	bool wide = s == 4 || s == 8, lm64 = code_size == 8;

	if (in->prefixes & (PFX_LOCK | PFX_REP | PFX_REPNE))
		return NULL;
	if (op < 0x40 && (op & 7) < 4 && (op & 1)) {  /* ALU r/m and reg, not byte */
		if (!wide)
			return NULL;
		return (op & 2) ? alu_r_rm[op >> 3] : alu_rm_r[op >> 3];
	}
	switch (op) {
	case 0x50 ... 0x57:
		return lm64 && s == 8 ? push64 : NULL;
	case 0x58 ... 0x5f:
		return lm64 && s == 8 ? pop64 : NULL;
	case 0x63:
		return lm64 && wide ? mov_extend : NULL;
	case 0x70 ... 0x7f: case 0x180 ... 0x18f:
		return jcc;
	case 0x81: case 0x83:
		return wide ? alu_rm_i[in->reg & 7] : NULL;
	case 0x85:
		return wide ? test_rm_r : NULL;
	case 0x88:
		return mov_rm8_r8;
	case 0x89:
		return wide ? mov_rm_r : NULL;
	case 0x8a:
		return mov_r8_rm8;
	case 0x8b:
		return wide ? mov_r_rm : NULL;
	case 0x8d:
		return wide && in->has_mem ? lea : NULL;
	case 0xb8 ... 0xbf:
		return wide ? mov_r_imm : NULL;
	case 0xc1:
		return wide && !in->has_mem && (in->reg & 7) >= 4 && (in->reg & 7) != 6 ?
		       shift_imm : NULL;
	case 0xc3:
		return lm64 && s == 8 ? ret64 : NULL;
	case 0xc7:
		return wide && (in->reg & 7) == 0 ? mov_rm_imm : NULL;
	case 0xe8:
		return lm64 && s == 8 ? call64 : NULL;
	case 0xe9: case 0xeb:
		return jmp_rel;
	case 0xf7:
		return wide && (in->reg & 7) < 2 ? test_rm_i : NULL;
	case 0xff:
		return wide && (in->reg & 7) < 2 ? inc_dec : NULL;
	case 0x140 ... 0x14f:
		return wide ? cmov : NULL;
	case 0x190 ... 0x19f:
		return setcc;
	case 0x1af:
		return wide ? imul_r_rm : NULL;
	case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf:
		return wide ? mov_extend : NULL;
	}
	return NULL;
}

/*
 * Lazily evaluated arithmetic flags.
 *
 * Most instructions that set flags have their flags overwritten by the
 * next such instruction before anything reads them, so ALU instructions
 * only record their operands and result (cc_op, cc_src1, cc_src2, cc_res);
 * the six arithmetic flags are computed when a Jcc, SETcc, PUSHF or the
 * like asks for them.
 */
#include "accel/emu/emu.h"

#define ARITH_FLAGS (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | \
		     RFLAGS_SF | RFLAGS_OF)

static bool parity_even(uint64_t v)
{
	return !__builtin_parity((unsigned)(v & 0xff));
}

/* Compute the arithmetic flags that the recorded operation produced. */
static uint64_t lazy_flags(const struct emu_cpu *c)
{
	uint64_t mask = emu_size_mask(c->cc_size);
	uint64_t sign = 1ULL << (c->cc_size * 8 - 1);
	uint64_t a = c->cc_src1 & mask, b = c->cc_src2 & mask;
	uint64_t r = c->cc_res & mask;
	uint64_t f = 0;
	bool cf = false, of = false, af = false;

	switch (c->cc_op) {
	case CC_ADD:
		cf = r < a;
		of = (a ^ r) & (b ^ r) & sign;
		af = (a ^ b ^ r) & 0x10;
		break;
	case CC_ADC:
		cf = c->cc_carry ? r <= a : r < a;
		of = (a ^ r) & (b ^ r) & sign;
		af = (a ^ b ^ r) & 0x10;
		break;
	case CC_SUB:
		cf = a < b;
		of = (a ^ b) & (a ^ r) & sign;
		af = (a ^ b ^ r) & 0x10;
		break;
	case CC_SBB:
		cf = c->cc_carry ? a <= b : a < b;
		of = (a ^ b) & (a ^ r) & sign;
		af = (a ^ b ^ r) & 0x10;
		break;
	case CC_LOGIC:
		break;
	case CC_INC:
		cf = c->cc_carry;
		of = r == sign;
		af = (r & 0xf) == 0;
		break;
	case CC_DEC:
		cf = c->cc_carry;
		of = r == sign - 1;
		af = (r & 0xf) == 0xf;
		break;
	case CC_SZP:
		f = c->cc_src1 & (RFLAGS_CF | RFLAGS_OF | RFLAGS_AF);
		break;
	case CC_EAGER:
		return c->s.rflags & ARITH_FLAGS;
	}
	if (cf)
		f |= RFLAGS_CF;
	if (of)
		f |= RFLAGS_OF;
	if (af)
		f |= RFLAGS_AF;
	if (r == 0)
		f |= RFLAGS_ZF;
	if (r & sign)
		f |= RFLAGS_SF;
	if (parity_even(r))
		f |= RFLAGS_PF;
	return f;
}

/* Fold the lazy flags into rflags. */
static void materialize(struct emu_cpu *c)
{
	if (c->cc_op == CC_EAGER)
		return;
	c->s.rflags = (c->s.rflags & ~ARITH_FLAGS) | lazy_flags(c);
	c->cc_op = CC_EAGER;
}

uint64_t emu_get_rflags(struct emu_cpu *c)
{
	materialize(c);
	return c->s.rflags | RFLAGS_FIXED;
}

void emu_set_rflags(struct emu_cpu *c, uint64_t rflags)
{
	c->cc_op = CC_EAGER;
	c->s.rflags = (rflags & ~0x8028ULL) | RFLAGS_FIXED;
	if (rflags & (RFLAGS_TF | RFLAGS_RF))
		c->debug_active = true;  /* the run loop steps through debug.c */
}

/* CF alone, without computing the other five flags. */
bool emu_cf(struct emu_cpu *c)
{
	uint64_t m = emu_size_mask(c->cc_size);
	uint64_t a = c->cc_src1 & m, b = c->cc_src2 & m, r = c->cc_res & m;

	switch (c->cc_op) {
	case CC_LOGIC:
		return false;
	case CC_EAGER:
		return c->s.rflags & RFLAGS_CF;
	case CC_ADD:
		return r < a;
	case CC_ADC:
		return c->cc_carry ? r <= a : r < a;
	case CC_SUB:
		return a < b;
	case CC_SBB:
		return c->cc_carry ? a <= b : a < b;
	case CC_SZP:
		return c->cc_src1 & RFLAGS_CF;
	default: /* INC, DEC */
		return c->cc_carry;
	}
}

bool emu_zf(struct emu_cpu *c)
{
	if (c->cc_op == CC_EAGER)
		return c->s.rflags & RFLAGS_ZF;
	return (c->cc_res & emu_size_mask(c->cc_size)) == 0;
}

/* The condition codes of Jcc/SETcc/CMOVcc (low nibble of the opcode). */
bool emu_cond(struct emu_cpu *c, unsigned cc)
{
	uint64_t f;
	bool r;

	if ((cc >> 1) == 2) /* E/NE: the common case, no full evaluation */
		r = emu_zf(c);
	else {
		f = c->cc_op == CC_EAGER ? c->s.rflags : lazy_flags(c);
		switch (cc >> 1) {
		case 0: r = f & RFLAGS_OF; break;
		case 1: r = f & RFLAGS_CF; break;
		case 3: r = f & (RFLAGS_CF | RFLAGS_ZF); break;
		case 4: r = f & RFLAGS_SF; break;
		case 5: r = f & RFLAGS_PF; break;
		case 6: r = !(f & RFLAGS_SF) != !(f & RFLAGS_OF); break;
		default:
			r = (f & RFLAGS_ZF) || (!(f & RFLAGS_SF) != !(f & RFLAGS_OF));
			break;
		}
	}
	return (cc & 1) ? !r : r;
}

void emu_flags_arith(struct emu_cpu *c, enum cc_op op, unsigned size,
		     uint64_t res, uint64_t a, uint64_t b)
{
	if (op == CC_INC || op == CC_DEC || op == CC_ADC || op == CC_SBB) {
		/* INC/DEC keep CF; ADC/SBB consume it: record it before the
		 * previous operation's record is overwritten. */
		if (op == CC_INC || op == CC_DEC)
			c->cc_carry = emu_cf(c);
	}
	c->cc_op = op;
	c->cc_size = size;
	c->cc_res = res;
	c->cc_src1 = a;
	c->cc_src2 = b;
}

void emu_flags_set(struct emu_cpu *c, uint64_t mask, uint64_t values)
{
	materialize(c);
	c->s.rflags = (c->s.rflags & ~mask) | (values & mask);
}

/* SF, ZF and PF from a result; CF, OF and AF given explicitly.  Recorded
 * like the ALU operations, computed when asked for. */
void emu_flags_szp(struct emu_cpu *c, unsigned size, uint64_t res, uint64_t cf_of_af)
{
	c->cc_op = CC_SZP;
	c->cc_size = size;
	c->cc_res = res & emu_size_mask(size);
	c->cc_src1 = cf_of_af & (RFLAGS_CF | RFLAGS_OF | RFLAGS_AF);
	c->cc_src2 = 0;
}

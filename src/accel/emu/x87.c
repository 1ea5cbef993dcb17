/*
 * The x87 FPU: the register stack with its tag word, control and status
 * words, loads and stores of every memory format (single, double,
 * extended, 16/32/64-bit integers, packed BCD), arithmetic, comparisons
 * (FCOM/FUCOM/FCOMI), FCMOVcc, constants, transcendental functions, and
 * FSTENV/FLDENV/FSAVE/FRSTOR, and SSE3's FISTTP.
 *
 * Arithmetic runs on the host's own x87 unit through long double, with the
 * guest's precision and rounding control installed and its exception
 * flags folded back (built with -frounding-math).  Unmasked exceptions
 * set ES and raise #MF at the next waiting x87 instruction (CR0.NE=1).
 */
#include <math.h>
#include <string.h>

#include "accel/emu/exec.h"

#define SW_IE 0x0001
#define SW_SF 0x0040
#define SW_ES 0x0080
#define SW_C0 0x0100
#define SW_C1 0x0200
#define SW_C2 0x0400
#define SW_C3 0x4000
#define SW_B  0x8000
#define SW_CC (SW_C0 | SW_C1 | SW_C2 | SW_C3)

typedef long double f80;

/* ---- the register stack ---- */

static unsigned phys(struct emu_cpu *c, unsigned i)
{
	return (c->fpu_top + i) & 7;
}

static bool empty(struct emu_cpu *c, unsigned i)
{
	return !(c->fpu_tw & (1u << phys(c, i)));
}

static void set_flags(struct emu_cpu *c, uint16_t f)
{
	c->fpu_sw |= f;
	if (f & 0x3f & ~c->fpu_cw)
		c->fpu_sw |= SW_ES | SW_B;
}

static f80 indefinite(void)
{
	return -NAN;
}

static f80 st(struct emu_cpu *c, unsigned i)
{
	if (empty(c, i)) {
		set_flags(c, SW_IE | SW_SF);
		c->fpu_sw &= ~SW_C1;
		return indefinite();
	}
	return c->st[phys(c, i)];
}

static void set_st(struct emu_cpu *c, unsigned i, f80 v)
{
	c->st[phys(c, i)] = v;
	c->fpu_tw |= 1u << phys(c, i);
}

static void fpush(struct emu_cpu *c, f80 v)
{
	c->fpu_top = (c->fpu_top - 1) & 7;
	c->fpu_sw &= ~SW_C1; /* C1 says whether this push overflowed */
	if (c->fpu_tw & (1u << c->fpu_top)) {
		set_flags(c, SW_IE | SW_SF | SW_C1); /* stack overflow */
		v = indefinite();
	}
	set_st(c, 0, v);
}

static void fpop(struct emu_cpu *c)
{
	c->fpu_tw &= ~(1u << c->fpu_top);
	c->fpu_top = (c->fpu_top + 1) & 7;
}

/* ---- host FPU environment ---- */

static void host_enter(struct emu_cpu *c)
{
	uint16_t cw = (c->fpu_cw & 0x0f00) | 0x3f; /* guest PC and RC, all masked */

	__asm__ volatile("fnclex\n\tfldcw %0" : : "m"(cw) : "memory");
}

static void host_leave(struct emu_cpu *c)
{
	uint16_t sw, cw = 0x37f;

	__asm__ volatile("fnstsw %0" : "=m"(sw) : : "memory");
	__asm__ volatile("fldcw %0" : : "m"(cw) : "memory");
	set_flags(c, sw & 0x3f);
}

/* Back to the host's control word, dropping the host's flags. */
static void host_discard(void)
{
	uint16_t cw = 0x37f;

	__asm__ volatile("fnclex\n\tfldcw %0" : : "m"(cw) : "memory");
}

/* ---- memory formats ---- */

static f80 load_at(struct emu_cpu *c, int seg, uint64_t ea, unsigned fmt)
{
	uint64_t v;
	f80 r;

	switch (fmt) {
	case 0: { /* m32 float */
		uint32_t u = emu_read(c, seg, ea, 4);
		float f;
		memcpy(&f, &u, 4);
		return f;
	}
	case 1: { /* m64 double */
		double d;
		v = emu_read(c, seg, ea, 8);
		memcpy(&d, &v, 8);
		return d;
	}
	case 2: { /* m80 extended */
		uint8_t raw[16] = { 0 };
		v = emu_read(c, seg, ea, 8);
		memcpy(raw, &v, 8);
		v = emu_read(c, seg, ea + 8, 2);
		memcpy(raw + 8, &v, 2);
		memcpy(&r, raw, sizeof(r));
		return r;
	}
	case 3: return (int16_t)emu_read(c, seg, ea, 2);
	case 4: return (int32_t)emu_read(c, seg, ea, 4);
	default: return (int64_t)emu_read(c, seg, ea, 8);
	}
}

/* Round to an integer of size bytes per RC; indefinite on overflow. */
static uint64_t to_integer(struct emu_cpu *c, f80 v, unsigned size, bool truncate)
{
	f80 r, lim = size == 2 ? 32768.0L : size == 4 ? 2147483648.0L : 9223372036854775808.0L;

	if (isnan(v) || isinf(v)) {
		c->fpu_sw &= ~SW_C1;
		set_flags(c, SW_IE);
		return 1ULL << (size * 8 - 1);
	}
	/* The guest's rounding control, but not the library's flags. */
	host_enter(c);
	r = truncate ? truncl(v) : rintl(v);
	host_discard();
	c->fpu_sw &= ~SW_C1;
	if (r >= lim || r < -lim) {
		set_flags(c, SW_IE);
		return 1ULL << (size * 8 - 1);
	}
	if (r != v) /* precision; C1 says whether the magnitude went up */
		set_flags(c, 0x20 | (fabsl(r) > fabsl(v) ? SW_C1 : 0));
	return (uint64_t)(int64_t)r;
}

static void store_at(struct emu_cpu *c, int seg, uint64_t ea, unsigned fmt, f80 v)
{
	uint64_t u = 0;

	switch (fmt) {
	case 0: {
		volatile float f;
		host_enter(c);
		f = (float)v;
		host_leave(c);
		memcpy(&u, (const void *)&f, 4);
		emu_write(c, seg, ea, 4, u);
		return;
	}
	case 1: {
		volatile double d;
		host_enter(c);
		d = (double)v;
		host_leave(c);
		memcpy(&u, (const void *)&d, 8);
		emu_write(c, seg, ea, 8, u);
		return;
	}
	case 2: {
		uint8_t raw[16];
		memcpy(raw, &v, sizeof(v));
		emu_linear(c, seg, ea + 9, 1, true);
		memcpy(&u, raw, 8);
		emu_write(c, seg, ea, 8, u);
		memcpy(&u, raw + 8, 2);
		emu_write(c, seg, ea + 8, 2, u & 0xffff);
		return;
	}
	case 3: emu_write(c, seg, ea, 2, to_integer(c, v, 2, false)); return;
	case 4: emu_write(c, seg, ea, 4, to_integer(c, v, 4, false)); return;
	default: emu_write(c, seg, ea, 8, to_integer(c, v, 8, false)); return;
	}
}

/* The instruction's memory operand in format fmt (0 m32, 1 m64, 2 m80,
 * 3-5 m16/m32/m64 integers). */
static f80 load_mem(struct emu_cpu *c, const struct insn *in, unsigned fmt)
{
	return load_at(c, insn_seg(in), insn_ea(c, in), fmt);
}

static void store_mem(struct emu_cpu *c, const struct insn *in, unsigned fmt, f80 v)
{
	store_at(c, insn_seg(in), insn_ea(c, in), fmt, v);
}

/* FISTTP (SSE3): store as an integer of size bytes, truncated, and pop. */
static void store_trunc_pop(struct emu_cpu *c, const struct insn *in, unsigned size)
{
	emu_write(c, insn_seg(in), insn_ea(c, in), size, to_integer(c, st(c, 0), size, true));
	fpop(c);
}

static f80 load_bcd(struct emu_cpu *c, const struct insn *in)
{
	int seg = insn_seg(in);
	uint64_t ea = insn_ea(c, in);
	f80 v = 0;

	for (int i = 8; i >= 0; i--) {
		uint8_t b = emu_read(c, seg, ea + i, 1);
		v = v * 100 + (b >> 4) * 10 + (b & 0xf);
	}
	return (emu_read(c, seg, ea + 9, 1) & 0x80) ? -v : v;
}

static void store_bcd(struct emu_cpu *c, const struct insn *in, f80 v)
{
	int seg = insn_seg(in);
	uint64_t ea = insn_ea(c, in), n;
	bool neg = signbit(v);
	f80 r;

	host_enter(c);
	r = rintl(fabsl(v));
	host_leave(c);
	emu_linear(c, seg, ea + 9, 1, true);
	if (isnan(v) || r >= 1e18L) {
		set_flags(c, SW_IE);
		for (int i = 0; i < 7; i++)
			emu_write(c, seg, ea + i, 1, 0);
		emu_write(c, seg, ea + 7, 1, 0xc0);
		emu_write(c, seg, ea + 8, 1, 0xff);
		emu_write(c, seg, ea + 9, 1, 0xff);
		return;
	}
	n = (uint64_t)r;
	for (int i = 0; i < 9; i++) {
		emu_write(c, seg, ea + i, 1, (n % 10) | (((n / 10) % 10) << 4));
		n /= 100;
	}
	emu_write(c, seg, ea + 9, 1, neg ? 0x80 : 0);
}

/* ---- environment ---- */

static uint16_t full_tag_word(struct emu_cpu *c)
{
	uint16_t tw = 0;

	for (unsigned r = 0; r < 8; r++) {
		unsigned t;
		if (!(c->fpu_tw & (1u << r)))
			t = 3;
		else if (c->st[r] == 0)
			t = 1;
		else if (isnan(c->st[r]) || isinf(c->st[r]) || fpclassify(c->st[r]) == FP_SUBNORMAL)
			t = 2;
		else
			t = 0;
		tw |= t << (2 * r);
	}
	return tw;
}

static uint16_t status_word(struct emu_cpu *c)
{
	return (c->fpu_sw & ~0x3800) | ((c->fpu_top & 7) << 11);
}

/* FNSTENV / FLDENV: 14 bytes with 16-bit operands, else 28. */
static unsigned store_env(struct emu_cpu *c, const struct insn *in)
{
	int seg = insn_seg(in);
	uint64_t ea = insn_ea(c, in);
	unsigned w = in->opsize == 2 ? 2 : 4;

	emu_linear(c, seg, ea + 7 * w - 1, 1, true);
	emu_write(c, seg, ea, w, c->fpu_cw | (w == 4 ? 0xffff0000u : 0));
	emu_write(c, seg, ea + w, w, status_word(c) | (w == 4 ? 0xffff0000u : 0));
	emu_write(c, seg, ea + 2 * w, w, full_tag_word(c) | (w == 4 ? 0xffff0000u : 0));
	for (unsigned i = 3; i < 7; i++)
		emu_write(c, seg, ea + i * w, w, 0);
	return 7 * w;
}

static unsigned load_env(struct emu_cpu *c, const struct insn *in)
{
	int seg = insn_seg(in);
	uint64_t ea = insn_ea(c, in);
	unsigned w = in->opsize == 2 ? 2 : 4;
	uint16_t tw;

	c->fpu_cw = emu_read(c, seg, ea, 2);
	c->fpu_sw = emu_read(c, seg, ea + w, 2);
	c->fpu_top = (c->fpu_sw >> 11) & 7;
	tw = emu_read(c, seg, ea + 2 * w, 2);
	c->fpu_tw = 0;
	for (unsigned r = 0; r < 8; r++)
		if (((tw >> (2 * r)) & 3) != 3)
			c->fpu_tw |= 1u << r;
	/* Pending unmasked exceptions in the loaded state. */
	if (c->fpu_sw & 0x3f & ~c->fpu_cw)
		c->fpu_sw |= SW_ES | SW_B;
	else
		c->fpu_sw &= ~(SW_ES | SW_B);
	return 7 * w;
}

void emu_fpu_reset(struct emu_cpu *c);

static void fninit(struct emu_cpu *c)
{
	uint32_t mxcsr = c->mxcsr;

	emu_fpu_reset(c);
	c->mxcsr = mxcsr;
}

/* ---- arithmetic ---- */

/* dst OP src for the eight arithmetic forms (ModRM.reg). */
static f80 arith(struct emu_cpu *c, unsigned op, f80 a, f80 b)
{
	volatile f80 r;

	host_enter(c);
	switch (op) {
	case 0: r = a + b; break;
	case 1: r = a * b; break;
	case 4: r = a - b; break;
	case 5: r = b - a; break;
	case 6: r = a / b; break;
	default: r = b / a; break;
	}
	host_leave(c);
	return r;
}

/* C3 C2 C0 for FCOM-style comparisons; quiet: FUCOM (QNaN allowed). */
static void compare(struct emu_cpu *c, f80 a, f80 b, bool quiet, bool eflags)
{
	uint16_t cc;
	uint64_t f;

	if (isnan(a) || isnan(b)) {
		if (!quiet || issignaling(a) || issignaling(b))
			set_flags(c, SW_IE);
		cc = SW_C3 | SW_C2 | SW_C0;
		f = RFLAGS_ZF | RFLAGS_PF | RFLAGS_CF;
	} else if (a > b) {
		cc = 0;
		f = 0;
	} else if (a < b) {
		cc = SW_C0;
		f = RFLAGS_CF;
	} else {
		cc = SW_C3;
		f = RFLAGS_ZF;
	}
	if (eflags) {
		c->fpu_sw &= ~SW_C1;
		emu_flags_set(c, RFLAGS_ZF | RFLAGS_PF | RFLAGS_CF | RFLAGS_OF | RFLAGS_SF | RFLAGS_AF, f);
	} else {
		c->fpu_sw = (c->fpu_sw & ~SW_CC) | cc;
	}
}

static void fxam(struct emu_cpu *c)
{
	f80 v = c->st[phys(c, 0)];
	uint16_t cc;

	if (empty(c, 0))
		cc = SW_C3 | SW_C0;
	else if (isnan(v))
		cc = SW_C0;
	else if (isinf(v))
		cc = SW_C2 | SW_C0;
	else if (v == 0)
		cc = SW_C3;
	else if (fpclassify(v) == FP_SUBNORMAL)
		cc = SW_C3 | SW_C2;
	else
		cc = SW_C2;
	if (signbit(v))
		cc |= SW_C1;
	c->fpu_sw = (c->fpu_sw & ~SW_CC) | cc;
}

/*
 * D9 E0-FF: constants and the one- and two-operand functions.  The
 * transcendental ones run as the very same host instructions, so results
 * and C2 ("operand out of range") match a real x87 bit for bit.
 */
static void exec_d9_special(struct emu_cpu *c, unsigned rm)
{
	f80 x, y, r = 0, r2 = 0;
	uint16_t cc;

	switch (rm) {
	case 0x0: set_st(c, 0, -st(c, 0)); return;             /* FCHS */
	case 0x1: set_st(c, 0, fabsl(st(c, 0))); return;       /* FABS */
	case 0x4: compare(c, st(c, 0), 0.0L, false, false); return; /* FTST */
	case 0x5: fxam(c); return;
	case 0x8: fpush(c, 1.0L); return;
	case 0xe: fpush(c, 0.0L); return;
	case 0x9: case 0xa: case 0xb: case 0xc: case 0xd:
		/* FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2: the host's constants,
		 * rounded per the guest's RC like the real thing. */
		host_enter(c);
		switch (rm) {
		case 0x9: __asm__ volatile("fldl2t" : "=t"(r)); break;
		case 0xa: __asm__ volatile("fldl2e" : "=t"(r)); break;
		case 0xb: __asm__ volatile("fldpi" : "=t"(r)); break;
		case 0xc: __asm__ volatile("fldlg2" : "=t"(r)); break;
		default: __asm__ volatile("fldln2" : "=t"(r)); break;
		}
		host_leave(c);
		fpush(c, r);
		return;
	case 0x16: c->fpu_top = (c->fpu_top - 1) & 7; return;   /* FDECSTP */
	case 0x17: c->fpu_top = (c->fpu_top + 1) & 7; return;   /* FINCSTP */
	}
	x = st(c, 0);
	y = (rm == 0x11 || rm == 0x13 || rm == 0x15 || rm == 0x18 || rm == 0x19 || rm == 0x1d)
	    ? st(c, 1) : 0;
	host_enter(c);
	switch (rm) {
	/* The status word is read inside each asm: code the compiler adds
	 * after it (FSTP) changes C1. */
	case 0x10: __asm__ volatile("f2xm1; fnstsw %1" : "+t"(x), "=m"(cc)); r = x; break;
	case 0x11: __asm__ volatile("fyl2x; fnstsw %1" : "=t"(r), "=m"(cc) : "0"(x), "u"(y) : "st(1)"); break;
	case 0x12: __asm__ volatile("fptan; fnstsw %2" : "=t"(r2), "=u"(r), "=m"(cc) : "0"(x)); break;
	case 0x13: __asm__ volatile("fpatan; fnstsw %1" : "=t"(r), "=m"(cc) : "0"(x), "u"(y) : "st(1)"); break;
	case 0x14: __asm__ volatile("fxtract; fnstsw %2" : "=t"(r2), "=u"(r), "=m"(cc) : "0"(x)); break;
	case 0x15: __asm__ volatile("fprem1; fnstsw %1" : "=t"(r), "=m"(cc) : "0"(x), "u"(y)); break;
	case 0x18: __asm__ volatile("fprem; fnstsw %1" : "=t"(r), "=m"(cc) : "0"(x), "u"(y)); break;
	case 0x19: __asm__ volatile("fyl2xp1; fnstsw %1" : "=t"(r), "=m"(cc) : "0"(x), "u"(y) : "st(1)"); break;
	case 0x1a: __asm__ volatile("fsqrt; fnstsw %1" : "+t"(x), "=m"(cc)); r = x; break;
	case 0x1b: __asm__ volatile("fsincos; fnstsw %2" : "=t"(r2), "=u"(r), "=m"(cc) : "0"(x)); break;
	case 0x1c: __asm__ volatile("frndint; fnstsw %1" : "+t"(x), "=m"(cc)); r = x; break;
	case 0x1d: __asm__ volatile("fscale; fnstsw %1" : "=t"(r), "=m"(cc) : "0"(x), "u"(y)); break;
	case 0x1e: __asm__ volatile("fsin; fnstsw %1" : "+t"(x), "=m"(cc)); r = x; break;
	case 0x1f: __asm__ volatile("fcos; fnstsw %1" : "+t"(x), "=m"(cc)); r = x; break;
	default:
		host_leave(c);
		emu_raise_ud(c);
	}
	cc &= SW_CC;
	host_leave(c);
	switch (rm) {
	case 0x11: case 0x13: case 0x19: /* result replaces ST(1), pop */
		fpop(c);
		set_st(c, 0, r);
		break;
	case 0x12: case 0x1b: /* FPTAN, FSINCOS: ST(0) = r, then push r2 */
		if (cc & SW_C2) {
			c->fpu_sw |= SW_C2;
			return;
		}
		set_st(c, 0, r);
		fpush(c, r2);
		break;
	case 0x14: /* FXTRACT: exponent, then push significand */
		set_st(c, 0, r);
		fpush(c, r2);
		break;
	default:
		set_st(c, 0, r);
		break;
	}
	/* C0-C3 as the host computed them for FPREM/FPREM1 and C2 for the
	 * functions that may not reduce their operand. */
	c->fpu_sw = (c->fpu_sw & ~SW_CC) | (cc & (rm == 0x15 || rm == 0x18 ? SW_CC : SW_C2));
}

static bool fcmov_cond(struct emu_cpu *c, unsigned op, unsigned reg)
{
	uint64_t f = emu_get_rflags(c);
	bool r;

	switch (reg & 3) {
	case 0: r = f & RFLAGS_CF; break;
	case 1: r = f & RFLAGS_ZF; break;
	case 2: r = f & (RFLAGS_CF | RFLAGS_ZF); break;
	default: r = f & RFLAGS_PF; break;
	}
	return op == 0xda ? r : !r;
}

void emu_exec_x87(struct emu_cpu *c, const struct insn *in)
{
	unsigned op = in->op, reg = in->reg & 7, rm = in->rm & 7;
	bool control;

	if (c->s.cr0 & (CR0_EM | CR0_TS))
		emu_raise(c, EXC_NM, 0, false);
	/* Control instructions (FN*, FLDCW, FLDENV, FRSTOR) do not check for
	 * pending exceptions; everything else raises #MF first. */
	control = (op == 0xd9 && in->has_mem && reg >= 4) ||
		  (op == 0xdb && !in->has_mem && (reg == 4)) ||
		  (op == 0xdd && in->has_mem && (reg == 4 || reg >= 6)) ||
		  (op == 0xdf && !in->has_mem && reg == 4);
	if (!control && (c->fpu_sw & SW_ES) && (c->s.cr0 & CR0_NE))
		emu_raise(c, EXC_MF, 0, false);

	if (in->has_mem) {
		switch (op) {
		case 0xd8: case 0xdc: case 0xda: case 0xde: {
			unsigned fmt = op == 0xd8 ? 0 : op == 0xdc ? 1 : op == 0xda ? 4 : 3;
			f80 src = load_mem(c, in, fmt), a = st(c, 0);
			if (reg == 2 || reg == 3) {
				compare(c, a, src, false, false);
				if (reg == 3)
					fpop(c);
			} else {
				set_st(c, 0, arith(c, reg, a, src));
			}
			return;
		}
		case 0xd9:
			switch (reg) {
			case 0: fpush(c, load_mem(c, in, 0)); return;
			case 2: store_mem(c, in, 0, st(c, 0)); return;
			case 3: store_mem(c, in, 0, st(c, 0)); fpop(c); return;
			case 4: load_env(c, in); return;
			case 5: c->fpu_cw = rm_read(c, in, 2) | 0x40;
				if (c->fpu_sw & 0x3f & ~c->fpu_cw)
					c->fpu_sw |= SW_ES | SW_B;
				return;
			case 6: store_env(c, in); c->fpu_cw |= 0x3f; return;
			case 7: rm_write(c, in, 2, c->fpu_cw); return;
			}
			break;
		case 0xdb:
			switch (reg) {
			case 0: fpush(c, load_mem(c, in, 4)); return;
			case 1: store_trunc_pop(c, in, 4); return;
			case 2: store_mem(c, in, 4, st(c, 0)); return;
			case 3: store_mem(c, in, 4, st(c, 0)); fpop(c); return;
			case 5: fpush(c, load_mem(c, in, 2)); return;
			case 7: store_mem(c, in, 2, st(c, 0)); fpop(c); return;
			}
			break;
		case 0xdd:
			switch (reg) {
			case 0: fpush(c, load_mem(c, in, 1)); return;
			case 1: store_trunc_pop(c, in, 8); return;
			case 2: store_mem(c, in, 1, st(c, 0)); return;
			case 3: store_mem(c, in, 1, st(c, 0)); fpop(c); return;
			case 4: { /* FRSTOR */
				uint64_t ea = insn_ea(c, in), m = emu_size_mask(in->adsize);
				unsigned off = load_env(c, in);
				for (unsigned i = 0; i < 8; i++)
					c->st[phys(c, i)] = load_at(c, insn_seg(in),
								    (ea + off + i * 10) & m, 2);
				return;
			}
			case 6: { /* FNSAVE */
				uint64_t ea = insn_ea(c, in), m = emu_size_mask(in->adsize);
				unsigned off = store_env(c, in);
				for (unsigned i = 0; i < 8; i++)
					store_at(c, insn_seg(in), (ea + off + i * 10) & m, 2,
						 c->st[phys(c, i)]);
				fninit(c);
				return;
			}
			case 7: rm_write(c, in, 2, status_word(c)); return;
			}
			break;
		case 0xdf:
			switch (reg) {
			case 0: fpush(c, load_mem(c, in, 3)); return;
			case 1: store_trunc_pop(c, in, 2); return;
			case 2: store_mem(c, in, 3, st(c, 0)); return;
			case 3: store_mem(c, in, 3, st(c, 0)); fpop(c); return;
			case 4: fpush(c, load_bcd(c, in)); return;
			case 5: fpush(c, load_mem(c, in, 5)); return;
			case 6: store_bcd(c, in, st(c, 0)); fpop(c); return;
			case 7: store_mem(c, in, 5, st(c, 0)); fpop(c); return;
			}
			break;
		}
		emu_raise_ud(c); /* reserved forms */
	}

	switch (op) {
	case 0xd8:
		if (reg == 2 || reg == 3) {
			compare(c, st(c, 0), st(c, rm), false, false);
			if (reg == 3)
				fpop(c);
		} else {
			set_st(c, 0, arith(c, reg, st(c, 0), st(c, rm)));
		}
		return;
	case 0xdc: case 0xde: {
		/* Destination ST(i): SUB/SUBR and DIV/DIVR swap meaning. */
		static const unsigned swap[8] = { 0, 1, 2, 3, 5, 4, 7, 6 };
		if (op == 0xde && reg == 3 && rm == 1) { /* FCOMPP */
			compare(c, st(c, 0), st(c, 1), false, false);
			fpop(c);
			fpop(c);
			return;
		}
		if (reg == 2 || reg == 3)
			emu_raise_ud(c);
		set_st(c, rm, arith(c, swap[reg], st(c, rm), st(c, 0)));
		if (op == 0xde)
			fpop(c);
		return;
	}
	case 0xd9:
		switch (reg) {
		case 0: { f80 v = st(c, rm); fpush(c, v); return; }
		case 1: { f80 a = st(c, 0), b = st(c, rm); set_st(c, 0, b); set_st(c, rm, a); return; }
		case 2: if (rm == 0) return; break; /* FNOP */
		case 4: case 5: exec_d9_special(c, (reg - 4) * 8 + rm); return;
		case 6: case 7: exec_d9_special(c, 0x10 + (reg - 6) * 8 + rm); return;
		}
		break;
	case 0xda: case 0xdb:
		if (reg < 4) { /* FCMOVcc */
			if (fcmov_cond(c, op, reg))
				set_st(c, 0, st(c, rm));
			return;
		}
		if (op == 0xda && reg == 5 && rm == 1) { /* FUCOMPP */
			compare(c, st(c, 0), st(c, 1), true, false);
			fpop(c);
			fpop(c);
			return;
		}
		if (op == 0xdb && reg == 4) {
			if (rm == 2) { c->fpu_sw &= ~(0x3f | SW_SF | SW_ES | SW_B); return; } /* FNCLEX */
			if (rm == 3) { fninit(c); return; }
			if (rm == 0 || rm == 1 || rm == 4)
				return; /* FENI, FDISI, FSETPM: no-ops on later CPUs */
		}
		if (op == 0xdb && (reg == 5 || reg == 6)) { /* FUCOMI, FCOMI */
			compare(c, st(c, 0), st(c, rm), reg == 5, true);
			return;
		}
		break;
	case 0xdd:
		switch (reg) {
		case 0: c->fpu_tw &= ~(1u << phys(c, rm)); return;  /* FFREE */
		case 2: set_st(c, rm, st(c, 0)); return;             /* FST */
		case 3: set_st(c, rm, st(c, 0)); fpop(c); return;     /* FSTP */
		case 4: case 5:                                      /* FUCOM, FUCOMP */
			compare(c, st(c, 0), st(c, rm), true, false);
			if (reg == 5)
				fpop(c);
			return;
		}
		break;
	case 0xdf:
		if (reg == 4 && rm == 0) { /* FNSTSW AX */
			c->s.gpr[GPR_RAX] = (c->s.gpr[GPR_RAX] & ~0xffffULL) | status_word(c);
			return;
		}
		if (reg == 5 || reg == 6) { /* FUCOMIP, FCOMIP */
			compare(c, st(c, 0), st(c, rm), reg == 5, true);
			fpop(c);
			return;
		}
		break;
	}
	emu_raise_ud(c);
}

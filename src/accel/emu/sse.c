/*
 * SSE, SSE2 and SSE3 in the 0F map: the XMM registers, MXCSR, packed
 * and scalar single- and double-precision arithmetic, conversions,
 * comparisons, the 128-bit moves and shuffles, and FXSAVE/FXRSTOR (the
 * packed-integer arithmetic is simd_int.c's, MMX forms mmx.c's, the
 * 0F 38 / 0F 3A maps sse4.c's).
 *
 * Floating point runs on the host's SSE unit through C arithmetic, with
 * the guest's MXCSR rounding mode installed and the host's exception
 * flags folded into the guest's MXCSR (this file is built with
 * -frounding-math so the compiler keeps those side effects).  Not
 * modelled: denormals-are-zero and flush-to-zero, the denormal flag.
 */
#include <fenv.h>
#include <math.h>
#include <string.h>

#include "accel/emu/simd.h"

#define MXCSR_IE 0x01
#define MXCSR_ZE 0x04
#define MXCSR_OE 0x08
#define MXCSR_UE 0x10
#define MXCSR_PE 0x20
#define MXCSR_MASKS 0x1f80
#define MXCSR_VALID 0xffbf  /* DAZ (bit 6) is not supported */

/* ---- floating-point environment ---- */

static const int host_rounding[4] = { FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO };

void simd_fp_begin(struct emu_cpu *c)
{
	feclearexcept(FE_ALL_EXCEPT);
	fesetround(host_rounding[(c->mxcsr >> 13) & 3]);
}

/* Fold host exceptions into MXCSR; unmasked ones raise #XM (or #UD). */
void simd_fp_end(struct emu_cpu *c)
{
	int e = fetestexcept(FE_ALL_EXCEPT);
	uint32_t f = 0;

	fesetround(FE_TONEAREST);
	if (e & FE_INVALID) f |= MXCSR_IE;
	if (e & FE_DIVBYZERO) f |= MXCSR_ZE;
	if (e & FE_OVERFLOW) f |= MXCSR_OE;
	if (e & FE_UNDERFLOW) f |= MXCSR_UE;
	if (e & FE_INEXACT) f |= MXCSR_PE;
	c->mxcsr |= f;
	if (f & ~(c->mxcsr >> 7) & 0x3f) {
		if (c->s.cr4 & CR4_OSXMMEXCPT)
			emu_raise(c, EXC_XM, 0, false);
		emu_raise_ud(c);
	}
}

/* ---- operands ---- */

void simd_read128(struct emu_cpu *c, int seg, uint64_t ea, xmm_t *x, bool aligned)
{
	if (aligned && (ea & 15))
		emu_raise_gp(c, 0);
	x->q[0] = emu_read(c, seg, ea, 8);
	x->q[1] = emu_read(c, seg, (ea + 8) & (c->code_size == 8 ? ~0ULL : 0xffffffffULL), 8);
}

void simd_write128(struct emu_cpu *c, int seg, uint64_t ea, const xmm_t *x, bool aligned)
{
	if (aligned && (ea & 15))
		emu_raise_gp(c, 0);
	/* Check both halves before writing either. */
	emu_linear(c, seg, ea + 8, 8, true);
	emu_write(c, seg, ea, 8, x->q[0]);
	emu_write(c, seg, ea + 8, 8, x->q[1]);
}

/* The r/m operand as 128 bits (aligned: the legacy-SSE alignment rule). */
xmm_t simd_src128(struct emu_cpu *c, const struct insn *in, bool aligned)
{
	xmm_t x;

	if (!in->has_mem)
		return c->xmm[in->rm];
	simd_read128(c, insn_seg(in), insn_ea(c, in), &x, aligned);
	return x;
}

/* Scalar r/m operand: low size bytes of a register or a memory load. */
uint64_t simd_src_scalar(struct emu_cpu *c, const struct insn *in, unsigned size)
{
	if (!in->has_mem)
		return size == 4 ? c->xmm[in->rm].d[0] : c->xmm[in->rm].q[0];
	return emu_read(c, insn_seg(in), insn_ea(c, in), size);
}

static float as_f(uint32_t v) { float f; memcpy(&f, &v, 4); return f; }
static double as_d(uint64_t v) { double d; memcpy(&d, &v, 8); return d; }

/* ---- arithmetic ---- */

enum fop { F_ADD, F_MUL, F_SUB, F_MIN, F_DIV, F_MAX, F_SQRT };

static double fop_d(enum fop op, double a, double b)
{
	switch (op) {
	case F_ADD: return a + b;
	case F_MUL: return a * b;
	case F_SUB: return a - b;
	case F_DIV: return a / b;
	case F_MIN: if (isnan(a) || isnan(b)) { if (isnan(a) && !isnan(b)) feraiseexcept(0); return b; }
		    return a < b ? a : b;
	case F_MAX: if (isnan(a) || isnan(b)) return b;
		    return a > b ? a : b;
	default: return sqrt(b);
	}
}

static float fop_f(enum fop op, float a, float b)
{
	switch (op) {
	case F_ADD: return a + b;
	case F_MUL: return a * b;
	case F_SUB: return a - b;
	case F_DIV: return a / b;
	case F_MIN: if (isnan(a) || isnan(b)) return b;
		    return a < b ? a : b;
	case F_MAX: if (isnan(a) || isnan(b)) return b;
		    return a > b ? a : b;
	default: return sqrtf(b);
	}
}

/* MIN/MAX signal invalid for any NaN operand (like ordered compares). */
static void minmax_invalid(enum fop op, double a, double b)
{
	if ((op == F_MIN || op == F_MAX) && (isnan(a) || isnan(b)))
		feraiseexcept(FE_INVALID);
}

/* 0F 51, 58-5F: pfx 0 = ps, 1 = pd, 2 = ss, 3 = sd */
static void exec_arith(struct emu_cpu *c, const struct insn *in, enum fop op, int pfx)
{
	xmm_t *d = &c->xmm[in->reg], s;
	unsigned i;

	simd_fp_begin(c);
	switch (pfx) {
	case 0:
		s = simd_src128(c, in, true);
		for (i = 0; i < 4; i++) {
			minmax_invalid(op, d->f[i], s.f[i]);
			d->f[i] = fop_f(op, d->f[i], s.f[i]);
		}
		break;
	case 1:
		s = simd_src128(c, in, true);
		for (i = 0; i < 2; i++) {
			minmax_invalid(op, d->df[i], s.df[i]);
			d->df[i] = fop_d(op, d->df[i], s.df[i]);
		}
		break;
	case 2: {
		float b = as_f(simd_src_scalar(c, in, 4));
		minmax_invalid(op, d->f[0], b);
		d->f[0] = fop_f(op, d->f[0], b);
		break;
	}
	default: {
		double b = as_d(simd_src_scalar(c, in, 8));
		minmax_invalid(op, d->df[0], b);
		d->df[0] = fop_d(op, d->df[0], b);
		break;
	}
	}
	simd_fp_end(c);
}

/* CMPPS/PD/SS/SD predicate (imm8 0-7). */
static bool fcmp(unsigned pred, double a, double b)
{
	bool un = isnan(a) || isnan(b);

	if (un && (pred == 1 || pred == 2 || pred == 5 || pred == 6))
		feraiseexcept(FE_INVALID); /* signalling predicates */
	switch (pred & 7) {
	case 0: return !un && a == b;
	case 1: return !un && a < b;
	case 2: return !un && a <= b;
	case 3: return un;
	case 4: return un || a != b;
	case 5: return un || !(a < b);
	case 6: return un || !(a <= b);
	default: return !un;
	}
}

static void exec_cmp(struct emu_cpu *c, const struct insn *in, int pfx)
{
	xmm_t *d = &c->xmm[in->reg], s;
	unsigned pred = in->imm & 7, i;

	if ((in->imm & 0xff) > 7)
		emu_raise_ud(c);
	simd_fp_begin(c);
	switch (pfx) {
	case 0:
		s = simd_src128(c, in, true);
		for (i = 0; i < 4; i++)
			d->d[i] = fcmp(pred, d->f[i], s.f[i]) ? ~0u : 0;
		break;
	case 1:
		s = simd_src128(c, in, true);
		for (i = 0; i < 2; i++)
			d->q[i] = fcmp(pred, d->df[i], s.df[i]) ? ~0ULL : 0;
		break;
	case 2:
		d->d[0] = fcmp(pred, d->f[0], as_f(simd_src_scalar(c, in, 4))) ? ~0u : 0;
		break;
	default:
		d->q[0] = fcmp(pred, d->df[0], as_d(simd_src_scalar(c, in, 8))) ? ~0ULL : 0;
		break;
	}
	simd_fp_end(c);
}

/* UCOMIS*, COMIS*: ZF, PF, CF; OF, SF, AF cleared. */
static void exec_comi(struct emu_cpu *c, const struct insn *in, bool dbl, bool signal_qnan)
{
	double a, b;
	uint64_t f;

	simd_fp_begin(c);
	if (dbl) {
		a = c->xmm[in->reg].df[0];
		b = as_d(simd_src_scalar(c, in, 8));
	} else {
		a = c->xmm[in->reg].f[0];
		b = as_f(simd_src_scalar(c, in, 4));
	}
	if (isnan(a) || isnan(b)) {
		f = RFLAGS_ZF | RFLAGS_PF | RFLAGS_CF;
		if (signal_qnan)
			feraiseexcept(FE_INVALID);
		else if (issignaling(a) || issignaling(b))
			feraiseexcept(FE_INVALID);
	} else if (a > b) {
		f = 0;
	} else if (a < b) {
		f = RFLAGS_CF;
	} else {
		f = RFLAGS_ZF;
	}
	simd_fp_end(c);
	emu_flags_set(c, RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF, f);
}

/* Float to integer with the "integer indefinite" result on overflow/NaN. */
int64_t simd_cvt_to_int(double v, unsigned size, bool truncate, uint32_t mxcsr)
{
	double r, lim = size == 8 ? 9223372036854775808.0 : 2147483648.0;
	int64_t indef = size == 8 ? INT64_MIN : INT32_MIN;
	fexcept_t saved;

	if (isnan(v)) {
		feraiseexcept(FE_INVALID);
		return indef;
	}
	/* The library's rounding may leave flags of its own (an inlined
	 * trunc converts through an integer): only the ones below count. */
	fegetexceptflag(&saved, FE_ALL_EXCEPT);
	if (truncate) {
		r = trunc(v);
	} else {
		fesetround(host_rounding[(mxcsr >> 13) & 3]);
		r = nearbyint(v);
	}
	fesetexceptflag(&saved, FE_ALL_EXCEPT);
	if (r >= lim || r < -lim) {
		feraiseexcept(FE_INVALID);
		return indef;
	}
	if (r != v)
		feraiseexcept(FE_INEXACT);
	return (int64_t)r;
}

static void exec_cvt(struct emu_cpu *c, const struct insn *in, unsigned op, int pfx)
{
	xmm_t *d = &c->xmm[in->reg], s;
	unsigned size = (in->rex & 8) ? 8 : 4, i;
	int64_t iv;

	simd_fp_begin(c);
	switch (op) {
	case 0x2a: /* CVTSI2SS / CVTSI2SD */
		if (pfx < 2)
			emu_raise_ud(c); /* MMX forms */
		iv = emu_sign_extend(rm_read(c, in, size), size);
		if (pfx == 2)
			d->f[0] = (float)iv;
		else
			d->df[0] = (double)iv;
		break;
	case 0x2c: case 0x2d: { /* CVT(T)SS2SI / CVT(T)SD2SI */
		double v;
		if (pfx < 2)
			emu_raise_ud(c);
		v = pfx == 2 ? (double)as_f(simd_src_scalar(c, in, 4)) : as_d(simd_src_scalar(c, in, 8));
		iv = simd_cvt_to_int(v, size, op == 0x2c, c->mxcsr);
		simd_fp_end(c);
		reg_write(c, in, in->reg, size, iv);
		return;
	}
	case 0x5a:
		switch (pfx) {
		case 0: { /* CVTPS2PD */
			uint64_t lo = in->has_mem ? simd_src_scalar(c, in, 8) : c->xmm[in->rm].q[0];
			d->df[0] = as_f(lo);
			d->df[1] = as_f(lo >> 32);
			break;
		}
		case 1: /* CVTPD2PS */
			s = simd_src128(c, in, true);
			d->f[0] = (float)s.df[0];
			d->f[1] = (float)s.df[1];
			d->q[1] = 0;
			break;
		case 2: /* CVTSS2SD */
			d->df[0] = as_f(simd_src_scalar(c, in, 4));
			break;
		default: /* CVTSD2SS */
			d->f[0] = (float)as_d(simd_src_scalar(c, in, 8));
			break;
		}
		break;
	case 0x5b:
		s = simd_src128(c, in, true);
		if (pfx == 0) { /* CVTDQ2PS */
			for (i = 0; i < 4; i++)
				d->f[i] = (float)s.sd[i];
		} else if (pfx == 1 || pfx == 2) { /* CVTPS2DQ, CVTTPS2DQ */
			for (i = 0; i < 4; i++)
				d->sd[i] = simd_cvt_to_int(s.f[i], 4, pfx == 2, c->mxcsr);
		} else {
			emu_raise_ud(c);
		}
		break;
	case 0xe6:
		if (pfx == 2) { /* CVTDQ2PD */
			uint64_t lo = in->has_mem ? simd_src_scalar(c, in, 8) : c->xmm[in->rm].q[0];
			d->df[0] = (int32_t)lo;
			d->df[1] = (int32_t)(lo >> 32);
		} else if (pfx == 1 || pfx == 3) { /* CVTTPD2DQ, CVTPD2DQ */
			s = simd_src128(c, in, true);
			d->sd[0] = simd_cvt_to_int(s.df[0], 4, pfx == 1, c->mxcsr);
			d->sd[1] = simd_cvt_to_int(s.df[1], 4, pfx == 1, c->mxcsr);
			d->q[1] = 0;
		} else {
			emu_raise_ud(c);
		}
		break;
	}
	simd_fp_end(c);
}

/* ---- 128-bit integer operations (the rest are in simd_int.c) ---- */

static void byte_shift(xmm_t *d, unsigned n, bool left)
{
	xmm_t r = { 0 };

	if (n > 16)
		n = 16;
	for (unsigned i = 0; i < 16; i++) {
		if (left && i >= n)
			r.b[i] = d->b[i - n];
		else if (!left && i + n < 16)
			r.b[i] = d->b[i + n];
	}
	*d = r;
}

/* ---- FXSAVE / FXRSTOR ---- */

void emu_fpu_reset(struct emu_cpu *c)
{
	c->fpu_cw = 0x37f;
	c->fpu_sw = 0;
	c->fpu_tw = 0;
	c->fpu_top = 0;
	c->mxcsr = 0x1f80;
}

/*
 * The FXSAVE image (SDM vol. 1, 10.5.1, 64-bit form) of the x87 and SSE
 * state: what FXSAVE stores and what a saved VM state carries.  nxmm
 * registers are filled in (8 outside 64-bit mode, as FXSAVE does).
 */
void emu_fpu_get_image(struct emu_cpu *c, uint8_t img[512], unsigned nxmm)
{
	uint16_t sw = (c->fpu_sw & ~0x3800) | ((c->fpu_top & 7) << 11);
	uint32_t valid = MXCSR_VALID;
	unsigned i;

	memset(img, 0, 512);
	memcpy(img + 0, &c->fpu_cw, 2);
	memcpy(img + 2, &sw, 2);
	img[4] = c->fpu_tw;
	memcpy(img + 24, &c->mxcsr, 4);
	memcpy(img + 28, &valid, 4);
	/* 80-bit extended format of a long double (x86: the same bytes). */
	for (i = 0; i < 8; i++)
		memcpy(img + 32 + i * 16, &c->st[(c->fpu_top + i) & 7], 10);
	for (i = 0; i < nxmm; i++)
		memcpy(img + 160 + i * 16, c->xmm[i].b, 16);
}

/* The other way; the caller has checked MXCSR (img + 24). */
void emu_fpu_set_image(struct emu_cpu *c, const uint8_t img[512], unsigned nxmm)
{
	unsigned i;

	memcpy(&c->fpu_cw, img + 0, 2);
	memcpy(&c->fpu_sw, img + 2, 2);
	c->fpu_top = (c->fpu_sw >> 11) & 7;
	c->fpu_tw = img[4];
	memcpy(&c->mxcsr, img + 24, 4);
	c->mxcsr &= MXCSR_VALID;
	for (i = 0; i < 8; i++) {
		uint8_t raw[16] = { 0 };

		memcpy(raw, img + 32 + i * 16, 10);
		memcpy(&c->st[(c->fpu_top + i) & 7], raw, sizeof(long double));
	}
	for (i = 0; i < nxmm; i++)
		memcpy(c->xmm[i].b, img + 160 + i * 16, 16);
}

/* Bytes of the image FXSAVE writes and FXRSTOR reads: up to the last
 * XMM register of this mode. */
static unsigned fx_bytes(const struct emu_cpu *c)
{
	return 160 + (c->code_size == 8 ? 16u : 8u) * 16;
}

void emu_fxsave(struct emu_cpu *c, int seg, uint64_t ea)
{
	uint8_t img[512];
	unsigned i;

	if (ea & 15)
		emu_raise_gp(c, 0);
	emu_linear(c, seg, ea + 511, 1, true);
	emu_fpu_get_image(c, img, c->code_size == 8 ? 16 : 8);
	for (i = 0; i < fx_bytes(c); i += 8) {
		uint64_t v;

		memcpy(&v, img + i, 8);
		emu_write(c, seg, ea + i, 8, v);
	}
}

void emu_fxrstor(struct emu_cpu *c, int seg, uint64_t ea)
{
	uint8_t img[512] = { 0 };
	uint32_t mxcsr;
	unsigned i;

	if (ea & 15)
		emu_raise_gp(c, 0);
	mxcsr = emu_read(c, seg, ea + 24, 4);
	if (mxcsr & ~MXCSR_VALID)
		emu_raise_gp(c, 0);
	emu_read(c, seg, ea + 511, 1);
	for (i = 0; i < fx_bytes(c); i += 8) {
		uint64_t v = emu_read(c, seg, ea + i, 8);

		memcpy(img + i, &v, 8);
	}
	emu_fpu_set_image(c, img, c->code_size == 8 ? 16 : 8);
}

/* ---- dispatch ---- */

void simd_check_sse(struct emu_cpu *c)
{
	if ((c->s.cr0 & CR0_EM) || !(c->s.cr4 & CR4_OSFXSR))
		emu_raise_ud(c);
	if (c->s.cr0 & CR0_TS)
		emu_raise(c, EXC_NM, 0, false);
}

static bool is_sse_opcode(unsigned op)
{
	return (op >= 0x10 && op <= 0x17) || (op >= 0x28 && op <= 0x2f) ||
	       (op >= 0x50 && op <= 0x7f) || op == 0xc2 || (op >= 0xc4 && op <= 0xc6) ||
	       (op >= 0xd0 && op <= 0xff) || op == 0xae;
}

/* a + b or a - b with the SSE NaN rule spelled out (C may swap the
 * operands of +): a NaN operand, the first if both are, quieted. */
static float addsub_f(float a, float b, bool sub)
{
	if (!isnan(a) && !isnan(b))
		return sub ? a - b : a + b;
	if (issignaling(a) || issignaling(b))
		feraiseexcept(FE_INVALID);
	return simd_quiet_f(isnan(a) ? a : b);
}

static double addsub_d(double a, double b, bool sub)
{
	if (!isnan(a) && !isnan(b))
		return sub ? a - b : a + b;
	if (issignaling(a) || issignaling(b))
		feraiseexcept(FE_INVALID);
	return simd_quiet_d(isnan(a) ? a : b);
}

/* SSE3 in the 0F map: MOVDDUP, MOVSLDUP, MOVSHDUP, HADD/HSUB, ADDSUB,
 * LDDQU; false if op/pfx is none of them. */
static bool exec_sse3(struct emu_cpu *c, const struct insn *in, unsigned op, int pfx)
{
	xmm_t *d = &c->xmm[in->reg], s, r;
	bool pd = pfx == PFX_66;

	switch (op) {
	case 0x12: case 0x16:
		if (pfx != PFX_F2 && pfx != PFX_F3)
			return false;
		if (op == 0x16 && pfx == PFX_F2)
			return false;
		simd_check_sse(c);
		if (pfx == PFX_F2) { /* MOVDDUP: m64, no alignment */
			d->q[0] = d->q[1] = simd_src_scalar(c, in, 8);
			return true;
		}
		s = simd_src128(c, in, true); /* MOVSLDUP, MOVSHDUP */
		r.d[0] = r.d[1] = s.d[op == 0x16];
		r.d[2] = r.d[3] = s.d[2 + (op == 0x16)];
		*d = r;
		return true;
	case 0x7c: case 0x7d: case 0xd0:
		if (pfx != PFX_66 && pfx != PFX_F2)
			return false;
		simd_check_sse(c);
		s = simd_src128(c, in, true);
		simd_fp_begin(c);
		if (op == 0xd0 && pd) {        /* ADDSUBPD */
			r.df[0] = addsub_d(d->df[0], s.df[0], true);
			r.df[1] = addsub_d(d->df[1], s.df[1], false);
		} else if (op == 0xd0) {       /* ADDSUBPS */
			for (unsigned i = 0; i < 4; i++)
				r.f[i] = addsub_f(d->f[i], s.f[i], !(i & 1));
		} else if (pd) {               /* HADDPD, HSUBPD */
			for (unsigned i = 0; i < 2; i++) {
				const xmm_t *x = i ? &s : d;
				r.df[i] = op == 0x7c ? addsub_d(x->df[0], x->df[1], false)
						     : addsub_d(x->df[0], x->df[1], true);
			}
		} else {                       /* HADDPS, HSUBPS likewise */
			for (unsigned i = 0; i < 4; i++) {
				const xmm_t *x = i >= 2 ? &s : d;
				unsigned k = 2 * (i & 1);
				r.f[i] = op == 0x7c ? addsub_f(x->f[k], x->f[k + 1], false)
						    : addsub_f(x->f[k], x->f[k + 1], true);
			}
		}
		simd_fp_end(c);
		*d = r;
		return true;
	case 0xf0: /* LDDQU: memory only, no alignment */
		if (pfx != PFX_F2)
			return false;
		if (!in->has_mem)
			emu_raise_ud(c);
		simd_check_sse(c);
		*d = simd_src128(c, in, false);
		return true;
	}
	return false;
}

bool emu_exec_sse(struct emu_cpu *c, const struct insn *in)
{
	unsigned op = in->op & 0xff, i;
	int pfx;
	xmm_t *d, s, r;

	if ((in->op >> 8) == 2 || (in->op >> 8) == 3)
		return emu_exec_sse4(c, in);
	if ((in->op >> 8) != 1 || !is_sse_opcode(op))
		return false;
	if (op == 0xae) {
		unsigned g = in->reg & 7;
		if (!in->has_mem || g > 3 || (in->prefixes & (PFX_REP | PFX_REPNE)))
			return false; /* fences, CLFLUSH: exec_system.c */
		if ((c->s.cr0 & CR0_EM))
			emu_raise_ud(c);
		if (c->s.cr0 & CR0_TS)
			emu_raise(c, EXC_NM, 0, false);
		switch (g) {
		case 0: emu_fxsave(c, insn_seg(in), insn_ea(c, in)); return true;
		case 1: emu_fxrstor(c, insn_seg(in), insn_ea(c, in)); return true;
		case 2: { /* LDMXCSR */
			uint32_t v;
			if (!(c->s.cr4 & CR4_OSFXSR))
				emu_raise_ud(c);
			v = rm_read(c, in, 4);
			if (v & ~MXCSR_VALID)
				emu_raise_gp(c, 0);
			c->mxcsr = v;
			return true;
		}
		default: /* STMXCSR */
			if (!(c->s.cr4 & CR4_OSFXSR))
				emu_raise_ud(c);
			rm_write(c, in, 4, c->mxcsr);
			return true;
		}
	}
	if (emu_exec_mmx(c, in))
		return true;
	pfx = simd_prefix(in);
	if (exec_sse3(c, in, op, pfx))
		return true;
	simd_check_sse(c);
	d = &c->xmm[in->reg];

	switch (op) {
	case 0x10: case 0x11: { /* MOVUPS/MOVUPD/MOVSS/MOVSD */
		if (pfx >= 2) {
			unsigned sz = pfx == 2 ? 4 : 8;
			if (op == 0x10) {
				if (in->has_mem) {
					uint64_t v = simd_src_scalar(c, in, sz);
					d->q[0] = d->q[1] = 0;
					if (sz == 4) d->d[0] = v; else d->q[0] = v;
				} else if (sz == 4) {
					d->d[0] = c->xmm[in->rm].d[0];
				} else {
					d->q[0] = c->xmm[in->rm].q[0];
				}
			} else if (in->has_mem) {
				emu_write(c, insn_seg(in), insn_ea(c, in), sz, sz == 4 ? d->d[0] : d->q[0]);
			} else if (sz == 4) {
				c->xmm[in->rm].d[0] = d->d[0];
			} else {
				c->xmm[in->rm].q[0] = d->q[0];
			}
			return true;
		}
		goto move128_unaligned;
	}
	case 0x12: case 0x13: case 0x16: case 0x17: {
		bool high = op >= 0x16;
		if (pfx >= 2)
			emu_raise_ud(c); /* SSE3 forms */
		if (op == 0x12 || op == 0x16) {
			if (!in->has_mem) {
				if (pfx == 1)
					emu_raise_ud(c);
				/* MOVHLPS / MOVLHPS */
				if (high)
					d->q[1] = c->xmm[in->rm].q[0];
				else
					d->q[0] = c->xmm[in->rm].q[1];
			} else {
				d->q[high] = emu_read(c, insn_seg(in), insn_ea(c, in), 8);
			}
		} else {
			if (!in->has_mem)
				emu_raise_ud(c);
			emu_write(c, insn_seg(in), insn_ea(c, in), 8, d->q[high]);
		}
		return true;
	}
	case 0x14: case 0x15: /* UNPCKL/HPS, UNPCKL/HPD */
		if (pfx >= 2)
			emu_raise_ud(c);
		s = simd_src128(c, in, true);
		r = *d;
		if (pfx == 0) {
			unsigned base = op == 0x14 ? 0 : 2;
			r.d[0] = d->d[base]; r.d[1] = s.d[base];
			r.d[2] = d->d[base + 1]; r.d[3] = s.d[base + 1];
		} else {
			unsigned base = op == 0x14 ? 0 : 1;
			r.q[0] = d->q[base]; r.q[1] = s.q[base];
		}
		*d = r;
		return true;
	case 0x28: case 0x29: /* MOVAPS/MOVAPD */
		if (pfx >= 2)
			emu_raise_ud(c);
		if (op == 0x28)
			*d = simd_src128(c, in, true);
		else if (in->has_mem)
			simd_write128(c, insn_seg(in), insn_ea(c, in), d, true);
		else
			c->xmm[in->rm] = *d;
		return true;
	case 0x2b: /* MOVNTPS/PD */
		if (pfx >= 2 || !in->has_mem)
			emu_raise_ud(c);
		simd_write128(c, insn_seg(in), insn_ea(c, in), d, true);
		return true;
	case 0x2a: case 0x2c: case 0x2d: case 0x5a: case 0x5b: case 0xe6:
		exec_cvt(c, in, op, pfx);
		return true;
	case 0x2e: case 0x2f:
		if (pfx >= 2)
			emu_raise_ud(c);
		exec_comi(c, in, pfx == 1, op == 0x2f);
		return true;
	case 0x50: /* MOVMSKPS/PD */
		if (in->has_mem || pfx >= 2)
			emu_raise_ud(c);
		s = c->xmm[in->rm];
		r.q[0] = pfx == 0 ? ((s.d[0] >> 31) | ((s.d[1] >> 31) << 1) |
				     ((s.d[2] >> 31) << 2) | ((s.d[3] >> 31) << 3))
				  : ((s.q[0] >> 63) | ((s.q[1] >> 63) << 1));
		reg_write(c, in, in->reg, 4, r.q[0]);
		return true;
	case 0x51: exec_arith(c, in, F_SQRT, pfx); return true;
	case 0x52: case 0x53: /* RSQRTPS/SS, RCPPS/SS: single precision only */
		if (pfx == 1 || pfx == 3)
			emu_raise_ud(c);
		if (pfx == 0) {
			s = simd_src128(c, in, true);
			for (i = 0; i < 4; i++)
				d->f[i] = op == 0x52 ? 1.0f / sqrtf(s.f[i]) : 1.0f / s.f[i];
		} else {
			float v = as_f(simd_src_scalar(c, in, 4));
			d->f[0] = op == 0x52 ? 1.0f / sqrtf(v) : 1.0f / v;
		}
		return true;
	case 0x54: case 0x55: case 0x56: case 0x57: /* AND, ANDN, OR, XOR PS/PD */
		if (pfx >= 2)
			emu_raise_ud(c);
		s = simd_src128(c, in, true);
		for (i = 0; i < 2; i++)
			d->q[i] = op == 0x54 ? d->q[i] & s.q[i] : op == 0x55 ? ~d->q[i] & s.q[i] :
				  op == 0x56 ? d->q[i] | s.q[i] : d->q[i] ^ s.q[i];
		return true;
	case 0x58: exec_arith(c, in, F_ADD, pfx); return true;
	case 0x59: exec_arith(c, in, F_MUL, pfx); return true;
	case 0x5c: exec_arith(c, in, F_SUB, pfx); return true;
	case 0x5d: exec_arith(c, in, F_MIN, pfx); return true;
	case 0x5e: exec_arith(c, in, F_DIV, pfx); return true;
	case 0x5f: exec_arith(c, in, F_MAX, pfx); return true;
	case 0x6e: /* MOVD/MOVQ xmm, r/m */
		if (pfx != 1)
			emu_raise_ud(c);
		d->q[1] = 0;
		d->q[0] = (in->rex & 8) ? rm_read(c, in, 8) : rm_read(c, in, 4);
		return true;
	case 0x7e:
		if (pfx == 2) { /* MOVQ xmm, xmm/m64 */
			d->q[0] = simd_src_scalar(c, in, 8);
			d->q[1] = 0;
			return true;
		}
		if (pfx != 1)
			emu_raise_ud(c);
		/* MOVD/MOVQ r/m, xmm */
		if (in->rex & 8)
			rm_write(c, in, 8, d->q[0]);
		else
			rm_write(c, in, 4, d->d[0]);
		return true;
	case 0x6f: case 0x7f: /* MOVDQA (66), MOVDQU (F3) */
		if (pfx != 1 && pfx != 2)
			emu_raise_ud(c);
		if (op == 0x6f)
			*d = simd_src128(c, in, pfx == 1);
		else if (in->has_mem)
			simd_write128(c, insn_seg(in), insn_ea(c, in), d, pfx == 1);
		else
			c->xmm[in->rm] = *d;
		return true;
	case 0x70: /* PSHUFD, PSHUFHW, PSHUFLW */
		s = simd_src128(c, in, true);
		r = s;
		if (pfx == 1) {
			for (i = 0; i < 4; i++)
				r.d[i] = s.d[(in->imm >> (2 * i)) & 3];
		} else if (pfx == 2) {
			for (i = 0; i < 4; i++)
				r.w[4 + i] = s.w[4 + ((in->imm >> (2 * i)) & 3)];
		} else if (pfx == 3) {
			for (i = 0; i < 4; i++)
				r.w[i] = s.w[(in->imm >> (2 * i)) & 3];
		} else {
			emu_raise_ud(c);
		}
		*d = r;
		return true;
	case 0x71: case 0x72: case 0x73: { /* shifts by immediate */
		unsigned g = in->reg & 7, cnt = in->imm & 0xff;
		xmm_t *x;
		if (pfx != 1 || in->has_mem)
			emu_raise_ud(c);
		x = &c->xmm[in->rm];
		if (op == 0x73 && (g == 3 || g == 7)) {
			byte_shift(x, cnt, g == 7);
			return true;
		}
		if ((op == 0x73 && g == 4) || (g != 2 && g != 4 && g != 6))
			emu_raise_ud(c);
		simd_shift_elems(x, 16, op == 0x71 ? 2 : op == 0x72 ? 4 : 8, cnt,
			    g == 2 ? 0 : g == 4 ? 1 : 2);
		return true;
	}
	case 0xc2: exec_cmp(c, in, pfx); return true;
	case 0xc4: /* PINSRW */
		if (pfx != 1)
			emu_raise_ud(c);
		d->w[in->imm & 7] = in->has_mem ? rm_read(c, in, 2) : c->s.gpr[in->rm] & 0xffff;
		return true;
	case 0xc5: /* PEXTRW */
		if (pfx != 1 || in->has_mem)
			emu_raise_ud(c);
		reg_write(c, in, in->reg, 4, c->xmm[in->rm].w[in->imm & 7]);
		return true;
	case 0xc6: /* SHUFPS, SHUFPD */
		if (pfx >= 2)
			emu_raise_ud(c);
		s = simd_src128(c, in, true);
		r = *d;
		if (pfx == 0) {
			r.d[0] = d->d[in->imm & 3];
			r.d[1] = d->d[(in->imm >> 2) & 3];
			r.d[2] = s.d[(in->imm >> 4) & 3];
			r.d[3] = s.d[(in->imm >> 6) & 3];
		} else {
			r.q[0] = d->q[in->imm & 1];
			r.q[1] = s.q[(in->imm >> 1) & 1];
		}
		*d = r;
		return true;
	case 0xd6: /* MOVQ xmm/m64, xmm */
		if (pfx != 1)
			emu_raise_ud(c);
		if (in->has_mem) {
			emu_write(c, insn_seg(in), insn_ea(c, in), 8, d->q[0]);
		} else {
			c->xmm[in->rm].q[0] = d->q[0];
			c->xmm[in->rm].q[1] = 0;
		}
		return true;
	case 0xd7: /* PMOVMSKB */
		if (pfx != 1 || in->has_mem)
			emu_raise_ud(c);
		s = c->xmm[in->rm];
		r.q[0] = 0;
		for (i = 0; i < 16; i++)
			r.q[0] |= (uint64_t)(s.b[i] >> 7) << i;
		reg_write(c, in, in->reg, 4, r.q[0]);
		return true;
	case 0xe7: /* MOVNTDQ */
		if (pfx != 1 || !in->has_mem)
			emu_raise_ud(c);
		simd_write128(c, insn_seg(in), insn_ea(c, in), d, true);
		return true;
	case 0xf7: { /* MASKMOVDQU: byte stores to DS:rDI where the mask says */
		uint64_t di = c->s.gpr[GPR_RDI] & emu_size_mask(in->adsize);
		if (pfx != 1 || in->has_mem)
			emu_raise_ud(c);
		for (i = 0; i < 16; i++)
			if (c->xmm[in->rm].b[i] & 0x80)
				emu_write(c, insn_seg(in), di + i, 1, d->b[i]);
		return true;
	}
	}
	if (pfx != 1)
		emu_raise_ud(c);
	s = simd_src128(c, in, true);
	if (!simd_int_op(op, d, &s, 16))
		emu_raise_ud(c);
	return true;

move128_unaligned:
	if (op == 0x10)
		*d = simd_src128(c, in, false);
	else if (in->has_mem)
		simd_write128(c, insn_seg(in), insn_ea(c, in), d, false);
	else
		c->xmm[in->rm] = *d;
	return true;
}

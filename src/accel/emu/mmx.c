/*
 * MMX: the eight 64-bit MM registers and the MMX forms of the 0F map
 * (moves, PSHUFW, shifts by an immediate, PINSRW/PEXTRW, PMOVMSKB,
 * MOVNTQ, MASKMOVQ, the MM <-> XMM moves and conversions, EMMS), the
 * packed-integer arithmetic itself being simd_int.c's.
 *
 * MMn is the mantissa of the x87 physical register Rn, as on hardware:
 * writing it sets that register's sign and exponent bits to all ones, and
 * every MMX instruction but EMMS sets TOP to 0 and tags all registers
 * valid; EMMS tags them all empty.  So FXSAVE, FSAVE and x87 code that
 * follows MMX code see what a real CPU shows them.
 */
#include <string.h>

#include "accel/emu/simd.h"

#define FPU_SW_ES 0x0080

uint64_t mmx_get(const struct emu_cpu *c, unsigned i)
{
	uint64_t v;

	memcpy(&v, &c->st[i & 7], 8);
	return v;
}

void mmx_set(struct emu_cpu *c, unsigned i, uint64_t v)
{
	uint8_t *p = (uint8_t *)&c->st[i & 7];

	memcpy(p, &v, 8);
	p[8] = p[9] = 0xff;
}

/* The checks every x87/MMX instruction makes before it runs. */
static void mmx_check(struct emu_cpu *c)
{
	if (c->s.cr0 & CR0_EM)
		emu_raise_ud(c);
	if (c->s.cr0 & CR0_TS)
		emu_raise(c, EXC_NM, 0, false);
	if ((c->fpu_sw & FPU_SW_ES) && (c->s.cr0 & CR0_NE))
		emu_raise(c, EXC_MF, 0, false);
}

void mmx_enter(struct emu_cpu *c)
{
	mmx_check(c);
	c->fpu_top = 0;
	c->fpu_tw = 0xff;
}

uint64_t mmx_src(struct emu_cpu *c, const struct insn *in)
{
	if (!in->has_mem)
		return mmx_get(c, in->rm);
	return emu_read(c, insn_seg(in), insn_ea(c, in), 8);
}

/* 0F 2A/2C/2D without a prefix or with 66: conversions between packed
 * integers in an MM register and floats in an XMM register. */
static void exec_cvt_mmx(struct emu_cpu *c, const struct insn *in, unsigned op, bool pd)
{
	xmm_t *x = &c->xmm[in->reg];
	uint64_t v;
	int32_t r[2];

	simd_check_sse(c);
	if (op == 0x2a) {
		/* CVTPI2PS, CVTPI2PD: an m64 source leaves the x87 state alone. */
		if (!in->has_mem)
			mmx_enter(c);
		v = mmx_src(c, in);
		simd_fp_begin(c);
		if (pd) {
			x->df[0] = (int32_t)v;
			x->df[1] = (int32_t)(v >> 32);
		} else {
			x->f[0] = (float)(int32_t)v;
			x->f[1] = (float)(int32_t)(v >> 32);
		}
		simd_fp_end(c);
		return;
	}
	/* CVT(T)PS2PI mm, xmm/m64; CVT(T)PD2PI mm, xmm/m128 */
	mmx_enter(c);
	if (pd) {
		xmm_t s = simd_src128(c, in, true);
		simd_fp_begin(c);
		r[0] = simd_cvt_to_int(s.df[0], 4, op == 0x2c, c->mxcsr);
		r[1] = simd_cvt_to_int(s.df[1], 4, op == 0x2c, c->mxcsr);
	} else {
		float f[2];
		v = simd_src_scalar(c, in, 8);
		memcpy(f, &v, 8);
		simd_fp_begin(c);
		r[0] = simd_cvt_to_int(f[0], 4, op == 0x2c, c->mxcsr);
		r[1] = simd_cvt_to_int(f[1], 4, op == 0x2c, c->mxcsr);
	}
	simd_fp_end(c);
	mmx_set(c, in->reg, (uint32_t)r[0] | ((uint64_t)(uint32_t)r[1] << 32));
}

static bool is_mmx_form(unsigned op, enum simd_pfx pfx)
{
	switch (pfx) {
	case PFX_NONE:
		return (op >= 0x60 && op <= 0x7f) || op >= 0xd0 || op == 0xc4 || op == 0xc5 ||
		       op == 0x2a || op == 0x2c || op == 0x2d;
	case PFX_66:
		return op == 0x2a || op == 0x2c || op == 0x2d;
	default:
		return op == 0xd6; /* MOVQ2DQ, MOVDQ2Q */
	}
}

bool emu_exec_mmx(struct emu_cpu *c, const struct insn *in)
{
	unsigned op = in->op & 0xff, reg = in->reg & 7, i;
	enum simd_pfx pfx = simd_prefix(in);
	xmm_t d = { 0 }, s = { 0 };
	uint64_t v;

	if ((in->op >> 8) != 1 || !is_mmx_form(op, pfx))
		return false;
	if (op == 0x2a || op == 0x2c || op == 0x2d) {
		exec_cvt_mmx(c, in, op, pfx == PFX_66);
		return true;
	}
	if (op == 0x77) { /* EMMS */
		mmx_check(c);
		c->fpu_tw = 0;
		return true;
	}
	if (op == 0xd6) {
		if (in->has_mem || pfx == PFX_NONE)
			emu_raise_ud(c);
		simd_check_sse(c);
		mmx_enter(c);
		if (pfx == PFX_F3) { /* MOVQ2DQ xmm, mm */
			c->xmm[in->reg].q[0] = mmx_get(c, in->rm);
			c->xmm[in->reg].q[1] = 0;
		} else { /* MOVDQ2Q mm, xmm */
			mmx_set(c, reg, c->xmm[in->rm].q[0]);
		}
		return true;
	}
	mmx_enter(c);

	switch (op) {
	case 0x6e: /* MOVD/MOVQ mm, r/m */
		mmx_set(c, reg, rm_read(c, in, (in->rex & 8) ? 8 : 4));
		return true;
	case 0x7e: /* MOVD/MOVQ r/m, mm */
		rm_write(c, in, (in->rex & 8) ? 8 : 4, mmx_get(c, reg));
		return true;
	case 0x6f: /* MOVQ mm, mm/m64 */
		mmx_set(c, reg, mmx_src(c, in));
		return true;
	case 0x7f: /* MOVQ mm/m64, mm */
	case 0xe7: /* MOVNTQ m64, mm */
		if (!in->has_mem) {
			if (op == 0xe7)
				emu_raise_ud(c);
			mmx_set(c, in->rm, mmx_get(c, reg));
		} else {
			emu_write(c, insn_seg(in), insn_ea(c, in), 8, mmx_get(c, reg));
		}
		return true;
	case 0x70: /* PSHUFW */
		s.q[0] = mmx_src(c, in);
		for (i = 0; i < 4; i++)
			d.w[i] = s.w[(in->imm >> (2 * i)) & 3];
		mmx_set(c, reg, d.q[0]);
		return true;
	case 0x71: case 0x72: case 0x73: { /* shifts by an immediate */
		unsigned g = in->reg & 7;
		if (in->has_mem || (g != 2 && g != 4 && g != 6) || (op == 0x73 && g == 4))
			emu_raise_ud(c);
		d.q[0] = mmx_get(c, in->rm);
		simd_shift_elems(&d, 8, op == 0x71 ? 2 : op == 0x72 ? 4 : 8, in->imm & 0xff,
				 g == 2 ? 0 : g == 4 ? 1 : 2);
		mmx_set(c, in->rm, d.q[0]);
		return true;
	}
	case 0xc4: /* PINSRW mm, r32/m16, imm8 */
		d.q[0] = mmx_get(c, reg);
		d.w[in->imm & 3] = in->has_mem ? rm_read(c, in, 2) : c->s.gpr[in->rm] & 0xffff;
		mmx_set(c, reg, d.q[0]);
		return true;
	case 0xc5: /* PEXTRW r32, mm, imm8 */
		if (in->has_mem)
			emu_raise_ud(c);
		s.q[0] = mmx_get(c, in->rm);
		reg_write(c, in, in->reg, 4, s.w[in->imm & 3]);
		return true;
	case 0xd7: /* PMOVMSKB r32, mm */
		if (in->has_mem)
			emu_raise_ud(c);
		s.q[0] = mmx_get(c, in->rm);
		for (i = 0, v = 0; i < 8; i++)
			v |= (uint64_t)(s.b[i] >> 7) << i;
		reg_write(c, in, in->reg, 4, v);
		return true;
	case 0xf7: { /* MASKMOVQ: byte stores to DS:rDI where the mask says */
		uint64_t di = c->s.gpr[GPR_RDI] & emu_size_mask(in->adsize);
		if (in->has_mem)
			emu_raise_ud(c);
		d.q[0] = mmx_get(c, reg);
		s.q[0] = mmx_get(c, in->rm);
		for (i = 0; i < 8; i++)
			if (s.b[i] & 0x80)
				emu_write(c, insn_seg(in), (di + i) & emu_size_mask(in->adsize), 1,
					  d.b[i]);
		return true;
	}
	}
	s.q[0] = mmx_src(c, in);
	d.q[0] = mmx_get(c, reg);
	if (!simd_int_op(op, &d, &s, 8))
		emu_raise_ud(c);
	mmx_set(c, reg, d.q[0]);
	return true;
}

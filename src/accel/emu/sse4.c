/*
 * The 0F 38 and 0F 3A opcode maps: SSSE3 (PSHUFB, horizontal add and
 * subtract, PMADDUBSW, PMULHRSW, PSIGN, PABS, PALIGNR, each on MMX and
 * XMM operands), SSE4.1 (blends, PTEST, PMOVSX/ZX, the remaining
 * min/max/multiply/compare forms, ROUND*, extracts and inserts, DPPS/DPPD,
 * MPSADBW, PHMINPOSUW, MOVNTDQA) and SSE4.2 (PCMPGTQ, CRC32, the string
 * comparisons in sse_string.c).
 */
#include <fenv.h>
#include <math.h>
#include <string.h>

#include "accel/emu/simd.h"

/* ---- SSSE3: the same operations over 8 (MMX) or 16 (XMM) bytes ---- */

static int sign_of(int64_t v) { return v < 0 ? -1 : v > 0; }

static bool ssse3_op(unsigned op, xmm_t *d, const xmm_t *s, unsigned width)
{
	const unsigned nb = width, nw = width / 2, nd = width / 4;
	xmm_t r = *d;
	unsigned i;

	switch (op) {
	case 0x00: /* PSHUFB */
		for (i = 0; i < nb; i++)
			r.b[i] = (s->b[i] & 0x80) ? 0 : d->b[s->b[i] & (nb - 1)];
		break;
	case 0x01: case 0x03: case 0x05: case 0x07: /* PHADDW, PHADDSW, PHSUBW, PHSUBSW */
		for (i = 0; i < nw; i++) {
			const xmm_t *x = i < nw / 2 ? d : s;
			unsigned k = 2 * (i % (nw / 2));
			int32_t v = op <= 0x03 ? x->sw[k] + x->sw[k + 1] : x->sw[k] - x->sw[k + 1];
			r.w[i] = (op & 2) ? (uint16_t)simd_sat16(v) : (uint16_t)v;
		}
		break;
	case 0x02: case 0x06: /* PHADDD, PHSUBD */
		for (i = 0; i < nd; i++) {
			const xmm_t *x = i < nd / 2 ? d : s;
			unsigned k = 2 * (i % (nd / 2));
			r.d[i] = op == 0x02 ? x->d[k] + x->d[k + 1] : x->d[k] - x->d[k + 1];
		}
		break;
	case 0x04: /* PMADDUBSW: unsigned bytes of d times signed bytes of s */
		for (i = 0; i < nw; i++)
			r.sw[i] = simd_sat16(d->b[2 * i] * s->sb[2 * i] +
					     d->b[2 * i + 1] * s->sb[2 * i + 1]);
		break;
	case 0x08: for (i = 0; i < nb; i++) r.sb[i] = sign_of(s->sb[i]) * d->sb[i]; break;
	case 0x09: for (i = 0; i < nw; i++) r.sw[i] = sign_of(s->sw[i]) * d->sw[i]; break;
	case 0x0a: for (i = 0; i < nd; i++) r.d[i] = (uint32_t)((int64_t)sign_of(s->sd[i]) * d->sd[i]); break;
	case 0x0b: /* PMULHRSW */
		for (i = 0; i < nw; i++)
			r.w[i] = (uint16_t)(((((int32_t)d->sw[i] * s->sw[i]) >> 14) + 1) >> 1);
		break;
	case 0x1c: for (i = 0; i < nb; i++) r.b[i] = s->sb[i] < 0 ? -s->sb[i] : s->sb[i]; break;
	case 0x1d: for (i = 0; i < nw; i++) r.w[i] = s->sw[i] < 0 ? -s->sw[i] : s->sw[i]; break;
	case 0x1e: for (i = 0; i < nd; i++) r.d[i] = s->sd[i] < 0 ? -(uint32_t)s->sd[i] : (uint32_t)s->sd[i]; break;
	default:
		return false;
	}
	*d = r;
	return true;
}

/* PALIGNR: the concatenation d:s shifted right by imm bytes. */
static void palignr(xmm_t *d, const xmm_t *s, unsigned width, unsigned imm)
{
	uint8_t t[32];
	xmm_t r = *d;

	memcpy(t, s->b, width);
	memcpy(t + width, d->b, width);
	for (unsigned i = 0; i < width; i++)
		r.b[i] = i + imm < 2 * width ? t[i + imm] : 0;
	*d = r;
}

static bool is_ssse3(unsigned map, unsigned op)
{
	if (map == 3)
		return op == 0x0f;
	return op <= 0x0b || (op >= 0x1c && op <= 0x1e);
}

static void exec_ssse3(struct emu_cpu *c, const struct insn *in, unsigned map, unsigned op,
		       enum simd_pfx pfx)
{
	xmm_t d = { 0 }, s = { 0 };

	if (pfx == PFX_NONE) {
		mmx_enter(c);
		d.q[0] = mmx_get(c, in->reg);
		s.q[0] = mmx_src(c, in);
		if (map == 3)
			palignr(&d, &s, 8, in->imm & 0xff);
		else
			ssse3_op(op, &d, &s, 8);
		mmx_set(c, in->reg, d.q[0]);
		return;
	}
	if (pfx != PFX_66)
		emu_raise_ud(c);
	simd_check_sse(c);
	s = simd_src128(c, in, true);
	if (map == 3)
		palignr(&c->xmm[in->reg], &s, 16, in->imm & 0xff);
	else
		ssse3_op(op, &c->xmm[in->reg], &s, 16);
}

/* ---- SSE4.1 / SSE4.2 in the 0F 38 map ---- */

/* PMOVSX/PMOVZX: the source's size in bytes and element sizes. */
static void pmov_extend(struct emu_cpu *c, const struct insn *in, unsigned op)
{
	static const uint8_t from[6] = { 1, 1, 1, 2, 2, 4 }, to[6] = { 2, 4, 8, 4, 8, 8 };
	unsigned k = op & 0xf, n = 16 / to[k], i;
	bool sx = op < 0x30;
	xmm_t s = { 0 }, r;

	if (!in->has_mem)
		s = c->xmm[in->rm];
	else
		s.q[0] = emu_read(c, insn_seg(in), insn_ea(c, in), n * from[k]);
	for (i = 0; i < n; i++) {
		int64_t v;
		switch (from[k]) {
		case 1: v = sx ? s.sb[i] : s.b[i]; break;
		case 2: v = sx ? s.sw[i] : s.w[i]; break;
		default: v = sx ? s.sd[i] : (int64_t)s.d[i]; break;
		}
		switch (to[k]) {
		case 2: r.w[i] = v; break;
		case 4: r.d[i] = v; break;
		default: r.q[i] = v; break;
		}
	}
	c->xmm[in->reg] = r;
}

static void exec_map38(struct emu_cpu *c, const struct insn *in, unsigned op)
{
	xmm_t *d = &c->xmm[in->reg], s, r;
	unsigned i;

	if ((op >= 0x20 && op <= 0x25) || (op >= 0x30 && op <= 0x35)) {
		pmov_extend(c, in, op);
		return;
	}
	if (op == 0x2a) { /* MOVNTDQA */
		if (!in->has_mem)
			emu_raise_ud(c);
		*d = simd_src128(c, in, true);
		return;
	}
	s = simd_src128(c, in, true);
	r = *d;
	switch (op) {
	case 0x10: /* PBLENDVB, BLENDVPS, BLENDVPD: by the sign bits of XMM0 */
		for (i = 0; i < 16; i++)
			if (c->xmm[0].b[i] & 0x80)
				r.b[i] = s.b[i];
		break;
	case 0x14:
		for (i = 0; i < 4; i++)
			if (c->xmm[0].d[i] >> 31)
				r.d[i] = s.d[i];
		break;
	case 0x15:
		for (i = 0; i < 2; i++)
			if (c->xmm[0].q[i] >> 63)
				r.q[i] = s.q[i];
		break;
	case 0x17: { /* PTEST */
		bool zf = !((d->q[0] & s.q[0]) | (d->q[1] & s.q[1]));
		bool cf = !((~d->q[0] & s.q[0]) | (~d->q[1] & s.q[1]));
		emu_flags_set(c, RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF,
			      (zf ? RFLAGS_ZF : 0) | (cf ? RFLAGS_CF : 0));
		return;
	}
	case 0x28: for (i = 0; i < 2; i++) r.sq[i] = (int64_t)d->sd[2 * i] * s.sd[2 * i]; break;
	case 0x29: for (i = 0; i < 2; i++) r.q[i] = d->q[i] == s.q[i] ? ~0ULL : 0; break;
	case 0x2b: for (i = 0; i < 4; i++) { r.w[i] = simd_satu16(d->sd[i]); r.w[i + 4] = simd_satu16(s.sd[i]); } break;
	case 0x37: for (i = 0; i < 2; i++) r.q[i] = d->sq[i] > s.sq[i] ? ~0ULL : 0; break;
	case 0x38: for (i = 0; i < 16; i++) r.sb[i] = d->sb[i] < s.sb[i] ? d->sb[i] : s.sb[i]; break;
	case 0x39: for (i = 0; i < 4; i++) r.sd[i] = d->sd[i] < s.sd[i] ? d->sd[i] : s.sd[i]; break;
	case 0x3a: for (i = 0; i < 8; i++) r.w[i] = d->w[i] < s.w[i] ? d->w[i] : s.w[i]; break;
	case 0x3b: for (i = 0; i < 4; i++) r.d[i] = d->d[i] < s.d[i] ? d->d[i] : s.d[i]; break;
	case 0x3c: for (i = 0; i < 16; i++) r.sb[i] = d->sb[i] > s.sb[i] ? d->sb[i] : s.sb[i]; break;
	case 0x3d: for (i = 0; i < 4; i++) r.sd[i] = d->sd[i] > s.sd[i] ? d->sd[i] : s.sd[i]; break;
	case 0x3e: for (i = 0; i < 8; i++) r.w[i] = d->w[i] > s.w[i] ? d->w[i] : s.w[i]; break;
	case 0x3f: for (i = 0; i < 4; i++) r.d[i] = d->d[i] > s.d[i] ? d->d[i] : s.d[i]; break;
	case 0x40: for (i = 0; i < 4; i++) r.d[i] = d->d[i] * s.d[i]; break;
	case 0x41: { /* PHMINPOSUW */
		unsigned best = 0;
		for (i = 1; i < 8; i++)
			if (s.w[i] < s.w[best])
				best = i;
		memset(&r, 0, sizeof(r));
		r.w[0] = s.w[best];
		r.w[1] = best;
		break;
	}
	default:
		emu_raise_ud(c);
	}
	*d = r;
}

/* CRC32 (F2 0F 38 F0/F1): CRC-32C of the source's bytes, no inversion. */
static void exec_crc32(struct emu_cpu *c, const struct insn *in, unsigned op)
{
	unsigned size = op == 0xf0 ? 1 : in->opsize, i, b;
	uint64_t src = rm_read(c, in, size);
	uint32_t crc = c->s.gpr[in->reg];

	for (i = 0; i < size; i++) {
		crc ^= (src >> (8 * i)) & 0xff;
		for (b = 0; b < 8; b++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0x82f63b78u : 0);
	}
	reg_write(c, in, in->reg, (in->rex & 8) ? 8 : 4, crc);
}

/* ---- SSE4.1 / SSE4.2 in the 0F 3A map ---- */

static const int host_rounding[4] = { FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO };

/* Round to an integral value in the current rounding mode, with SSE's
 * flags and NaNs (not the library's); a zero result keeps the operand's
 * sign. */
static float round_f(float v, bool quiet)
{
	fexcept_t saved;
	float r;

	if (isnan(v)) {
		if (issignaling(v))
			feraiseexcept(FE_INVALID);
		return simd_quiet_f(v);
	}
	fegetexceptflag(&saved, FE_ALL_EXCEPT);
	r = nearbyintf(v);
	fesetexceptflag(&saved, FE_ALL_EXCEPT);
	if (r != v && !quiet)
		feraiseexcept(FE_INEXACT);
	return r == 0 ? copysignf(0.0f, v) : r;
}

static double round_d(double v, bool quiet)
{
	fexcept_t saved;
	double r;

	if (isnan(v)) {
		if (issignaling(v))
			feraiseexcept(FE_INVALID);
		return simd_quiet_d(v);
	}
	fegetexceptflag(&saved, FE_ALL_EXCEPT);
	r = nearbyint(v);
	fesetexceptflag(&saved, FE_ALL_EXCEPT);
	if (r != v && !quiet)
		feraiseexcept(FE_INEXACT);
	return r == 0 ? copysign(0.0, v) : r;
}

/* ROUNDPS/PD/SS/SD: imm bit 2 takes MXCSR.RC instead of bits 1:0; bit 3
 * suppresses the precision exception. */
static void exec_round(struct emu_cpu *c, const struct insn *in, unsigned op)
{
	unsigned imm = in->imm & 0xff, mode = (imm & 4) ? (c->mxcsr >> 13) & 3 : imm & 3, i;
	bool quiet = imm & 8;
	xmm_t *d = &c->xmm[in->reg], s = { 0 }, r = *d;

	if (op <= 0x09)
		s = simd_src128(c, in, true);
	else if (op == 0x0a)
		s.d[0] = simd_src_scalar(c, in, 4);
	else
		s.q[0] = simd_src_scalar(c, in, 8);
	simd_fp_begin(c);
	fesetround(host_rounding[mode]);
	switch (op) {
	case 0x08:
		for (i = 0; i < 4; i++)
			r.f[i] = round_f(s.f[i], quiet);
		break;
	case 0x09:
		for (i = 0; i < 2; i++)
			r.df[i] = round_d(s.df[i], quiet);
		break;
	case 0x0a:
		r.f[0] = round_f(s.f[0], quiet);
		break;
	default:
		r.df[0] = round_d(s.df[0], quiet);
		break;
	}
	simd_fp_end(c);
	*d = r;
}

/* DPPS/DPPD: products of the elements imm[7:4] selects, summed in pairs,
 * stored where imm[3:0] says (+0.0 elsewhere). */
static void exec_dot(struct emu_cpu *c, const struct insn *in, bool pd)
{
	unsigned imm = in->imm & 0xff, i;
	xmm_t *d = &c->xmm[in->reg], s = simd_src128(c, in, true), r;

	simd_fp_begin(c);
	if (pd) {
		double t[2], sum;
		for (i = 0; i < 2; i++)
			t[i] = (imm & (0x10 << i)) ? d->df[i] * s.df[i] : 0.0;
		sum = t[0] + t[1];
		for (i = 0; i < 2; i++)
			r.df[i] = (imm & (1u << i)) ? sum : 0.0;
	} else {
		float t[4], sum;
		for (i = 0; i < 4; i++)
			t[i] = (imm & (0x10 << i)) ? d->f[i] * s.f[i] : 0.0f;
		sum = (t[0] + t[1]) + (t[2] + t[3]);
		for (i = 0; i < 4; i++)
			r.f[i] = (imm & (1u << i)) ? sum : 0.0f;
	}
	simd_fp_end(c);
	*d = r;
}

/* The source of an extract to r/m: a register is written zero-extended. */
static void put_rm(struct emu_cpu *c, const struct insn *in, unsigned size, uint64_t v)
{
	if (in->has_mem)
		emu_write(c, insn_seg(in), insn_ea(c, in), size, v);
	else
		reg_write(c, in, in->rm, size == 8 ? 8 : 4, v);
}

static void exec_map3a(struct emu_cpu *c, const struct insn *in, unsigned op)
{
	unsigned imm = in->imm & 0xff, i;
	xmm_t *d = &c->xmm[in->reg], s, r;
	bool w = in->rex & 8;

	switch (op) {
	case 0x08: case 0x09: case 0x0a: case 0x0b:
		exec_round(c, in, op);
		return;
	case 0x14: put_rm(c, in, 1, d->b[imm & 15]); return;        /* PEXTRB */
	case 0x15: put_rm(c, in, 2, d->w[imm & 7]); return;         /* PEXTRW */
	case 0x16: put_rm(c, in, w ? 8 : 4, w ? d->q[imm & 1] : d->d[imm & 3]); return;
	case 0x17: put_rm(c, in, 4, d->d[imm & 3]); return;         /* EXTRACTPS */
	case 0x20: /* PINSRB */
		d->b[imm & 15] = in->has_mem ? rm_read(c, in, 1) : c->s.gpr[in->rm] & 0xff;
		return;
	case 0x21: { /* INSERTPS */
		uint32_t v = in->has_mem ? emu_read(c, insn_seg(in), insn_ea(c, in), 4)
					 : c->xmm[in->rm].d[(imm >> 6) & 3];
		d->d[(imm >> 4) & 3] = v;
		for (i = 0; i < 4; i++)
			if (imm & (1u << i))
				d->d[i] = 0;
		return;
	}
	case 0x22: /* PINSRD, PINSRQ */
		if (w)
			d->q[imm & 1] = rm_read(c, in, 8);
		else
			d->d[imm & 3] = rm_read(c, in, 4);
		return;
	case 0x40: case 0x41:
		exec_dot(c, in, op == 0x41);
		return;
	case 0x60: case 0x61: case 0x62: case 0x63:
		s = simd_src128(c, in, false);
		sse_pcmpstr(c, in, d, &s);
		return;
	}
	s = simd_src128(c, in, true);
	r = *d;
	switch (op) {
	case 0x0c: for (i = 0; i < 4; i++) if (imm & (1u << i)) r.d[i] = s.d[i]; break;
	case 0x0d: for (i = 0; i < 2; i++) if (imm & (1u << i)) r.q[i] = s.q[i]; break;
	case 0x0e: for (i = 0; i < 8; i++) if (imm & (1u << i)) r.w[i] = s.w[i]; break;
	case 0x42: { /* MPSADBW */
		unsigned so = (imm & 3) * 4, dof = ((imm >> 2) & 1) * 4;
		for (i = 0; i < 8; i++) {
			unsigned sum = 0;
			for (unsigned j = 0; j < 4; j++) {
				int diff = d->b[dof + i + j] - s.b[so + j];
				sum += diff < 0 ? -diff : diff;
			}
			r.w[i] = sum;
		}
		break;
	}
	default:
		emu_raise_ud(c);
	}
	*d = r;
}

/* The SSE4.1/4.2 opcodes (66-prefixed) of each map. */
static bool is_sse4(unsigned map, unsigned op)
{
	if (map == 2)
		return op == 0x10 || op == 0x14 || op == 0x15 || op == 0x17 ||
		       (op >= 0x20 && op <= 0x25) || (op >= 0x28 && op <= 0x2b) ||
		       (op >= 0x30 && op <= 0x35) || (op >= 0x37 && op <= 0x41);
	return (op >= 0x08 && op <= 0x0e) || (op >= 0x14 && op <= 0x17) ||
	       (op >= 0x20 && op <= 0x22) || (op >= 0x40 && op <= 0x42) ||
	       (op >= 0x60 && op <= 0x63);
}

bool emu_exec_sse4(struct emu_cpu *c, const struct insn *in)
{
	unsigned map = in->op >> 8, op = in->op & 0xff;
	enum simd_pfx pfx = simd_prefix(in);

	if (map == 2 && (op == 0xf0 || op == 0xf1)) {
		if (pfx != PFX_F2)
			return false; /* MOVBE: not offered */
		exec_crc32(c, in, op);
		return true;
	}
	if (is_ssse3(map, op)) {
		exec_ssse3(c, in, map, op, pfx);
		return true;
	}
	if (pfx != PFX_66 || !is_sse4(map, op))
		emu_raise_ud(c);
	simd_check_sse(c);
	if (map == 2)
		exec_map38(c, in, op);
	else
		exec_map3a(c, in, op);
	return true;
}

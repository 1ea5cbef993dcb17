/*
 * SSE4.2's string comparisons PCMPESTRI, PCMPESTRM, PCMPISTRI and
 * PCMPISTRM (66 0F 3A 60-63), as the SDM describes them: the immediate
 * picks the element format (unsigned/signed bytes or words), the
 * aggregation (equal any, ranges, equal each, equal ordered), the
 * polarity and the output (an index in ECX or a mask in XMM0); lengths
 * come from EAX/EDX (explicit) or the first zero element (implicit).
 * glibc's strcmp, strlen, strchr and friends use these.
 */
#include "accel/emu/simd.h"

enum agg { AGG_ANY, AGG_RANGES, AGG_EACH, AGG_ORDERED };

struct strcmp_ctx {
	unsigned n;          /* elements: 16 bytes or 8 words */
	bool is_signed;
	enum agg agg;
	unsigned la, lb;     /* valid elements of the first and second operand */
	const xmm_t *a, *b;  /* a = XMM register operand, b = XMM/m128 */
};

static int elem(const struct strcmp_ctx *x, const xmm_t *v, unsigned i)
{
	if (x->n == 8)
		return x->is_signed ? v->sw[i] : v->w[i];
	return x->is_signed ? v->sb[i] : v->b[i];
}

/* The comparison of a[i] with b[j], with the SDM's rules for elements
 * past either operand's end. */
static bool bool_res(const struct strcmp_ctx *x, unsigned i, unsigned j)
{
	bool va = i < x->la, vb = j < x->lb;
	int ea, eb;

	if (!va && !vb)
		return x->agg == AGG_EACH || x->agg == AGG_ORDERED;
	if (!va)
		return x->agg == AGG_ORDERED;
	if (!vb)
		return false;
	ea = elem(x, x->a, i);
	eb = elem(x, x->b, j);
	if (x->agg == AGG_RANGES)
		return (i & 1) ? eb <= ea : eb >= ea;
	return ea == eb;
}

static unsigned int_res1(const struct strcmp_ctx *x)
{
	unsigned res = 0, i, j;

	for (j = 0; j < x->n; j++) {
		bool r = false;
		switch (x->agg) {
		case AGG_ANY:
			/* bool_res is false wherever an element is past
			 * its operand's end: only the valid pairs count
			 * (glibc's strchr and strcspn run this one) */
			for (i = 0; j < x->lb && i < x->la && !r; i++)
				r = elem(x, x->a, i) == elem(x, x->b, j);
			break;
		case AGG_RANGES:
			for (i = 0; i + 1 < x->n && !r; i += 2)
				r = bool_res(x, i, j) && bool_res(x, i + 1, j);
			break;
		case AGG_EACH:
			r = bool_res(x, j, j);
			break;
		case AGG_ORDERED:
			r = true;
			for (i = 0; i < x->n - j && r; i++)
				r = bool_res(x, i, j + i);
			break;
		}
		res |= (unsigned)r << j;
	}
	return res;
}

/* An explicit length: |value|, at most n. */
static unsigned explicit_len(int64_t v, unsigned n)
{
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	return u > n ? n : (unsigned)u;
}

static unsigned implicit_len(const struct strcmp_ctx *x, const xmm_t *v)
{
	unsigned i;

	for (i = 0; i < x->n && elem(x, v, i) != 0; i++)
		;
	return i;
}

void sse_pcmpstr(struct emu_cpu *c, const struct insn *in, const xmm_t *d, const xmm_t *s)
{
	unsigned op = in->op & 0xff, imm = in->imm & 0xff, res, mask, i;
	struct strcmp_ctx x = {
		.n = (imm & 1) ? 8 : 16, .is_signed = imm & 2, .agg = (imm >> 2) & 3,
		.a = d, .b = s,
	};
	bool index_out = op & 1;

	if (op <= 0x61) { /* explicit lengths in rAX and rDX */
		bool w = in->rex & 8;
		int64_t ra = w ? (int64_t)c->s.gpr[GPR_RAX] : (int32_t)c->s.gpr[GPR_RAX];
		int64_t rd = w ? (int64_t)c->s.gpr[GPR_RDX] : (int32_t)c->s.gpr[GPR_RDX];
		x.la = explicit_len(ra, x.n);
		x.lb = explicit_len(rd, x.n);
	} else {
		x.la = implicit_len(&x, d);
		x.lb = implicit_len(&x, s);
	}
	mask = (1u << x.n) - 1;
	res = int_res1(&x);
	switch ((imm >> 4) & 3) {
	case 1: res = ~res & mask; break;                         /* negative */
	case 3: res ^= ((1u << x.lb) - 1) & mask; break;          /* masked negative */
	}

	if (index_out) {
		unsigned idx = x.n;
		if (res)
			idx = (imm & 0x40) ? 31 - __builtin_clz(res) : __builtin_ctz(res);
		reg_write(c, in, GPR_RCX, 4, idx);
	} else {
		xmm_t m = { 0 };
		if (!(imm & 0x40)) {
			m.d[0] = res;
		} else {
			for (i = 0; i < x.n; i++) {
				if (!(res & (1u << i)))
					continue;
				if (x.n == 8)
					m.w[i] = 0xffff;
				else
					m.b[i] = 0xff;
			}
		}
		c->xmm[0] = m;
	}
	emu_flags_set(c, RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF,
		      (res ? RFLAGS_CF : 0) | (x.lb < x.n ? RFLAGS_ZF : 0) |
		      (x.la < x.n ? RFLAGS_SF : 0) | ((res & 1) ? RFLAGS_OF : 0));
}

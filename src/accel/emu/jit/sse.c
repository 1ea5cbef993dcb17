/*
 * The translator's SSE forms (translate.h): integer, logical, shuffle and
 * move instructions on XMM registers run as the same host instruction.
 */
#include <string.h>

#include "accel/emu/jit/translate.h"

#if defined(__x86_64__)

/* What the host has beyond SSE2 (the x86-64 baseline): native SSSE3 and
 * SSE4.1 forms only where it has them (set by emu_jit_create). */
bool jit_host_ssse3, jit_host_sse41, jit_host_sse42;

static enum sse_kind sse_op_0f(unsigned op, enum simd_pfx pfx, bool *aligned, bool *imm)
{
	*aligned = true;
	*imm = false;
	if (pfx == PFX_66) {
		switch (op) {
		case 0x60 ... 0x6d: case 0x74 ... 0x76:
		case 0xd1 ... 0xd5: case 0xd8 ... 0xdf: case 0xe0 ... 0xe5:
		case 0xe8 ... 0xef: case 0xf1 ... 0xf6: case 0xf8 ... 0xfe:
		case 0x14: case 0x15: case 0x54 ... 0x57:
			return SSE_OP;
		case 0x70: case 0xc6:
			*imm = true;
			return SSE_OP;
		case 0x71 ... 0x73:
			*imm = true;
			return SSE_SHIFT_IMM;
		case 0x6f: case 0x28: return SSE_LOAD;
		case 0x7f: case 0x29: case 0xe7: return SSE_STORE;
		case 0x10: *aligned = false; return SSE_LOAD;
		case 0x11: *aligned = false; return SSE_STORE;
		case 0x6e: return SSE_TO_XMM;
		case 0x7e: case 0xd6: return SSE_FROM_XMM;
		case 0xd7: return SSE_MOVMSK;
		}
	} else if (pfx == PFX_NONE) {
		switch (op) {
		case 0x14: case 0x15: case 0x54 ... 0x57:
			return SSE_OP;
		case 0xc6:
			*imm = true;
			return SSE_OP;
		case 0x28: return SSE_LOAD;
		case 0x29: case 0x2b: return SSE_STORE;
		case 0x10: *aligned = false; return SSE_LOAD;
		case 0x11: *aligned = false; return SSE_STORE;
		}
	} else if (pfx == PFX_F3) {
		switch (op) {
		case 0x6f: *aligned = false; return SSE_LOAD;
		case 0x7f: *aligned = false; return SSE_STORE;
		case 0x7e: return SSE_TO_XMM;
		case 0x70: *imm = true; return SSE_OP;
		}
	} else {
		switch (op) {
		case 0x70: *imm = true; return SSE_OP;
		case 0xf0: *aligned = false; return SSE_LOAD;  /* LDDQU */
		}
	}
	return SSE_NONE;
}

bool pick_sse(const struct jit_tb *tb, const struct insn *in, struct sse *x)
{
	enum simd_pfx pfx = simd_prefix(in);
	unsigned map = in->op >> 8, op = in->op & 0xff;
	static const uint8_t prefix_byte[] = { 0, 0x66, 0xf3, 0xf2 };

	x->kind = SSE_NONE;
	if (in->fast || (in->prefixes & PFX_LOCK) || (in->has_mem && tb->code_size == 8 &&
						      in->adsize != 8))
		return false;
	if (map == 1) {
		x->kind = sse_op_0f(op, pfx, &x->aligned, &x->imm);
	} else if (map == 2 && pfx == PFX_66) {
		/* PSHUFB ... PMULHRSW, PABS*; SSE4.1 PMULDQ, PCMPEQQ,
		 * PACKUSDW, PMIN/PMAX*, PMULLD (not the blends through XMM0) */
		if (((op <= 0x0b || (op >= 0x1c && op <= 0x1e)) && jit_host_ssse3) ||
		    ((op == 0x28 || op == 0x29 || op == 0x2b || (op >= 0x38 && op <= 0x40)) &&
		     jit_host_sse41))
			x->kind = SSE_OP, x->aligned = true, x->imm = false;
	} else if (map == 3 && pfx == PFX_66) {
		/* PALIGNR; SSE4.1 BLENDPS/PD, PBLENDW */
		if ((op == 0x0f && jit_host_ssse3) || (op >= 0x0c && op <= 0x0e && jit_host_sse41))
			x->kind = SSE_OP, x->aligned = true, x->imm = true;
		/* PCMPISTRI, PCMPESTRI with 32-bit lengths (no alignment) */
		if ((op == 0x63 || (op == 0x61 && !(in->rex & 8))) && jit_host_sse42)
			x->kind = SSE_STRI, x->aligned = false, x->imm = true;
	}
	switch (x->kind) {
	case SSE_NONE:
		return false;
	case SSE_SHIFT_IMM: {
		unsigned ext = in->reg & 7;

		if (in->has_mem || !(ext == 2 || ext == 4 || ext == 6 ||
				     (op == 0x73 && (ext == 3 || ext == 7))) ||
		    (ext == 4 && op == 0x73))
			return false;
		break;
	}
	case SSE_MOVMSK:
		if (in->has_mem)
			return false;
		break;
	case SSE_STORE:  /* MOVNTDQ, MOVNTPS: memory only */
		if (!in->has_mem && (op == 0xe7 || op == 0x2b))
			return false;
		break;
	case SSE_LOAD:
		if (!in->has_mem && op == 0xf0)
			return false;
		break;
	default:
		break;
	}
	x->prefix = prefix_byte[pfx];
	x->size = 16;
	if (x->kind == SSE_TO_XMM || x->kind == SSE_FROM_XMM)
		x->size = op == 0x7e && pfx == PFX_F3 ? 8 : op == 0xd6 ? 8 : (in->rex & 8) ? 8 : 4;
	if (x->kind == SSE_TO_XMM || x->kind == SSE_FROM_XMM)
		x->aligned = false;
	return true;
}

static int32_t xmm_field(unsigned r)
{
	return F(xmm) + (int32_t)(r * sizeof(union xmm));
}

/* Host XMMx = the 16-byte r/m operand: the memory at host address T0
 * (emit_operand_host's) or the XMM register. */
static void xmm_from_rm(struct jit_emit *e, const struct insn *in, unsigned x)
{
	if (in->has_mem)
		jit_emit_xmm_load_ind(e, x, 16);
	else
		jit_emit_xmm_load(e, x, xmm_field(in->rm));
}

/* The instruction's code; the returned branch (or NULL for a register
 * form) leads to its handler. */
jit_fixup emit_sse(struct jit_emit *e, const struct jit_tlb_layout *l,
		   const struct insn *in, int64_t end, const struct sse *x,
		   struct flag_state *fs, struct seg_checks *sc)
{
	bool write = x->kind == SSE_STORE || (x->kind == SSE_FROM_XMM && in->has_mem);
	uint8_t align = in->has_mem && x->aligned ? 15 : 0;
	jit_fixup slow = NULL;
	int imm = x->imm ? (int)(uint8_t)in->imm : -1;

	if (in->has_mem)
		slow = emit_operand_host(e, l, in, end, x->size, write, align, sc);
	switch (x->kind) {
	case SSE_OP:
		xmm_from_rm(e, in, 1);
		jit_emit_xmm_load(e, 0, xmm_field(in->reg));
		jit_emit_sse(e, x->prefix, in->op, 0xc1, imm);  /* op xmm0, xmm1 */
		jit_emit_xmm_store(e, 0, xmm_field(in->reg));
		break;
	case SSE_SHIFT_IMM:
		jit_emit_xmm_load(e, 0, xmm_field(in->rm));
		jit_emit_sse(e, x->prefix, in->op, (uint8_t)(0xc0 | (in->reg & 7) << 3), imm);
		jit_emit_xmm_store(e, 0, xmm_field(in->rm));
		break;
	case SSE_LOAD:
		xmm_from_rm(e, in, 0);
		jit_emit_xmm_store(e, 0, xmm_field(in->reg));
		break;
	case SSE_STORE:
		jit_emit_xmm_load(e, 0, xmm_field(in->reg));
		if (in->has_mem)
			jit_emit_xmm_store_ind(e, 0, 16);
		else
			jit_emit_xmm_store(e, 0, xmm_field(in->rm));
		break;
	case SSE_MOVMSK:
		jit_emit_xmm_load(e, 0, xmm_field(in->rm));
		jit_emit_sse(e, 0x66, 0x1d7, 0xc0, -1);  /* pmovmskb eax, xmm0 */
		jit_emit_store(e, JIT_T0, gpr_field(in->reg), 8);
		break;
	case SSE_TO_XMM:
		if (in->has_mem) {
			jit_emit_xmm_load_ind(e, 0, x->size);
		} else if (in->op == 0x16e) {
			jit_emit_load(e, JIT_T0, gpr_field(in->rm), x->size);
			jit_emit_t0_to_xmm0(e, x->size);
		} else {                              /* MOVQ xmm, xmm */
			jit_emit_xmm_load(e, 0, xmm_field(in->rm));
			jit_emit_sse(e, 0xf3, 0x17e, 0xc0, -1);  /* movq xmm0, xmm0 */
		}
		jit_emit_xmm_store(e, 0, xmm_field(in->reg));
		break;
	case SSE_FROM_XMM:
		jit_emit_xmm_load(e, 0, xmm_field(in->reg));
		if (in->has_mem) {
			jit_emit_xmm_store_ind(e, 0, x->size);
		} else if (in->op == 0x17e) {         /* MOVD/MOVQ r, xmm: zero-extended */
			jit_emit_xmm0_to_t0(e, x->size);
			jit_emit_store(e, JIT_T0, gpr_field(in->rm), 8);
		} else {                              /* MOVQ xmm, xmm (D6) */
			jit_emit_sse(e, 0xf3, 0x17e, 0xc0, -1);  /* movq xmm0, xmm0 */
			jit_emit_xmm_store(e, 0, xmm_field(in->rm));
		}
		break;
	case SSE_STRI:
		xmm_from_rm(e, in, 1);
		jit_emit_xmm_load(e, 0, xmm_field(in->reg));
		if (in->op == 0x361) {  /* the lengths */
			jit_emit_load(e, JIT_T0, gpr_field(GPR_RAX), 4);
			jit_emit_load(e, JIT_T1, gpr_field(GPR_RDX), 4);
		}
		jit_emit_sse(e, 0x66, in->op, 0xc1, imm);  /* pcmp?stri xmm0, xmm1 */
		jit_emit_store_ecx(e, gpr_field(GPR_RCX));
		jit_emit_flags_to_rflags(e, F(s.rflags));
		jit_emit_store_imm(e, F(cc_op), sizeof(((struct emu_cpu *)0)->cc_op), CC_EAGER);
		fs->op = CC_EAGER;
		fs->eager = true;
		fs->host = HOST_ALL;
		break;
	case SSE_NONE:
		break;
	}
	return slow;
}

#endif

/*
 * The emulator's vector units, shared by their files:
 *
 *   sse.c       SSE, SSE2 and SSE3 in the 0F map, MXCSR, FXSAVE/FXRSTOR
 *   simd_int.c  the packed-integer operations of the 0F map, for 64-bit
 *               MMX and 128-bit XMM operands alike
 *   mmx.c       MMX registers (aliased onto the x87 registers) and the
 *               MMX forms of the 0F map
 *   sse4.c      the 0F 38 and 0F 3A maps: SSSE3, SSE4.1, SSE4.2
 *   sse_string.c  PCMPESTRI/M and PCMPISTRI/M
 */
#ifndef WIRT_ACCEL_EMU_SIMD_H
#define WIRT_ACCEL_EMU_SIMD_H

#include "accel/emu/exec.h"

typedef union xmm xmm_t;

/* The mandatory prefix of a vector instruction: none, 66, F3, F2. */
enum simd_pfx { PFX_NONE, PFX_66, PFX_F3, PFX_F2 };

static inline enum simd_pfx simd_prefix(const struct insn *in)
{
	return (in->prefixes & PFX_REPNE) ? PFX_F2 : (in->prefixes & PFX_REP) ? PFX_F3 :
	       (in->prefixes & PFX_OPSZ) ? PFX_66 : PFX_NONE;
}

/* The quiet form of a NaN (what SSE returns for a signalling one). */
static inline float simd_quiet_f(float v)
{
	uint32_t u;

	__builtin_memcpy(&u, &v, 4);
	u |= 0x400000;
	__builtin_memcpy(&v, &u, 4);
	return v;
}

static inline double simd_quiet_d(double v)
{
	uint64_t u;

	__builtin_memcpy(&u, &v, 8);
	u |= 1ULL << 51;
	__builtin_memcpy(&v, &u, 8);
	return v;
}

/* sse.c: the host FP environment around an operation, MXCSR in and out. */
void simd_fp_begin(struct emu_cpu *c);
void simd_fp_end(struct emu_cpu *c);
/* #UD/#NM unless CR0/CR4 allow SSE. */
void simd_check_sse(struct emu_cpu *c);
/* 128-bit memory operands; aligned: the legacy-SSE 16-byte rule (#GP). */
void simd_read128(struct emu_cpu *c, int seg, uint64_t ea, xmm_t *x, bool aligned);
void simd_write128(struct emu_cpu *c, int seg, uint64_t ea, const xmm_t *x, bool aligned);
xmm_t simd_src128(struct emu_cpu *c, const struct insn *in, bool aligned);
/* The low size bytes of an XMM register or a memory load. */
uint64_t simd_src_scalar(struct emu_cpu *c, const struct insn *in, unsigned size);
/* Float to a size-byte integer, rounded per MXCSR or truncated; the
 * "integer indefinite" value (and the invalid flag) on overflow or NaN. */
int64_t simd_cvt_to_int(double v, unsigned size, bool truncate, uint32_t mxcsr);

/* simd_int.c: d = d OP s over width bytes (8: MMX, 16: XMM) for the
 * integer opcodes of the 0F map; false if op is not one of them. */
bool simd_int_op(unsigned op, xmm_t *d, const xmm_t *s, unsigned width);
/* Shift every element (esz bytes) of the low width bytes of d;
 * kind 0 logical right, 1 arithmetic right, 2 left. */
void simd_shift_elems(xmm_t *d, unsigned width, unsigned esz, uint64_t count, int kind);

int16_t simd_sat16(int32_t v);
uint16_t simd_satu16(int32_t v);

/* mmx.c */
bool emu_exec_mmx(struct emu_cpu *c, const struct insn *in);
/* Entering MMX state (any MMX instruction but EMMS): #UD/#NM/#MF checks,
 * then TOP = 0 and every register tagged valid. */
void mmx_enter(struct emu_cpu *c);
uint64_t mmx_get(const struct emu_cpu *c, unsigned i);
void mmx_set(struct emu_cpu *c, unsigned i, uint64_t v);
/* The r/m operand as 64 bits: an MMX register or an m64 load. */
uint64_t mmx_src(struct emu_cpu *c, const struct insn *in);

/* sse4.c: the 0F 38 and 0F 3A maps; false if op is not one of them. */
bool emu_exec_sse4(struct emu_cpu *c, const struct insn *in);

/* sse_string.c: PCMPxSTRx (0F 3A 60-63) with d = xmm(reg), s = r/m. */
void sse_pcmpstr(struct emu_cpu *c, const struct insn *in, const xmm_t *d, const xmm_t *s);

#endif

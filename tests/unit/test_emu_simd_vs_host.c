/*
 * The emulator's MMX, SSE3, SSSE3, SSE4.1 and SSE4.2 against the host
 * CPU.  Each case runs natively (in a generated stub) and in the emulator
 * from the same state: general registers, flags, the whole FXSAVE image
 * (x87/MMX registers, tag word, TOP, MXCSR, XMM0-15) and a 64-byte memory
 * buffer that RSI points at.  Afterwards the FXSAVE images, registers,
 * defined flags and the buffer must agree, or both must have faulted the
 * same way (#UD, #GP, #XM).
 *
 * The snippet is FXRSTOR [RDI]; the case's instructions; FXSAVE [RDI+512].
 * RSI and RDI hold host addresses natively and guest addresses in the
 * emulator.  Cases must not use R15 (the stub's pointer to the registers).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

/* The case table leaves trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include "emu_harness.h"

#define MEM_GPA  0x20000
#define FX_GPA   0x30000
#define MEM_SIZE 64
#define ALL_FLAGS (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)


/* Operand kinds: what values the registers and the buffer get. */
enum kind { K_INT, K_F32, K_F64, K_STR8, K_STR16, K_CX16,
	    K_F32N, K_F64N /* no NaNs (DPPS/DPPD pick NaNs per lane) or denormals
			    * (the x87 denormal flag is not modelled) */ };

struct simd_case {
	const char *name;
	uint8_t bytes[32];
	unsigned len;
	enum kind kind;
	uint64_t flags;     /* the flags compared */
	uint8_t imm_mask;   /* nonzero: the last byte is an immediate, randomised under this mask */
};

#define C(name, kind, ...) { name, { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }), kind, ALL_FLAGS }
#define CI(name, kind, mask, ...) { name, { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }), kind, \
				    ALL_FLAGS, mask }
/* MMX op mm0, mm1 and op mm0, [rsi] */
#define MMX(name, op) C(name, K_INT, 0x0f, op, 0xc1), C(name " m64", K_INT, 0x0f, op, 0x06)
/* SSE op xmm0, xmm1 (66 0F xx) */
#define S66(name, kind, ...) C(name, kind, 0x66, 0x0f, __VA_ARGS__, 0xc1)
/* SSSE3 in both widths: op mm0, mm1 / op xmm0, xmm1 / op xmm0, [rsi+16] */
#define SSSE3(name, op) C(name " mmx", K_INT, 0x0f, 0x38, op, 0xc1), \
	C(name, K_INT, 0x66, 0x0f, 0x38, op, 0xc1), \
	C(name " m128", K_INT, 0x66, 0x0f, 0x38, op, 0x46, 0x10)
#define S38(name, op) C(name, K_INT, 0x66, 0x0f, 0x38, op, 0xc1)
#define S3A(name, kind, op, mask) CI(name, kind, mask, 0x66, 0x0f, 0x3a, op, 0xc1, 0)

static const struct simd_case cases[] = {
	/* ---- MMX ---- */
	MMX("paddb", 0xfc), MMX("paddw", 0xfd), MMX("paddd", 0xfe), MMX("paddq", 0xd4),
	MMX("psubb", 0xf8), MMX("psubw", 0xf9), MMX("psubd", 0xfa), MMX("psubq", 0xfb),
	MMX("paddsb", 0xec), MMX("paddsw", 0xed), MMX("paddusb", 0xdc), MMX("paddusw", 0xdd),
	MMX("psubsb", 0xe8), MMX("psubsw", 0xe9), MMX("psubusb", 0xd8), MMX("psubusw", 0xd9),
	MMX("pmullw", 0xd5), MMX("pmulhw", 0xe5), MMX("pmulhuw", 0xe4), MMX("pmuludq", 0xf4),
	MMX("pmaddwd", 0xf5), MMX("pcmpeqb", 0x74), MMX("pcmpeqw", 0x75), MMX("pcmpeqd", 0x76),
	MMX("pcmpgtb", 0x64), MMX("pcmpgtw", 0x65), MMX("pcmpgtd", 0x66),
	MMX("packsswb", 0x63), MMX("packssdw", 0x6b), MMX("packuswb", 0x67),
	MMX("punpcklbw", 0x60), MMX("punpcklwd", 0x61), MMX("punpckldq", 0x62),
	MMX("punpckhbw", 0x68), MMX("punpckhwd", 0x69), MMX("punpckhdq", 0x6a),
	MMX("pand", 0xdb), MMX("pandn", 0xdf), MMX("por", 0xeb), MMX("pxor", 0xef),
	MMX("psllw", 0xf1), MMX("pslld", 0xf2), MMX("psllq", 0xf3), MMX("psrlw", 0xd1),
	MMX("psrld", 0xd2), MMX("psrlq", 0xd3), MMX("psraw", 0xe1), MMX("psrad", 0xe2),
	MMX("pavgb", 0xe0), MMX("pavgw", 0xe3), MMX("pminub", 0xda), MMX("pmaxub", 0xde),
	MMX("pminsw", 0xea), MMX("pmaxsw", 0xee), MMX("psadbw", 0xf6),
	CI("psllw mm imm", K_INT, 0x1f, 0x0f, 0x71, 0xf0, 0),
	CI("psraw mm imm", K_INT, 0x1f, 0x0f, 0x71, 0xe0, 0),
	CI("psrld mm imm", K_INT, 0x3f, 0x0f, 0x72, 0xd0, 0),
	CI("psrad mm imm", K_INT, 0x3f, 0x0f, 0x72, 0xe0, 0),
	CI("psllq mm imm", K_INT, 0x7f, 0x0f, 0x73, 0xf0, 0),
	CI("psrlq mm imm", K_INT, 0x7f, 0x0f, 0x73, 0xd0, 0),
	CI("pshufw", K_INT, 0xff, 0x0f, 0x70, 0xc1, 0),
	CI("pshufw m64", K_INT, 0xff, 0x0f, 0x70, 0x46, 0x03, 0),
	CI("pinsrw mm", K_INT, 0x07, 0x0f, 0xc4, 0xc0, 0),
	CI("pextrw mm", K_INT, 0x07, 0x0f, 0xc5, 0xc1, 0),
	C("pmovmskb mm", K_INT, 0x0f, 0xd7, 0xc1),
	C("movd mm,eax", K_INT, 0x0f, 0x6e, 0xc0),
	C("movq mm,rax", K_INT, 0x48, 0x0f, 0x6e, 0xc0),
	C("movd eax,mm", K_INT, 0x0f, 0x7e, 0xc8),
	C("movq rdx,mm", K_INT, 0x48, 0x0f, 0x7e, 0xca),
	C("movd mm,[rsi+5]", K_INT, 0x0f, 0x6e, 0x46, 0x05),
	C("movq mm,mm", K_INT, 0x0f, 0x6f, 0xc1),
	C("movq mm/mm store form", K_INT, 0x0f, 0x7f, 0xc1),
	C("movq mm2,[rsi+3]", K_INT, 0x0f, 0x6f, 0x56, 0x03),
	C("movq [rsi+5],mm1", K_INT, 0x0f, 0x7f, 0x4e, 0x05),
	C("movntq", K_INT, 0x0f, 0xe7, 0x0e),
	/* push rdi; mov rdi, rsi; maskmovq mm0, mm1; pop rdi */
	C("maskmovq", K_INT, 0x57, 0x48, 0x89, 0xf7, 0x0f, 0xf7, 0xc1, 0x5f),
	C("emms", K_INT, 0x0f, 0x77),
	C("paddb; emms", K_INT, 0x0f, 0xfc, 0xc1, 0x0f, 0x77),
	/* x87 and MMX mixed: the tag word, TOP and the exponent bits */
	C("fld1; movq mm0,mm1", K_INT, 0xd9, 0xe8, 0x0f, 0x6f, 0xc1),
	C("movq mm0,[rsi]; emms; fldpi; fstp [rsi+8]", K_INT,
	  0x0f, 0x6f, 0x06, 0x0f, 0x77, 0xd9, 0xeb, 0xdd, 0x5e, 0x08),
	C("fldz; fldz; paddd mm3,mm1", K_INT, 0xd9, 0xee, 0xd9, 0xee, 0x0f, 0xfe, 0xd9),
	C("emms; fld qword [rsi]; fistp [rsi+8]", K_F64N, 0x0f, 0x77, 0xdd, 0x06, 0xdf, 0x7e, 0x08),
	C("ud: mmx movq 0f d6", K_INT, 0x0f, 0xd6, 0xc1),
	C("ud: mmx punpcklqdq", K_INT, 0x0f, 0x6c, 0xc1),
	C("ud: mmx psrldq", K_INT, 0x0f, 0x73, 0xd8, 0x01),
	/* MM <-> XMM */
	C("cvtpi2ps", K_INT, 0x0f, 0x2a, 0xc1),
	C("cvtpi2ps m64", K_INT, 0x0f, 0x2a, 0x06),
	C("cvtpi2pd", K_INT, 0x66, 0x0f, 0x2a, 0xc1),
	C("cvtps2pi", K_F32, 0x0f, 0x2d, 0xc1),
	C("cvttps2pi", K_F32, 0x0f, 0x2c, 0xc1),
	C("cvtpd2pi", K_F64, 0x66, 0x0f, 0x2d, 0xc1),
	C("cvttpd2pi", K_F64, 0x66, 0x0f, 0x2c, 0xc1),
	C("cvttpd2pi m128 misaligned", K_F64, 0x66, 0x0f, 0x2c, 0x46, 0x08),
	C("movq2dq", K_INT, 0xf3, 0x0f, 0xd6, 0xc1),
	C("movdq2q", K_INT, 0xf2, 0x0f, 0xd6, 0xc1),

	/* ---- SSE3 ---- */
	C("addsubps", K_F32, 0xf2, 0x0f, 0xd0, 0xc1),
	C("addsubpd", K_F64, 0x66, 0x0f, 0xd0, 0xc1),
	C("haddps", K_F32, 0xf2, 0x0f, 0x7c, 0xc1),
	C("haddpd", K_F64, 0x66, 0x0f, 0x7c, 0xc1),
	C("hsubps", K_F32, 0xf2, 0x0f, 0x7d, 0xc1),
	C("hsubpd", K_F64, 0x66, 0x0f, 0x7d, 0xc1),
	C("haddps m128", K_F32, 0xf2, 0x0f, 0x7c, 0x46, 0x10),
	C("haddps misaligned", K_F32, 0xf2, 0x0f, 0x7c, 0x46, 0x04),
	C("movddup", K_F64, 0xf2, 0x0f, 0x12, 0xc1),
	C("movddup m64", K_F64, 0xf2, 0x0f, 0x12, 0x46, 0x03),
	C("movsldup", K_F32, 0xf3, 0x0f, 0x12, 0xc1),
	C("movshdup", K_F32, 0xf3, 0x0f, 0x16, 0xc1),
	C("lddqu", K_INT, 0xf2, 0x0f, 0xf0, 0x46, 0x01),
	C("fld; fisttp m16", K_F64N, 0xdd, 0x06, 0xdf, 0x4e, 0x08),
	C("fld; fisttp m32", K_F64N, 0xdd, 0x06, 0xdb, 0x4e, 0x08),
	C("fld; fisttp m64", K_F64N, 0xdd, 0x06, 0xdd, 0x4e, 0x08),

	/* ---- SSSE3 ---- */
	SSSE3("pshufb", 0x00), SSSE3("phaddw", 0x01), SSSE3("phaddd", 0x02),
	SSSE3("phaddsw", 0x03), SSSE3("pmaddubsw", 0x04), SSSE3("phsubw", 0x05),
	SSSE3("phsubd", 0x06), SSSE3("phsubsw", 0x07), SSSE3("psignb", 0x08),
	SSSE3("psignw", 0x09), SSSE3("psignd", 0x0a), SSSE3("pmulhrsw", 0x0b),
	SSSE3("pabsb", 0x1c), SSSE3("pabsw", 0x1d), SSSE3("pabsd", 0x1e),
	C("pshufb misaligned", K_INT, 0x66, 0x0f, 0x38, 0x00, 0x46, 0x01),
	C("pshufb mmx misaligned", K_INT, 0x0f, 0x38, 0x00, 0x46, 0x01),
	CI("palignr", K_INT, 0x3f, 0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0),
	CI("palignr mmx", K_INT, 0x1f, 0x0f, 0x3a, 0x0f, 0xc1, 0),
	CI("palignr m128", K_INT, 0x1f, 0x66, 0x0f, 0x3a, 0x0f, 0x46, 0x20, 0),

	/* ---- SSE4.1 ---- */
	S38("pblendvb", 0x10), S38("blendvps", 0x14), S38("blendvpd", 0x15),
	S38("ptest", 0x17),
	C("ptest equal", K_INT, 0x66, 0x0f, 0x38, 0x17, 0xc0),
	S38("pmovsxbw", 0x20), S38("pmovsxbd", 0x21), S38("pmovsxbq", 0x22),
	S38("pmovsxwd", 0x23), S38("pmovsxwq", 0x24), S38("pmovsxdq", 0x25),
	S38("pmovzxbw", 0x30), S38("pmovzxbd", 0x31), S38("pmovzxbq", 0x32),
	S38("pmovzxwd", 0x33), S38("pmovzxwq", 0x34), S38("pmovzxdq", 0x35),
	C("pmovzxbd m32", K_INT, 0x66, 0x0f, 0x38, 0x31, 0x46, 0x01),
	C("pmovsxbq m16", K_INT, 0x66, 0x0f, 0x38, 0x22, 0x46, 0x03),
	C("pmovsxwd m64", K_INT, 0x66, 0x0f, 0x38, 0x23, 0x46, 0x05),
	S38("pmuldq", 0x28), S38("pcmpeqq", 0x29), S38("packusdw", 0x2b),
	C("movntdqa", K_INT, 0x66, 0x0f, 0x38, 0x2a, 0x46, 0x10),
	C("movntdqa misaligned", K_INT, 0x66, 0x0f, 0x38, 0x2a, 0x46, 0x08),
	S38("pminsb", 0x38), S38("pminsd", 0x39), S38("pminuw", 0x3a), S38("pminud", 0x3b),
	S38("pmaxsb", 0x3c), S38("pmaxsd", 0x3d), S38("pmaxuw", 0x3e), S38("pmaxud", 0x3f),
	S38("pmulld", 0x40), S38("phminposuw", 0x41),
	C("ud: 66 0f 38 0c", K_INT, 0x66, 0x0f, 0x38, 0x0c, 0xc1),
	C("ud: pmovsxbw without 66", K_INT, 0x0f, 0x38, 0x20, 0xc1),
	C("ud: lock pshufb", K_INT, 0xf0, 0x66, 0x0f, 0x38, 0x00, 0x06),
	C("ud: lock paddb mm", K_INT, 0xf0, 0x0f, 0xfc, 0x06),
	C("ud: crc32 with f3", K_INT, 0xf3, 0x0f, 0x38, 0xf1, 0xc1),
	S3A("roundps", K_F32, 0x08, 0x0f), S3A("roundpd", K_F64, 0x09, 0x0f),
	S3A("roundss", K_F32, 0x0a, 0x0f), S3A("roundsd", K_F64, 0x0b, 0x0f),
	CI("roundsd m64", K_F64, 0x0f, 0x66, 0x0f, 0x3a, 0x0b, 0x46, 0x03, 0),
	S3A("blendps", K_INT, 0x0c, 0x0f), S3A("blendpd", K_INT, 0x0d, 0x03),
	S3A("pblendw", K_INT, 0x0e, 0xff),
	CI("pextrb r32", K_INT, 0x0f, 0x66, 0x0f, 0x3a, 0x14, 0xc8, 0),
	CI("pextrb m8", K_INT, 0x0f, 0x66, 0x0f, 0x3a, 0x14, 0x4e, 0x01, 0),
	CI("pextrw r32 (3a)", K_INT, 0x07, 0x66, 0x0f, 0x3a, 0x15, 0xc8, 0),
	CI("pextrw m16", K_INT, 0x07, 0x66, 0x0f, 0x3a, 0x15, 0x4e, 0x03, 0),
	CI("pextrd", K_INT, 0x03, 0x66, 0x0f, 0x3a, 0x16, 0xc8, 0),
	CI("pextrq", K_INT, 0x01, 0x66, 0x48, 0x0f, 0x3a, 0x16, 0xc8, 0),
	CI("pextrq m64", K_INT, 0x01, 0x66, 0x48, 0x0f, 0x3a, 0x16, 0x4e, 0x07, 0),
	CI("extractps", K_F32, 0x03, 0x66, 0x0f, 0x3a, 0x17, 0xc8, 0),
	CI("extractps r64", K_F32, 0x03, 0x66, 0x48, 0x0f, 0x3a, 0x17, 0xc8, 0),
	CI("pinsrb", K_INT, 0x0f, 0x66, 0x0f, 0x3a, 0x20, 0xc0, 0),
	CI("pinsrb m8", K_INT, 0x0f, 0x66, 0x0f, 0x3a, 0x20, 0x46, 0x09, 0),
	CI("pinsrd", K_INT, 0x03, 0x66, 0x0f, 0x3a, 0x22, 0xc0, 0),
	CI("pinsrq", K_INT, 0x01, 0x66, 0x48, 0x0f, 0x3a, 0x22, 0xc0, 0),
	S3A("insertps", K_F32, 0x21, 0xff),
	CI("insertps m32", K_F32, 0xff, 0x66, 0x0f, 0x3a, 0x21, 0x46, 0x05, 0),
	S3A("dpps", K_F32N, 0x40, 0xff), S3A("dppd", K_F64N, 0x41, 0xff),
	S3A("mpsadbw", K_INT, 0x42, 0x07),
	CI("mpsadbw m128", K_INT, 0x07, 0x66, 0x0f, 0x3a, 0x42, 0x46, 0x10, 0),

	/* ---- SSE4.2 ---- */
	S38("pcmpgtq", 0x37),
	C("crc32 r32,r8", K_INT, 0xf2, 0x0f, 0x38, 0xf0, 0xc1),
	C("crc32 r32,r8 ah", K_INT, 0xf2, 0x0f, 0x38, 0xf0, 0xc4),
	C("crc32 r32,r16", K_INT, 0x66, 0xf2, 0x0f, 0x38, 0xf1, 0xc1),
	C("crc32 r32,r32", K_INT, 0xf2, 0x0f, 0x38, 0xf1, 0xc1),
	C("crc32 r64,r64", K_INT, 0xf2, 0x48, 0x0f, 0x38, 0xf1, 0xc1),
	C("crc32 r32,m8", K_INT, 0xf2, 0x0f, 0x38, 0xf0, 0x46, 0x03),
	C("crc32 r64,m64", K_INT, 0xf2, 0x48, 0x0f, 0x38, 0xf1, 0x46, 0x05),
	CI("pcmpestri bytes", K_STR8, 0x7f, 0x66, 0x0f, 0x3a, 0x61, 0xc1, 0),
	CI("pcmpestri words", K_STR16, 0x7f, 0x66, 0x0f, 0x3a, 0x61, 0xc1, 0),
	CI("pcmpestri rex.w", K_STR8, 0x7f, 0x66, 0x48, 0x0f, 0x3a, 0x61, 0xc1, 0),
	CI("pcmpestrm bytes", K_STR8, 0x7f, 0x66, 0x0f, 0x3a, 0x60, 0xc1, 0),
	CI("pcmpestrm words", K_STR16, 0x7f, 0x66, 0x0f, 0x3a, 0x60, 0xc1, 0),
	CI("pcmpistri bytes", K_STR8, 0x7f, 0x66, 0x0f, 0x3a, 0x63, 0xc1, 0),
	CI("pcmpistri words", K_STR16, 0x7f, 0x66, 0x0f, 0x3a, 0x63, 0xc1, 0),
	CI("pcmpistri m128 misaligned", K_STR8, 0x7f, 0x66, 0x0f, 0x3a, 0x63, 0x46, 0x01, 0),
	CI("pcmpistrm bytes", K_STR8, 0x7f, 0x66, 0x0f, 0x3a, 0x62, 0xc1, 0),
	CI("pcmpistrm words", K_STR16, 0x7f, 0x66, 0x0f, 0x3a, 0x62, 0xc1, 0),
	/* glibc's strcmp/strlen idioms */
	C("pcmpistri 0x1a", K_STR8, 0x66, 0x0f, 0x3a, 0x63, 0xc1, 0x1a),
	C("pcmpistri 0x3a", K_STR8, 0x66, 0x0f, 0x3a, 0x63, 0xc1, 0x3a),
	C("pcmpistri 0x0c", K_STR8, 0x66, 0x0f, 0x3a, 0x63, 0xc1, 0x0c),
	C("popcnt r32", K_INT, 0xf3, 0x0f, 0xb8, 0xc1),
	C("popcnt r16 m16", K_INT, 0x66, 0xf3, 0x0f, 0xb8, 0x46, 0x01),
	C("lock cmpxchg16b", K_CX16, 0xf0, 0x48, 0x0f, 0xc7, 0x0e),
	C("cmpxchg16b misaligned", K_CX16, 0x48, 0x0f, 0xc7, 0x4e, 0x08),
};

/* ---- operand values ---- */

#define rnd emu_harness_rnd

static uint32_t int_dword(void)
{
	static const uint32_t edges[] = {
		0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000,
		0xffffffff, 0x00ff00ff, 0x80008000, 0x7f7f7f7f, 0x80808080, 0x01010101,
	};
	uint64_t r = rnd();

	switch (r % 4) {
	case 0: return edges[(r >> 8) % 16];
	case 1: return (uint32_t)(r >> 16) & 0x0f0f0f0f; /* small bytes: shift counts, indices */
	default: return (uint32_t)(r >> 20);
	}
}

static uint32_t f32_bits(void)
{
	static const float vals[] = {
		0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1.5f, 2.5f, -2.5f, 3.0f, 1e10f, -1e-10f,
		2147483648.0f, -2147483904.0f, 8388608.5f, 1e-40f, 3.4e38f,
	};
	uint64_t r = rnd();
	float f;
	uint32_t u;

	switch (r % 6) {
	case 0: f = vals[(r >> 8) % 16]; break;
	case 1: u = (r & 1) ? 0x7f800000 : 0xff800000; if (r & 2) u |= 0x400000 | (r >> 40 & 0x3fffff); else if (r & 4) u |= 1 + (r >> 40 & 0x1fffff); return u; /* inf/NaN */
	case 2: f = (float)((int64_t)(r >> 30) - (1LL << 33)) / 256.0f; break;
	case 3: f = (float)(int32_t)(r >> 32); break;
	default: return (uint32_t)(r >> 16) & 0xbfffffff; /* moderate exponents */
	}
	memcpy(&u, &f, 4);
	return u;
}

static uint64_t f64_bits(void)
{
	static const double vals[] = {
		0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, -2.5, 1e300, -1e-300, 4.9e-324,
		2147483647.5, -2147483648.5, 9.3e18, 4503599627370496.5, 1e-310,
	};
	uint64_t r = rnd(), u;
	double d;

	switch (r % 6) {
	case 0: d = vals[(r >> 8) % 16]; break;
	case 1: u = (r & 1) ? 0x7ff0000000000000ULL : 0xfff0000000000000ULL;
		if (r & 2) u |= 0x8000000000000ULL | (rnd() & 0x7ffffffffffffULL);
		else if (r & 4) u |= 1 + (rnd() & 0x3ffffffffffffULL);
		return u;
	case 2: d = (double)((int64_t)(r >> 20) - (1LL << 43)) / 1024.0; break;
	case 3: d = (double)(int32_t)(r >> 32); break;
	default: return rnd() & 0xbfffffffffffffffULL;
	}
	memcpy(&u, &d, 8);
	return u;
}

/* Characters from a small alphabet, so that strings match and end often. */
static uint8_t str_byte(void)
{
	static const uint8_t alphabet[] = { 0, 'a', 'b', 'c', 'd', 'z', 0x80, 0xff, 'A', 'b', 'a' };
	uint64_t r = rnd();

	if (r % 16 == 0)
		return r >> 8;
	return alphabet[(r >> 8) % sizeof(alphabet)];
}

static void fill(uint8_t *p, unsigned n, enum kind k)
{
	for (unsigned i = 0; i < n; i += 4) {
		uint32_t v;
		switch (k) {
		case K_F32: v = f32_bits(); break;
		case K_F32N: do v = f32_bits(); while (((v & 0x7f800000) == 0x7f800000 && (v & 0x7fffff)) || (!(v & 0x7f800000) && (v & 0x7fffff))); break;
		case K_F64:
		case K_F64N: {
			uint64_t q;
			do
				q = f64_bits();
			while (k == K_F64N && (((q & 0x7ff0000000000000ULL) == 0x7ff0000000000000ULL &&
						(q & 0xfffffffffffffULL)) ||
					       (!(q & 0x7ff0000000000000ULL) && (q & 0xfffffffffffffULL))));
			memcpy(p + i, &q, 8);
			i += 4;
			continue;
		}
		case K_STR8: v = str_byte() | str_byte() << 8 | str_byte() << 16 | (uint32_t)str_byte() << 24; break;
		case K_STR16: v = str_byte() | (uint32_t)str_byte() << 16;
			if (rnd() % 8 == 0) v |= 0x01000100; /* words above 255 */
			break;
		default: v = int_dword(); break;
		}
		memcpy(p + i, &v, 4);
	}
}

static uint64_t gpr_value(enum kind k)
{
	uint64_t r = rnd();

	if (k == K_STR8 || k == K_STR16) /* explicit string lengths */
		return r % 4 == 0 ? r : (uint64_t)((int64_t)(r % 41) - 20);
	return ((uint64_t)int_dword() << 32 | int_dword()) ^ (r % 3 == 0 ? r : 0);
}

/* An FXSAVE image to start from: valid x87 registers with random tags,
 * random XMM registers of the case's kind, MXCSR with a random rounding
 * mode and every exception masked. */
static void make_fxsave(uint8_t fx[512], enum kind k)
{
	uint16_t fcw = 0x037f;
	uint32_t mxcsr = 0x1f80 | (uint32_t)(rnd() & 3) << 13;

	memset(fx, 0, 512);
	memcpy(fx, &fcw, 2);
	fx[4] = rnd() & 0xff;             /* abridged tag word; TOP = 0 */
	memcpy(fx + 24, &mxcsr, 4);
	for (unsigned i = 0; i < 8; i++) {
		uint64_t mant = rnd() | (1ULL << 63);
		uint16_t se = (0x3fff - 8 + (rnd() % 16)) | (rnd() & 0x8000);
		memcpy(fx + 32 + i * 16, &mant, 8);
		memcpy(fx + 40 + i * 16, &se, 2);
	}
	fill(fx + 160, 256, k);
}

static struct emu_harness h;
static struct emu_cpu *cpu;

/* The snippet: fxrstor [rdi]; instructions; fxsave [rdi+512] */
static unsigned snippet(const struct simd_case *d, const uint8_t *bytes, uint8_t *out)
{
	static const uint8_t pre[] = { 0x0f, 0xae, 0x0f };
	static const uint8_t post[] = { 0x0f, 0xae, 0x87, 0x00, 0x02, 0x00, 0x00 };
	unsigned n = 0;

	memcpy(out, pre, sizeof(pre));
	n += sizeof(pre);
	memcpy(out + n, bytes, d->len);
	n += d->len;
	memcpy(out + n, post, sizeof(post));
	return n + sizeof(post);
}

/* The FXSAVE bytes both CPUs define: FCW, FSW, FTW; MXCSR but for the
 * denormal flag (not modelled); the 80 bits of each x87 register; XMM0-15. */
static bool fx_differs(const uint8_t *a, const uint8_t *b, unsigned *at)
{
	uint32_t ma, mb;

	for (unsigned i = 0; i < 6; i++)
		if (a[i] != b[i])
			return *at = i, true;
	memcpy(&ma, a + 24, 4);
	memcpy(&mb, b + 24, 4);
	if ((ma ^ mb) & ~2u)
		return *at = 24, true;
	for (unsigned r = 0; r < 8; r++)
		for (unsigned i = 0; i < 10; i++)
			if (a[32 + r * 16 + i] != b[32 + r * 16 + i])
				return *at = 32 + r * 16 + i, true;
	for (unsigned i = 160; i < 416; i++)
		if (a[i] != b[i])
			return *at = i, true;
	return false;
}

static void dump(const char *who, const struct emu_regs *r, const uint8_t *fx, unsigned at,
		 const uint8_t *mem)
{
	print_error("  %s rax=%#llx rcx=%#llx rdx=%#llx rbx=%#llx fl=%#llx fx[%u..]=",
		    who, (unsigned long long)r->rax, (unsigned long long)r->rcx,
		    (unsigned long long)r->rdx, (unsigned long long)r->rbx,
		    (unsigned long long)r->flags, at);
	for (unsigned i = at & ~15u; i < (at & ~15u) + 16; i++)
		print_error("%02x", fx[i]);
	print_error(" xmm0,1=");
	for (unsigned i = 160; i < 192; i++)
		print_error("%02x", fx[i]);
	print_error(" mem=");
	for (unsigned i = 0; i < 32; i++)
		print_error("%02x", mem[i]);
	print_error("\n");
}

static int setup(void **state)
{
	emu_harness_setup(&h);
	cpu = h.cpu;
	return 0;
}

static int teardown(void **state)
{
	emu_harness_teardown(&h);
	return 0;
}

static void test_simd_against_host(void **state)
{
	/* fx: the input image at 0, the output at 512 (host and guest alike) */
	static uint8_t fx_host[1024] __attribute__((aligned(64)));
	static uint8_t mem_host[MEM_SIZE] __attribute__((aligned(64)));
	uint8_t mem_in[MEM_SIZE], mem_emu[MEM_SIZE], fx_emu[1024], code[64];
	unsigned failures = 0, runs = 0;

	for (unsigned ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		const struct simd_case *d = &cases[ci];
		unsigned case_failures = 0;
		for (unsigned it = 0; it < 1500; it++) {
			uint8_t bytes[32];
			struct emu_regs in, nat, emu;
			unsigned len, at = 0;
			int sig, vec;

			memcpy(bytes, d->bytes, d->len);
			if (d->imm_mask)
				bytes[d->len - 1] = rnd() & d->imm_mask;
			len = snippet(d, bytes, code);
			in = (struct emu_regs){ gpr_value(d->kind), gpr_value(d->kind), gpr_value(d->kind),
					    gpr_value(d->kind), 0, 0,
					    (rnd() & ALL_FLAGS) | RFLAGS_FIXED };
			make_fxsave(fx_host, d->kind);
			fill(mem_in, MEM_SIZE, d->kind);
			if (d->kind == K_CX16 && (it & 1)) { /* let the compare succeed */
				memcpy(mem_in, &in.rax, 8);
				memcpy(mem_in + 8, &in.rdx, 8);
			}
			memcpy(mem_host, mem_in, MEM_SIZE);
			memcpy(fx_emu, fx_host, 512);
			assert_int_equal(gmem_write(&h.vm.mem, MEM_GPA, mem_in, MEM_SIZE), 0);
			assert_int_equal(gmem_write(&h.vm.mem, FX_GPA, fx_emu, 1024), 0);

			nat = in;
			nat.rsi = (uintptr_t)mem_host;
			nat.rdi = (uintptr_t)fx_host;
			emu = in;
			emu.rsi = MEM_GPA;
			emu.rdi = FX_GPA;
			sig = emu_harness_run_native(&h, code, len, &nat);
			vec = emu_harness_run_emulated(&h, code, len, &emu);
			runs++;
			if (sig || vec >= 0) {
				if (emu_harness_signal_vector(sig) == vec)
					continue;
				failures++;
				if (case_failures++ < 2)
					print_error("%s (imm %#x): host signal %d, emulator vector %d\n",
						    d->name, bytes[d->len - 1], sig, vec);
				continue;
			}
			assert_int_equal(gmem_read(&h.vm.mem, FX_GPA, fx_emu, 1024), 0);
			assert_int_equal(gmem_read(&h.vm.mem, MEM_GPA, mem_emu, MEM_SIZE), 0);
			nat.rsi = emu.rsi;
			nat.rdi = emu.rdi;
			if (nat.rax != emu.rax || nat.rcx != emu.rcx || nat.rdx != emu.rdx ||
			    nat.rbx != emu.rbx || nat.rsi != emu.rsi || nat.rdi != emu.rdi ||
			    ((nat.flags ^ emu.flags) & d->flags) ||
			    fx_differs(fx_host + 512, fx_emu + 512, &at) ||
			    memcmp(mem_host, mem_emu, MEM_SIZE)) {
				failures++;
				if (case_failures++ < 2) {
					print_error("%s (imm %#x): in rax=%#llx rcx=%#llx rdx=%#llx\n",
						    d->name, bytes[d->len - 1],
						    (unsigned long long)in.rax, (unsigned long long)in.rcx,
						    (unsigned long long)in.rdx);
					dump("in  ", &in, fx_emu, at, mem_in);
					dump("host", &nat, fx_host + 512, at, mem_host);
					dump("emu ", &emu, fx_emu + 512, at, mem_emu);
				}
			}
		}
		if (case_failures)
			print_error("%s: %u of 1500 runs differ\n", d->name, case_failures);
	}
	print_message("%u MMX/SSE3/SSSE3/SSE4 snippets compared with the host CPU\n", runs);
	assert_int_equal(failures, 0);
}

/* The checks before an MMX or SSE instruction runs: CR0.EM, CR0.TS, a
 * pending x87 exception, CR4.OSFXSR. */
static void test_simd_enable_checks(void **state)
{
	static const uint8_t paddb_mm[] = { 0x0f, 0xfc, 0xc1 };
	static const uint8_t pshufb_mm[] = { 0x0f, 0x38, 0x00, 0xc1 };
	static const uint8_t pshufb_xmm[] = { 0x66, 0x0f, 0x38, 0x00, 0xc1 };
	static const uint8_t emms[] = { 0x0f, 0x77 };
	struct emu_regs r = { .flags = RFLAGS_FIXED };

	cpu->s.cr0 |= CR0_TS;
	assert_int_equal(emu_harness_run_emulated(&h, paddb_mm, sizeof(paddb_mm), &r), EXC_NM);
	assert_int_equal(emu_harness_run_emulated(&h, pshufb_xmm, sizeof(pshufb_xmm), &r), EXC_NM);
	cpu->s.cr0 &= ~CR0_TS;
	cpu->s.cr0 |= CR0_EM;
	assert_int_equal(emu_harness_run_emulated(&h, paddb_mm, sizeof(paddb_mm), &r), EXC_UD);
	assert_int_equal(emu_harness_run_emulated(&h, emms, sizeof(emms), &r), EXC_UD);
	cpu->s.cr0 &= ~CR0_EM;

	cpu->fpu_sw |= 0x0081; /* an unmasked invalid-operation: ES */
	assert_int_equal(emu_harness_run_emulated(&h, paddb_mm, sizeof(paddb_mm), &r), EXC_MF);
	cpu->fpu_sw = 0;

	cpu->s.cr4 &= ~CR4_OSFXSR; /* MMX forms need no OSFXSR, XMM forms do */
	assert_int_equal(emu_harness_run_emulated(&h, pshufb_mm, sizeof(pshufb_mm), &r), -1);
	assert_int_equal(emu_harness_run_emulated(&h, pshufb_xmm, sizeof(pshufb_xmm), &r), EXC_UD);
	cpu->s.cr4 |= CR4_OSFXSR;

	/* MMX state: TOP 0 and all valid; EMMS empties the tag word. */
	cpu->fpu_top = 5;
	cpu->fpu_tw = 0x01;
	assert_int_equal(emu_harness_run_emulated(&h, paddb_mm, sizeof(paddb_mm), &r), -1);
	assert_int_equal(cpu->fpu_top, 0);
	assert_int_equal(cpu->fpu_tw, 0xff);
	assert_int_equal(emu_harness_run_emulated(&h, emms, sizeof(emms), &r), -1);
	assert_int_equal(cpu->fpu_tw, 0);
}

/* CPUID advertises what this file tests, and glibc's x86-64-v2 needs. */
static void test_cpuid_x86_64_v2(void **state)
{
	uint32_t out[4];

	emu_cpuid(cpu, 1, 0, out);
	assert_true(out[3] & (1u << 23));            /* MMX */
	assert_true(out[2] & (1u << 0));             /* SSE3 */
	assert_true(out[2] & (1u << 9));             /* SSSE3 */
	assert_true(out[2] & (1u << 13));            /* CMPXCHG16B */
	assert_true(out[2] & (1u << 19));            /* SSE4.1 */
	assert_true(out[2] & (1u << 20));            /* SSE4.2 */
	assert_true(out[2] & (1u << 23));            /* POPCNT */
	emu_cpuid(cpu, 0x80000001, 0, out);
	assert_true(out[2] & (1u << 0));             /* LAHF/SAHF in 64-bit mode */
}

/* The emulated CPU speculates nothing: CPUID.7 announces
 * IA32_ARCH_CAPABILITIES, which says so (Linux then skips page-table
 * isolation and the buffer clearing); the MSR is read-only. */
static void test_arch_capabilities(void **state)
{
	uint32_t out[4];
	uint64_t v;
	bool ok;

	emu_cpuid(cpu, 7, 0, out);
	assert_true(out[3] & (1u << 29));
	emu_cpuid(cpu, 7, 1, out);
	assert_int_equal(out[3], 0);
	v = emu_rdmsr(cpu, 0x10a, &ok);
	assert_true(ok);
	assert_true(v & (1u << 0));                  /* RDCL_NO: no Meltdown */
	assert_true(v & (1u << 5));                  /* MDS_NO */
	assert_false(v & (1u << 1));                 /* no IBRS_ALL: no SPEC_CTRL */
	assert_false(emu_wrmsr(cpu, 0x10a, 0));
	assert_int_equal(emu_rdmsr(cpu, 0x10a, &ok), v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arch_capabilities),
		cmocka_unit_test(test_simd_against_host),
		cmocka_unit_test(test_simd_enable_checks),
		cmocka_unit_test(test_cpuid_x86_64_v2),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

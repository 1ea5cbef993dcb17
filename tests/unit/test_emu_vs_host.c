/*
 * The emulator against the host CPU: each integer instruction below runs
 * once natively (in a small generated stub) and once in the emulator, with
 * the same registers and flags, for many operand values; results and every
 * flag the instruction defines must agree.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>
#include <cpuid.h>

/* The case table leaves trailing fields zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include "emu_harness.h"

#define ALL_FLAGS (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

static struct emu_harness h;
static struct emu_cpu *cpu;

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

/* ---- operands ---- */

#define rnd emu_harness_rnd

/* Values near the edges of every operand size, and random ones. */
static uint64_t operand(void)
{
	static const uint64_t edges[] = {
		0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
		0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
		0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL, ~1ULL,
	};
	uint64_t r = rnd();

	switch (r % 4) {
	case 0: return edges[(r >> 8) % (sizeof(edges) / sizeof(edges[0]))];
	case 1: return r >> (r % 64);
	case 2: return (r >> 3) & 0x1f; /* small: shift counts, bit numbers */
	default: return rnd();
	}
}

struct case_def {
	const char *name;
	uint8_t bytes[40];
	unsigned len;
	uint64_t flags_defined; /* compared flags */
	enum { ANY, NO_DIV_FAULT } guard;
	unsigned op_size;       /* for count-dependent flags: shifts */
	int count_kind;         /* 0 none, 1 shift by CL, 2 rotate by CL, 3 shld/shrd by CL */
};

#define ARITH ALL_FLAGS
#define LOGIC (ALL_FLAGS & ~RFLAGS_AF)

static const struct case_def cases[] = {
	/* ALU, all four sizes: op rax/eax/ax/al, rcx-family */
	{ "add r64", { 0x48, 0x01, 0xc8 }, 3, ARITH },
	{ "add r32", { 0x01, 0xc8 }, 2, ARITH },
	{ "add r16", { 0x66, 0x01, 0xc8 }, 3, ARITH },
	{ "add r8", { 0x00, 0xc8 }, 2, ARITH },
	{ "add ah,bh", { 0x00, 0xfc }, 2, ARITH },
	{ "adc r64", { 0x48, 0x11, 0xc8 }, 3, ARITH },
	{ "adc r8", { 0x10, 0xc8 }, 2, ARITH },
	{ "sbb r32", { 0x19, 0xc8 }, 2, ARITH },
	{ "sbb r16", { 0x66, 0x19, 0xc8 }, 3, ARITH },
	{ "sub r64", { 0x48, 0x29, 0xc8 }, 3, ARITH },
	{ "sub r8", { 0x28, 0xc8 }, 2, ARITH },
	{ "cmp r32", { 0x39, 0xc8 }, 2, ARITH },
	{ "cmp r16", { 0x66, 0x39, 0xc8 }, 3, ARITH },
	{ "sub r16,imm8", { 0x66, 0x83, 0xe8, 0x81 }, 4, ARITH },
	{ "add ax,imm16", { 0x66, 0x05, 0x01, 0x80 }, 4, ARITH },
	{ "and r16,r16 (8B form)", { 0x66, 0x23, 0xc1 }, 3, LOGIC },
	{ "test r16", { 0x66, 0x85, 0xc8 }, 3, LOGIC },
	{ "mov r16,r16", { 0x66, 0x89, 0xc8 }, 3, ALL_FLAGS },
	{ "mov r16,r16 (8B form)", { 0x66, 0x8b, 0xc1 }, 3, ALL_FLAGS },
	{ "mov r16,imm", { 0x66, 0xb8, 0x34, 0x92 }, 4, ALL_FLAGS },
	{ "inc r16", { 0x66, 0xff, 0xc1 }, 3, ARITH },
	{ "imul r16,r16", { 0x66, 0x0f, 0xaf, 0xc1 }, 4, RFLAGS_CF | RFLAGS_OF },
	{ "movzx r16,r8", { 0x66, 0x0f, 0xb6, 0xc1 }, 4, ALL_FLAGS },
	{ "movsx r16,r8", { 0x66, 0x0f, 0xbe, 0xc1 }, 4, ALL_FLAGS },
	{ "lea r16,[rax+rcx]", { 0x66, 0x8d, 0x04, 0x08 }, 4, ALL_FLAGS },
	{ "and r64", { 0x48, 0x21, 0xc8 }, 3, LOGIC },
	{ "or r16", { 0x66, 0x09, 0xc8 }, 3, LOGIC },
	{ "xor r8", { 0x30, 0xc8 }, 2, LOGIC },
	{ "test r32", { 0x85, 0xc8 }, 2, LOGIC },
	{ "add imm8 sx", { 0x48, 0x83, 0xc0, 0x80 }, 4, ARITH },
	{ "sub imm32", { 0x2d, 0x01, 0x00, 0x00, 0x80 }, 5, ARITH },
	{ "inc r64", { 0x48, 0xff, 0xc0 }, 3, ARITH },
	{ "dec r16", { 0x66, 0xff, 0xc8 }, 3, ARITH },
	{ "inc r8", { 0xfe, 0xc0 }, 2, ARITH },
	{ "neg r64", { 0x48, 0xf7, 0xd8 }, 3, ARITH },
	{ "neg r8", { 0xf6, 0xd8 }, 2, ARITH },
	{ "not r32", { 0xf7, 0xd0 }, 2, ALL_FLAGS },
	/* shifts and rotates by CL */
	{ "shl r64,cl", { 0x48, 0xd3, 0xe0 }, 3, 0, ANY, 8, 1 },
	{ "shr r32,cl", { 0xd3, 0xe8 }, 2, 0, ANY, 4, 1 },
	{ "sar r16,cl", { 0x66, 0xd3, 0xf8 }, 3, 0, ANY, 2, 1 },
	{ "shl r8,cl", { 0xd2, 0xe0 }, 2, 0, ANY, 1, 1 },
	{ "sar r64,cl", { 0x48, 0xd3, 0xf8 }, 3, 0, ANY, 8, 1 },
	{ "rol r32,cl", { 0xd3, 0xc0 }, 2, 0, ANY, 4, 2 },
	{ "ror r64,cl", { 0x48, 0xd3, 0xc8 }, 3, 0, ANY, 8, 2 },
	{ "rcl r8,cl", { 0xd2, 0xd0 }, 2, 0, ANY, 1, 2 },
	{ "rcr r16,cl", { 0x66, 0xd3, 0xd8 }, 3, 0, ANY, 2, 2 },
	{ "rcl r64,cl", { 0x48, 0xd3, 0xd0 }, 3, 0, ANY, 8, 2 },
	{ "rcr r32,cl", { 0xd3, 0xd8 }, 2, 0, ANY, 4, 2 },
	{ "shl r32,1", { 0xd1, 0xe0 }, 2, LOGIC },
	{ "sar r8,1", { 0xd0, 0xf8 }, 2, LOGIC },
	{ "shld r64,rdx,cl", { 0x48, 0x0f, 0xa5, 0xd0 }, 4, 0, ANY, 8, 3 },
	{ "shrd r32,edx,cl", { 0x0f, 0xad, 0xd0 }, 3, 0, ANY, 4, 3 },
	/* multiply and divide */
	{ "mul r64", { 0x48, 0xf7, 0xe1 }, 3, RFLAGS_CF | RFLAGS_OF },
	{ "mul r8", { 0xf6, 0xe1 }, 2, RFLAGS_CF | RFLAGS_OF },
	{ "imul r32", { 0xf7, 0xe9 }, 2, RFLAGS_CF | RFLAGS_OF },
	{ "mul r16", { 0x66, 0xf7, 0xe1 }, 3, RFLAGS_CF | RFLAGS_OF },
	{ "imul r16", { 0x66, 0xf7, 0xe9 }, 3, RFLAGS_CF | RFLAGS_OF },
	{ "imul r64", { 0x48, 0xf7, 0xe9 }, 3, RFLAGS_CF | RFLAGS_OF },
	{ "imul r64,r64", { 0x48, 0x0f, 0xaf, 0xc1 }, 4, RFLAGS_CF | RFLAGS_OF },
	{ "imul r16,r16,imm", { 0x66, 0x6b, 0xc1, 0x85 }, 4, RFLAGS_CF | RFLAGS_OF },
	{ "div r64", { 0x48, 0xf7, 0xf1 }, 3, 0, NO_DIV_FAULT, 8 },
	{ "div r32", { 0xf7, 0xf1 }, 2, 0, NO_DIV_FAULT, 4 },
	{ "idiv r64", { 0x48, 0xf7, 0xf9 }, 3, 0, NO_DIV_FAULT, 8 },
	{ "idiv r16", { 0x66, 0xf7, 0xf9 }, 3, 0, NO_DIV_FAULT, 2 },
	{ "idiv r8", { 0xf6, 0xf9 }, 2, 0, NO_DIV_FAULT, 1 },
	{ "div r8", { 0xf6, 0xf1 }, 2, 0, NO_DIV_FAULT, 1 },
	/* bit instructions */
	{ "bt r64,rcx", { 0x48, 0x0f, 0xa3, 0xc8 }, 4, RFLAGS_CF },
	{ "bts r32,ecx", { 0x0f, 0xab, 0xc8 }, 3, RFLAGS_CF },
	{ "btr r64,imm", { 0x48, 0x0f, 0xba, 0xf0, 0x3f }, 5, RFLAGS_CF },
	{ "btc r16,cx", { 0x66, 0x0f, 0xbb, 0xc8 }, 4, RFLAGS_CF },
	{ "bsf r64", { 0x48, 0x0f, 0xbc, 0xc1 }, 4, RFLAGS_ZF },
	{ "bsr r32", { 0x0f, 0xbd, 0xc1 }, 3, RFLAGS_ZF },
	{ "popcnt r64", { 0xf3, 0x48, 0x0f, 0xb8, 0xc1 }, 5, ALL_FLAGS },
	{ "bswap r64", { 0x48, 0x0f, 0xc8 }, 3, ALL_FLAGS },
	{ "bswap r32", { 0x0f, 0xcb }, 2, ALL_FLAGS },
	/* moves, conditionals, exchanges */
	{ "movsx r64,r8", { 0x48, 0x0f, 0xbe, 0xc1 }, 4, ALL_FLAGS },
	{ "movzx r32,r16", { 0x0f, 0xb7, 0xc1 }, 3, ALL_FLAGS },
	{ "movsxd", { 0x48, 0x63, 0xc1 }, 3, ALL_FLAGS },
	{ "cmovl r64", { 0x48, 0x0f, 0x4c, 0xc1 }, 4, ALL_FLAGS },
	{ "cmovbe r32", { 0x0f, 0x46, 0xc1 }, 3, ALL_FLAGS },
	{ "cmovg r16", { 0x66, 0x0f, 0x4f, 0xc1 }, 4, ALL_FLAGS },
	{ "setle al", { 0x0f, 0x9e, 0xc0 }, 3, ALL_FLAGS },
	{ "seto cl", { 0x0f, 0x90, 0xc1 }, 3, ALL_FLAGS },
	{ "setp bl", { 0x0f, 0x9a, 0xc3 }, 3, ALL_FLAGS },
	{ "xadd r64", { 0x48, 0x0f, 0xc1, 0xc8 }, 4, ARITH },
	{ "cmpxchg r32", { 0x0f, 0xb1, 0xd1 }, 3, ARITH },
	{ "cmpxchg r8", { 0x0f, 0xb0, 0xd1 }, 3, ARITH },
	{ "xchg r64", { 0x48, 0x87, 0xca }, 3, ALL_FLAGS },
	{ "cqo", { 0x48, 0x99 }, 2, ALL_FLAGS },
	{ "cwde", { 0x98 }, 1, ALL_FLAGS },
	{ "cbw", { 0x66, 0x98 }, 2, ALL_FLAGS },
	{ "lea", { 0x48, 0x8d, 0x44, 0x8b, 0x7f }, 5, ALL_FLAGS },
	{ "lea r32 addr32", { 0x67, 0x8d, 0x44, 0x8b, 0x80 }, 5, ALL_FLAGS },
	{ "sahf", { 0x9e }, 1, ALL_FLAGS },
	{ "lahf", { 0x9f }, 1, ALL_FLAGS },
	{ "cmc", { 0xf5 }, 1, ALL_FLAGS },

	/* Flag producer/consumer sequences: lazy flags must hand over exactly. */
	{ "add; adc", { 0x48, 0x01, 0xc8, 0x48, 0x11, 0xd3 }, 6, ARITH },
	{ "sub; sbb", { 0x48, 0x29, 0xc8, 0x48, 0x19, 0xd3 }, 6, ARITH },
	{ "cmp; setb; setl", { 0x48, 0x39, 0xc8, 0x0f, 0x92, 0xc2, 0x0f, 0x9c, 0xc3 }, 9, ARITH },
	{ "add; inc; adc", { 0x01, 0xc8, 0xff, 0xc2, 0x11, 0xd3 }, 6, ARITH },
	{ "dec; cmovc", { 0x48, 0x29, 0xd0, 0xff, 0xc9, 0x48, 0x0f, 0x42, 0xd3 }, 9, ARITH },
	{ "shl; rcl", { 0x48, 0xd1, 0xe0, 0x48, 0xd1, 0xd3 }, 6, RFLAGS_CF },
	{ "neg; sbb", { 0x48, 0xf7, 0xd9, 0x48, 0x19, 0xc0 }, 6, ARITH },
	{ "and; lahf", { 0x48, 0x21, 0xc8, 0x9f }, 4, LOGIC },
	{ "sub; pushf; pop", { 0x48, 0x29, 0xc8, 0x9c, 0x5b }, 5, ARITH },
	{ "xor; stc; adc", { 0x48, 0x31, 0xd2, 0xf9, 0x48, 0x11, 0xc2 }, 7, LOGIC },
	{ "mul; adc", { 0x48, 0xf7, 0xe1, 0x48, 0x11, 0xd3 }, 6, RFLAGS_CF },
	{ "bt; sbb", { 0x48, 0x0f, 0xa3, 0xc8, 0x48, 0x19, 0xd2 }, 7, RFLAGS_CF },
	{ "popcnt; cmovz", { 0xf3, 0x48, 0x0f, 0xb8, 0xc1, 0x48, 0x0f, 0x44, 0xd3 }, 9, ALL_FLAGS },
	/* ZF and SF read straight from each kind of lazy record */
	{ "dec; setz; sets", { 0x48, 0xff, 0xc9, 0x0f, 0x94, 0xc2, 0x0f, 0x98, 0xc3 }, 9, ARITH },
	{ "add; cmovz; sets", { 0x48, 0x01, 0xc8, 0x48, 0x0f, 0x44, 0xd3, 0x0f, 0x98, 0xc1 }, 10, ARITH },
	{ "inc r8; cmovs", { 0xfe, 0xc0, 0x48, 0x0f, 0x48, 0xd3 }, 6, ARITH },
	{ "shl; setz; sets", { 0x48, 0xd1, 0xe0, 0x0f, 0x94, 0xc2, 0x0f, 0x98, 0xc3 }, 9, RFLAGS_CF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_PF },
	{ "sbb r16; setnz", { 0x66, 0x19, 0xc8, 0x0f, 0x95, 0xc2 }, 6, ARITH },

	/* x87: push rax; push rcx; load b = [rsp] and a = [rsp+8] as doubles
	 * (ST0 = a, ST1 = b); operate; store the result to rcx; pop rax. */
#define X87_IN 0x50, 0x51, 0xdd, 0x04, 0x24, 0xdd, 0x44, 0x24, 0x08
#define X87_OUT 0xdd, 0x1c, 0x24, 0x59, 0x58
#define X87_BIN(name, ...) { name, { X87_IN, __VA_ARGS__, X87_OUT }, \
		14 + sizeof((uint8_t[]){ __VA_ARGS__ }), ALL_FLAGS }
	/* unary: operate on ST0, store it, then drop b */
#define X87_UN(name, ...) { name, { X87_IN, __VA_ARGS__, 0xdd, 0x1c, 0x24, 0xdd, 0xd8, 0x59, 0x58 }, \
		16 + sizeof((uint8_t[]){ __VA_ARGS__ }), ALL_FLAGS }
	X87_BIN("faddp", 0xde, 0xc1),
	X87_BIN("fsubp", 0xde, 0xe9),
	X87_BIN("fsubrp", 0xde, 0xe1),
	X87_BIN("fmulp", 0xde, 0xc9),
	X87_BIN("fdivp", 0xde, 0xf9),
	X87_BIN("fdivrp", 0xde, 0xf1),
	X87_BIN("fpatan", 0xd9, 0xf3),
	X87_BIN("fyl2x", 0xd9, 0xf1),
	X87_BIN("fxch; fsubp", 0xd9, 0xc9, 0xde, 0xe9),
	X87_UN("fsqrt", 0xd9, 0xfa),
	X87_UN("fsin", 0xd9, 0xfe),
	X87_UN("fcos", 0xd9, 0xff),
	X87_UN("frndint", 0xd9, 0xfc),
	X87_UN("fabs", 0xd9, 0xe1),
	X87_UN("fchs", 0xd9, 0xe0),
	X87_UN("fscale", 0xd9, 0xfd),
	X87_UN("fprem", 0xd9, 0xf8),
	X87_UN("fprem1", 0xd9, 0xf5),
	X87_UN("fadd st1", 0xd8, 0xc1),
	X87_UN("fld1; faddp", 0xd9, 0xe8, 0xde, 0xc1),
	X87_UN("fldpi; fmulp", 0xd9, 0xeb, 0xde, 0xc9),
	/* comparisons into EFLAGS, then pop both */
	{ "fcomip", { X87_IN, 0xdf, 0xf1, 0xdd, 0xd8, 0x59, 0x58 }, 15, ALL_FLAGS },
	{ "fucomip", { X87_IN, 0xdf, 0xe9, 0xdd, 0xd8, 0x59, 0x58 }, 15, ALL_FLAGS },
	/* status word into AX: FCOM, FXAM, FPREM condition codes and TOP
	 * (the sticky exception bits depend on what ran before) */
	{ "fcom; fnstsw", { X87_IN, 0xd8, 0xd1, 0xdf, 0xe0, 0x66, 0x25, 0x00, 0x7f, 0xdd, 0xd8, 0xdd, 0xd8, 0x59, 0x59 }, 23, ALL_FLAGS },
	{ "fxam; fnstsw", { X87_IN, 0xd9, 0xe5, 0xdf, 0xe0, 0x66, 0x25, 0x00, 0x7f, 0xdd, 0xd8, 0xdd, 0xd8, 0x59, 0x59 }, 23, ALL_FLAGS },
	{ "fprem; fnstsw", { X87_IN, 0xd9, 0xf8, 0xdf, 0xe0, 0x66, 0x25, 0x00, 0x7f, 0xdd, 0xd8, 0xdd, 0xd8, 0x59, 0x59 }, 23, ALL_FLAGS },
	/* integer and single-precision conversions */
	{ "fistpll", { 0x50, 0x51, 0xdd, 0x44, 0x24, 0x08, 0xdf, 0x3c, 0x24, 0x59, 0x58 }, 11, ALL_FLAGS },
	{ "fistpl", { 0x50, 0x51, 0xdd, 0x44, 0x24, 0x08, 0xdb, 0x1c, 0x24, 0x59, 0x58 }, 11, ALL_FLAGS },
	{ "fildll; fstpl", { 0x50, 0x51, 0xdf, 0x2c, 0x24, 0xdd, 0x1c, 0x24, 0x59, 0x58 }, 10, ALL_FLAGS },
	{ "flds; fstpl", { 0x50, 0x51, 0xd9, 0x04, 0x24, 0xdd, 0x1c, 0x24, 0x59, 0x58 }, 10, ALL_FLAGS },
	{ "fldl; fstps", { 0x50, 0x51, 0xdd, 0x44, 0x24, 0x08, 0xd9, 0x1c, 0x24, 0x59, 0x58 }, 11, ALL_FLAGS },
	{ "fldl; fbstp; fbld", { 0x50, 0x51, 0x51, 0xdd, 0x44, 0x24, 0x10, 0xdf, 0x34, 0x24,
				 0xdf, 0x24, 0x24, 0xdf, 0x3c, 0x24, 0x59, 0x59, 0x58 }, 19, ALL_FLAGS },

	/* SSE/SSE2: xmm0 = rax, xmm1 = rcx; op xmm0, xmm1; rax = xmm0, rcx = xmm1 */
#define XMM_IN 0x66, 0x48, 0x0f, 0x6e, 0xc0, 0x66, 0x48, 0x0f, 0x6e, 0xc9
#define XMM_OUT 0x66, 0x48, 0x0f, 0x7e, 0xc0, 0x66, 0x48, 0x0f, 0x7e, 0xc9
#define SSE(name, flags, ...) { name, { XMM_IN, __VA_ARGS__, XMM_OUT }, \
		20 + sizeof((uint8_t[]){ __VA_ARGS__ }), flags }
	SSE("addsd", ALL_FLAGS, 0xf2, 0x0f, 0x58, 0xc1),
	SSE("subsd", ALL_FLAGS, 0xf2, 0x0f, 0x5c, 0xc1),
	SSE("mulsd", ALL_FLAGS, 0xf2, 0x0f, 0x59, 0xc1),
	SSE("divsd", ALL_FLAGS, 0xf2, 0x0f, 0x5e, 0xc1),
	SSE("sqrtsd", ALL_FLAGS, 0xf2, 0x0f, 0x51, 0xc1),
	SSE("minsd", ALL_FLAGS, 0xf2, 0x0f, 0x5d, 0xc1),
	SSE("maxsd", ALL_FLAGS, 0xf2, 0x0f, 0x5f, 0xc1),
	SSE("addss", ALL_FLAGS, 0xf3, 0x0f, 0x58, 0xc1),
	SSE("mulss", ALL_FLAGS, 0xf3, 0x0f, 0x59, 0xc1),
	SSE("divss", ALL_FLAGS, 0xf3, 0x0f, 0x5e, 0xc1),
	SSE("cvtss2sd", ALL_FLAGS, 0xf3, 0x0f, 0x5a, 0xc1),
	SSE("cvtsd2ss", ALL_FLAGS, 0xf2, 0x0f, 0x5a, 0xc1),
	SSE("ucomisd", ALL_FLAGS, 0x66, 0x0f, 0x2e, 0xc1),
	SSE("comiss", ALL_FLAGS, 0x0f, 0x2f, 0xc1),
	SSE("cmplesd", ALL_FLAGS, 0xf2, 0x0f, 0xc2, 0xc1, 0x02),
	SSE("cmpunordps", ALL_FLAGS, 0x0f, 0xc2, 0xc1, 0x03),
	SSE("andpd", ALL_FLAGS, 0x66, 0x0f, 0x54, 0xc1),
	SSE("xorps", ALL_FLAGS, 0x0f, 0x57, 0xc1),
	SSE("unpcklps", ALL_FLAGS, 0x0f, 0x14, 0xc1),
	SSE("shufps", ALL_FLAGS, 0x0f, 0xc6, 0xc1, 0x4e),
	SSE("paddb", ALL_FLAGS, 0x66, 0x0f, 0xfc, 0xc1),
	SSE("psubw", ALL_FLAGS, 0x66, 0x0f, 0xf9, 0xc1),
	SSE("paddq", ALL_FLAGS, 0x66, 0x0f, 0xd4, 0xc1),
	SSE("pmullw", ALL_FLAGS, 0x66, 0x0f, 0xd5, 0xc1),
	SSE("pmulhw", ALL_FLAGS, 0x66, 0x0f, 0xe5, 0xc1),
	SSE("pmuludq", ALL_FLAGS, 0x66, 0x0f, 0xf4, 0xc1),
	SSE("pmaddwd", ALL_FLAGS, 0x66, 0x0f, 0xf5, 0xc1),
	SSE("psadbw", ALL_FLAGS, 0x66, 0x0f, 0xf6, 0xc1),
	SSE("pavgb", ALL_FLAGS, 0x66, 0x0f, 0xe0, 0xc1),
	SSE("pminub", ALL_FLAGS, 0x66, 0x0f, 0xda, 0xc1),
	SSE("pmaxsw", ALL_FLAGS, 0x66, 0x0f, 0xee, 0xc1),
	SSE("paddusb", ALL_FLAGS, 0x66, 0x0f, 0xdc, 0xc1),
	SSE("psubsw", ALL_FLAGS, 0x66, 0x0f, 0xe9, 0xc1),
	SSE("pcmpeqb", ALL_FLAGS, 0x66, 0x0f, 0x74, 0xc1),
	SSE("pcmpgtd", ALL_FLAGS, 0x66, 0x0f, 0x66, 0xc1),
	SSE("punpcklbw", ALL_FLAGS, 0x66, 0x0f, 0x60, 0xc1),
	SSE("packuswb", ALL_FLAGS, 0x66, 0x0f, 0x67, 0xc1),
	SSE("packssdw", ALL_FLAGS, 0x66, 0x0f, 0x6b, 0xc1),
	SSE("pxor", ALL_FLAGS, 0x66, 0x0f, 0xef, 0xc1),
	SSE("pandn", ALL_FLAGS, 0x66, 0x0f, 0xdf, 0xc1),
	SSE("psllw", ALL_FLAGS, 0x66, 0x0f, 0xf1, 0xc1),
	SSE("psrad", ALL_FLAGS, 0x66, 0x0f, 0xe2, 0xc1),
	SSE("psrlq imm", ALL_FLAGS, 0x66, 0x0f, 0x73, 0xd0, 0x05),
	SSE("pslldq imm", ALL_FLAGS, 0x66, 0x0f, 0x73, 0xf8, 0x03),
	SSE("psrldq imm", ALL_FLAGS, 0x66, 0x0f, 0x73, 0xd8, 0x02),
	SSE("pshufd", ALL_FLAGS, 0x66, 0x0f, 0x70, 0xc1, 0x1b),
	SSE("pshuflw", ALL_FLAGS, 0xf2, 0x0f, 0x70, 0xc1, 0xb1),
	SSE("cvtsi2sd", ALL_FLAGS, 0xf2, 0x48, 0x0f, 0x2a, 0xc2),
	SSE("cvtdq2pd", ALL_FLAGS, 0xf3, 0x0f, 0xe6, 0xc1),
	SSE("cvttpd2dq", ALL_FLAGS, 0x66, 0x0f, 0xe6, 0xc1),
	/* float -> integer into a GPR: rdx = cvt(xmm1) */
	{ "cvttsd2si", { XMM_IN, 0xf2, 0x48, 0x0f, 0x2c, 0xd1 }, 15, ALL_FLAGS },
	{ "cvtsd2si", { XMM_IN, 0xf2, 0x48, 0x0f, 0x2d, 0xd1 }, 15, ALL_FLAGS },
	{ "cvttss2si", { XMM_IN, 0xf3, 0x0f, 0x2c, 0xd1 }, 14, ALL_FLAGS },
	{ "pmovmskb", { XMM_IN, 0x66, 0x0f, 0xd7, 0xd1 }, 14, ALL_FLAGS },
	{ "movmskpd", { XMM_IN, 0x66, 0x0f, 0x50, 0xd1 }, 14, ALL_FLAGS },
	{ "pextrw", { XMM_IN, 0x66, 0x0f, 0xc5, 0xd1, 0x03 }, 15, ALL_FLAGS },
};

/* Flags a count-dependent shift defines for this count. */
static uint64_t shift_flags(const struct case_def *d, uint64_t rcx)
{
	unsigned bits = d->op_size * 8;
	unsigned count = rcx & (d->op_size == 8 ? 63 : 31);

	if (count == 0)
		return ALL_FLAGS;
	switch (d->count_kind) {
	case 1: /* SHL/SHR/SAR */
		if (count > bits)
			return RFLAGS_PF | RFLAGS_ZF | RFLAGS_SF;
		return (count == 1 ? RFLAGS_OF : 0) | RFLAGS_CF | RFLAGS_PF |
		       RFLAGS_ZF | RFLAGS_SF;
	case 2: /* rotates: CF always, OF for a count of 1 */
		return RFLAGS_CF | (count == 1 ? RFLAGS_OF : 0) |
		       (RFLAGS_PF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_AF);
	default: /* SHLD/SHRD */
		if (count > bits)
			return 0;
		return (count == 1 ? RFLAGS_OF : 0) | RFLAGS_CF | RFLAGS_PF |
		       RFLAGS_ZF | RFLAGS_SF;
	}
}

/* Would this division fault (#DE)?  The host would get SIGFPE. */
static bool div_faults(const struct case_def *d, const struct emu_regs *r)
{
	unsigned size = d->op_size, bits = size * 8;
	uint64_t m = size == 8 ? ~0ULL : (1ULL << bits) - 1;
	uint64_t div = r->rcx & m;
	unsigned __int128 un;
	__int128 n, q, lo, hi;
	int64_t dv;

	if (!div)
		return true;
	if (size == 1)
		un = r->rax & 0xffff;
	else
		un = ((unsigned __int128)(r->rdx & m) << bits) | (r->rax & m);
	if (!strstr(d->name, "idiv"))
		return un / div > m;
	/* Sign-extend the 2*bits-wide dividend and the divisor. */
	n = bits == 64 ? (__int128)un : (__int128)((int64_t)((uint64_t)un << (64 - 2 * bits)) >> (64 - 2 * bits));
	dv = (int64_t)(div << (64 - bits)) >> (64 - bits);
	lo = -((__int128)1 << (bits - 1));
	hi = ((__int128)1 << (bits - 1)) - 1;
	if (dv == -1)
		return bits == 64 ? n == (__int128)((unsigned __int128)1 << 127) || -n < lo || -n > hi
				  : -n < lo || -n > hi;
	q = n / dv;
	return q < lo || q > hi;
}

static void test_against_host(void **state)
{
	unsigned failures = 0, runs = 0;

	for (unsigned ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
		const struct case_def *d = &cases[ci];
		for (unsigned it = 0; it < 3000; it++) {
			struct emu_regs in = { operand(), operand(), operand(), operand(), 0 };
			struct emu_regs nat, emu;
			uint64_t mask;
			int vec;

			in.flags = (rnd() & ALL_FLAGS) | RFLAGS_FIXED;
			if (d->guard == NO_DIV_FAULT) {
				if (it % 2)  /* keep most dividends small enough to divide */
					in.rdx = d->name[0] == 'i' && (in.rax >> 63) ? ~0ULL : 0;
				if (div_faults(d, &in)) {
					emu = in;
					vec = emu_harness_run_emulated(&h, d->bytes, d->len, &emu);
					if (vec != EXC_DE) {
						print_error("%s: expected #DE for rax=%#llx rdx=%#llx rcx=%#llx, got %d\n",
							    d->name, (unsigned long long)in.rax,
							    (unsigned long long)in.rdx,
							    (unsigned long long)in.rcx, vec);
						failures++;
					}
					continue;
				}
			}
			nat = in;
			emu = in;
			emu_harness_run_native(&h, d->bytes, d->len, &nat);
			vec = emu_harness_run_emulated(&h, d->bytes, d->len, &emu);
			runs++;
			mask = d->count_kind ? shift_flags(d, in.rcx) : d->flags_defined;
			if (vec >= 0 || nat.rax != emu.rax || nat.rcx != emu.rcx ||
			    nat.rdx != emu.rdx || nat.rbx != emu.rbx ||
			    ((nat.flags ^ emu.flags) & mask)) {
				if (failures++ < 20)
					print_error("%s: in rax=%#llx rcx=%#llx rdx=%#llx rbx=%#llx fl=%#llx\n"
						    "  host rax=%#llx rcx=%#llx rdx=%#llx rbx=%#llx fl=%#llx\n"
						    "  emu  rax=%#llx rcx=%#llx rdx=%#llx rbx=%#llx fl=%#llx vec=%d\n",
						    d->name, (unsigned long long)in.rax, (unsigned long long)in.rcx,
						    (unsigned long long)in.rdx, (unsigned long long)in.rbx,
						    (unsigned long long)in.flags,
						    (unsigned long long)nat.rax, (unsigned long long)nat.rcx,
						    (unsigned long long)nat.rdx, (unsigned long long)nat.rbx,
						    (unsigned long long)(nat.flags & mask),
						    (unsigned long long)emu.rax, (unsigned long long)emu.rcx,
						    (unsigned long long)emu.rdx, (unsigned long long)emu.rbx,
						    (unsigned long long)(emu.flags & mask), vec);
			}
		}
	}
	print_message("%u instruction executions compared with the host CPU\n", runs);
	assert_int_equal(failures, 0);
}

/* Undefined opcodes raise #UD in the guest instead of stopping the VMM. */
static void test_undefined_opcodes_raise_ud(void **state)
{
	static const uint8_t ud[][4] = {
		{ 0x0f, 0x0b }, { 0x0f, 0xff }, { 0x0f, 0x04 }, { 0xd6 }, { 0x0f, 0xa6 },
		{ 0x06 } /* PUSH ES: invalid in 64-bit mode */, { 0x8c, 0xf8 } /* MOV r, seg 7 */,
		{ 0xf0, 0x90 } /* LOCK NOP */, { 0xf0, 0x01, 0xc0 } /* LOCK with register */,
	};
	for (unsigned i = 0; i < sizeof(ud) / sizeof(ud[0]); i++) {
		struct emu_regs r = { 0 };
		r.flags = RFLAGS_FIXED;
		assert_int_equal(emu_harness_run_emulated(&h, ud[i], 4, &r), EXC_UD);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_against_host),
		cmocka_unit_test(test_undefined_opcodes_raise_ud),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

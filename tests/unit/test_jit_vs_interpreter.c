/*
 * The translator against the interpreter: random instruction sequences
 * (ALU operations, moves, memory operands, shifts, pushes and pops,
 * forward branches, flag instructions, occasional faults) inside a loop
 * run by both engines from the same registers, flags and memory.  The
 * registers, RIP, flags, memory and any exception must agree.  Sequences
 * rather than single instructions, so that flags carried from one
 * instruction (and block) to the next, block exits and chained blocks
 * are exercised; the interpreter itself is checked against the host CPU
 * instruction by instruction in test_emu_vs_host.  The same generator
 * runs in 64-bit mode and in 32-bit protected mode (where its REX bytes
 * are INC/DEC and the loop counter lives in memory).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "emu_harness.h"
#include "emu_run.h"
#include "accel/emu/jit/jit.h"

#define rnd emu_harness_rnd

#define DATA_GPA  0x100000   /* RBP points into this: memory operands */
#define DATA_SIZE 0x2000     /* two pages */
/* RBP: well inside the first page, or (64-bit code, every other
 * sequence) just below the second, so that accesses off it through one
 * base span both pages (the translator's page groups then look each up
 * alone) */
#define RBP_OFF 0x800
#define RBP_OFF_CROSSING 0xff0
#define STACK_TOP 0x80000
#define STACK_SIZE 0x1000
#define MAX_STEPS 200000
#define COUNTER_GPA 0x103000  /* the loop counter in 32-bit code */

static bool mode32;
/* Segment base of DS, ES and SS in 32-bit code: RBP and RSP are offsets
 * that much below the linear addresses of the data and the stack. */
static uint32_t seg_base;

static struct emu_harness h;
static struct emu_cpu *cpu;

static int setup(void **state)
{
	emu_harness_setup(&h);
	cpu = h.cpu;
	assert_non_null(cpu->jit);
	cpu->jit->hot_entries = 0;  /* every block translated at once */
	return 0;
}

static int teardown(void **state)
{
	emu_harness_teardown(&h);
	return 0;
}

/* ---- generating code ---- */

struct code {
	uint8_t b[4096];
	unsigned n;
};

static void put(struct code *c, unsigned n, ...)
{
	va_list ap;

	va_start(ap, n);
	while (n--)
		c->b[c->n++] = va_arg(ap, int);
	va_end(ap);
}

/* Data registers: RAX, RCX, RDX, RBX, RSI, RDI (no REX.R/B needed);
 * RBP is the memory base, R8 the loop counter, RSP the stack. */
static unsigned reg(void)
{
	static const uint8_t r[] = { 0, 1, 2, 3, 6, 7 };

	return r[rnd() % 6];
}

static uint8_t rexw(void)
{
	return rnd() & 1 ? 0x48 : 0x40;  /* 64- or 32-bit operand */
}

/* A disp8 inside the data area for 8-byte accesses off RBP (= middle). */
static uint8_t disp8(void)
{
	return (uint8_t)((int8_t)((rnd() % 240) - 120));
}

/* Prefix, REX (64-bit code only: XMM8-15 and REX.W), 0F and the rest. */
static void sse_put(struct code *c, uint8_t pfx, bool w, unsigned x1, unsigned x2,
		    unsigned n, const uint8_t *rest)
{
	uint8_t rex = 0x40 | (w ? 8 : 0) | (x1 >> 3) << 2 | (x2 >> 3);

	if (pfx)
		put(c, 1, pfx);
	if (rex != 0x40)
		put(c, 1, rex);
	put(c, 1, 0x0f);
	for (unsigned i = 0; i < n; i++)
		put(c, 1, rest[i]);
}

/* An SSE instruction the translator runs natively (and some it does not):
 * XMM operands, [rbp+d8] mostly 16-byte aligned (else #GP for the
 * aligned forms), GPR r for MOVD/MOVQ/PMOVMSKB. */
static void sse_insn(struct code *c, unsigned r)
{
	static const uint8_t int_ops[] = {
		0x60, 0x61, 0x62, 0x63, 0x64, 0x67, 0x68, 0x6b, 0x6c, 0x6d, 0x74, 0x75,
		0x76, 0xd1, 0xd4, 0xd5, 0xd8, 0xda, 0xdb, 0xde, 0xdf, 0xe0, 0xe2, 0xe4,
		0xe8, 0xeb, 0xec, 0xef, 0xf2, 0xf4, 0xf5, 0xf6, 0xf8, 0xfa, 0xfb, 0xfe,
	};
	unsigned x1 = rnd() % (mode32 ? 8 : 16), x2 = rnd() % (mode32 ? 8 : 16);
	uint8_t d8 = rnd() % 4 ? (uint8_t)(disp8() & ~15) : disp8();
	uint8_t mem = (uint8_t)(0x45 | (x1 & 7) << 3), rr = (uint8_t)(0xc0 | (x1 & 7) << 3 | (x2 & 7));
	uint8_t op = int_ops[rnd() % sizeof(int_ops)], imm = (uint8_t)rnd();
	bool w = !mode32 && (rnd() & 1);

	switch (rnd() % 13) {
	case 0:                  /* integer op xmm, xmm */
		sse_put(c, 0x66, false, x1, x2, 2, (const uint8_t[]){ op, rr });
		break;
	case 1:                  /* integer op xmm, [rbp+d8] */
		sse_put(c, 0x66, false, x1, 0, 3, (const uint8_t[]){ op, mem, d8 });
		break;
	case 2:                  /* MOVD/MOVQ xmm, r; MOVD/MOVQ r, xmm */
		sse_put(c, 0x66, w, x1, 0, 2,
			(const uint8_t[]){ rnd() & 1 ? 0x6e : 0x7e,
					   (uint8_t)(0xc0 | (x1 & 7) << 3 | r) });
		break;
	case 3:                  /* PMOVMSKB r, xmm */
		sse_put(c, 0x66, false, 0, x2, 2,
			(const uint8_t[]){ 0xd7, (uint8_t)(0xc0 | r << 3 | (x2 & 7)) });
		break;
	case 4:                  /* MOVDQU, MOVUPS load/store */
		if (rnd() & 1)
			sse_put(c, 0xf3, false, x1, 0, 3,
				(const uint8_t[]){ rnd() & 1 ? 0x6f : 0x7f, mem, d8 });
		else
			sse_put(c, 0, false, x1, 0, 3,
				(const uint8_t[]){ rnd() & 1 ? 0x10 : 0x11, mem, d8 });
		break;
	case 5:                  /* MOVDQA, MOVAPS load/store (#GP unaligned) */
		if (rnd() & 1)
			sse_put(c, 0x66, false, x1, 0, 3,
				(const uint8_t[]){ rnd() & 1 ? 0x6f : 0x7f, mem, d8 });
		else
			sse_put(c, 0, false, x1, 0, 3,
				(const uint8_t[]){ rnd() & 1 ? 0x28 : 0x29, mem, d8 });
		break;
	case 6:                  /* PSHUFD, PSHUFHW, PSHUFLW */
		sse_put(c, (const uint8_t[]){ 0x66, 0xf3, 0xf2 }[rnd() % 3], false, x1, x2, 3,
			(const uint8_t[]){ 0x70, rr, imm });
		break;
	case 7: {                /* shifts by imm8 */
		static const uint8_t forms[][2] = {
			{ 0x71, 2 }, { 0x71, 4 }, { 0x71, 6 }, { 0x72, 2 }, { 0x72, 4 },
			{ 0x72, 6 }, { 0x73, 2 }, { 0x73, 3 }, { 0x73, 6 }, { 0x73, 7 },
		};
		unsigned f = rnd() % 10;

		sse_put(c, 0x66, false, 0, x2, 3,
			(const uint8_t[]){ forms[f][0], (uint8_t)(0xc0 | forms[f][1] << 3 | (x2 & 7)),
					   (uint8_t)(imm % 20) });
		break;
	}
	case 8:                  /* MOVD/MOVQ [rbp+d8], xmm and back */
		sse_put(c, 0x66, w, x1, 0, 3,
			(const uint8_t[]){ rnd() & 1 ? 0x6e : 0x7e, mem, disp8() });
		break;
	case 9:                  /* MOVQ xmm, xmm/m64; MOVQ xmm/m64, xmm */
		if (rnd() & 1)
			sse_put(c, 0xf3, false, x1, x2, 2, (const uint8_t[]){ 0x7e, rr });
		else
			sse_put(c, 0x66, false, x2, x1, 2,
				(const uint8_t[]){ 0xd6, (uint8_t)(0xc0 | (x2 & 7) << 3 | (x1 & 7)) });
		break;
	case 10:                 /* PSHUFB; PALIGNR */
		if (rnd() & 1)
			sse_put(c, 0x66, false, x1, x2, 3, (const uint8_t[]){ 0x38, 0x00, rr });
		else
			sse_put(c, 0x66, false, x1, x2, 4,
				(const uint8_t[]){ 0x3a, 0x0f, rr, (uint8_t)(imm % 33) });
		break;
	case 11: {               /* PCMPISTRI, PCMPESTRI (then a Jcc sees the flags) */
		uint8_t op = rnd() & 1 ? 0x63 : 0x61;

		if (rnd() & 1)
			sse_put(c, 0x66, false, x1, x2, 4, (const uint8_t[]){ 0x3a, op, rr, imm });
		else
			sse_put(c, 0x66, false, x1, 0, 5, (const uint8_t[]){ 0x3a, op, mem, disp8(), imm });
		break;
	}
	default:                 /* XORPS, ANDPS, ORPS, MOVAPS xmm, xmm; SHUFPS */
		if (rnd() % 4 == 0)
			sse_put(c, 0, false, x1, x2, 3, (const uint8_t[]){ 0xc6, rr, imm });
		else
			sse_put(c, 0, false, x1, x2, 2,
				(const uint8_t[]){ (const uint8_t[]){ 0x57, 0x54, 0x56, 0x28 }[rnd() % 4],
						   rr });
		break;
	}
}

/* One instruction that changes no control flow (may fault). */
/* One of the forms that do nothing: NOP, 66 NOP, PAUSE, the 5-byte NOP
 * compilers and ftrace put at function entries (translated as no code,
 * which must leave the flags the instruction before computed). */
static void nop_insn(struct code *c)
{
	switch (rnd() % 4) {
	case 0:
		put(c, 1, 0x90);
		break;
	case 1:
		put(c, 2, 0x66, 0x90);
		break;
	case 2:
		put(c, 2, 0xf3, 0x90);
		break;
	default:
		put(c, 5, 0x0f, 0x1f, 0x44, 0x00, 0x00);
		break;
	}
}

static void simple_insn(struct code *c)
{
	unsigned r1 = reg(), r2 = reg(), k = rnd() % 45;
	/* byte registers: AL-BH without REX, AL-DIL with (not SPL and BPL:
	 * RSP and RBP stay the stack and the memory base) */
	uint8_t rex8 = rnd() & 1 ? 0x40 : 0x3e;  /* REX, or a DS prefix */
	unsigned b1 = rex8 == 0x40 ? reg() : rnd() % 8, b2 = rex8 == 0x40 ? reg() : rnd() % 8;
	uint8_t alu = (rnd() % 8) << 3;  /* ADD OR ADC SBB AND SUB XOR CMP */

	switch (k) {
	case 0: case 1: case 2:  /* ALU r/m, reg */
		put(c, 3, rexw(), alu | 1, 0xc0 | r2 << 3 | r1);
		break;
	case 3:                  /* ALU r8, r8 */
		put(c, 2, alu, 0xc0 | (r2 & 3) << 3 | (r1 & 3));
		break;
	case 4: case 5:          /* ALU r/m, imm8 */
		put(c, 4, rexw(), 0x83, 0xc0 | alu | r1, (uint8_t)rnd());
		break;
	case 6:                  /* ALU r/m, imm32 */
		put(c, 7, rexw(), 0x81, 0xc0 | alu | r1, (uint8_t)rnd(), (uint8_t)rnd(),
		    (uint8_t)rnd(), (uint8_t)rnd());
		break;
	case 7:                  /* ALU reg, [rbp+d8] */
		put(c, 4, rexw(), alu | 3, 0x45 | r1 << 3, disp8());
		break;
	case 8:                  /* ALU [rbp+d8], reg; ALU [rbp+d8], imm8 */
		if (rnd() & 1)
			put(c, 4, rexw(), alu | 1, 0x45 | r1 << 3, disp8());
		else
			put(c, 5, rexw(), 0x83, 0x45 | alu, disp8(), (uint8_t)rnd());
		break;
	case 9:                  /* INC/DEC r/m */
		put(c, 3, rexw(), 0xff, 0xc0 | (rnd() & 1) << 3 | r1);
		break;
	case 10:                 /* MOV r/m, reg */
		put(c, 3, rexw(), 0x89, 0xc0 | r2 << 3 | r1);
		break;
	case 11:                 /* MOV reg, imm32 */
		put(c, 5, 0xb8 | r1, (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd(),
		    (uint8_t)rnd());
		break;
	case 12:                 /* MOV [rbp+d8], reg; MOV reg, [rbp+d8] */
		put(c, 4, rexw(), rnd() & 1 ? 0x89 : 0x8b, 0x45 | r1 << 3, disp8());
		break;
	case 13:                 /* LEA reg, [r1 + r2*s + d8]; [r2*s + d32] (no base) */
		if (r1 == 5 || r2 == 4)
			r1 = 0;
		if (rnd() & 1)
			put(c, 5, rexw(), 0x8d, 0x44 | reg() << 3,
			    (rnd() % 4) << 6 | r2 << 3 | r1, (uint8_t)rnd());
		else
			put(c, 8, rexw(), 0x8d, 0x04 | reg() << 3, (rnd() % 4) << 6 | r2 << 3 | 5,
			    (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd());
		break;
	case 14:                 /* TEST r/m, reg */
		put(c, 3, rexw(), 0x85, 0xc0 | r2 << 3 | r1);
		break;
	case 15:                 /* shifts and rotates by imm8 */
		put(c, 4, rexw(), 0xc1, 0xc0 | (rnd() % 8) << 3 | r1, (uint8_t)(rnd() % 70));
		break;
	case 16:                 /* shifts by CL */
		put(c, 3, rexw(), 0xd3, 0xc0 | (rnd() % 8) << 3 | r1);
		break;
	case 17:                 /* IMUL reg, r/m */
		put(c, 4, rexw(), 0x0f, 0xaf, 0xc0 | r1 << 3 | r2);
		break;
	case 18:                 /* CMOVcc reg, r/m */
		put(c, 4, rexw(), 0x0f, 0x40 | (rnd() % 16), 0xc0 | r1 << 3 | r2);
		break;
	case 19:                 /* SETcc r8 */
		put(c, 3, 0x0f, 0x90 | (rnd() % 16), 0xc0 | (r1 & 3));
		break;
	case 20:                 /* CLC, STC, CMC: flags by the interpreter */
		put(c, 1, (uint8_t[]){ 0xf8, 0xf9, 0xf5 }[rnd() % 3]);
		break;
	case 21:                 /* PUSH reg, imm8 or imm32 (sign-extended); POP reg2 */
		switch (rnd() % 3) {
		case 0:
			put(c, 1, 0x50 | r1);
			break;
		case 1:
			put(c, 2, 0x6a, (uint8_t)rnd());
			break;
		default:
			put(c, 5, 0x68, (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd(),
			    (uint8_t)rnd());
			break;
		}
		put(c, 1, 0x58 | r2);
		break;
	case 22:                 /* PUSHFQ; POPFQ: a general instruction */
		put(c, 2, 0x9c, 0x9d);
		break;
	case 23:                 /* MOVZX/MOVSX reg, r8 */
		put(c, 4, rexw(), 0x0f, rnd() & 1 ? 0xb6 : 0xbe, 0xc0 | r1 << 3 | (r2 & 3));
		break;
	case 26:                 /* MOVZX/MOVSX reg, r16; reg, AH-BH (no REX);
				  * MOVSXD reg, r32 */
		switch (rnd() % 3) {
		case 0:
			put(c, 4, rexw(), 0x0f, rnd() & 1 ? 0xb7 : 0xbf, 0xc0 | r1 << 3 | r2);
			break;
		case 1:
			put(c, 3, 0x0f, rnd() & 1 ? 0xb6 : 0xbe, 0xc0 | r1 << 3 | (4 + rnd() % 4));
			break;
		default:
			put(c, 3, 0x48, 0x63, 0xc0 | r1 << 3 | r2);
			break;
		}
		break;
	case 27:                 /* MOVZX/MOVSX reg, byte/word [rbp+d8];
				  * MOVSXD reg, [rbp+d8] */
		if (rnd() % 3)
			put(c, 5, rexw(), 0x0f, 0xb6 | (rnd() % 2) | (rnd() % 2) << 3,
			    0x45 | r1 << 3, disp8());
		else
			put(c, 4, 0x48, 0x63, 0x45 | r1 << 3, disp8());
		break;
	case 28:                 /* IMUL reg, [rbp+d8] */
		put(c, 5, rexw(), 0x0f, 0xaf, 0x45 | r1 << 3, disp8());
		break;
	case 29:                 /* CMP/TEST [rbp+d8], reg; CMP [rbp+d8], imm8;
				  * TEST [rbp+d8], imm32 */
		switch (rnd() % 3) {
		case 0:
			put(c, 4, rexw(), rnd() & 1 ? 0x39 : 0x85, 0x45 | r1 << 3, disp8());
			break;
		case 1:
			put(c, 5, rexw(), 0x83, 0x7d, disp8(), (uint8_t)rnd());
			break;
		default:
			put(c, 8, rexw(), 0xf7, 0x45, disp8(), (uint8_t)rnd(), (uint8_t)rnd(),
			    (uint8_t)rnd(), (uint8_t)rnd());
			break;
		}
		break;
	case 30:                 /* shifts and rotates by 1 */
		put(c, 3, rexw(), 0xd1, 0xc0 | (rnd() % 8) << 3 | r1);
		break;
	case 31:                 /* general instructions a block goes on
				  * after: 16-bit MOV and ALU, MOV word
				  * [rbp+d8], imm16; NOT/NEG/MUL/IMUL r/m */
		switch (rnd() % 5) {
		case 0:
			put(c, 3, 0x66, rnd() & 1 ? 0x89 : 0x8b, 0xc0 | r2 << 3 | r1);
			break;
		case 1:
			put(c, 3, 0x66, alu | 1, 0xc0 | r2 << 3 | r1);
			break;
		case 2:
			put(c, 6, 0x66, 0xc7, 0x45, disp8(), (uint8_t)rnd(), (uint8_t)rnd());
			break;
		case 3:         /* MUL, IMUL [rbp+d8] */
			put(c, 4, rexw(), 0xf7, 0x40 | (4 + rnd() % 2) << 3 | 5, disp8());
			break;
		default:
			put(c, 3, rexw(), 0xf7, 0xc0 | (2 + rnd() % 4) << 3 | r1);
			break;
		}
		break;
	case 32:                 /* SSE (sse_insn) */
		sse_insn(c, r1);
		break;
	case 33:                 /* BSF/BSR, BT, SHLD/SHRD, XADD, CMPXCHG,
				  * BSWAP, XCHG, CQO/CDQ */
		switch (rnd() % 8) {
		case 0:
			put(c, 4, rexw(), 0x0f, rnd() & 1 ? 0xbc : 0xbd, 0xc0 | r1 << 3 | r2);
			break;
		case 1:
			put(c, 4, rexw(), 0x0f, 0xa3, 0xc0 | r2 << 3 | r1);
			break;
		case 2:
			put(c, 5, rexw(), 0x0f, rnd() & 1 ? 0xa4 : 0xac, 0xc0 | r2 << 3 | r1,
			    (uint8_t)(rnd() % 70));
			break;
		case 3:
			put(c, 4, rexw(), 0x0f, 0xc1, 0xc0 | r2 << 3 | r1);
			break;
		case 4:
			put(c, 4, rexw(), 0x0f, 0xb1, 0xc0 | r2 << 3 | r1);
			break;
		case 5:
			put(c, 3, rexw(), 0x0f, 0xc8 | r1);
			break;
		case 6:
			put(c, 3, rexw(), 0x87, 0xc0 | r2 << 3 | r1);
			break;
		default:
			put(c, 2, rexw(), 0x99);
			break;
		}
		break;
	case 34:                 /* string instructions: RDI (and RSI) into
				  * the data, a short REP STOS/MOVS or one
				  * STOS/LODS/CMPS/SCAS */
		put(c, 4, 0x48, 0x8d, 0x7d, disp8());     /* lea rdi, [rbp+d8] */
		put(c, 4, 0x48, 0x8d, 0x75, disp8());     /* lea rsi, [rbp+d8] */
		put(c, 5, 0xb9, (unsigned)(rnd() % 24), 0, 0, 0);  /* mov ecx, n */
		switch (rnd() % 4) {
		case 0:
			put(c, 2, 0xf3, 0xaa | (rnd() & 1));
			break;
		case 1:
			put(c, 2, 0xf3, 0xa4 | (rnd() & 1));
			break;
		case 2:
			put(c, 2, rexw(), 0xaa | (rnd() % 6));   /* STOS LODS SCAS */
			break;
		default:
			put(c, 2, 0xf3, 0xa6 | (rnd() & 1));      /* REPE CMPS */
			break;
		}
		break;
	case 35:                 /* byte ALU/TEST/MOV of registers, either
				  * AH-BH or (with REX) SPL-DIL */
		switch (rnd() % 6) {
		case 0:
			put(c, 3, rex8, alu | (rnd() & 2), 0xc0 | b2 << 3 | b1);
			break;
		case 1:
			put(c, 4, rex8, 0x80, 0xc0 | alu | b1, (uint8_t)rnd());
			break;
		case 2:
			put(c, 3, rex8, rnd() & 1 ? 0x84 : 0x88 | (rnd() & 2),
			    0xc0 | b2 << 3 | b1);
			break;
		case 3:
			put(c, 3, rex8, 0xb0 | b1, (uint8_t)rnd());
			break;
		case 4:
			put(c, 2, alu | 4, (uint8_t)rnd());  /* ALU AL, imm8; a NOP */
			nop_insn(c);
			break;
		default:
			put(c, 4, rex8, rnd() & 1 ? 0xf6 : 0xc6, 0xc0 | b1, (uint8_t)rnd());
			break;
		}
		break;
	case 36: case 37:        /* byte operations on [rbp+d8]: ALU either
				  * way, CMP/TEST with imm8, MOV either way
				  * and with imm8 */
		switch (rnd() % 6) {
		case 0:
			put(c, 4, rex8, alu | (rnd() & 2), 0x45 | b1 << 3, disp8());
			break;
		case 1:
			put(c, 5, rex8, 0x80, 0x45 | alu, disp8(), (uint8_t)rnd());
			break;
		case 2:
			put(c, 5, rex8, rnd() & 1 ? 0xf6 : 0xc6, 0x45, disp8(), (uint8_t)rnd());
			break;
		case 3:
			put(c, 4, rex8, 0x84, 0x45 | b1 << 3, disp8());
			break;
		default:
			put(c, 4, rex8, 0x88 | (rnd() & 2), 0x45 | b1 << 3, disp8());
			break;
		}
		break;
	case 38:                 /* a byte CMP/TEST, then a Jcc on it: the
				  * next instruction is one (sequence()) */
		put(c, 3, rex8, rnd() & 1 ? 0x38 : 0x84, 0xc0 | b2 << 3 | b1);
		if (rnd() & 1)
			nop_insn(c);
		break;
	case 39:                 /* 16-bit operations: ALU either way and
				  * with imm8 on [rbp+d8], MOV either way,
				  * INC/DEC, MOVZX/MOVSX r16, r8, CMP/TEST;
				  * NOT/NEG/INC/DEC [rbp+d8] of any size */
		switch (rnd() % 7) {
		case 0:
			put(c, 4, 0x66, alu | 1 | (rnd() & 2), 0x45 | r1 << 3, disp8());
			break;
		case 1:
			put(c, 5, 0x66, 0x83, 0x45 | alu, disp8(), (uint8_t)rnd());
			break;
		case 2:
			put(c, 4, 0x66, 0x89 | (rnd() & 2), 0x45 | r1 << 3, disp8());
			break;
		case 3:
			put(c, 3, 0x66, 0xff, 0xc0 | (rnd() & 1) << 3 | r1);
			break;
		case 4:
			put(c, 4, 0x66, 0x0f, rnd() & 1 ? 0xb6 : 0xbe, 0xc0 | r1 << 3 | (r2 & 3));
			break;
		case 5:
			put(c, 3, 0x66, rnd() & 1 ? 0x39 : 0x85, 0xc0 | r2 << 3 | r1);
			break;
		default:         /* NOT, NEG; INC, DEC */
			if (rnd() & 1)
				put(c, 4, (uint8_t[]){ 0x66, 0x48, 0x3e }[rnd() % 3],
				    0xf6 | (rnd() & 1), 0x55 | (rnd() & 1) << 3, disp8());
			else
				put(c, 4, (uint8_t[]){ 0x66, 0x48, 0x3e }[rnd() % 3], 0xff,
				    0x45 | (rnd() & 1) << 3, disp8());
			break;
		}
		break;
	case 41:                 /* byte and word shifts and rotates: by 1,
				  * imm8 (often below the width) or CL; shifts
				  * and rotates of memory */
		switch (rnd() % 6) {
		case 4:              /* of memory, any size */
			put(c, 5, rexw(), 0xc1, 0x45 | (rnd() % 8) << 3, disp8(),
			    (uint8_t)(rnd() % 70));
			break;
		case 5:
			put(c, 4, rnd() % 3 ? rexw() : 0x66, (uint8_t[]){ 0xd0, 0xd1, 0xd2, 0xd3 }[rnd() % 4],
			    0x45 | (rnd() % 8) << 3, disp8());
			break;
		case 0:
			put(c, 4, rex8, 0xc0, 0xc0 | (rnd() % 8) << 3 | b1,
			    (uint8_t)(rnd() & 1 ? rnd() % 9 : rnd() % 40));
			break;
		case 1:
			put(c, 3, rex8, rnd() & 1 ? 0xd0 : 0xd2, 0xc0 | (rnd() % 8) << 3 | b1);
			break;
		case 2:
			put(c, 4, 0x66, 0xc1, 0xc0 | (rnd() % 8) << 3 | r1,
			    (uint8_t)(rnd() & 1 ? rnd() % 17 : rnd() % 40));
			break;
		default:
			put(c, 3, 0x66, rnd() & 1 ? 0xd1 : 0xd3, 0xc0 | (rnd() % 8) << 3 | r1);
			break;
		}
		break;
	case 42:                 /* ADC/SBB chains: after a CMP, an ADD or a
				  * shift, with AL/EAX, imm or registers */
		put(c, 3, rexw(), (rnd() & 1 ? 0x39 : 0x01), 0xc0 | r2 << 3 | r1);
		switch (rnd() % 3) {
		case 0:
			put(c, 3, rexw(), (rnd() & 1 ? 0x11 : 0x19), 0xc0 | r1 << 3 | r2);
			break;
		case 1:
			put(c, 4, rexw(), 0x83, 0xd0 | (rnd() & 1) << 3 | r1, (uint8_t)rnd());
			break;
		default:
			put(c, 2, rnd() & 1 ? 0x14 : 0x1c, (uint8_t)rnd());
			break;
		}
		put(c, 3, rexw(), (rnd() & 1 ? 0x11 : 0x19), 0xc0 | r2 << 3 | r1);
		break;
	case 43:                 /* a register read and written around a write
				  * of its second byte (AH-BH) or its low word:
				  * what the translator kept of it in a host
				  * register must not outlive the write */
		put(c, 3, 0x48, alu | 1, 0xc0 | (r2 & 3) << 3 | (r1 & 3));
		if (rnd() & 1)
			put(c, 2, 0x88 | (rnd() & 2), 0xc0 | (rnd() % 4) << 3 | (4 + rnd() % 4));
		else
			put(c, 3, 0x66, 0x89, 0xc0 | (rnd() % 4) << 3 | (rnd() % 4));
		put(c, 3, 0x48, alu | 1, 0xc0 | (r1 & 3) << 3 | (r2 & 3));
		break;
	case 44: {               /* XCHG, XADD, CMPXCHG with memory, LOCK or
				  * not, of every size (CMPXCHG often with the
				  * accumulator equal to the memory); LOCK ALU,
				  * INC, DEC of memory */
		uint8_t lock = rnd() & 1 ? 0xf0 : 0x3e, pfx = rnd() % 3 ? rexw() : 0x66;
		uint8_t d = disp8();
		bool byte = rnd() % 4 == 0;

		if (rnd() & 1)  /* RAX = the operand, so that CMPXCHG stores */
			put(c, 4, 0x48, 0x8b, 0x45, d);
		switch (rnd() % 6) {
		case 3:          /* LOCK ALU [m], reg */
			put(c, 5, 0xf0, pfx, alu | !byte, 0x45 | r1 << 3, d);
			break;
		case 4:          /* LOCK ALU [m], imm8 */
			put(c, 6, 0xf0, pfx, byte ? 0x80 : 0x83, 0x45 | alu, d, (uint8_t)rnd());
			break;
		case 5:          /* LOCK INC/DEC [m] */
			put(c, 5, 0xf0, pfx, byte ? 0xfe : 0xff, 0x45 | (rnd() & 1) << 3, d);
			break;
		case 0:
			put(c, 4, pfx, byte ? 0x86 : 0x87, 0x45 | r1 << 3, d);
			break;
		case 1:
			put(c, 6, lock, pfx, 0x0f, byte ? 0xc0 : 0xc1, 0x45 | r1 << 3, d);
			break;
		default:
			put(c, 6, lock, pfx, 0x0f, byte ? 0xb0 : 0xb1, 0x45 | r1 << 3, d);
			break;
		}
		break;
	}
	case 24:                 /* rarely: DIV r/m (may raise #DE) */
		if (rnd() % 4 == 0)
			put(c, 3, rexw(), 0xf7, 0xf0 | r1);
		else
			put(c, 3, rexw(), 0x31, 0xc0 | r1 << 3 | r1);
		break;
	default:                 /* rarely: a load through a random register
				  * (#GP if not canonical, #PF above 1 GiB) */
		if (rnd() % 8 == 0)
			put(c, 3, 0x48, 0x8b, r2 << 3 | (r1 == 5 || r1 == 4 ? 0 : r1));
		else
			put(c, 3, 0x48, 0x21, 0xc0 | r2 << 3 | r1);
		break;
	}
}

/* Registers an INC/DEC or ADD may change here: not RSP, RBP (the data
 * pointer) or R8 (the loop counter). */
static unsigned plain_reg(void)
{
	static const uint8_t regs[] = { 0, 1, 2, 3, 6, 7 };

	return regs[rnd() % sizeof(regs)];
}

/* The size prefix of a random operand size: 0 (none: 4 bytes), 0x66 (2),
 * 0x48 (8, 64-bit code only), or the byte form (*byte). */
static uint8_t size_prefix(bool *byte)
{
	unsigned k = rnd() % (mode32 ? 3 : 4);

	*byte = k == 0;
	return k == 1 ? 0x66 : k == 3 ? 0x48 : 0;
}

/* INC or DEC of a register, any size, then SETC: the block it starts
 * (after a RET) keeps CF from a record made in another block. */
static void incdec(struct code *c)
{
	bool byte;
	uint8_t pfx = size_prefix(&byte);
	uint8_t modrm = (rnd() & 1 ? 0xc0 : 0xc8) | plain_reg();

	if (pfx)
		put(c, 3, pfx, byte ? 0xfe : 0xff, modrm);
	else
		put(c, 2, byte ? 0xfe : 0xff, modrm);
	put(c, 3, 0x0f, 0x92, 0xc0 | plain_reg());  /* setc: CF is read */
}

/* ADD of two registers, any size. */
static void add_reg(struct code *c)
{
	bool byte;
	uint8_t pfx = size_prefix(&byte);
	uint8_t modrm = 0xc0 | plain_reg() << 3 | plain_reg();

	if (pfx)
		put(c, 3, pfx, byte ? 0x00 : 0x01, modrm);
	else
		put(c, 2, byte ? 0x00 : 0x01, modrm);
}

/* An ALU operation of two registers (or INC/DEC of one), perhaps moves,
 * then an ALU operation reading memory that may fault, perhaps an
 * INC/DEC after it: through a random register
 * in 64-bit code (#GP if not canonical, #PF above 1 GiB) or off RBP,
 * off EBP in 32-bit code (#SS past SS's limit where it is cut).  The translator
 * leaves the first one's record to the second's slow path, and the
 * fault must show it. */
static void record_before_fault(struct code *c)
{
	static const uint8_t alu[] = { 0x01, 0x29, 0x39, 0x21, 0x31, 0x09, 0x85 };
	static const uint8_t alu_load[] = { 0x03, 0x2b, 0x3b, 0x23, 0x33, 0x0b };
	bool byte;
	uint8_t pfx = size_prefix(&byte);
	uint8_t first = byte ? alu[rnd() % 6] - 1 : alu[rnd() % 7];
	uint8_t second = alu_load[rnd() % 6] - byte;

	if (rnd() % 3 == 0) {   /* INC/DEC: FE/FF /0, /1 */
		first = byte ? 0xfe : 0xff;
		if (pfx)
			put(c, 3, pfx, first, (rnd() & 1 ? 0xc0 : 0xc8) | plain_reg());
		else
			put(c, 2, first, (rnd() & 1 ? 0xc0 : 0xc8) | plain_reg());
	} else if (pfx)
		put(c, 3, pfx, first, 0xc0 | plain_reg() << 3 | plain_reg());
	else
		put(c, 2, first, 0xc0 | plain_reg() << 3 | plain_reg());
	if (rnd() & 1)  /* a move between, which may overwrite an operand */
		put(c, 2, 0x89, 0xc0 | plain_reg() << 3 | plain_reg());
	if (rnd() & 1)  /* a load between (which may fault in 32-bit code) */
		put(c, 3, 0x8b, 0x45 | plain_reg() << 3, mode32 ? (uint8_t)(rnd() % 0x80) : disp8());
	if (pfx)
		put(c, 1, pfx);
	if (mode32)            /* op r, [ebp+d8] */
		put(c, 3, second, 0x45 | plain_reg() << 3, (uint8_t)(rnd() % 0x80));
	else if (rnd() & 1)    /* op r, [r] */
		put(c, 2, second, plain_reg() << 3 | plain_reg());
	else                   /* op r, [rbp+d8]: the fast path */
		put(c, 3, second, 0x45 | plain_reg() << 3, disp8());
	if (rnd() & 1)  /* INC/DEC: the memory operation keeps only CF */
		put(c, 2, 0xff, (rnd() & 1 ? 0xc0 : 0xc8) | plain_reg());
}

/* A small index in a register, then two or three loads, stores or ADDs
 * through RBP plus it scaled (one page group in 64-bit code, the index
 * part of its key), at times with an INC of the index between (which
 * must end the group). */
static void indexed_accesses(struct code *c)
{
	static const uint8_t ops[] = { 0x8b, 0x89, 0x01, 0x03 };
	unsigned idx = plain_reg(), scale = rnd() % 4, n = 2 + rnd() % 2;

	put(c, 5, 0xb8 | idx, (unsigned)(rnd() % 16), 0, 0, 0);  /* mov idx32, small */
	for (unsigned k = 0; k < n; k++) {
		unsigned r = plain_reg();

		if (rnd() % 4 == 0)   /* inc idx32 */
			put(c, 2, 0xff, 0xc0 | idx);
		if (r == idx)  /* the index stays small: accesses stay in the data */
			r = idx ^ 1;
		if (!mode32)
			put(c, 1, rexw());
		/* op r, [rbp + idx * scale + d8] */
		put(c, 4, ops[rnd() % 4], 0x44 | r << 3, scale << 6 | idx << 3 | 5, disp8());
	}
}

/* A loop of 1-6 iterations (R8) around instructions, forward Jccs over
 * single instructions and CALLs of a subroutine placed after the HLT
 * that ends the code (RET: an indirect exit; at times to the HLT or, in
 * 64-bit code, to a non-canonical address instead of the caller); up to
 * three loops one after another. */
static void sequence(struct code *c)
{
	unsigned loops = 1 + rnd() % 3, calls[64], ncalls = 0, ind[64], nind = 0, hlt;

	c->n = 0;
	for (unsigned l = 0; l < loops; l++) {
		unsigned start, n = 1 + rnd() % 30;

		if (mode32)  /* mov dword [COUNTER_GPA], k */
			put(c, 10, 0xc7, 0x05, COUNTER_GPA & 0xff, (COUNTER_GPA >> 8) & 0xff,
			    (COUNTER_GPA >> 16) & 0xff, 0, 1 + (unsigned)(rnd() % 6), 0, 0, 0);
		else
			put(c, 6, 0x41, 0xb8, 1 + (unsigned)(rnd() % 6), 0, 0, 0);  /* mov r8d, k */
		start = c->n;
		if (rnd() % 4 == 0)  /* its head keeps CF from the record its end left */
			incdec(c);
		for (unsigned i = 0; i < n; i++) {
			if (rnd() % 12 == 0 && ncalls < 64) {
				put(c, 5, 0xe8, 0, 0, 0, 0);  /* call sub */
				calls[ncalls++] = c->n;
				if (rnd() & 1)  /* CF kept from the sub's last record */
					incdec(c);
			} else if (rnd() % 16 == 0 && nind < 64) {
				/* call sub through RAX (a fast handler
				 * in 64-bit code, general in 32-bit):
				 * lea rax, [rip+sub] or mov eax, sub */
				if (mode32)
					put(c, 5, 0xb8, 0, 0, 0, 0);
				else
					put(c, 7, 0x48, 0x8d, 0x05, 0, 0, 0, 0);
				ind[nind++] = c->n;
				put(c, 2, 0xff, 0xd0);
			} else if (!mode32 && rnd() % 16 == 0) {
				/* JMP through RAX or through [rbp+d8] to
				 * the instruction after it */
				if (rnd() & 1) {
					put(c, 7, 0x48, 0x8d, 0x05, 2, 0, 0, 0);
					put(c, 2, 0xff, 0xe0);
				} else {
					uint8_t d = disp8();

					put(c, 7, 0x48, 0x8d, 0x05, 7, 0, 0, 0);
					put(c, 4, 0x48, 0x89, 0x45, d);
					put(c, 3, 0xff, 0x65, d);
				}
			} else if (rnd() % 32 == 0) {
				record_before_fault(c);
			} else if (rnd() % 24 == 0) {
				indexed_accesses(c);
			} else if (rnd() % 5 == 0) {  /* Jcc over the next instruction */
				struct code t = { .n = 0 };
				simple_insn(&t);
				/* or LOOP/LOOPE/LOOPNE/JRCXZ: general
				 * instructions in mid-block that branch;
				 * or JMP (folded in 64-bit code) */
				unsigned kind = rnd() % 8;

				put(c, 2, kind < 5 ? 0x70 | (rnd() % 16) :
					  kind < 7 ? 0xe0 | (rnd() % 4) : 0xeb, t.n);
				memcpy(c->b + c->n, t.b, t.n);
				c->n += t.n;
			} else {
				simple_insn(c);
			}
		}
		/* the count down by DEC (CF kept), ADD -1 (CF set) or SUB 1
		 * (CF clear): the record each leaves at the jump back */
		static const uint8_t count_down[3][3] = {
			{ 0xff, 0x08, 0 },                /* dec: FF /1 */
			{ 0x83, 0x00, 0xff },             /* add -1: 83 /0 ib */
			{ 0x83, 0x28, 0x01 },             /* sub 1: 83 /5 ib */
		};
		const uint8_t *cd = count_down[rnd() % 3];

		if (mode32)  /* op dword [COUNTER_GPA] */
			put(c, cd[0] == 0xff ? 6 : 7, cd[0], 0x05 | cd[1], COUNTER_GPA & 0xff,
			    (COUNTER_GPA >> 8) & 0xff, (COUNTER_GPA >> 16) & 0xff, 0, cd[2]);
		else     /* op r8d */
			put(c, cd[0] == 0xff ? 3 : 4, 0x41, cd[0], 0xc0 | cd[1], cd[2]);
		if (c->n + 2 - start <= 128) {
			put(c, 2, 0x75, (uint8_t)-(int)(c->n + 2 - start));
		} else {
			int32_t rel = -(int32_t)(c->n + 6 - start);
			put(c, 6, 0x0f, 0x85, rel & 0xff, (rel >> 8) & 0xff, (rel >> 16) & 0xff,
			    (rel >> 24) & 0xff);
		}
	}
	/* HLT ends the run in both engines: translated code runs on to the
	 * end of its block, past where a sequence would simply stop */
	hlt = c->n;
	put(c, 1, 0xf4);
	for (unsigned i = 0; i < ncalls; i++) {
		int32_t rel = (int32_t)(c->n - calls[i]);
		memcpy(c->b + calls[i] - 4, &rel, 4);
	}
	for (unsigned i = 0; i < nind; i++) {
		uint32_t v = mode32 ? EMU_HARNESS_CODE_GPA + c->n : c->n - ind[i];
		memcpy(c->b + ind[i] - 4, &v, 4);
	}
	for (unsigned i = rnd() % 4; i; i--)
		simple_insn(c);
	if (rnd() & 1)  /* the record an INC/DEC after the CALL keeps CF of */
		add_reg(c);
	switch (rnd() % 8) {
	case 0:  /* a return elsewhere (to the HLT), which no prediction expects */
		if (mode32) {   /* mov dword [esp], hlt */
			uint32_t a = EMU_HARNESS_CODE_GPA + hlt;

			put(c, 7, 0xc7, 0x04, 0x24, a & 0xff, (a >> 8) & 0xff, (a >> 16) & 0xff,
			    a >> 24);
		} else {        /* lea rax, [rip+hlt]; mov [rsp], rax */
			int32_t d = (int32_t)hlt - (int32_t)(c->n + 7);

			put(c, 7, 0x48, 0x8d, 0x05, d & 0xff, (d >> 8) & 0xff, (d >> 16) & 0xff,
			    (uint32_t)d >> 24);
			put(c, 4, 0x48, 0x89, 0x04, 0x24);
		}
		break;
	case 1:  /* 64-bit code: a non-canonical return address, #GP at the RET */
		if (!mode32) {  /* mov rax, 1 << 47; mov [rsp], rax */
			put(c, 10, 0x48, 0xb8, 0, 0, 0, 0, 0, 0x80, 0, 0);
			put(c, 4, 0x48, 0x89, 0x04, 0x24);
		}
		break;
	}
	put(c, 1, 0xc3);
}

/* ---- running it ---- */

struct state {
	uint64_t gpr[16], rip, flags, cr2;
	uint8_t xmm[16][16];
	int vector;
	uint32_t error;
	uint8_t data[DATA_SIZE], stack[STACK_SIZE];
};

/* 64-bit code: the first 2 MiB through a page table that maps the data's
 * second page to a frame apart from the first's (DATA_FRAME2), so that an
 * access there through the first page's host address (a page group whose
 * check missed that it crossed) reads and writes the wrong bytes.  Paging
 * off in 32-bit code: the frame after the first. */
#define SPLIT_PT_GPA 0x4000
#define DATA_FRAME2 0x105000

static uint64_t data_frame2(void)
{
	return mode32 ? DATA_GPA + 0x1000 : DATA_FRAME2;
}

static void split_data_pages(void)
{
	uint64_t e;

	for (uint64_t i = 0; i < 512; i++) {
		e = (i == (DATA_GPA >> 12) + 1 ? DATA_FRAME2 : i << 12) | 3;
		assert_int_equal(gmem_write(&h.vm.mem, SPLIT_PT_GPA + i * 8, &e, 8), 0);
	}
	e = SPLIT_PT_GPA | 3;    /* PD entry 0 */
	assert_int_equal(gmem_write(&h.vm.mem, 0x3000, &e, 8), 0);
}

/* The page tables (long_mode's, at 0x1000-0x3fff, and split_data_pages'
 * after them) as random_sequences
 * found them: a sequence may read them through a random pointer, and a
 * walk sets accessed and dirty bits in them, so each run starts from
 * these bytes and an empty TLB, whatever the runs before it touched. */
#define PT_GPA  0x1000
#define PT_SIZE 0x4000     /* and split_data_pages' table */
static uint8_t page_tables[PT_SIZE];

/* Before a test's runs: the page tables its set-up left. */
static void keep_page_tables(void)
{
	assert_int_equal(gmem_read(&h.vm.mem, PT_GPA, page_tables, PT_SIZE), 0);
}

static void load(const struct state *in)
{
	assert_int_equal(gmem_write(&h.vm.mem, PT_GPA, page_tables, PT_SIZE), 0);
	emu_tlb_flush(cpu, true);
	memcpy(cpu->s.gpr, in->gpr, sizeof(in->gpr));
	emu_set_rflags(cpu, in->flags);
	cpu->s.rip = EMU_HARNESS_CODE_GPA;
	cpu->s.cr2 = 0;
	cpu->halted = false;
	memcpy(cpu->xmm, in->xmm, sizeof(cpu->xmm));
	assert_int_equal(gmem_write(&h.vm.mem, DATA_GPA, in->data, 0x1000), 0);
	assert_int_equal(gmem_write(&h.vm.mem, data_frame2(), in->data + 0x1000, 0x1000), 0);
	assert_int_equal(gmem_write(&h.vm.mem, STACK_TOP - STACK_SIZE, in->stack, STACK_SIZE), 0);
}

static void save(struct state *out, int vector)
{
	memcpy(out->gpr, cpu->s.gpr, sizeof(out->gpr));
	out->rip = cpu->s.rip;
	out->flags = emu_get_rflags(cpu);
	out->cr2 = cpu->s.cr2;
	memcpy(out->xmm, cpu->xmm, sizeof(out->xmm));
	out->vector = vector;
	out->error = vector >= 0 ? cpu->fault_error : 0;
	assert_int_equal(gmem_read(&h.vm.mem, DATA_GPA, out->data, 0x1000), 0);
	assert_int_equal(gmem_read(&h.vm.mem, data_frame2(), out->data + 0x1000, 0x1000), 0);
	assert_int_equal(gmem_read(&h.vm.mem, STACK_TOP - STACK_SIZE, out->stack, STACK_SIZE), 0);
}

/* Run to the HLT at the end of the code or the first fault (whose RIP
 * is the faulting instruction's, as the run loop would deliver it). */
static void run(const struct state *in, struct state *out, bool jit)
{
	unsigned steps;

	load(in);
	save(out, emu_run_until_halt(cpu, jit, MAX_STEPS, &steps));
}

static void report(const char *what, const struct code *c, const struct state *a,
		   const struct state *b)
{
	print_error("translator and interpreter differ in %s; code:", what);
	for (unsigned i = 0; i < c->n; i++)
		print_error(" %02x", c->b[i]);
	print_error("\n  interp rip=%#llx fl=%#llx vec=%d   jit rip=%#llx fl=%#llx vec=%d\n",
		    (unsigned long long)a->rip, (unsigned long long)a->flags, a->vector,
		    (unsigned long long)b->rip, (unsigned long long)b->flags, b->vector);
	for (int r = 0; r < 16; r++)
		if (a->gpr[r] != b->gpr[r])
			print_error("  r%d: %#llx vs %#llx\n", r, (unsigned long long)a->gpr[r],
				    (unsigned long long)b->gpr[r]);
}

/* New code at the code address, as if loaded long after the last: the
 * translator leaves blocks rewritten again and again within a short
 * time to the interpreter (decode_cache.c), which would end the test's
 * use of the translator after a few sequences. */
static void new_code(const struct code *c)
{
	assert_int_equal(gmem_write(&h.vm.mem, EMU_HARNESS_CODE_GPA, c->b, c->n), 0);
	cpu->icount += 1u << 24;
}

/* A write breakpoint on the first data page's first bytes, which no
 * sequence touches: every access to the page then takes the slow path
 * (the TLB keeps no fast entry for it), so that translated code runs its
 * handlers and goes back into the block after them. */
static void slow_data_page(bool on)
{
	cpu->dr[0] = DATA_GPA;
	cpu->dr[7] = on ? 1 | 1u << 16 | 2u << 18 : 0;  /* L0, write, 8 bytes */
	emu_debug_update(cpu);
}

static bool same(const struct state *a, const struct state *b)
{
	return !memcmp(a->gpr, b->gpr, sizeof(a->gpr)) && a->rip == b->rip &&
	       a->flags == b->flags && a->vector == b->vector && a->error == b->error &&
	       a->cr2 == b->cr2 && !memcmp(a->xmm, b->xmm, sizeof(a->xmm)) &&
	       !memcmp(a->data, b->data, DATA_SIZE) && !memcmp(a->stack, b->stack, STACK_SIZE);
}

static void random_sequences(void)
{
	static struct state in, want, got;
	static struct code c;
	unsigned failures = 0, faults = 0, runs = 5000;

	keep_page_tables();

	for (unsigned it = 0; it < runs; it++) {
		sequence(&c);
		new_code(&c);
		for (int r = 0; r < 16; r++)
			in.gpr[r] = rnd() % 3 ? rnd() : rnd() % 64;
		in.gpr[GPR_RSP] = STACK_TOP - seg_base;
		in.gpr[GPR_RBP] = DATA_GPA + (mode32 || it % 2 ? RBP_OFF : RBP_OFF_CROSSING) -
				  seg_base;
		in.flags = (rnd() & 0x8d5) | RFLAGS_FIXED | RFLAGS_IF;
		for (int x = 0; x < 16; x++)
			for (int k = 0; k < 16; k += 8) {
				/* bytes that compare equal now and then */
				uint64_t v = rnd() % 4 ? rnd() : 0x0101010100000000ULL;
				memcpy(&in.xmm[x][k], &v, 8);
			}
		for (unsigned i = 0; i < DATA_SIZE; i += 8) {
			uint64_t v = rnd();
			memcpy(in.data + i, &v, 8);
		}
		memset(in.stack, 0, sizeof(in.stack));

		run(&in, &want, false);
		run(&in, &got, true);
		faults += want.vector >= 0;
		if (memcmp(want.gpr, got.gpr, sizeof(want.gpr)) || want.rip != got.rip ||
		    want.flags != got.flags || want.vector != got.vector ||
		    want.error != got.error || want.cr2 != got.cr2) {
			if (failures++ < 5)
				report("registers", &c, &want, &got);
		} else if (memcmp(want.xmm, got.xmm, sizeof(want.xmm))) {
			if (failures++ < 5)
				report("XMM registers", &c, &want, &got);
		} else if (memcmp(want.data, got.data, DATA_SIZE) ||
			   memcmp(want.stack, got.stack, STACK_SIZE)) {
			if (failures++ < 5)
				report("memory", &c, &want, &got);
		} else if (it % 4 == 0) {
			slow_data_page(true);
			run(&in, &got, true);
			slow_data_page(false);
			if (!same(&want, &got) && failures++ < 5)
				report("the slow paths", &c, &want, &got);
		}
	}
	print_message("%u random sequences in %d-bit code (%u ending in a fault), "
		      "%llu blocks translated so far\n", runs, mode32 ? 32 : 64, faults,
		      (unsigned long long)cpu->jit->translated);
	assert_int_equal(failures, 0);
	assert_true(cpu->jit->translated > runs);  /* the translator did run them */
}

static void test_random_sequences(void **state)
{
	split_data_pages();
	random_sequences();
	emu_harness_long_mode(&h);
}

/* 32-bit protected mode without paging; flat segments, or DS, ES and SS
 * at base seg_base and SS with a limit cut through the data (accesses
 * off RBP past RBP + 0x60 raise #SS unless a DS prefix makes them DS's). */
static void run_32(uint32_t base)
{
	struct cpu_state s;

	cpu_state_reset(&s);
	s.cr0 = CR0_PE | CR0_ET | CR0_NE;
	s.cr4 = CR4_OSFXSR | CR4_OSXMMEXCPT;  /* SSE as in 64-bit code */
	s.seg[SEG_CS] = cpu_flat_code_segment(0x08, false);
	for (int i = SEG_ES; i <= SEG_GS; i++) {
		if (i == SEG_CS)
			continue;
		s.seg[i] = cpu_flat_data_segment(0x10);
		if (base && i <= SEG_DS) {
			s.seg[i].base = base;
			s.seg[i].limit = 0xffffffff - base;
		}
	}
	if (base)
		s.seg[SEG_SS].limit = DATA_GPA + RBP_OFF - base + 0x60;
	assert_int_equal(accel_emu_ops.vcpu_set_state(&h.vcpu, &s), 0);
	assert_int_equal(cpu->code_size, 4);
	mode32 = true;
	seg_base = base;
	random_sequences();
	mode32 = false;
	seg_base = 0;
	emu_harness_long_mode(&h);
}

static void test_random_sequences_32(void **state)
{
	run_32(0);
}

static void test_random_sequences_32_segmented(void **state)
{
	run_32(0x1000);
}

/* The code cache fills and is flushed whole; the translations after a
 * flush run as well as before. */
static void test_flush_when_full(void **state)
{
	static struct state in, want, got;
	static struct code c;
	uint64_t flushes = cpu->jit->flushes;
	unsigned it = 0;

	keep_page_tables();
	/* distinct code at many addresses until the cache has flushed */
	while (cpu->jit->flushes == flushes && it < 200000) {
		sequence(&c);
		new_code(&c);
		memset(&in, 0, sizeof(in));
		in.gpr[GPR_RSP] = STACK_TOP;
		in.gpr[GPR_RBP] = DATA_GPA + RBP_OFF;
		in.flags = RFLAGS_FIXED;
		run(&in, &want, false);
		run(&in, &got, true);
		assert_memory_equal(want.gpr, got.gpr, sizeof(want.gpr));
		assert_int_equal(want.flags, got.flags);
		it++;
	}
	print_message("cache flushed after %u sequences\n", it);
	assert_true(cpu->jit->flushes > flushes);
}

/* A block whose code is rewritten again and again is left to the
 * interpreter (emu_jit_run returns 0), until its code stays put a while. */
static void test_rewritten_code_left_to_interpreter(void **state)
{
	static const uint8_t code[] = { 0xb8, 1, 0, 0, 0, 0xf4 };  /* mov eax, 1; hlt */
	unsigned i, k;

	emu_harness_long_mode(&h);
	cpu->icount += 1u << 24;  /* the earlier tests' code is long gone */
	for (i = 0; i <= JIT_MAX_REWRITES + 1; i++) {
		assert_int_equal(gmem_write(&h.vm.mem, EMU_HARNESS_CODE_GPA, code,
					    sizeof(code)), 0);
		cpu->s.rip = EMU_HARNESS_CODE_GPA;
		cpu->halted = false;
		if (setjmp(cpu->fault_jmp))
			fail_msg("fault %d", cpu->fault_vector);
		k = emu_jit_run(cpu);
		if (i < JIT_MAX_REWRITES)
			assert_int_equal(k, 2);  /* translated: MOV and HLT */
		else
			assert_int_equal(k, 0);
	}
	/* not written again: still the interpreter's for a while, then
	 * translated (code Linux patched a few times at boot runs
	 * translated afterwards) */
	cpu->icount += EMU_REWRITE_WINDOW / 2;
	cpu->s.rip = EMU_HARNESS_CODE_GPA;
	cpu->halted = false;
	assert_int_equal(emu_jit_run(cpu), 0);
	cpu->icount += EMU_REWRITE_WINDOW;
	assert_int_equal(emu_jit_run(cpu), 2);
	assert_true(cpu->halted);

	/* written once, a long time later: translated at once */
	cpu->icount += 1u << 24;
	assert_int_equal(gmem_write(&h.vm.mem, EMU_HARNESS_CODE_GPA, code, sizeof(code)), 0);
	cpu->s.rip = EMU_HARNESS_CODE_GPA;
	cpu->halted = false;
	assert_int_equal(emu_jit_run(cpu), 2);
	assert_true(cpu->halted);
}

/* A general instruction (a 16-bit MOV, which has no fast handler)
 * rewrites the next instruction: the new code runs. */
static void test_general_insn_rewrites_its_block(void **state)
{
	static const uint8_t code[] = {
		0x48, 0x8d, 0x3d, 0x05, 0, 0, 0,  /* lea rdi, [rip+5]: the MOV AL */
		0x66, 0xc7, 0x07, 0xb0, 0x02,     /* mov word [rdi], 0x02b0 */
		0xb0, 0x01,                       /* mov al, 1 (becomes mov al, 2) */
		0xf4,                             /* hlt */
	};
	volatile unsigned steps = 0;

	emu_harness_long_mode(&h);
	cpu->icount += 1u << 24;
	assert_int_equal(gmem_write(&h.vm.mem, EMU_HARNESS_CODE_GPA, code, sizeof(code)), 0);
	cpu->s.rip = EMU_HARNESS_CODE_GPA;
	cpu->s.gpr[GPR_RAX] = 0;
	cpu->halted = false;
	if (setjmp(cpu->fault_jmp))
		fail_msg("fault %d", cpu->fault_vector);
	while (!cpu->halted && steps < 100) {
		unsigned k = emu_jit_run(cpu);

		if (!k)
			emu_step(cpu), k = 1;
		steps += k;
	}
	assert_true(cpu->halted);
	assert_int_equal(cpu->s.gpr[GPR_RAX], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_sequences),
		cmocka_unit_test(test_random_sequences_32),
		cmocka_unit_test(test_random_sequences_32_segmented),
		cmocka_unit_test(test_flush_when_full),
		cmocka_unit_test(test_rewritten_code_left_to_interpreter),
		cmocka_unit_test(test_general_insn_rewrites_its_block),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

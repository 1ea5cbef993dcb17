/*
 * The instruction decoder: prefixes, REX, the one-, two- and three-byte
 * opcode maps, ModRM/SIB/displacement and immediates, with operand and
 * address size resolved for the current code size.  It knows only the
 * shape of instructions; exec.c gives them meaning and raises #UD for
 * opcodes it does not implement.
 */
#include <string.h>

#include "accel/emu/emu.h"

/* Shape flags per opcode. */
#define M    0x001  /* ModRM follows */
#define IB   0x002  /* 8-bit immediate */
#define IW   0x004  /* 16-bit immediate */
#define IZ   0x008  /* 16/32-bit immediate (32 sign-extended for 64-bit operands) */
#define IV   0x010  /* 16/32/64-bit immediate (MOV r, imm) */
#define AP   0x020  /* far pointer: 16:16 or 16:32 */
#define MO   0x040  /* memory offset of address size (MOV A0-A3) */
#define D64  0x080  /* 64-bit operand size by default in long mode */
#define F64  0x100  /* operand size always 64 in long mode */
#define I64  0x200  /* invalid in 64-bit mode */
#define GRP3 0x400  /* F6/F7: immediate only for /0 and /1 */
#define BAD  0x800  /* undefined opcode */
#define MREG 0x1000 /* ModRM always names registers (MOV CR/DR): mod is ignored */

#define ALU_ROW(x) [x] = M, [x + 1] = M, [x + 2] = M, [x + 3] = M, \
		   [x + 4] = IB, [x + 5] = IZ

static const uint16_t map1[256] = {
	ALU_ROW(0x00), ALU_ROW(0x08), ALU_ROW(0x10), ALU_ROW(0x18),
	ALU_ROW(0x20), ALU_ROW(0x28), ALU_ROW(0x30), ALU_ROW(0x38),
	[0x06] = I64, [0x07] = I64, [0x0e] = I64, [0x16] = I64, [0x17] = I64,
	[0x1e] = I64, [0x1f] = I64, [0x27] = I64, [0x2f] = I64, [0x37] = I64,
	[0x3f] = I64,
	[0x50 ... 0x5f] = D64,
	[0x60] = I64, [0x61] = I64, [0x62] = M | I64, [0x63] = M,
	[0x68] = IZ | D64, [0x69] = M | IZ, [0x6a] = IB | D64, [0x6b] = M | IB,
	[0x70 ... 0x7f] = IB | F64,
	[0x80] = M | IB, [0x81] = M | IZ, [0x82] = M | IB | I64, [0x83] = M | IB,
	[0x84 ... 0x8e] = M, [0x8f] = M | D64,
	[0x9a] = AP | I64, [0x9c] = D64, [0x9d] = D64,
	[0xa0 ... 0xa3] = MO, [0xa8] = IB, [0xa9] = IZ,
	[0xb0 ... 0xb7] = IB, [0xb8 ... 0xbf] = IV,
	[0xc0] = M | IB, [0xc1] = M | IB, [0xc2] = IW | F64, [0xc3] = F64,
	[0xc4] = M | I64, [0xc5] = M | I64, [0xc6] = M | IB, [0xc7] = M | IZ,
	[0xc8] = IW | IB | D64, [0xc9] = D64, [0xca] = IW, [0xcd] = IB,
	[0xce] = I64,
	[0xd0 ... 0xd3] = M, [0xd4] = IB | I64, [0xd5] = IB | I64, [0xd6] = BAD,
	[0xd8 ... 0xdf] = M,
	[0xe0 ... 0xe3] = IB | F64, [0xe4 ... 0xe7] = IB, [0xe8] = IZ | F64,
	[0xe9] = IZ | F64, [0xea] = AP | I64, [0xeb] = IB | F64,
	[0xf6] = M | GRP3, [0xf7] = M | GRP3, [0xfe] = M, [0xff] = M,
};

static const uint16_t map2[256] = {
	[0x00 ... 0x03] = M, [0x04] = BAD, [0x0a] = BAD, [0x0c] = BAD,
	[0x0d] = M, [0x0e] = BAD, [0x0f] = BAD,
	[0x10 ... 0x1f] = M, [0x20 ... 0x23] = M | MREG, [0x24 ... 0x27] = BAD,
	[0x28 ... 0x2f] = M, [0x36] = BAD, [0x39] = BAD, [0x3b ... 0x3f] = BAD,
	[0x40 ... 0x4f] = M, [0x50 ... 0x6f] = M, [0x70 ... 0x73] = M | IB,
	[0x74 ... 0x76] = M, [0x78 ... 0x7b] = BAD, /* VMX, SSE4a: not offered */
	[0x7c ... 0x7f] = M,
	[0x80 ... 0x8f] = IZ | F64, [0x90 ... 0x9f] = M,
	[0xa0] = D64, [0xa1] = D64, [0xa3] = M, [0xa4] = M | IB, [0xa5] = M,
	[0xa6] = BAD, [0xa7] = BAD, [0xa8] = D64, [0xa9] = D64, [0xab] = M,
	[0xac] = M | IB, [0xad] = M, [0xae ... 0xb7] = M, [0xb8] = M, [0xb9] = M,
	[0xba] = M | IB, [0xbb ... 0xc1] = M, [0xc2] = M | IB, [0xc3] = M,
	[0xc4 ... 0xc6] = M | IB, [0xc7] = M, [0xd0 ... 0xff] = M,
};

static bool is_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65:
	case 0x66: case 0x67: case 0xf0: case 0xf2: case 0xf3:
		return true;
	}
	return false;
}

/* Little-endian immediate of n bytes, sign-extended if asked. */
static uint64_t get_imm(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	memcpy(&v, p, n);
	return v;
}

/* 0, or -2 if the ModRM, SIB or displacement bytes run past avail. */
static int decode_modrm(struct insn *in, const uint8_t *b, unsigned *pos,
			unsigned avail)
{
	uint8_t modrm, sib;
	unsigned dispsize = 0;

	if (*pos >= avail)
		return -2;
	modrm = b[(*pos)++];
	in->has_modrm = 1;
	in->mod = modrm >> 6;
	in->reg = ((modrm >> 3) & 7) | ((in->rex & 4) << 1);
	in->rm = (modrm & 7) | ((in->rex & 1) << 3);
	in->base = in->index = -1;
	in->scale = 0;
	in->disp = 0;
	if (in->mod == 3) {
		in->has_mem = 0;
		return 0;
	}
	in->has_mem = 1;

	if (in->adsize == 2) {
		static const int8_t base16[8] = { GPR_RBX, GPR_RBX, GPR_RBP, GPR_RBP,
						  GPR_RSI, GPR_RDI, GPR_RBP, GPR_RBX };
		static const int8_t index16[8] = { GPR_RSI, GPR_RDI, GPR_RSI, GPR_RDI,
						   -1, -1, -1, -1 };
		unsigned rm = modrm & 7;

		in->base = base16[rm];
		in->index = index16[rm];
		if (rm == 4) {
			in->base = GPR_RSI;
		} else if (rm == 5) {
			in->base = GPR_RDI;
		}
		if (in->mod == 0 && rm == 6) {
			in->base = -1;
			dispsize = 2;
		} else if (in->mod == 1) {
			dispsize = 1;
		} else if (in->mod == 2) {
			dispsize = 2;
		}
		if (in->seg < 0 && (rm == 2 || rm == 3 || (rm == 6 && in->mod != 0)))
			in->seg = SEG_SS;
	} else {
		unsigned rm = modrm & 7;

		if (rm == 4) {
			if (*pos >= avail)
				return -2;
			sib = b[(*pos)++];
			in->scale = sib >> 6;
			in->index = ((sib >> 3) & 7) | ((in->rex & 2) << 2);
			if (in->index == GPR_RSP)
				in->index = -1;
			in->base = (sib & 7) | ((in->rex & 1) << 3);
			if ((sib & 7) == 5 && in->mod == 0) {
				in->base = -1;
				dispsize = 4;
			}
		} else if (rm == 5 && in->mod == 0) {
			/* disp32: RIP-relative in 64-bit mode (fixed up by the caller). */
			in->base = 16;
			dispsize = 4;
		} else {
			in->base = in->rm;
		}
		if (in->mod == 1)
			dispsize = 1;
		else if (in->mod == 2)
			dispsize = 4;
		if (in->seg < 0 && in->base >= 0 && in->base < 16 &&
		    ((in->base & 7) == GPR_RSP || (in->base & 7) == GPR_RBP) &&
		    !(in->rex & 1))
			in->seg = SEG_SS;
	}
	/* A displacement cut by the end of the fetchable bytes (the page
	 * after is not mapped) is a page fault there, not #UD. */
	if (*pos + dispsize > avail)
		return -2;
	if (dispsize == 1)
		in->disp = (int8_t)b[*pos];
	else if (dispsize == 2)
		in->disp = (int16_t)get_imm(b + *pos, 2);
	else if (dispsize == 4)
		in->disp = (int32_t)get_imm(b + *pos, 4);
	*pos += dispsize;
	return 0;
}

/*
 * Decode one instruction from bytes[0..avail).  Returns 0, -1 for #UD, or
 * -2 if more bytes than avail are needed (the caller raises the fetch
 * fault for the next page).
 */
int emu_decode(struct emu_cpu *c, const uint8_t *b, unsigned avail, struct insn *in)
{
	unsigned pos = 0, code = c->code_size, immsize = 0;
	bool lm64 = code == 8;
	uint16_t shape;
	uint8_t op;

	memset(in, 0, sizeof(*in));
	in->seg = -1;
	for (;;) {
		if (pos >= avail)
			return -2;
		if (pos >= 15)
			return -3;
		op = b[pos];
		if (lm64 && (op & 0xf0) == 0x40) {
			/* REX counts only directly before the opcode. */
			in->rex = op;
			pos++;
			continue;
		}
		if (!is_prefix(op))
			break;
		in->rex = 0;
		switch (op) {
		case 0x26: in->seg = SEG_ES; break;
		case 0x2e: in->seg = SEG_CS; break;
		case 0x36: in->seg = SEG_SS; break;
		case 0x3e: in->seg = SEG_DS; break;
		case 0x64: in->seg = SEG_FS; break;
		case 0x65: in->seg = SEG_GS; break;
		case 0x66: in->prefixes |= PFX_OPSZ; break;
		case 0x67: in->prefixes |= PFX_ADSZ; break;
		case 0xf0: in->prefixes |= PFX_LOCK; break;
		case 0xf2: in->prefixes = (in->prefixes & ~PFX_REP) | PFX_REPNE; break;
		case 0xf3: in->prefixes = (in->prefixes & ~PFX_REPNE) | PFX_REP; break;
		}
		pos++;
	}
	/* In 64-bit mode ES/CS/SS/DS overrides are ignored. */
	if (lm64 && in->seg >= 0 && in->seg < SEG_FS)
		in->seg = -1;
	pos++;
	if (op == 0x0f) {
		if (pos >= avail)
			return -2;
		op = b[pos++];
		if (op == 0x38 || op == 0x3a) {
			if (pos >= avail)
				return -2;
			in->op = (op == 0x38 ? 0x200 : 0x300) | b[pos++];
			shape = M | (op == 0x3a ? IB : 0);
		} else {
			in->op = 0x100 | op;
			shape = map2[op];
		}
	} else {
		in->op = op;
		shape = map1[op];
	}
	if (shape & BAD)
		return -1;
	if (lm64 && (shape & I64))
		return -1;

	/* Operand and address size. */
	if (lm64) {
		if (in->rex & 8)
			in->opsize = 8;
		else if (shape & F64)
			in->opsize = 8;
		else if (shape & D64)
			in->opsize = (in->prefixes & PFX_OPSZ) ? 2 : 8;
		else
			in->opsize = (in->prefixes & PFX_OPSZ) ? 2 : 4;
		in->adsize = (in->prefixes & PFX_ADSZ) ? 4 : 8;
	} else {
		in->opsize = code;
		if (in->prefixes & PFX_OPSZ)
			in->opsize = code == 2 ? 4 : 2;
		in->adsize = code;
		if (in->prefixes & PFX_ADSZ)
			in->adsize = code == 2 ? 4 : 2;
	}

	if (shape & MREG) {
		uint8_t modrm;
		if (pos >= avail)
			return -2;
		modrm = b[pos++];
		in->has_modrm = 1;
		in->mod = 3;
		in->reg = ((modrm >> 3) & 7) | ((in->rex & 4) << 1);
		in->rm = (modrm & 7) | ((in->rex & 1) << 3);
		in->base = in->index = -1;
	} else if (shape & M) {
		int r = decode_modrm(in, b, &pos, avail);
		if (r)
			return r;
		if (in->base == 16 && !lm64)
			in->base = -1;
	}

	/* Immediates. */
	if (shape & GRP3)
		shape |= ((in->reg & 7) < 2) ? (op == 0xf6 ? IB : IZ) : 0;
	if (shape & IW) {
		if (pos + 2 > avail)
			return -2;
		in->imm = get_imm(b + pos, 2);
		pos += 2;
		if (shape & IB) { /* ENTER: Iw, Ib */
			if (pos + 1 > avail)
				return -2;
			in->disp = b[pos++];
		}
		goto done;
	}
	if (shape & IB)
		immsize = 1;
	else if (shape & IZ)
		immsize = in->opsize == 2 ? 2 : 4;
	else if (shape & IV)
		immsize = in->opsize;
	else if (shape & MO)
		immsize = in->adsize;
	else if (shape & AP)
		immsize = in->opsize == 2 ? 2 : 4;
	if (pos + immsize > avail)
		return -2;
	if (immsize) {
		in->imm = get_imm(b + pos, immsize);
		if (!(shape & (IV | MO)))
			in->imm = emu_sign_extend(in->imm, immsize);
		pos += immsize;
	}
	if (shape & AP) {
		if (pos + 2 > avail)
			return -2;
		in->disp = get_imm(b + pos, 2);
		pos += 2;
	}
done:
	if (pos > 15)
		return -1;
	in->len = pos;
	in->fast = emu_fast_pick(in, code);
	return 0;
}

/*
 * Operand access shared by the instruction implementations (exec*.c):
 * registers with their 8/16/32/64-bit views, ModRM operands, the stack.
 */
#ifndef WIRT_ACCEL_EMU_EXEC_H
#define WIRT_ACCEL_EMU_EXEC_H

#include "accel/emu/emu.h"

static inline uint64_t reg_read(struct emu_cpu *c, const struct insn *in,
				unsigned r, unsigned size)
{
	switch (size) {
	case 1:
		if (r >= 4 && r < 8 && !in->rex)  /* AH, CH, DH, BH */
			return (c->s.gpr[r - 4] >> 8) & 0xff;
		return c->s.gpr[r] & 0xff;
	case 2:
		return c->s.gpr[r] & 0xffff;
	case 4:
		return c->s.gpr[r] & 0xffffffff;
	default:
		return c->s.gpr[r];
	}
}

static inline void reg_write(struct emu_cpu *c, const struct insn *in,
			     unsigned r, unsigned size, uint64_t v)
{
	switch (size) {
	case 1:
		if (r >= 4 && r < 8 && !in->rex) {
			c->s.gpr[r - 4] = (c->s.gpr[r - 4] & ~0xff00ULL) | ((v & 0xff) << 8);
			return;
		}
		c->s.gpr[r] = (c->s.gpr[r] & ~0xffULL) | (v & 0xff);
		return;
	case 2:
		c->s.gpr[r] = (c->s.gpr[r] & ~0xffffULL) | (v & 0xffff);
		return;
	case 4:
		c->s.gpr[r] = v & 0xffffffff;  /* 32-bit writes zero-extend */
		return;
	default:
		c->s.gpr[r] = v;
	}
}

static inline int insn_seg(const struct insn *in)
{
	return in->seg >= 0 ? in->seg : SEG_DS;
}

/* The effective address of a memory operand (offset within its segment). */
static inline uint64_t insn_ea(struct emu_cpu *c, const struct insn *in)
{
	uint64_t ea = in->disp;

	if (in->base == 16)
		ea += c->s.rip;  /* rip already points at the next instruction */
	else if (in->base >= 0)
		ea += c->s.gpr[in->base];
	if (in->index >= 0)
		ea += c->s.gpr[in->index] << in->scale;
	return ea & emu_size_mask(in->adsize);
}

static inline uint64_t rm_read(struct emu_cpu *c, const struct insn *in, unsigned size)
{
	if (!in->has_mem)
		return reg_read(c, in, in->rm, size);
	if (c->locked_insn)
		return emu_locked_read(c, insn_seg(in), insn_ea(c, in), size);
	return emu_read(c, insn_seg(in), insn_ea(c, in), size);
}

static inline void rm_write(struct emu_cpu *c, const struct insn *in, unsigned size,
			    uint64_t v)
{
	if (!in->has_mem)
		reg_write(c, in, in->rm, size, v);
	else if (c->locked_insn)
		emu_locked_write(c, insn_seg(in), insn_ea(c, in), size, v);
	else
		emu_write(c, insn_seg(in), insn_ea(c, in), size, v);
}

/* Stack-pointer width: 8 in 64-bit mode, else from SS.B. */
static inline unsigned stack_size(const struct emu_cpu *c)
{
	if (c->code_size == 8)
		return 8;
	return c->s.seg[SEG_SS].db ? 4 : 2;
}

static inline uint64_t sp_masked(const struct emu_cpu *c, uint64_t v)
{
	return v & emu_size_mask(stack_size(c));
}

/* Set SP, ESP or RSP (ss bytes wide) to v. */
static inline void sp_set_width(struct emu_cpu *c, uint64_t v, unsigned ss)
{
	if (ss == 2)
		c->s.gpr[GPR_RSP] = (c->s.gpr[GPR_RSP] & ~0xffffULL) | (v & 0xffff);
	else
		c->s.gpr[GPR_RSP] = v & emu_size_mask(ss);
}

static inline void sp_set(struct emu_cpu *c, uint64_t v)
{
	sp_set_width(c, v, stack_size(c));
}

static inline void push(struct emu_cpu *c, unsigned size, uint64_t v)
{
	uint64_t sp = sp_masked(c, c->s.gpr[GPR_RSP] - size);

	emu_write(c, SEG_SS, sp, size, v);
	sp_set(c, sp);
}

/* Read the value n bytes above the stack top without popping. */
static inline uint64_t stack_peek(struct emu_cpu *c, unsigned size, unsigned off)
{
	return emu_read(c, SEG_SS, sp_masked(c, c->s.gpr[GPR_RSP] + off), size);
}

static inline uint64_t pop(struct emu_cpu *c, unsigned size)
{
	uint64_t v = stack_peek(c, size, 0);

	sp_set(c, c->s.gpr[GPR_RSP] + size);
	return v;
}

/* POP Sreg: the stack pointer moves by the width of the stack the value
 * came from, even when the loaded segment is SS with another B bit. */
static inline void pop_seg(struct emu_cpu *c, int seg, unsigned size)
{
	unsigned ss = stack_size(c);
	uint16_t sel = stack_peek(c, size, 0);

	emu_load_seg(c, seg, sel);
	sp_set_width(c, c->s.gpr[GPR_RSP] + size, ss);
}

/* Jump within CS to an offset of operand size. */
static inline void jump_near(struct emu_cpu *c, unsigned opsize, uint64_t target)
{
	target &= emu_size_mask(opsize);
	if (c->code_size != 8 && target > c->s.seg[SEG_CS].limit)
		emu_raise_gp(c, 0);
	if (c->code_size == 8 && (uint64_t)((int64_t)(target << 16) >> 16) != target)
		emu_raise_gp(c, 0);
	c->s.rip = target;
}

void emu_far_jump(struct emu_cpu *c, uint16_t sel, uint64_t off, bool call,
		  unsigned opsize);
void emu_far_return(struct emu_cpu *c, unsigned opsize, uint16_t extra);
void emu_iret(struct emu_cpu *c, unsigned opsize);
bool emu_exec_string(struct emu_cpu *c, const struct insn *in);
void emu_exec_x87(struct emu_cpu *c, const struct insn *in);

#endif

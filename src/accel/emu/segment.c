/*
 * Segment registers: real-mode loads, descriptor-table loads in protected
 * and long mode with the checks that matter to operating systems, and the
 * code size and privilege level that follow from CS.
 */
#include "accel/emu/emu.h"

void emu_update_mode(struct emu_cpu *c)
{
	const struct segment *cs = &c->s.seg[SEG_CS];

	c->blk = NULL;  /* CS, CPL or the mode changed: decode afresh */
	c->long_mode = c->s.efer & EFER_LMA;
	if (c->long_mode && cs->l)
		c->code_size = 8;
	else
		c->code_size = cs->db ? 4 : 2;
}

void emu_seg_from_descriptor(struct segment *sg, uint16_t sel, uint64_t d)
{
	uint32_t limit = (d & 0xffff) | ((d >> 32) & 0xf0000);

	sg->selector = sel;
	sg->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	sg->type = (d >> 40) & 0xf;
	sg->s = (d >> 44) & 1;
	sg->dpl = (d >> 45) & 3;
	sg->present = (d >> 47) & 1;
	sg->avl = (d >> 52) & 1;
	sg->l = (d >> 53) & 1;
	sg->db = (d >> 54) & 1;
	sg->g = (d >> 55) & 1;
	sg->limit = sg->g ? (limit << 12) | 0xfff : limit;
	sg->unusable = 0;
}

static bool protected_mode(const struct emu_cpu *c)
{
	return (c->s.cr0 & CR0_PE) && !(c->s.rflags & RFLAGS_VM);
}

void emu_load_seg_real(struct emu_cpu *c, int seg, uint16_t sel)
{
	struct segment *sg = &c->s.seg[seg];

	if (seg == SEG_CS)
		c->blk = NULL;
	sg->selector = sel;
	sg->base = (uint64_t)sel << 4;
	sg->present = 1;
	sg->unusable = 0;
	sg->s = 1;
	if (c->s.rflags & RFLAGS_VM) {
		sg->limit = 0xffff;
		sg->type = seg == SEG_CS ? 0xb : 0x3;
		sg->dpl = 3;
		sg->db = 0;
	}
}

/* Descriptor address for a selector; raises vec(sel) if outside the table. */
static uint64_t descriptor_addr(struct emu_cpu *c, uint16_t sel, int vec)
{
	uint64_t base;
	uint32_t limit;

	if (sel & 4) {
		if (c->s.ldt.unusable || !c->s.ldt.present)
			emu_raise(c, vec, sel & 0xfffc, true);
		base = c->s.ldt.base;
		limit = c->s.ldt.limit;
	} else {
		base = c->s.gdt.base;
		limit = c->s.gdt.limit;
	}
	if ((uint32_t)(sel & ~7) + 7 > limit)
		emu_raise(c, vec, sel & 0xfffc, true);
	return base + (sel & ~7);
}

uint64_t emu_read_descriptor(struct emu_cpu *c, uint16_t sel, int vec)
{
	return emu_read_sys(c, descriptor_addr(c, sel, vec), 8);
}

/* Set the accessed bit of a code/data descriptor as the CPU does. */
static void mark_accessed(struct emu_cpu *c, uint16_t sel, uint64_t desc)
{
	if (!(desc & (1ULL << 40)))
		emu_write_sys(c, descriptor_addr(c, sel, EXC_GP) + 5, 1,
			      ((desc >> 40) & 0xff) | 1);
}

void emu_load_seg(struct emu_cpu *c, int seg, uint16_t sel)
{
	struct segment *sg = &c->s.seg[seg];
	uint64_t desc;
	unsigned rpl = sel & 3, dpl, type;

	if (!protected_mode(c)) {
		emu_load_seg_real(c, seg, sel);
		return;
	}
	if ((sel & ~3) == 0) {
		/* Null selector: SS only in 64-bit mode below CPL 3. */
		if (seg == SEG_SS && !(c->code_size == 8 && c->cpl < 3))
			emu_raise_gp(c, 0);
		*sg = (struct segment){ .selector = sel, .unusable = 1 };
		if (seg == SEG_SS)
			sg->dpl = c->cpl;
		return;
	}
	desc = emu_read_descriptor(c, sel, EXC_GP);
	dpl = (desc >> 45) & 3;
	type = (desc >> 40) & 0xf;
	if (!((desc >> 44) & 1))
		emu_raise_gp(c, sel & 0xfffc);  /* system descriptor */
	if (seg == SEG_SS) {
		if ((type & 0xa) != 0x2 || rpl != c->cpl || dpl != c->cpl)
			emu_raise_gp(c, sel & 0xfffc);
		if (!((desc >> 47) & 1))
			emu_raise(c, EXC_SS, sel & 0xfffc, true);
	} else {
		if ((type & 0xa) == 0x8)  /* execute-only code */
			emu_raise_gp(c, sel & 0xfffc);
		/* Data and non-conforming code: max(CPL, RPL) <= DPL. */
		if (((type & 0x8) == 0 || (type & 0x4) == 0) &&
		    (rpl > dpl || c->cpl > dpl))
			emu_raise_gp(c, sel & 0xfffc);
		if (!((desc >> 47) & 1))
			emu_raise(c, EXC_NP, sel & 0xfffc, true);
	}
	mark_accessed(c, sel, desc);
	emu_seg_from_descriptor(sg, sel, desc | (1ULL << 40));
}

void emu_load_cs(struct emu_cpu *c, uint16_t sel, uint64_t desc, unsigned cpl)
{
	mark_accessed(c, sel, desc);
	emu_seg_from_descriptor(&c->s.seg[SEG_CS], (sel & ~3) | cpl, desc | (1ULL << 40));
	c->cpl = cpl;
	emu_update_mode(c);
}

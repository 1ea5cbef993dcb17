/*
 * Decoded instructions cached by guest-physical address.
 *
 * Keyed by physical rather than virtual address because Linux patches its
 * own code through a second mapping (text_poke): a cache keyed by virtual
 * address would miss those writes.  Every physical page that holds cached
 * code is marked in evm->code_page; a guest write to such a page bumps the
 * page's generation (mmu.c), which invalidates its entries here.
 */
#include <stdlib.h>
#include <string.h>

#include "accel/emu/emu.h"


#define DCACHE_ENTRIES 32768

struct dcache_entry {
	uint64_t pa;      /* physical address of the first byte, ~0 if empty */
	uint32_t gen;     /* page generation when decoded */
	uint8_t code_size;
	struct insn in;
};

struct dcache_entry *emu_dcache_alloc(void)
{
	struct dcache_entry *d = malloc(sizeof(*d) * DCACHE_ENTRIES);

	if (d)
		for (unsigned i = 0; i < DCACHE_ENTRIES; i++)
			d[i].pa = ~0ULL;
	return d;
}

static unsigned slot(uint64_t pa)
{
	return (pa ^ (pa >> 15)) % DCACHE_ENTRIES;
}

/* Decode from fetched bytes; raises #UD or the fetch fault. */
static void decode_now(struct emu_cpu *c, struct insn *in)
{
	uint8_t buf[16];
	unsigned n = emu_fetch(c, c->insn_rip, buf, 15);
	int r = emu_decode(c, buf, n, in);

	if (r == -2)  /* the instruction continues on a page we cannot fetch */
		emu_fetch_fault(c, c->insn_rip + n);
	if (r == -3)  /* longer than 15 bytes */
		emu_raise_gp(c, 0);
	if (r)
		emu_raise_ud(c);
}

const struct insn *emu_decode_cached(struct emu_cpu *c)
{
	struct emu_vm *evm = c->evm;
	struct dcache_entry *e;
	uint64_t lin, pa, pn;
	uint32_t gen;

	lin = c->code_size == 8 ? c->insn_rip
				: (c->s.seg[SEG_CS].base + c->insn_rip) & 0xffffffffULL;
	if (c->code_size != 8 && c->insn_rip > c->s.seg[SEG_CS].limit)
		emu_raise_gp(c, 0);
	/* Most instructions follow one another on the same code page. */
	if ((lin >> 12) == c->code_vpage && c->code_tlb_gen == c->tlb_gen && c->code_cpl == c->cpl) {
		pa = (c->code_ppage << 12) | (lin & 0xfff);
	} else {
		pa = emu_translate(c, lin, ACC_EXEC, emu_user(c));
		c->code_vpage = lin >> 12;
		c->code_ppage = pa >> 12;
		c->code_tlb_gen = c->tlb_gen;
		c->code_cpl = c->cpl;
	}
	pn = pa >> 12;
	e = &c->dcache[slot(pa)];
	if (pn < evm->npages) {
		/* A write to the page bumps its generation (and clears its
		 * code mark, which the decode below sets again). */
		if (e->pa == pa && e->code_size == c->code_size &&
		    e->gen == __atomic_load_n(&evm->page_gen[pn], __ATOMIC_ACQUIRE))
			return &e->in;
		/* Mark the page first, so a write racing with the decode below
		 * bumps the generation we are about to record. */
		evm->code_page[pn] = 1;
		gen = __atomic_load_n(&evm->page_gen[pn], __ATOMIC_ACQUIRE);
		decode_now(c, &e->in);
		if ((pa & 0xfff) + e->in.len <= 4096) {
			e->pa = pa;
			e->gen = gen;
			e->code_size = c->code_size;
		} else {
			e->pa = ~0ULL;  /* spans two pages: never cached */
		}
		return &e->in;
	}
	/* Code outside RAM and ROM (MMIO): decode every time. */
	decode_now(c, &c->in);
	return &c->in;
}

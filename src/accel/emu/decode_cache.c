/*
 * Decoded instructions, cached in blocks by guest-physical address.
 *
 * A block is a run of instructions decoded one after another from one
 * physical page, up to the first unconditional transfer of control.  The
 * vCPU walks a block while execution falls through from one instruction
 * to the next, so most instructions cost a few compares instead of a hash
 * lookup in a large table; a taken branch, a fault or an interrupt looks
 * the next block up.
 *
 * Keyed by physical rather than virtual address because Linux patches its
 * own code through a second mapping (text_poke): a cache keyed by virtual
 * address would miss those writes.  Every physical page that holds cached
 * code is marked in evm->code_page; a guest write to such a page bumps the
 * page's generation (mmu.c), which invalidates its blocks, checked before
 * every instruction, so code that rewrites the instructions after it runs
 * the new ones.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "accel/emu/emu.h"
#include "vm/vm.h"

/* 16384 blocks of 560 bytes, 9.2 MB a vCPU: a Linux boot's kernel code
 * fits with few evictions (8192 re-decoded noticeably more often). */
#define BLOCK_SLOT_BITS 14
#define BLOCK_SLOTS (1u << BLOCK_SLOT_BITS)

struct dblock *emu_dcache_alloc(void)
{
	size_t bytes = sizeof(struct dblock) * BLOCK_SLOTS;
	struct dblock *d;

	/* in huge pages where the host has them: it is all written now */
	if (posix_memalign((void **)&d, 2u << 20, bytes))
		return NULL;
	madvise(d, bytes, MADV_HUGEPAGE);
	for (unsigned i = 0; i < BLOCK_SLOTS; i++) {
		d[i].pa = ~0ULL;
		d[i].jit_epoch = 0;
		d[i].rewrites = 0;
		d[i].jit_heat = 0;
		d[i].decoded_at = 0;
	}
	return d;
}


static unsigned slot(uint64_t pa)
{
	return (pa * 0x9e3779b97f4a7c15ULL) >> (64 - BLOCK_SLOT_BITS);
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

/* After these the next bytes are rarely the next instruction. */
bool emu_ends_block(const struct insn *in)
{
	switch (in->op) {
	case 0x9a: case 0xc2: case 0xc3: case 0xca: case 0xcb:
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
	case 0xe8: case 0xe9: case 0xea: case 0xeb: case 0xf4:
	case 0x105: case 0x107: case 0x10b: case 0x134: case 0x135:
		return true;
	case 0xff:
		return (in->reg & 7) >= 2 && (in->reg & 7) <= 5;
	}
	return false;
}

/* Folded CALLs whose RET the block has not reached yet: their return
 * addresses' page offsets (deeper nesting folds no RET). */
#define FOLD_CALL_DEPTH 4
struct fold_calls {
	unsigned ret_off[FOLD_CALL_DEPTH];
	struct insn *call[FOLD_CALL_DEPTH];
	unsigned n;
};

/*
 * A direct JMP or CALL in 32- or 64-bit code whose target lies in the
 * same page: the block goes on at the target (page offset *off, updated),
 * so a call or a jump costs no block lookup.  The same virtual page maps
 * the same physical page, so the offset holds as long as the block does.
 * In 32-bit code only forwards of the block's start (page offset start):
 * the translator checks the block's extent against the CS limit once,
 * from its start up, and EIP must not wrap below it.
 *
 * A RET after such a CALL goes on at the CALL's return address, as a
 * prediction: the walk (emu_block_index) and translated code compare
 * the RIP the RET popped with it and leave the block if they differ (a
 * callee that changed its return address).  Its imm holds the distance
 * from its end to the return address, as a folded jump's does; the CALL
 * is marked FOLD_RET_IN_BLOCK.
 */
static bool fold_jump(struct emu_cpu *c, struct insn *in, unsigned *off, unsigned start,
		      struct fold_calls *calls)
{
	int64_t target;

	if (c->code_size < 4 || in->opsize != c->code_size || (in->prefixes & PFX_LOCK))  /* LOCK: #UD */
		return false;
	if (in->op == 0xc3) {
		if (!calls->n || calls->n > FOLD_CALL_DEPTH)
			return false;
		calls->n--;
		in->imm = (uint64_t)((int64_t)calls->ret_off[calls->n] - (int64_t)*off);
		in->folded = FOLD_JUMP;
		calls->call[calls->n]->folded |= FOLD_RET_IN_BLOCK;
		*off = calls->ret_off[calls->n];
		return true;
	}
	if (in->op != 0xe8 && in->op != 0xe9 && in->op != 0xeb)
		return false;
	target = (int64_t)*off + (int64_t)in->imm;
	if (target < (c->code_size == 8 ? 0 : (int64_t)start) || target >= 4096)
		return false;
	if (in->op == 0xe8) {
		if (calls->n < FOLD_CALL_DEPTH) {
			calls->ret_off[calls->n] = *off;
			calls->call[calls->n] = in;
		}
		calls->n++;
	}
	in->folded = FOLD_JUMP;
	*off = target;
	return true;
}

/*
 * Decode the instructions after the block's first from the page's bytes
 * in host memory, stopping at the page's end, at a transfer of control
 * (unless it folds) or at bytes that do not decode (those raise only if
 * executed).
 */
static void extend_block(struct emu_cpu *c, struct dblock *b)
{
	const uint8_t *page = gmem_ptr(&c->vm->mem, b->pa & ~0xfffULL, 4096);
	unsigned off = (b->pa & 0xfff) + b->in[0].len;
	struct fold_calls calls = { .n = 0 };

	if (!page)
		return;
	while (b->n < BLOCK_MAX && off < 4096) {
		if (emu_ends_block(&b->in[b->n - 1]) &&
		    !fold_jump(c, &b->in[b->n - 1], &off, b->pa & 0xfff, &calls))
			break;
		unsigned avail = 4096 - off < 15 ? 4096 - off : 15;
		struct insn *in = &b->in[b->n];

		if (emu_decode(c, page + off, avail, in))
			break;
		off += in->len;
		b->n++;
	}
}

/* Start walking block b at its first instruction. */
static const struct insn *enter_block(struct emu_cpu *c, struct dblock *b)
{
	c->blk = b;
	c->blk_idx = 1;
	c->blk_start_rip = c->insn_rip;
	c->blk_page_gen = &c->evm->page_gen[b->pa >> 12];
	return &b->in[0];
}

const struct insn *emu_decode_cached(struct emu_cpu *c)
{
	struct emu_vm *evm = c->evm;
	struct dblock *b;
	uint64_t lin, pa, pn;
	uint32_t gen;

	c->blk = NULL;
	lin = c->code_size == 8 ? c->insn_rip
				: (c->s.seg[SEG_CS].base + c->insn_rip) & 0xffffffffULL;
	if (c->code_size != 8 && c->insn_rip > c->s.seg[SEG_CS].limit)
		emu_raise_gp(c, 0);
	/* Most blocks start on the code page of the block before. */
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
	if (pn >= evm->npages) {
		/* Code outside RAM and ROM (MMIO): decode every time. */
		decode_now(c, &c->in);
		return &c->in;
	}
	b = &c->dcache[slot(pa)];
	if (b->pa == pa && b->code_size == c->code_size &&
	    b->gen == __atomic_load_n(&evm->page_gen[pn], __ATOMIC_ACQUIRE))
		return enter_block(c, b);
	/* The generation first, then the mark, then the bytes: a write that
	 * lands after the mark bumps the generation (emu_code_written), one
	 * before it is in the bytes, and one between the two (which may
	 * clear the mark: later writes would not bump) bumps the generation
	 * read before it.  Read after the mark, that generation could
	 * already be the bumped one, the mark gone, the bytes old. */
	gen = __atomic_load_n(&evm->page_gen[pn], __ATOMIC_ACQUIRE);
	emu_page_flags_set(c, pn, EMU_PAGE_CODE);
	/* the same block's code rewritten soon after its last decoding:
	 * code next to data the guest keeps writing (the translator lets
	 * the interpreter run such blocks rather than translate each time) */
	if (b->pa == pa && b->code_size == c->code_size)
		b->rewrites = c->icount - b->decoded_at < EMU_REWRITE_WINDOW ?
			      b->rewrites + (b->rewrites < 255) : 0;
	else
		b->rewrites = 0;
	b->decoded_at = c->icount;
	b->pa = ~0ULL;
	b->jit_epoch = 0;  /* its translation, if any, is of other code */
	b->jit_heat = 0;
	b->gen = gen;
	b->code_size = c->code_size;
	b->n = 1;
	decode_now(c, &b->in[0]);
	if ((pa & 0xfff) + b->in[0].len > 4096)
		return &b->in[0];  /* spans two pages: never cached */
	b->pa = pa;
	extend_block(c, b);
	return enter_block(c, b);
}

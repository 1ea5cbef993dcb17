/*
 * Page groups: inline memory accesses of a block in 64-bit code that go
 * through the same base and index registers (or RIP, or none) unchanged
 * between them, or changed only by known amounts (RSP by PUSH, POP, a
 * folded CALL or RET, ADD/SUB RSP, imm), so that each one's address is
 * the first one's plus a constant.  The first (the leader) looks the TLB
 * up once for the bytes all of them touch, when those lie in one page;
 * the others then only add their offset to the host address it found
 * (emit.h, jit_emit_tlb_group), and look themselves up only if its check
 * failed.  A function's prologue of pushes, its stack slots and a
 * structure's fields read through one pointer cost one lookup so.  One
 * group is open at a time (its host address in one host register): a
 * group's span holds no other's leader.
 *
 * Between the accesses only what cannot remap memory or move the base
 * unseen may run: native register operations, LEA, MOV and the other
 * inline accesses, native Jccs (which leave the block when taken) and
 * folded jumps.  Their slow paths run handlers, which may fill the TLB
 * but change no mapping (only instructions that end a block do: MOV CR3,
 * INVLPG, ...), and the page register is callee-saved.
 */
#include <string.h>

#include "accel/emu/jit/translate.h"

#if defined(__x86_64__)

/* Bases besides the general registers: RIP (the address static) and
 * none (an absolute disp32). */
#define BASE_RIP 16
#define BASE_NONE 17

/* An inline access's address as base + index * scale + disp (before
 * the access moves RSP, for the stack; index NO_INDEX: none), its size
 * and whether it writes. */
#define NO_INDEX 16
struct group_access {
	unsigned base, index, scale;
	int64_t disp;
	unsigned size;
	bool write;
};

/* in (of kind mk, ending at end from the block's start) as an access a
 * group can hold. */
static bool access_of(const struct insn *in, enum mem_kind mk, int64_t end,
		      struct group_access *a)
{
	struct nat n;
	enum preload pre;
	unsigned size;

	if (emu_fast_is_nop(in))  /* no code at all (emit_tb): never a group's */
		return false;
	switch (mk) {
	case MEM_PUSH:
		*a = (struct group_access){ GPR_RSP, NO_INDEX, 0, -8, 8, true };
		return true;
	case MEM_CALL:    /* folded, direct: the block goes on in the callee */
		if (!in->folded || in->op != 0xe8)
			return false;
		*a = (struct group_access){ GPR_RSP, NO_INDEX, 0, -8, 8, true };
		return true;
	case MEM_POP:
		if (((in->op & 7) | ((in->rex & 1) << 3)) == GPR_RSP)
			return false;
		*a = (struct group_access){ GPR_RSP, NO_INDEX, 0, 0, 8, false };
		return true;
	case MEM_RET:     /* folded: the block goes on after the CALL */
		if (!in->folded)
			return false;
		*a = (struct group_access){ GPR_RSP, NO_INDEX, 0, 0, 8, false };
		return true;
	case MEM_LOAD: case MEM_STORE: case MEM_STORE_IMM: case MEM_NATIVE: case MEM_RMW:
		break;
	default:
		return false;
	}
	if (in->adsize != 8 || insn_seg(in) >= SEG_FS)
		return false;

	size = op_size(in);
	if (mk == MEM_NATIVE && !pick_native_mem(in, &n, &pre, &size))
		return false;
	if (in->base == 16)
		*a = (struct group_access){ BASE_RIP, NO_INDEX, 0, end + (int64_t)in->disp, size,
					    false };
	else
		*a = (struct group_access){ in->base < 0 ? BASE_NONE : (unsigned)in->base,
					    in->index < 0 ? NO_INDEX : (unsigned)in->index,
					    in->index < 0 ? 0 : in->scale, in->disp, size, false };
	a->write = mk == MEM_STORE || mk == MEM_STORE_IMM || mk == MEM_RMW;
	return true;
}

/* The general registers a native operation writes (its destination;
 * MUL: RAX and RDX; CMP and TEST: none). */
static uint32_t native_writes(const struct nat *n)
{
	if (n->kind == NAT_MUL)
		return 1u << GPR_RAX | 1u << GPR_RDX;
	if (n->kind == NAT_ALU && !n->store)
		return 0;
	return 1u << gpr_of(reg_field(n, n->dst));
}

/*
 * What instruction in (kind mk) may stand between a group's accesses:
 * false if nothing (it could remap memory or is not known); else the
 * registers it writes, RSP's steps by stack operations and ADD/SUB RSP,
 * imm left out but returned in *rsp_step.
 */
static bool between(const struct jit_tb *tb, const struct insn *in, enum mem_kind mk,
		    int64_t end, uint32_t *writes, int64_t *rsp_step)
{
	struct nat n;
	enum preload pre;
	unsigned size;

	*writes = 0;
	*rsp_step = 0;
	switch (mk) {
	case MEM_LOAD:
		nat_init(in, &n);
		*writes = 1u << gpr_of(reg_field(&n, in->reg));
		return true;
	case MEM_STORE: case MEM_STORE_IMM: case MEM_RMW:
		return true;
	case MEM_NATIVE:
		if (!pick_native_mem(in, &n, &pre, &size))
			return false;
		*writes = native_writes(&n);
		return true;
	case MEM_PUSH:
		*rsp_step = -8;
		return true;
	case MEM_POP:
		*writes = 1u << ((in->op & 7) | ((in->rex & 1) << 3));
		*rsp_step = 8;
		return true;
	case MEM_CALL:
		if (!in->folded || in->op != 0xe8)
			return false;
		*rsp_step = -8;
		return true;
	case MEM_RET:
		if (!in->folded)
			return false;
		*rsp_step = 8;
		return true;
	case MEM_NONE:
		break;
	default:
		return false;
	}
	if (emu_fast_is_nop(in) || emu_folded_jmp(in) || jcc_native(tb, in, end))
		return true;
	if (pick_lea(in)) {
		*writes = 1u << in->reg;
		return true;
	}
	if (in->has_mem || !pick_native(tb, in, &n))
		return false;
	if (n.kind == NAT_ALU && n.store && !n.carry_in && n.src == ~0u && n.size == 8 &&
	    gpr_of(reg_field(&n, n.dst)) == GPR_RSP && (n.op == JIT_ADD || n.op == JIT_SUB)) {
		*rsp_step = n.op == JIT_ADD ? (int64_t)n.imm : -(int64_t)n.imm;
		return true;
	}
	*writes = native_writes(&n);
	return true;
}

void plan_page_groups(const struct jit_tb *tb, struct page_use *pu)
{
	enum mem_kind mk[BLOCK_MAX];
	int64_t ends[BLOCK_MAX], off = 0;
	unsigned n = tb->n, i, k, last = 0;  /* last: the group's last member */

	memset(pu, 0, sizeof(*pu) * n);
	if (tb->code_size != 8)
		return;
	if (tb->cross_pa != JIT_NO_CROSS)
		n--;  /* the last one is a handler's (emu_jit_cross) */
	for (i = 0; i < n; i++) {
		mk[i] = pick_mem(tb, &tb->in[i]);
		ends[i] = off + tb->in[i].len;
		off = emu_walk_next(&tb->in[i], ends[i]);
	}
	for (i = 0; i < n; i++) {
		struct group_access lead, a;
		int64_t delta = 0, lo, hi;
		unsigned members = 0;
		bool write;

		/* one page register: a group's span holds no other */
		if ((i && i <= last) || !access_of(&tb->in[i], mk[i], ends[i], &lead))
			continue;
		lo = 0;
		hi = lead.size - 1;
		write = lead.write;
		for (k = i; k < n; k++) {  /* the leader's own effects first */
			const struct insn *in = &tb->in[k];
			uint32_t writes;
			int64_t step, o;

			if (k > i && access_of(in, mk[k], ends[k], &a) && a.base == lead.base &&
			    a.index == lead.index && a.scale == lead.scale) {
				o = delta + a.disp - lead.disp;
				if ((o < lo ? hi - o : o + a.size - 1 - lo) >= 4096 ||
				    o < INT32_MIN / 2 || o > INT32_MAX / 2)
					break;
				lo = o < lo ? o : lo;
				hi = o + a.size - 1 > hi ? o + a.size - 1 : hi;
				write |= a.write;
				pu[k] = (struct page_use){ PAGE_MEMBER, false, (int32_t)o, 0, 0 };
				members++;
				last = k;
			}
			if (!between(tb, in, mk[k], ends[k], &writes, &step))
				break;
			if (lead.base == GPR_RSP && lead.index == NO_INDEX)
				delta += step;
			else if (step)
				writes |= 1u << GPR_RSP;  /* RSP moved: not by a known step here */
			if ((lead.base < 16 && (writes & (1u << lead.base))) ||
			    (lead.index < 16 && (writes & (1u << lead.index))))
				break;
		}
		if (members)
			pu[i] = (struct page_use){ PAGE_LEADER, write, 0, (int32_t)lo, (int32_t)hi };
	}
}

#endif

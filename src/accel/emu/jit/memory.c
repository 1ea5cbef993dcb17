/*
 * The translator's inline memory accesses (translate.h): the software
 * TLB looked up in translated code, segment checks outside 64-bit code,
 * loads, stores, the stack, read-modify-writes and atomics, each with
 * its handler as the slow path.
 */
#include <string.h>

#include "accel/emu/jit/translate.h"

#if defined(__x86_64__)

/* Whether a direct target (displacement imm after an instruction in the
 * block's page) is within the emitter's 32-bit offsets of the block. */
bool offset_fits(uint64_t imm)
{
	int64_t d = (int64_t)imm;

	return d > INT32_MIN + 8192 && d < INT32_MAX - 8192;
}

/* MOV reg, [m]; MOV [m], reg; MOV [m], imm (of any size, 64-bit
 * addresses); PUSH and POP of a register; CALL (direct, or through a
 * register); RET; JMP through memory; the native operations that read a
 * memory operand. */
/* The ALU operation of a LOCK ADD, SUB, AND, OR, XOR, INC or DEC of
 * memory (INC, DEC: ADD, SUB of 1), or -1. */
static int locked_alu(const struct insn *in)
{
	static const int alu[8] = { JIT_ADD, JIT_OR, -1, -1, JIT_AND, JIT_SUB, JIT_XOR, -1 };
	unsigned op = in->op;

	if (!(in->prefixes & PFX_LOCK))
		return -1;
	if (op < 0x40 && (op & 7) < 2)
		return alu[op >> 3];
	if (op == 0x80 || op == 0x81 || op == 0x83)
		return alu[in->reg & 7];
	if ((op == 0xfe || op == 0xff) && (in->reg & 7) < 2)
		return (in->reg & 1) ? JIT_SUB : JIT_ADD;
	return -1;
}

/* XCHG, XADD and CMPXCHG of memory and a register, LOCK or not (XCHG
 * always locks), and the LOCK forms of locked_alu: the host's own atomic
 * instruction on the host address.  Not with F2/F3 (the HLE hints: the
 * handler's business). */
static bool pick_atomic(const struct jit_tb *tb, const struct insn *in)
{
	if (!in->has_mem || (in->prefixes & (PFX_REP | PFX_REPNE)) ||
	    (tb->code_size == 8 && in->adsize != 8))
		return false;
	switch (in->op) {
	case 0x86: case 0x87: case 0x1b0: case 0x1b1: case 0x1c0: case 0x1c1:
		return true;
	}
	return locked_alu(in) >= 0;
}

/* Its operand size. */
static unsigned atomic_size(const struct insn *in)
{
	if (in->op == 0x80 || in->op == 0xfe)
		return 1;
	if (in->op == 0x81 || in->op == 0x83 || in->op == 0xff)
		return in->opsize;
	return (in->op & 1) ? in->opsize : 1;
}

enum mem_kind pick_mem(const struct jit_tb *tb, const struct insn *in)
{
	unsigned op = in->op, load_size;
	enum preload pre;
	struct nat n;

	if (pick_atomic(tb, in))
		return MEM_ATOMIC;
	/* PUSH imm (the general handler on the slow path): a kernel's
	 * system call entry pushes its frame's constants so */
	if (tb->code_size == 8 && (op == 0x68 || op == 0x6a) && in->opsize == 8 &&
	    !(in->prefixes & PFX_LOCK))
		return MEM_PUSH;
	if (!in->fast)
		return MEM_NONE;
	if (tb->code_size == 8) {
		if (op >= 0x50 && op <= 0x5f)  /* fast only with 8-byte operands */
			return op < 0x58 ? MEM_PUSH : MEM_POP;
		if (op == 0xe8)
			return offset_fits(in->imm) ? MEM_CALL : MEM_NONE;
		if (op == 0xc3)
			return MEM_RET;
		if (op == 0xff && (in->reg & 7) == 2 && !in->has_mem)
			return MEM_CALL;
		if (op == 0xff && (in->reg & 7) == 4 && in->has_mem && in->adsize == 8)
			return MEM_JMP;
		if (in->adsize != 8)
			return MEM_NONE;
	} else if (tb->code_size == 4 && in->opsize == 4 &&
		   ((op >= 0x50 && op <= 0x5f) || op == 0xe8 || op == 0xc3)) {
		/* 32-bit code on a 32-bit stack (checked where it runs) */
		return op == 0xe8 ? MEM_CALL : op == 0xc3 ? MEM_RET : op < 0x58 ? MEM_PUSH : MEM_POP;
	} else if (op == 0xff) {
		return MEM_NONE;  /* jumps through memory: 64-bit code only */
	}
	if (!in->has_mem || !nat_init(in, &n))
		return MEM_NONE;
	switch (op) {
	case 0x8a: case 0x8b: return MEM_LOAD;
	case 0x88: case 0x89: return MEM_STORE;
	case 0xc6: case 0xc7: return (in->reg & 7) == 0 ? MEM_STORE_IMM : MEM_NONE;
	}
	if (pick_native_rmw(in, &n))
		return MEM_RMW;
	return pick_native_mem(in, &n, &pre, &load_size) ? MEM_NATIVE : MEM_NONE;
}

struct jit_tlb_layout tlb_layout(struct emu_cpu *c)
{
	return (struct jit_tlb_layout){
		.tables = F(tlb_fast), .entries = TLB_ENTRIES,
		.entry_size = sizeof(struct tlb_fast),
		.read_tag = offsetof(struct tlb_fast, read_tag),
		.write_tag = offsetof(struct tlb_fast, write_tag),
		.addend = offsetof(struct tlb_fast, addend),
		.cpl = F(cpl),
	};
}

/* The segments translated code accesses inline, as they are now: the
 * usable, expand-up, writable data ones; *flat = those of them whose
 * base is 0 and limit 4 GiB - 1 (every offset its linear address). */
uint8_t inline_segment_mask(const struct emu_cpu *c, uint8_t *flat)
{
	uint8_t m = 0;

	*flat = 0;
	for (int s = 0; s < NUM_SEGS; s++) {
		const struct segment *sg = &c->s.seg[s];

		if (sg->unusable || !sg->s || (sg->type & 0xe) != 2)
			continue;
		m |= (uint8_t)(1u << s);
		if (sg->base == 0 && sg->limit == 0xffffffff)
			*flat |= (uint8_t)(1u << s);
	}
	return m;
}

/* Segment seg as a block accesses it inline: flat (if in flat_mask, the
 * segments flat when it was translated: their checks test c->jit_seg_flat
 * and no limit or base is applied) or checked against its limit. */
struct jit_seg_layout seg_layout(int seg, uint8_t flat_mask)
{
	bool flat = flat_mask & 1u << seg;

	return (struct jit_seg_layout){
		seg_field(seg, base), seg_field(seg, limit),
		flat ? F(jit_seg_flat) : F(jit_seg_fast), (uint8_t)(1u << seg), flat,
	};
}

/* Whether seg's check (one of SEG_*, or SEG_CHECK_SS_B) is to be emitted
 * here: not if done already. */
static bool seg_check_needed(struct seg_checks *sc, unsigned bit)
{
	if (sc->done & bit)
		return false;
	sc->added |= bit;
	return true;
}

_Static_assert(sizeof(struct tlb_fast) == 32, "the emitter indexes the TLB by shifts");
_Static_assert(sizeof(((struct emu_cpu *)0)->tlb_fast[0]) == TLB_ENTRIES * 32,
	       "the user table follows the supervisor one");
_Static_assert(sizeof(((struct emu_cpu *)0)->cpl) == 4, "CPL is compared as a dword");

/* T0 = the host address of the ModRM memory operand of in (size bytes),
 * or the returned branch is taken: a segment check, an address with bits
 * of align_mask set (#GP), a TLB miss. */
/* T0 = the offset of in's memory operand (with FS's or GS's base in
 * 64-bit code), end its RIP-relative base. */
static void emit_operand_ea(struct jit_emit *e, const struct insn *in, int64_t end)
{
	int seg = insn_seg(in);

	jit_emit_ea(e, in->base >= 0 && in->base < 16 ? gpr_field(in->base) : -1,
		    in->base == 16, end, in->index >= 0 ? gpr_field(in->index) : -1,
		    in->scale, in->disp,
		    seg >= SEG_FS && in->adsize == 8 ? seg_field(seg, base) : -1);
}

/* T0 = the stack offset a stack operation of kind k accesses. */
static void emit_stack_ea(struct jit_emit *e, const struct jit_tb *tb, enum mem_kind k)
{
	jit_emit_ea(e, gpr_field(GPR_RSP), false, 0, -1, 0,
		    k == MEM_PUSH || k == MEM_CALL ? -(int32_t)stack_width(tb) : 0, -1);
}

jit_fixup emit_operand_host(struct jit_emit *e, const struct jit_tlb_layout *l,
			    const struct insn *in, int64_t end, unsigned size,
			    bool write, uint8_t align_mask, struct seg_checks *sc)
{
	int seg = insn_seg(in);
	jit_fixup fail[4];
	unsigned nf = 0;

	emit_operand_ea(e, in, end);
	if (in->adsize != 8) {  /* 16- and 32-bit code */
		const struct jit_seg_layout sl = seg_layout(seg, sc->flat);

		jit_emit_seg_linear(e, &sl, in->adsize, size, !seg_check_needed(sc, 1u << seg),
				    fail);
		nf = 2;
	}
	if (align_mask)
		fail[nf++] = jit_emit_branch_t0_bits(e, align_mask);
	return jit_emit_tlb_host(e, l, size, write, fail, nf);
}

/* XCHG, XADD, CMPXCHG on the host address in T0 (size bytes), with the
 * registers and flag record the handlers leave. */
static void emit_atomic(struct jit_emit *e, const struct insn *in, unsigned s,
			struct flag_state *fs)
{
	struct nat n;
	jit_fixup equal;
	int aop = locked_alu(in);

	nat_init(in, &n);
	n.size = s;
	n.imm = in->imm & emu_size_mask(s);
	jit_emit_hold_atomic(e);
	if (aop >= 0) {             /* the record of the operation on the old value */
		bool incdec = in->op == 0xfe || in->op == 0xff;

		if (incdec || in->op >= 0x80)
			jit_emit_load_imm(e, JIT_T1, incdec ? 1 : n.imm);
		else
			jit_emit_load(e, JIT_T1, reg_field(&n, in->reg), s);
		jit_emit_atomic_rmw(e, (enum jit_alu)aop, s);
		if (incdec) {           /* CF kept in cc_carry (emit_mem did it) */
			jit_emit_incdec(e, aop == JIT_SUB, s);
			jit_emit_store(e, JIT_T0, F(cc_res), 8);
			emit_record(e, aop == JIT_SUB ? CC_DEC : CC_INC, s, fs);
			fs->host = HOST_NO_CF;
			return;
		}
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
		jit_emit_store(e, JIT_T1, F(cc_src2), 8);
		jit_emit_alu(e, (enum jit_alu)aop, s);
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		emit_record(e, aop == JIT_ADD ? CC_ADD : aop == JIT_SUB ? CC_SUB : CC_LOGIC, s, fs);
		fs->host = HOST_ALL;
		return;
	}
	jit_emit_load(e, JIT_T1, reg_field(&n, in->reg), s);
	switch (in->op & 0xff) {
	case 0x86: case 0x87:       /* the register gets the old value */
		jit_emit_atomic(e, JIT_XCHG, s);
		jit_emit_store(e, JIT_T1, reg_field(&n, in->reg), store_size(&n));
		return;
	case 0xc0: case 0xc1:       /* XADD: the record of old + source */
		jit_emit_store(e, JIT_T1, F(cc_src2), 8);
		jit_emit_atomic(e, JIT_XADD, s);
		jit_emit_store(e, JIT_T1, F(cc_src1), 8);
		jit_emit_store(e, JIT_T1, reg_field(&n, in->reg), store_size(&n));
		jit_emit_load(e, JIT_T0, F(cc_src2), 8);
		jit_emit_add_keep_flags(e);
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		emit_record(e, CC_ADD, s, fs);
		fs->host = HOST_ALL;
		return;
	default:                    /* CMPXCHG: the record of CMP acc, old */
		jit_emit_load(e, JIT_T0, gpr_field(GPR_RAX), s);
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
		jit_emit_atomic(e, JIT_CMPXCHG, s);
		jit_emit_store(e, JIT_T0, F(cc_src2), 8);
		equal = jit_emit_branch_cc(e, 4);  /* the accumulator stays */
		jit_emit_store(e, JIT_T0, gpr_field(GPR_RAX), s <= 2 ? s : 8);
		jit_emit_bind(e, equal);
		jit_emit_load(e, JIT_T1, F(cc_src2), s);
		jit_emit_load(e, JIT_T0, F(cc_src1), s);
		jit_emit_alu(e, JIT_SUB, s);        /* the same flags again */
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		emit_record(e, CC_SUB, s, fs);
		fs->host = HOST_ALL;
		return;
	}
}

/* RSP += by (8 in 64-bit code; 4 on a 32-bit stack: ESP wraps and is
 * zero-extended, as the handlers' sp_set leaves it). */
void emit_step_sp(struct jit_emit *e, int by)
{
	unsigned s = by < 0 ? (unsigned)-by : (unsigned)by;

	jit_emit_load(e, JIT_T0, gpr_field(GPR_RSP), 8);
	jit_emit_alu_imm(e, by < 0 ? JIT_SUB : JIT_ADD, s, s);
	jit_emit_store(e, JIT_T0, gpr_field(GPR_RSP), 8);
}

/* The bytes the native stack operations move: 8 in 64-bit code, 4 in
 * 32-bit code (pick_mem takes only 4-byte operands there). */
unsigned stack_width(const struct jit_tb *tb)
{
	return tb->code_size == 8 ? 8 : 4;
}

/* A page group's access (64-bit code: no segment base or limit): its
 * linear address into T0. */
static void emit_group_address(struct jit_emit *e, const struct jit_tb *tb, enum mem_kind k,
			       const struct insn *in, int64_t end)
{
	if (k == MEM_PUSH || k == MEM_CALL || k == MEM_POP || k == MEM_RET)
		emit_stack_ea(e, tb, k);
	else
		emit_operand_ea(e, in, end);
}

/* The size of an access of kind k and whether it writes. */
static unsigned access_size(const struct jit_tb *tb, enum mem_kind k, const struct insn *in,
			    bool *write)
{
	bool stack = k == MEM_PUSH || k == MEM_POP || k == MEM_CALL || k == MEM_RET;
	unsigned s = stack ? stack_width(tb) : k == MEM_JMP ? 8 : k == MEM_ATOMIC ? atomic_size(in)
									       : op_size(in);
	enum preload pre;
	struct nat n;

	if (k == MEM_NATIVE)
		pick_native_mem(in, &n, &pre, &s);
	*write = !(k == MEM_LOAD || k == MEM_POP || k == MEM_RET || k == MEM_NATIVE ||
		   k == MEM_JMP);
	return s;
}

jit_fixup emit_own_lookup(struct jit_emit *e, const struct jit_tb *tb,
			  const struct jit_tlb_layout *l, enum mem_kind k,
			  const struct insn *in, int64_t end, const struct own_lookup *own)
{
	bool write;
	unsigned s = access_size(tb, k, in, &write);
	jit_fixup fail;

	jit_emit_bind(e, own->f);
	if (own->leader)
		jit_emit_group_clear(e);  /* T0 is its address still */
	else
		emit_group_address(e, tb, k, in, end);
	fail = jit_emit_tlb_host(e, l, s, write, NULL, 0);
	jit_emit_jump_to(e, own->access);
	return fail;
}

jit_fixup emit_mem(struct jit_emit *e, const struct jit_tb *tb,
		   const struct jit_tlb_layout *l, enum mem_kind k,
		   const struct insn *in, int64_t end, struct flag_state *fs,
		   struct flag_state *slow_fs, struct seg_checks *sc,
		   const struct page_use *pu, struct own_lookup *own)
{
	bool stack = k == MEM_PUSH || k == MEM_POP || k == MEM_CALL || k == MEM_RET;
	bool write;
	unsigned s = access_size(tb, k, in, &write);
	unsigned r = (in->op & 7) | ((in->rex & 1) << 3);
	enum preload pre = PRE_NONE;
	struct nat n;
	jit_fixup slow;
	bool cf_only = false;

	own->f = NULL;
	if (k == MEM_NATIVE)
		pick_native_mem(in, &n, &pre, &s);
	if ((k == MEM_RMW && pick_native_rmw(in, &n) && n.kind == NAT_INCDEC) ||
	    (k == MEM_ATOMIC && (in->op == 0xfe || in->op == 0xff)))
		emit_keep_cf(e, fs);  /* before the held address: it may call C */
	if ((k == MEM_NATIVE || k == MEM_RMW) && n.kind == NAT_ALU && !n.carry_in &&
	    only_cf_read_after(tb, (unsigned)(in - tb->in))) {
		/* no record on the fast path; the handler's on the slow one,
		 * whose flags the way back rebuilds for the INC/DEC */
		n.cf_only = cf_only = true;
		*slow_fs = (struct flag_state){ n.cc, n.size, HOST_ALL, HOST_NONE, false };
	}

	if (pu->role == PAGE_MEMBER) {
		/* the leader's page: its host address plus the offset */
		*own = (struct own_lookup){ jit_emit_group_host(e, pu->off), NULL, false };
		own->access = jit_emit_label(e);
		slow = NULL;
	} else if (pu->role == PAGE_LEADER) {
		emit_group_address(e, tb, k, in, end);
		*own = (struct own_lookup){ jit_emit_tlb_group(e, l, pu->lo, pu->hi, pu->write),
					    NULL, true };
		own->access = jit_emit_label(e);
		slow = NULL;
	} else if (stack) {
		jit_fixup fail[4];
		unsigned nf = 0;

		/* 32-bit code: SS.B set (ESP, not SP) */
		if (s == 4 && seg_check_needed(sc, SEG_CHECK_SS_B))
			fail[nf++] = jit_emit_branch_byte_clear(e, seg_field(SEG_SS, db));
		emit_stack_ea(e, tb, k);
		if (s == 4) {   /* ESP, wrapped, in SS */
			const struct jit_seg_layout sl = seg_layout(SEG_SS, sc->flat);

			jit_emit_seg_linear(e, &sl, 4, 4, !seg_check_needed(sc, 1u << SEG_SS),
					    fail + nf);
			nf += 2;
		}
		slow = jit_emit_tlb_host(e, l, s, write, fail, nf);
	} else {
		slow = emit_operand_host(e, l, in, end, s, write, 0, sc);
	}
	switch (k) {
	case MEM_LOAD:
		nat_init(in, &n);
		jit_emit_load_ind(e, s);
		jit_emit_store(e, JIT_T0, reg_field(&n, in->reg), store_size(&n));
		break;
	case MEM_STORE:
		nat_init(in, &n);
		jit_emit_load(e, JIT_T1, reg_field(&n, in->reg), s);
		jit_emit_store_ind(e, s);
		break;
	case MEM_STORE_IMM:
		jit_emit_load_imm(e, JIT_T1, in->imm & emu_size_mask(s));
		jit_emit_store_ind(e, s);
		break;
	case MEM_PUSH:  /* the old RSP for PUSH RSP */
	case MEM_CALL:  /* the return address; the block goes on at the target */
		if (k == MEM_CALL)
			jit_emit_rip_to(e, JIT_T1, end);
		else if (in->op == 0x68 || in->op == 0x6a)
			jit_emit_load_imm(e, JIT_T1, in->imm);
		else
			jit_emit_load(e, JIT_T1, gpr_field(r), s);
		jit_emit_store_ind(e, s);
		emit_step_sp(e, -(int)s);
		break;
	case MEM_POP:   /* POP RSP loads RSP; others also step it (a 4-byte
			 * value and ESP zero-extended, as the handler writes) */
		jit_emit_load_ind(e, s);
		jit_emit_store(e, JIT_T0, gpr_field(r), 8);
		if (r != GPR_RSP)
			emit_step_sp(e, (int)s);
		break;
	case MEM_RET:   /* T0 = the target; emit_tb does the rest */
	case MEM_JMP:
		jit_emit_load_ind(e, s);
		break;
	case MEM_NATIVE:  /* the handler's record either way: fs holds */
		jit_emit_load_ind_ext(e, s, n.kind == NAT_EXT && n.sign);
		emit_native(e, &n, fs, pre);
		break;
	case MEM_RMW:     /* the write's TLB check covers the read */
		jit_emit_hold_addr(e);
		jit_emit_load_held(e, s);
		emit_native(e, &n, fs, PRE_DST);
		break;
	case MEM_ATOMIC:
		emit_atomic(e, in, s, fs);
		break;
	case MEM_NONE:
		break;
	}
	if (!cf_only)
		*slow_fs = *fs;
	return slow;
}

#endif

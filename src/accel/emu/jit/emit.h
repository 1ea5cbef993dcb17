/*
 * The translator's host-code emitter: the operations translate.c builds a
 * translated block from, each implemented by one back-end file per host
 * architecture (emit_x86_64.c; an aarch64 one would be another file with
 * the same functions).  Nothing here knows about guest instructions.
 *
 * Translated code runs as a C function
 *	unsigned tb(struct emu_cpu *c, uint64_t start_rip)
 * that keeps c, the guest RIP its block was entered at ("start") and the
 * count of guest instructions run so far in callee-saved registers, and
 * returns the count.
 *
 * Every write goes through a bounds check against the end of the buffer
 * the emitter was given: past it nothing is written and `overflow` is
 * set, and the caller throws the partial code away.
 */
#ifndef WIRT_ACCEL_EMU_JIT_EMIT_H
#define WIRT_ACCEL_EMU_JIT_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JIT_MIRRORS 4

/* A scratch register's low bytes (0: an unused entry) equal those of a
 * vCPU field; zext: and the rest of it is zero. */
struct jit_mirror {
	int32_t field;
	uint8_t bytes;
	bool zext;
};

struct jit_emit {
	uint8_t *p;       /* next byte (writable view) */
	uint8_t *end;     /* first byte not ours */
	ptrdiff_t rx_delta;  /* executable address - writable address */
	bool overflow;
	/* What each scratch register (T0, T1) holds of vCPU fields, so that
	 * a load of one reuses the register.  Only valid while nothing but
	 * operations that keep them was emitted since (mirror_at == p) and
	 * no branch lands here. */
	struct jit_mirror mirror[2][JIT_MIRRORS];
	uint8_t *mirror_at;
};

/* What the scratch registers hold at one place, kept to be claimed again
 * where only a branch from there (or a jump with the same holdings)
 * lands. */
struct jit_regs {
	struct jit_mirror m[2][JIT_MIRRORS];
	bool valid;
};
void jit_emit_regs_save(const struct jit_emit *e, struct jit_regs *r);
/* Right after binding the one branch saved from (nothing emitted since). */
void jit_emit_regs_resume(struct jit_emit *e, const struct jit_regs *r);
/* Of what the registers hold here, one field in [lo, hi) per register,
 * in full (zero-extended or 8 bytes) in want[t] (bytes 0: none); false
 * if none. */
bool jit_emit_regs_pick(const struct jit_emit *e, int32_t lo, int32_t hi,
			struct jit_mirror want[2]);
/* Load want (jit_emit_regs_pick's) into the registers: from here on
 * they hold it. */
void jit_emit_regs_load(struct jit_emit *e, const struct jit_mirror want[2]);
/* The registers hold all of want here. */
bool jit_emit_regs_hold(const struct jit_emit *e, const struct jit_mirror want[2]);

/* A forward branch not yet bound to its target: where its displacement is. */
typedef uint8_t *jit_fixup;

static inline void jit_emit_init(struct jit_emit *e, uint8_t *rw, uint8_t *end,
				 ptrdiff_t rx_delta)
{
	e->p = rw;
	e->end = end;
	e->rx_delta = rx_delta;
	e->overflow = false;
	e->mirror_at = NULL;
}

/* The current position as a target a jump will reach later (which
 * forgets what the scratch registers held). */
static inline uint8_t *jit_emit_label(struct jit_emit *e)
{
	e->mirror_at = NULL;
	return e->p;
}

/* Host bytes a block of n guest instructions may need at most. */
size_t jit_emit_bound(unsigned n);

/* The exit all blocks share: restores the host registers and returns
 * the count. */
void jit_emit_epilogue(struct jit_emit *e);
struct jit_tlb_layout;
/* A block's entry from C: saves registers, loads c, start, count 0, the
 * TLB table for the CPL and the base of the page generations' table,
 * then jumps to the body (bind the fixup there). */
jit_fixup jit_emit_entry(struct jit_emit *e, const struct jit_tlb_layout *tlb,
			 const uint32_t *gen_base);
/* The same entry, emitted once, to any block's chain entry: called as
 * unsigned (*)(struct emu_cpu *c, uint64_t start, const uint8_t *chain_entry). */
void jit_emit_enter_at(struct jit_emit *e, const struct jit_tlb_layout *tlb,
		       const uint32_t *gen_base);
/* Where a block's ways back to C leave the guest RIP (rip), the RIP a
 * chain exit is for (chain_rip) and the patch site it came from
 * (chain_from, NULL: none). */
struct jit_chain_fields {
	int32_t rip, chain_rip, chain_from;
};
/* A block's way back to C from its chain entry's checks: c->rip = start,
 * c->chain_from = NULL (the site that jumped here, if any, is patched
 * already). */
void jit_emit_entry_fail(struct jit_emit *e, const struct jit_chain_fields *f,
			 const uint8_t *epilogue_rx);
/*
 * A block's entry from a chained predecessor or the jump cache (start and
 * count are set): to fail (jit_emit_entry_fail's code) if count >= budget
 * or if *gen_ptr (in the table at the entry's gen_base) no longer equals
 * gen (the guest wrote to the block's page).
 */
void jit_emit_chain_entry(struct jit_emit *e, unsigned budget, const uint32_t *gen_base,
			  const uint32_t *gen_ptr, uint32_t gen, const uint8_t *fail_rx);
/* To fail if start + rel > c->field (unsigned). */
void jit_emit_exit_if_rip_above(struct jit_emit *e, int64_t rel, int32_t field,
				const uint8_t *fail_rx);

/* c->field = start + rel (a guest RIP). */
void jit_emit_store_rip(struct jit_emit *e, int32_t field, int64_t rel);
/* fn(c, arg). */
void jit_emit_call(struct jit_emit *e, const void *fn, const void *arg);
/* Branches to bind later: if c->field (a guest RIP) != start + rel, if
 * the pointer c->field is NULL, if the byte c->field is not 0, if it is
 * 0. */
jit_fixup jit_emit_branch_rip_ne(struct jit_emit *e, int32_t field, int64_t rel);
jit_fixup jit_emit_branch_ptr_null(struct jit_emit *e, int32_t field);
jit_fixup jit_emit_branch_byte_set(struct jit_emit *e, int32_t field);
jit_fixup jit_emit_branch_byte_clear(struct jit_emit *e, int32_t field);
/* Bind a fixup to the current position. */
void jit_emit_bind(struct jit_emit *e, jit_fixup f);
/* One fixup for the branches of a and b: binding it binds them all. */
jit_fixup jit_fixup_join(jit_fixup a, jit_fixup b);

/* Back to C after count more instructions; c->chain_field = NULL. */
void jit_emit_exit(struct jit_emit *e, unsigned count, int32_t chain_field,
		   const uint8_t *epilogue_rx);
/*
 * Leave after count more instructions for the block at start + rel:
 * start += rel and a jump (the patch site, returned) that goes back to C
 * until jit_patch_jump points it at the successor's chain entry.  Once
 * patched, nothing else runs on the way.  data_len bytes after the jump
 * are the caller's; the way back to C after them sets c->rip and
 * c->chain_rip = start and c->chain_from = the site (writable address).
 */
uint8_t *jit_emit_chain_exit(struct jit_emit *e, unsigned count, int64_t rel,
			     const struct jit_chain_fields *f, size_t data_len,
			     const uint8_t *epilogue_rx);
/*
 * A jump back to the block's own start: count more instructions, then
 * straight to body_rx (its first instruction, or a later point of its
 * code) while the budget lasts (the scratch registers kept);
 * once it is spent, on to what the caller emits next (a chain exit with
 * count 0, whose successor's entry sends the vCPU back to C).
 */
void jit_emit_loop_back(struct jit_emit *e, unsigned count, unsigned budget,
			const uint8_t *body_rx);
/*
 * Leave after count more instructions for the block at start + rel in
 * another page: as jit_emit_chain_exit (start += rel, the site returned,
 * data_len bytes after its jump are the caller's, the same way back to
 * C), but a patched site goes on through a guard: to the successor only
 * while the vCPU's TLB generation (or its global one) and CPL are those
 * jit_patch_far recorded, under which the target's virtual address still
 * maps the physical code it was patched for; else back to C, which
 * patches the site again.
 */
struct jit_far_fields {
	int32_t tlb_gen, tlb_gen_global, cpl;
};
uint8_t *jit_emit_far_chain_exit(struct jit_emit *e, unsigned count, int64_t rel,
				 const struct jit_chain_fields *f, const struct jit_far_fields *g,
				 size_t data_len, const uint8_t *epilogue_rx);
void jit_patch_far(uint8_t *site, size_t data_len, ptrdiff_t rx_delta, uint64_t tlb_gen,
		   uint32_t cpl, const uint8_t *target_rx);
/* Point a block's chain entry (writable address) at another block's
 * chain entry: a newer translation of the same code, for the patched
 * exits that still jump to the old one. */
void jit_patch_entry(uint8_t *entry, ptrdiff_t rx_delta, const uint8_t *target_rx);

/*
 * Return prediction (struct jit_ret entries at stack, a ring of mask + 1
 * with its top index at top, the running code's key at key).
 */
struct jit_rs_fields {
	int32_t stack, top, key;
	uint32_t mask;
};
/* Push start + ret_rel under the current key with a landing: the
 * fixup returned is bound (jit_emit_bind) where the landing is. */
jit_fixup jit_emit_ret_push(struct jit_emit *e, const struct jit_rs_fields *f, int64_t ret_rel);
/*
 * For a RET whose target is in T0: pop the top entry; if it is for that
 * target under the current key, RSP += sp_width (the 8-byte field
 * sp_field; for 4, its low dword, wrapping, with the high one cleared),
 * count more instructions and on at its landing (start = the target:
 * it needs no check, the CALL that pushed it under this key came from
 * there).  Else the returned branch is taken with T0 kept and nothing
 * else changed but the entry popped.
 */
jit_fixup jit_emit_ret_pop(struct jit_emit *e, const struct jit_rs_fields *f, unsigned count,
			   int32_t sp_field, unsigned sp_width);
/* A landing: start already the target and the instructions counted, a
 * chain exit to the block at start (jit_emit_chain_exit's site, data and
 * way back to C). */
uint8_t *jit_emit_landing(struct jit_emit *e, const struct jit_chain_fields *f,
			  size_t data_len, const uint8_t *epilogue_rx);

/*
 * The jump cache of indirect exits: entries of struct jit_jc_entry at jc,
 * indexed by jit_jc_slot(RIP, mask).  After count more instructions, if
 * the entry for c->rip_field holds that RIP with the vCPU's current
 * TLB generation, CPL and code size (and, outside 64-bit code, CS base),
 * go on at its chain entry (start = that RIP); else back to C
 * (c->chain_from = NULL).
 */
/* A RIP's jump cache slot: its page number folded into its offset, so
 * that functions at one offset in different pages (aligned entry points)
 * do not all meet in one slot. */
static inline uint32_t jit_jc_slot(uint64_t rip, uint32_t mask)
{
	return (uint32_t)(rip ^ (rip >> 12)) & mask;
}

struct jit_jc_entry {
	uint64_t rip;
	uint64_t tlb_gen;
	uint32_t mode;             /* jit_jc_mode() */
	uint32_t cs_base;          /* outside 64-bit code */
	const uint8_t *chain_entry;
};

static inline uint32_t jit_jc_mode(unsigned cpl, unsigned code_size)
{
	return cpl | code_size << 8;
}

/* Where the lookup finds the vCPU's fields. */
struct jit_jc_fields {
	int32_t rip, tlb_gen, tlb_gen_global, cpl, cs_base, chain_from;
};
/* The jump cache lookup for code of one size, emitted once per code
 * cache and called by the exits that use it (after counting): if the
 * entry for c->rip matches, start = c->rip and it returns with the
 * block's chain entry in RDX, which the exit jumps to; else it drops
 * its return address and goes back to C. */
void jit_emit_jc_lookup(struct jit_emit *e, const struct jit_jc_entry *jc, uint32_t mask,
			unsigned code_size, const struct jit_jc_fields *f,
			const uint8_t *epilogue_rx);
void jit_emit_jc_exit(struct jit_emit *e, unsigned count, const uint8_t *lookup_rx);

/* Point the jump at site (writable address; rx_delta as in jit_emit) at
 * target (executable address). */
void jit_patch_jump(uint8_t *site, ptrdiff_t rx_delta, const uint8_t *target_rx);

/*
 * Native operations on two scratch values T0 and T1 (host registers the
 * back end picks; calls clobber them) and the vCPU's fields.  Sizes are
 * 1, 2, 4 or 8 (loads zero-extend) unless a function says otherwise.
 */
enum jit_tmp { JIT_T0, JIT_T1 };
/* The operations of enum jit_alu set the host's arithmetic flags as the
 * same x86 instruction would; CMP and TEST leave T0 as it was; ADC and
 * SBB take the host's CF. */
enum jit_alu { JIT_ADD, JIT_OR, JIT_AND, JIT_SUB, JIT_XOR, JIT_CMP, JIT_TEST, JIT_ADC,
	       JIT_SBB };
/* Conditions in x86 Jcc numbering (0 O, 1 NO, 2 B, ..., 15 G), on the
 * host's flags as the last operation left them. */

/* Loads and stores of 1, 2, 4 or 8 bytes (loads zero-extend). */
void jit_emit_load(struct jit_emit *e, enum jit_tmp t, int32_t field, unsigned size);
void jit_emit_store(struct jit_emit *e, enum jit_tmp t, int32_t field, unsigned size);
void jit_emit_load_imm(struct jit_emit *e, enum jit_tmp t, uint64_t imm);
/* c->field = imm (sign-extended from 32 bits for size 8). */
void jit_emit_store_imm(struct jit_emit *e, int32_t field, unsigned size, int32_t imm);
/* T0 = T0 op T1 of size bytes. */
void jit_emit_alu(struct jit_emit *e, enum jit_alu op, unsigned size);
/* T0 = T0 op imm of size bytes, as the x86 instruction with an
 * immediate: imm's low size bytes (for 8 bytes, imm must be a
 * sign-extended 32-bit value). */
void jit_emit_alu_imm(struct jit_emit *e, enum jit_alu op, unsigned size, uint64_t imm);
/* T0 += 1 or -= 1 (the host's CF kept). */
void jit_emit_incdec(struct jit_emit *e, bool dec, unsigned size);
/* The host's CF = bit 0 of c->field. */
void jit_emit_cf_from(struct jit_emit *e, int32_t field);
/* CF = the carry of an addition whose result and first operand are the
 * fields res and src1 (a record: only their low size_field bytes count,
 * size_field a byte of 1, 2, 4 or 8). */
void jit_emit_add_carry(struct jit_emit *e, int32_t size_field, int32_t res, int32_t src1);
/* c->field = the host's CF: a field of 8 bytes that only ever holds 0
 * or 1, whose low byte alone is written. */
void jit_emit_store_cf(struct jit_emit *e, int32_t field);
/* The host's CF = 0. */
void jit_emit_clear_cf(struct jit_emit *e);
/* c->field = the low byte of the value fn(c) returned, zero-extended. */
void jit_emit_call_store_bool(struct jit_emit *e, const void *fn, int32_t field);
/* Branch if the host's flags meet condition cc. */
jit_fixup jit_emit_branch_cc(struct jit_emit *e, unsigned cc);
/* Branch if lo <= T0's low dword <= hi (unsigned); T0 kept, ECX
 * clobbered. */
jit_fixup jit_emit_branch_t0_in(struct jit_emit *e, uint32_t lo, uint32_t hi);
/* T0 = start + rel; branch if T0 >= c->field (unsigned). */
jit_fixup jit_emit_branch_rip_ge(struct jit_emit *e, int64_t rel, int32_t field);
/* An unconditional jump to bind later, and one to code already emitted
 * (a writable address). */
jit_fixup jit_emit_jump(struct jit_emit *e);
void jit_emit_jump_to(struct jit_emit *e, const uint8_t *target_rw);

/*
 * Guest memory in 64-bit code.  T0 = base + (index << scale) + disp
 * (+ the segment base), where base and index are vCPU fields (-1: none)
 * or, with base_rip, start + rip_rel.
 */
void jit_emit_ea(struct jit_emit *e, int32_t base_field, bool base_rip, int64_t rip_rel,
		 int32_t index_field, unsigned scale, int32_t disp, int32_t seg_base_field);
/* A segment register in the vCPU: its fields' offsets. */
struct jit_seg_layout {
	int32_t base;       /* 8 bytes */
	int32_t limit;      /* 4 bytes, byte granular */
	int32_t fast;       /* 1 byte: the vCPU's mask of segments accessed inline */
	uint8_t bit;        /* this segment's bit in it */
	bool flat;          /* the mask is of flat segments: no limit, base 0 */
};
/*
 * 16- and 32-bit code: T0 (an offset before wrapping) becomes the linear
 * address of size bytes there in the segment, adsize (2 or 4) giving the
 * wrap.  Only a usable, expand-up, writable data segment (type 2 or 3, S
 * set) with the whole access within its limit is handled; otherwise a
 * branch in fail[0..1] is taken (the caller's slow path, where the
 * interpreter raises what it must): fail[0] for the type and usability
 * (checked only if not usable_known: the caller knows them checked
 * already; for a flat layout, that the segment is flat), fail[1] for the
 * limit (NULL for a flat one).  Clobbers T1 and RCX.
 */
void jit_emit_seg_linear(struct jit_emit *e, const struct jit_seg_layout *seg,
			 unsigned adsize, unsigned size, bool usable_known, jit_fixup fail[2]);
/* Branch unless the segment is usable, expand-up, writable data (the
 * check of jit_emit_seg_linear's fail[0]).  Clobbers T1. */
jit_fixup jit_emit_seg_usable(struct jit_emit *e, const struct jit_seg_layout *seg);
/* Where the software TLB's tags (struct tlb_fast) live in the vCPU. */
struct jit_tlb_layout {
	int32_t tables;       /* field: the supervisor table, the user one after it */
	unsigned entries;     /* per table, a power of two */
	unsigned entry_size;  /* 32 */
	int32_t read_tag, write_tag, addend;  /* offsets in an entry */
	int32_t cpl;          /* field: CPL (the user table at 3) */
};
/*
 * T0 (a linear address) becomes the host address of size bytes there if
 * the TLB's tag for the access at the CPL the block was entered with
 * matches (canonical, within one page, allowed, RAM; for a write, no
 * decoded code and no dirty-log watch in the page); else the
 * returned branch is taken (the caller's slow path, which also the n_also
 * branches also_fail, taken before, reach).  Clobbers T1 and other
 * scratch registers.
 */
jit_fixup jit_emit_tlb_host(struct jit_emit *e, const struct jit_tlb_layout *l,
			    unsigned size, bool write,
			    const jit_fixup *also_fail, unsigned n_also);
/*
 * Accesses of a block in one page: the first one (the group's leader,
 * its linear address in T0) checks at once that the bytes from T0 + lo
 * to T0 + hi (lo <= 0 <= hi, less than a page apart) lie in one page the
 * TLB allows (for writes too if write); then T0 = the host address and
 * the page register (a callee-saved host register, kept across calls)
 * holds it.  Else the returned branch is taken with T0 kept: clear the
 * page register there (jit_emit_group_clear) and look the leader's own
 * access up.  A later access at T0 + off (the leader's T0) then costs
 * jit_emit_group_host: T0 = the page register + off, or, if it is clear,
 * the returned branch (the access's own lookup).
 */
jit_fixup jit_emit_tlb_group(struct jit_emit *e, const struct jit_tlb_layout *l,
			     int32_t lo, int32_t hi, bool write);
jit_fixup jit_emit_group_host(struct jit_emit *e, int32_t off);
void jit_emit_group_clear(struct jit_emit *e);
/*
 * SSE on the host's XMM0 and XMM1 (neither kept across instructions).
 * jit_emit_xmm_load/store move 16 bytes between host register x (0 or 1)
 * and the vCPU's field; the _ind forms between x and host address T0
 * (size 4, 8 or 16 bytes; a load of 4 or 8 zeroes the rest).
 */
void jit_emit_xmm_load(struct jit_emit *e, unsigned x, int32_t field);
void jit_emit_xmm_store(struct jit_emit *e, unsigned x, int32_t field);
void jit_emit_xmm_load_ind(struct jit_emit *e, unsigned x, unsigned size);
void jit_emit_xmm_store_ind(struct jit_emit *e, unsigned x, unsigned size);
/* T0 = the low size (4 or 8) bytes of XMM0; XMM0 = T0's low size bytes,
 * zero-extended. */
void jit_emit_xmm0_to_t0(struct jit_emit *e, unsigned size);
void jit_emit_t0_to_xmm0(struct jit_emit *e, unsigned size);
/* One SSE instruction in the guest's own encoding: mandatory prefix
 * (0, 0x66, 0xf2 or 0xf3), op as struct insn has it (0x1xx = 0F xx, 0x2xx
 * = 0F 38 xx, 0x3xx = 0F 3A xx), a register-form ModRM byte naming host
 * registers (XMM0/XMM1, or EAX for PMOVMSKB) and an imm8 if imm >= 0. */
void jit_emit_sse(struct jit_emit *e, uint8_t prefix, unsigned op, uint8_t modrm, int imm);
/* c->field = ECX zero-extended (PCMPxSTRI's index). */
void jit_emit_store_ecx(struct jit_emit *e, int32_t field);
/* The host's arithmetic flags into those of c->field (RFLAGS), the
 * host's flags as they were after; and back: the host's arithmetic
 * flags from c->field. */
void jit_emit_flags_to_rflags(struct jit_emit *e, int32_t field);
void jit_emit_flags_from_rflags(struct jit_emit *e, int32_t field);
/* The host's ZF = the guest's, as emu_zf finds it, from a record of any
 * kind (the byte at op): CC_EAGER, ZF of the dword at rflags; else the
 * low (byte at size) bytes of res all zero.  The other flags are
 * meaningless after; clobbers T0 and RCX. */
void jit_emit_zf_from_record(struct jit_emit *e, int32_t op, int32_t size, int32_t res,
			     int32_t rflags);
/* Branch if the low bits of T0 under mask are not all clear (alignment). */
jit_fixup jit_emit_branch_t0_bits(struct jit_emit *e, uint8_t mask);
/* Branch if any bit of mask is set (or, with clear, if none is) in the
 * dword at c->field. */
jit_fixup jit_emit_branch_bits(struct jit_emit *e, int32_t field, uint32_t mask, bool clear);

/* t = start + rel (a guest RIP). */
void jit_emit_rip_to(struct jit_emit *e, enum jit_tmp t, int64_t rel);
/* T0 = its low 32 bits, zero-extended. */
void jit_emit_zext32(struct jit_emit *e);
/* Branch if T0 is not a canonical 48-bit address (clobbers T1). */
jit_fixup jit_emit_branch_noncanonical(struct jit_emit *e);
/* Branch if T0 != start + rel (clobbers T1). */
jit_fixup jit_emit_branch_t0_ne_rip(struct jit_emit *e, int64_t rel);
/* Branch if T0 >= the 8-byte c->field (unsigned). */
jit_fixup jit_emit_branch_t0_ge(struct jit_emit *e, int32_t field);
/* T0 = size bytes at host address T0 (zero-extended); size bytes
 * at host address T0 = T1. */
void jit_emit_load_ind(struct jit_emit *e, unsigned size);
void jit_emit_store_ind(struct jit_emit *e, unsigned size);

/* T0 = size (1, 2, 4 or 8) bytes at host address T0, zero- or
 * sign-extended to 8 bytes. */
void jit_emit_load_ind_ext(struct jit_emit *e, unsigned size, bool sign);
/* t = the size (1, 2, 4 or 8) bytes at c->field (any byte offset: AH is
 * one byte into RAX), zero- or sign-extended to 8 bytes. */
void jit_emit_load_ext(struct jit_emit *e, enum jit_tmp t, int32_t field, unsigned size,
		       bool sign);
/* Keep the host address in T0 for a read-modify-write: T0 = size bytes
 * there (zero-extended), and later those bytes = T0.  Only the native
 * ALU operations may come between (no calls, no shifts). */
void jit_emit_hold_addr(struct jit_emit *e);
void jit_emit_load_held(struct jit_emit *e, unsigned size);
void jit_emit_store_held(struct jit_emit *e, unsigned size);
/* T1 = T0. */
void jit_emit_copy_t0_to_t1(struct jit_emit *e);
/* Branch if T1 & mask is 0. */
jit_fixup jit_emit_branch_t1_zero(struct jit_emit *e, uint32_t mask);

/*
 * Flag-setting operations whose CF and OF the interpreter records in a
 * word (CC_SZP: RFLAGS_CF | RFLAGS_OF, emu_flags_szp).  Shifts: T0 = T0
 * shifted by T1, a count already nonzero once masked to size * 8 - 1;
 * T1 = CF (the last bit shifted out) and OF as the interpreter defines
 * it for any count (SHL: the result's sign ^ CF, SHR: the operand's
 * sign, SAR: 0); sizes 1 and 2 only for counts below their width (the
 * host's CF is undefined beyond), T0's upper bytes left as loaded.
 * IMUL: T0 = T0 * T1 signed, truncated to size; T1 = CF | OF if the
 * product did not fit, sizes 4 and 8.  A 4-byte result is zero-extended.
 */
enum jit_shift { JIT_SHL, JIT_SHR, JIT_SAR };
void jit_emit_shift(struct jit_emit *e, enum jit_shift op, unsigned size);
/* T0 shifted by count as the x86 instruction with that immediate (the
 * host's flags become meaningless). */
void jit_emit_shift_imm(struct jit_emit *e, enum jit_shift op, unsigned size, uint8_t count);
/* T0's low byte = 1 if the host's flags meet condition cc, else 0. */
void jit_emit_setcc(struct jit_emit *e, unsigned cc);
/* T0 = T1 if the host's flags meet condition cc (size 4: T0 zero-
 * extended either way). */
void jit_emit_cmov(struct jit_emit *e, unsigned cc, unsigned size);
/* T0 rotated left or right by count (1 to size * 8 - 1) bits; the
 * host's flags become meaningless. */
void jit_emit_rotate(struct jit_emit *e, bool right, unsigned size, uint8_t count);
/* After jit_emit_rotate: T1 = CF | OF << 11 as the guest's ROL/ROR of
 * any count sets them (CF the bit that came round, OF the top bit XOR
 * CF for ROL, XOR the bit below it for ROR), from T0. */
void jit_emit_rotate_flags(struct jit_emit *e, bool right, unsigned size);
void jit_emit_imul(struct jit_emit *e, unsigned size);
/* One-operand MUL (sign: IMUL) of size 4 or 8: T0 = the low half of
 * T0 * T1, the high half (zero-extended) stored to hi_field, T1 = CF |
 * OF << 11 as for IMUL. */
void jit_emit_mul(struct jit_emit *e, bool sign, unsigned size, int32_t hi_field);

/*
 * Atomic read-modify-writes of guest memory, as the host's own
 * instructions (the guest's and the host's x86 agree on them):
 * jit_emit_hold_atomic moves the host address jit_emit_tlb_host left in
 * T0 aside (loads and stores of fields keep it).  Then, on size bytes
 * there: XCHG with T1 (T1 = the old value, zero-extended); LOCK XADD of
 * T1 (T1 = the old value, the host's flags those of the ADD); LOCK
 * CMPXCHG with T0 the accumulator and T1 the source (T0 = the old
 * value, the host's flags those of CMP accumulator, old value).
 */
enum jit_atomic { JIT_XCHG, JIT_XADD, JIT_CMPXCHG };
void jit_emit_hold_atomic(struct jit_emit *e);
void jit_emit_atomic(struct jit_emit *e, enum jit_atomic op, unsigned size);
/* LOCK op [held address], T1 for op ADD, SUB, AND, OR or XOR, as a
 * compare-and-swap loop: T0 = the old value (zero-extended); the host's
 * flags are not the operation's. */
void jit_emit_atomic_rmw(struct jit_emit *e, enum jit_alu op, unsigned size);
/* T0 += T1, the host's flags kept. */
void jit_emit_add_keep_flags(struct jit_emit *e);

static inline uint8_t *jit_emit_rx(const struct jit_emit *e)
{
	return e->p + e->rx_delta;
}

#endif

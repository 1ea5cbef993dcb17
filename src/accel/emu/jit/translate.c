/*
 * The translator: blocks of decoded guest instructions become host code.
 *
 * Design (first milestone of issue 14):
 *
 * - Units.  A translated block (struct jit_tb) is one decoded block of the
 *   decode cache (decode_cache.c): the instructions decoded one after
 *   another from one guest-physical address in one mode, up to a transfer
 *   of control or BLOCK_MAX instructions, JMP/CALL folded within a page
 *   in 64-bit code.  It is found through that block (struct dblock holds
 *   the translation and the code cache's epoch it belongs to), so it is
 *   keyed, looked up and invalidated exactly as the interpreter's decoded
 *   blocks are: by physical address and mode, with the page generations
 *   mmu.c bumps when a page holding code is written.  A block stops after
 *   its first instruction without a fast handler (exec_fast.c): those
 *   (system instructions, string instructions, LOCK, far transfers, ...)
 *   may change what the run loop watches between instructions (IF, the
 *   interrupt shadow, HLT, the mode, TF), so the run loop looks at the
 *   state after each of them as it does in the interpreter.  An
 *   instruction that spans into the next page, which the decode cache
 *   leaves out (its bytes there are another page's), ends the block it
 *   follows (add_crossing): its handler runs through emu_jit_cross once
 *   the next page is found still mapping the same physical page, of the
 *   same generation.
 *
 * - Code.  The commonest register forms are native host code: MOV
 *   reg/reg and reg/imm, ADD/OR/AND/SUB/XOR/CMP/TEST reg/reg and reg/imm
 *   (byte forms too, AH-BH included),
 *   INC/DEC of a register, SHL/SHR/SAR of a register by 1, imm8 or CL,
 *   IMUL reg, r/m, MOVZX/MOVSX/MOVSXD (4- and 8-byte destinations), and
 *   a Jcc whose flags come from one of those earlier in the block (after
 *   a shift or IMUL only on ZF, SF or PF: their CF and OF are a word in
 *   the record, CC_SZP).  They write the
 *   guest registers in the vCPU state and keep the interpreter's lazy
 *   flag record (cc_op, cc_size, cc_res, cc_src1, cc_src2, cc_carry)
 *   exactly as its handlers would, so whatever reads flags later (the
 *   interpreter, PUSHF, an exception) sees the same; a native Jcc
 *   recomputes the host's flags from that record with one host ALU
 *   instruction of the same kind and branches on the same condition.
 *   Every other instruction is a direct call to its fast handler (or to
 *   emu_exec_general for the last one) with the decoded instruction
 *   preloaded, after storing the guest RIP of the instruction and of the
 *   next one (c->insn_rip, c->s.rip) as the run loop does.  Either way
 *   the run loop's per-instruction bookkeeping (the block walk, the trace
 *   ring, icount, the budget and the checks between instructions) is
 *   gone.
 *
 * - Memory.  MOV loads and stores, PUSH/POP of a register, CALL (folded
 *   into its block), RET and the native operations above with a memory
 *   source (ALU reg, [m]; IMUL; MOVZX/MOVSX), a memory operand they only
 *   read (CMP/TEST [m]) or one they read and write (ADD/OR/AND/SUB/XOR
 *   [m], reg or imm: one lookup for the write) look the software TLB up
 *   inline, in 16- and 32-bit code too (after the segment checks of
 *   jit_emit_seg_linear, a segment's type and SS.B once per block, as
 *   nothing a block runs loads a segment; no limit or base for a segment
 *   that was flat when the block was translated, whose check then tests
 *   that it still is; PUSH/POP/CALL/RET there with
 *   4-byte operands on a 32-bit stack).  The lookup compares one tag of struct
 *   tlb_fast, the table for the CPL the block was entered at (R14), as
 *   emu_fast_host does: canonical, within a page, allowed, RAM are all in
 *   that one compare; a write also needs the page's flags clear (no
 *   decoded code, no dirty-log watch).  Anything else calls the
 *   instruction's handler out of line, which takes the slow path (page
 *   walk, MMIO, faults, code pages) exactly as the interpreter does.
 *
 * - SSE.  Integer, logical, shuffle and move instructions on XMM
 *   registers (pick_sse) run as the same host instruction on XMM0/XMM1,
 *   loaded from and stored to the vCPU's registers, with memory operands
 *   through the inline TLB (16-byte alignment checked where the
 *   instruction demands it) and CR0.EM/TS and CR4.OSFXSR checked once per
 *   block; whatever fails a check runs the interpreter's handler, which
 *   raises the exception.
 *
 * - Precise state.  Because c->insn_rip and c->s.rip are stored before
 *   every instruction that can fault (native code cannot; RIP is stored
 *   after it only where the block is left or a handler called), a fault (emu_raise longjmps out of the translated
 *   code to the run loop, whose stack frame is below it) finds RIP and the
 *   registers as the interpreter leaves them.  After an instruction that
 *   may branch, the code compares c->s.rip with the fall-through address
 *   and leaves the block if they differ; after one that touched memory it
 *   leaves if the write hit cached code (c->blk cleared, as the
 *   interpreter's walk checks) or the guest shut the machine down through
 *   a device.
 *
 * - Chaining.  An exit to a target in the block's own page (the
 *   fall-through, a taken Jcc) is a patchable jump: the first time it is
 *   taken it returns to C, which finds the successor and points the jump
 *   at its chain entry, so loops and straight-line code run without the
 *   run loop.  The chain entry checks the successor's page generation
 *   (another vCPU or a device may have rewritten it: then back to C, which
 *   translates the new code; the exits that jumped there are in the same
 *   page, so rewritten too) and the instruction budget JIT_BUDGET, so
 *   interrupts, kicks and the timer are looked at every JIT_BUDGET
 *   instructions at most.  A patched exit is two additions and the jump:
 *   RIP and the site are stored only on the ways back to C (the exit
 *   before it is patched, or the checks of the entry it reaches, which
 *   store their own start).  The same page means the same
 *   physical page for as long as the chain runs: nothing that changes the
 *   page tables, CS or the mode is chained (those instructions have no
 *   fast handler).  Outside 64-bit code the CS limit and IP wrap-around
 *   are checked at block entry instead of at each instruction: the whole
 *   block must lie inside the limit without wrapping, else the
 *   interpreter runs it (from C exactly; a chain entry compares the
 *   block's end with the lower of both, computed when C entered the
 *   chain).  Before patching, C checks that the successor is the
 *   physical address and mode the exit was made for (stored after the
 *   patched jump).  A jump back to the block's own start needs none of
 *   the entry's checks but the budget: such a block is emitted twice
 *   (struct jit_loop), the second time with the guest registers its back
 *   edges hold in the scratch registers loaded at its head, where the
 *   back edges then land (no reload through memory per iteration).
 *
 * - Flag records left out.  A record nothing reads is not stored: one a
 *   later register operation replaces with only moves between
 *   (flags_dead_after), a CMP/TEST's where the Jcc after it does not
 *   leave (record_if_taken), all but CF of an ALU operation right before
 *   an INC/DEC (which takes CF from the host's flags: only_cf_read_after),
 *   and an INC/DEC's right before an ALU operation on memory that
 *   replaces it, whose slow path stores it before its handler can fault
 *   (record_slow_until).
 *
 * - Memory and security.  Code goes into a fixed-size code cache
 *   (code_cache.c: one memfd mapped writable and executable at two
 *   addresses, never both in one mapping), flushed whole when full; the
 *   emitter (emit.h, one back-end file per host architecture) checks
 *   every write against the cache's end.  Translated code only calls the
 *   interpreter's handlers, which reach guest memory through the usual
 *   checked paths.
 *
 * - Indirect transfers.  An exit whose target is not patched (RET, a
 *   jump or a branch to another page) looks its RIP up in a per-vCPU
 *   jump cache (JIT_JC_SIZE entries by RIP) filled by C whenever it
 *   enters a block: an entry holds the block's chain entry and counts
 *   only while the vCPU's TLB generation, CPL, code size and (outside
 *   64-bit code) CS base are those it was filled under (the same RIP
 *   then maps the same physical code, decoded the same way; the chain
 *   entry checks that code's generation and, outside 64-bit code, the CS
 *   limit), so RET and jumps across pages go on without the run loop's
 *   lookup.  The cache is cleared with the code cache.
 *
 * - Code the guest keeps rewriting (data written next to code in one
 *   page) would be translated again after every write: a block decoded
 *   again JIT_MAX_REWRITES times in a row, each soon after the last
 *   (decode_cache.c counts), is left to the interpreter until its code
 *   stays put.
 *
 * Debugging facilities (TF, DR7) make the run loop step instructions
 * through debug.c as before: the translator is not used while they are.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "accel/emu/exec.h"
#include "accel/emu/simd.h"
#include "accel/emu/jit/emit.h"
#include "accel/emu/jit/jit.h"
#include "util/log.h"
#include "vm/vm.h"

#if defined(__x86_64__)

/* A vCPU's code cache (memfd pages, touched as used): a default-guest
 * boot emits about 165 MB of code; at 32 MB it flushed 20 times and
 * translated every hot block again after each, at 128 MB once. */
#define JIT_CODE_SIZE (128u << 20)
/* Blocks average well over 256 bytes of code. */
#define JIT_MAX_TBS (JIT_CODE_SIZE / 256)

#define F(field) ((int32_t)offsetof(struct emu_cpu, field))

#define TB_INDEX_BITS 16
/* Translations looked at in one slot before translating anew (stale
 * ones stay chained until the next flush). */
#define TB_SLOT_WALK 8
/* Entries from C a block's code runs interpreted before it is
 * translated: much of a boot runs once, and interpreting a block once
 * costs a tenth of translating it. */
#define JIT_HOT_ENTRIES 1

static unsigned tb_slot(uint64_t pa)
{
	return (pa * 0x9e3779b97f4a7c15ULL) >> (64 - TB_INDEX_BITS);
}

/* What the host has beyond SSE2 (the x86-64 baseline): native SSSE3 and
 * SSE4.1 forms only where it has them (set by emu_jit_create). */
static bool host_ssse3, host_sse41, host_sse42;

/* Return prediction entries name landings in the code cache: none. */
static void forget_returns(struct emu_cpu *c)
{
	for (unsigned i = 0; i < JIT_RS_SIZE; i++)
		c->jit_rs[i].key = JIT_RS_NONE;
}

/* Opened before the sandbox; every vCPU appends whole lines. */
static void open_perf_map(struct emu_jit *j)
{
	const char *v = getenv("WIRT_JIT_PERF_MAP");
	char path[64];

	if (!v || strcmp(v, "1"))
		return;
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
	j->perf_map = fopen(path, "a");
	if (!j->perf_map)
		log_warn("jit: cannot write %s: %s", path, strerror(errno));
	else
		setvbuf(j->perf_map, NULL, _IOLBF, 0);
}

int emu_jit_create(struct emu_cpu *c)
{
	struct emu_jit *j = calloc(1, sizeof(*j));
	int err;

	if (!j)
		return -ENOMEM;
	err = code_cache_init(&j->cc, JIT_CODE_SIZE);
	if (err) {
		free(j);
		return err;
	}
	j->max_tbs = JIT_MAX_TBS;
	j->jc = calloc(JIT_JC_SIZE, sizeof(*j->jc));
	j->tb_index = calloc(1u << TB_INDEX_BITS, sizeof(*j->tb_index));
	j->hot_entries = JIT_HOT_ENTRIES;
	if (!j->jc || !j->tb_index) {
		free(j->jc);
		free(j->tb_index);
		code_cache_destroy(&j->cc);
		free(j);
		return -ENOMEM;
	}
	j->tbs = mmap(NULL, sizeof(struct jit_tb) * j->max_tbs, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (j->tbs != MAP_FAILED)  /* filled in order: fewer page faults */
		madvise(j->tbs, sizeof(struct jit_tb) * j->max_tbs, MADV_HUGEPAGE);
	if (j->tbs == MAP_FAILED) {
		err = -errno;
		free(j->jc);
		free(j->tb_index);
		code_cache_destroy(&j->cc);
		free(j);
		return err;
	}
	c->jit = j;
	c->jit_chain_from = NULL;
	forget_returns(c);
	open_perf_map(j);
	__builtin_cpu_init();
	host_ssse3 = __builtin_cpu_supports("ssse3");
	host_sse41 = __builtin_cpu_supports("sse4.1");
	host_sse42 = __builtin_cpu_supports("sse4.2");
	return 0;
}

void emu_jit_destroy(struct emu_cpu *c)
{
	struct emu_jit *j = c->jit;

	if (!j)
		return;
	if (j->perf_map)
		fclose(j->perf_map);
	if (j->translated)
		log_debug("jit: %llu blocks translated in %llu ms (%llu found again after "
			  "the decode cache dropped them), %llu flushes, %llu KiB of code "
			  "emitted, %llu KiB in the cache now",
			  (unsigned long long)j->translated,
			  (unsigned long long)(j->translate_ns / 1000000),
			  (unsigned long long)j->found_again, (unsigned long long)j->flushes, (unsigned long long)(j->code_bytes >> 10),
			  (unsigned long long)(j->cc.used >> 10));
	if (j->entries)
		log_debug("jit: translated code entered from C %llu times (%.1f guest "
			  "instructions each; %llu through the jump cache), %llu "
			  "instructions interpreted one by one",
			  (unsigned long long)j->entries,
			  (double)j->entered_insns / (double)j->entries,
			  (unsigned long long)j->entries_jc, (unsigned long long)j->interpreted);
	munmap(j->tbs, sizeof(struct jit_tb) * j->max_tbs);
	free(j->jc);
	free(j->tb_index);
	code_cache_destroy(&j->cc);
	free(j);
	c->jit = NULL;
}

static struct jit_tlb_layout tlb_layout(struct emu_cpu *c);

/* The jump cache lookup for code of a size. */
static unsigned jc_index(unsigned code_size)
{
	return code_size == 2 ? 0 : code_size == 4 ? 1 : 2;
}

/* Empty the cache; the shared epilogue comes first again. */
static void flush(struct emu_cpu *c)
{
	struct emu_jit *j = c->jit;
	struct jit_emit e;

	struct jit_tlb_layout tlb = tlb_layout(c);

	if (j->ntbs)
		j->flushes++;
	code_cache_flush(&j->cc);
	memset(j->jc, 0, JIT_JC_SIZE * sizeof(*j->jc));  /* rip 0 with tlb_gen 0: never */
	memset(j->tb_index, 0, (1u << TB_INDEX_BITS) * sizeof(*j->tb_index));
	j->ntbs = 0;
	c->jit_chain_from = NULL;
	forget_returns(c);
	jit_emit_init(&e, j->cc.rw, j->cc.rw + j->cc.size, j->cc.rx - j->cc.rw);
	j->epilogue = jit_emit_rx(&e);
	jit_emit_epilogue(&e);
	for (unsigned size = 2; size <= 8; size *= 2) {
		static const struct jit_jc_fields fields = {
			F(s.rip), F(tlb_gen), F(tlb_gen_global), F(cpl),
			F(s.seg[SEG_CS].base), F(jit_chain_from)
		};

		j->jc_lookup[jc_index(size)] = jit_emit_rx(&e);
		jit_emit_jc_lookup(&e, j->jc, JIT_JC_SIZE - 1, size, &fields, j->epilogue);
	}
	j->enter_at = (unsigned (*)(struct emu_cpu *, uint64_t, const uint8_t *))jit_emit_rx(&e);
	jit_emit_enter_at(&e, &tlb, c->evm->page_gen);
	j->cc.used = e.p - j->cc.rw;
}

/* Fast-handled instructions after which RIP may not be the next one. */
static bool may_branch(const struct insn *in)
{
	switch (in->op) {
	case 0x70 ... 0x7f: case 0x180 ... 0x18f:
	case 0xc3: case 0xe8: case 0xe9: case 0xeb:
		return true;
	case 0xff:                     /* CALL, JMP near indirect */
		return (in->reg & 7) == 2 || (in->reg & 7) == 4;
	}
	return false;
}

static bool is_jcc(const struct insn *in)
{
	return (in->op >= 0x70 && in->op <= 0x7f) || (in->op >= 0x180 && in->op <= 0x18f);
}

/* A Jcc, JMP or CALL rel of the code's size: its target is static
 * (another size wraps differently). */
static bool static_target(const struct jit_tb *tb, const struct insn *in)
{
	return (is_jcc(in) || in->op == 0xe8 || in->op == 0xe9 || in->op == 0xeb) &&
	       in->opsize == tb->code_size;
}

/* Those that may write memory (and so code, or a device). */
static bool may_write(const struct insn *in)
{
	return (in->has_mem && in->op != 0x8d) || (in->op >= 0x50 && in->op <= 0x57) ||
	       in->op == 0xe8 || (in->op == 0xff && (in->reg & 7) == 2);
}

/* After a chainable exit's jump (5 bytes): the successor's physical
 * address and code size; FAR_SITE for an exit to another page, whose
 * successor is whatever the target maps to when C patches it. */
#define CHAIN_DATA 9
#define FAR_SITE (~0ULL)

/* A chain site's data: the successor's physical address (or FAR_SITE)
 * and code size. */
static void set_site_data(uint8_t *site, uint64_t pa, unsigned code_size)
{
	if (!site)
		return;
	memcpy(site + 5, &pa, 8);
	site[5 + 8] = (uint8_t)code_size;
}

/* The physical address of the byte at rel from the block's start, in its page. */
static uint64_t pa_in_page(const struct jit_tb *tb, int64_t rel)
{
	return (tb->pa & ~0xfffULL) + ((tb->pa & 0xfff) + rel);
}

/* A target rel no block's page holds: an exit through the jump cache. */
#define NOT_IN_PAGE ((int64_t)1 << 20)

struct exit_stub {
	jit_fixup f;
	unsigned count;
	bool chain;     /* to rel, patchable if in the page, else by the jump cache */
	int64_t rel;
};

/* Exits to rel (from the block's first instruction) may be chained if
 * they stay in the block's page in 64-bit code. */
static bool chainable(const struct jit_tb *tb, int64_t rel)
{
	int64_t po = (int64_t)(tb->pa & 0xfff) + rel;

	return po >= 0 && po < 4096;
}

static const struct jit_chain_fields chain_fields = {
	F(s.rip), F(jit_chain_rip), F(jit_chain_from)
};

static const struct jit_rs_fields rs_fields = {
	F(jit_rs), F(jit_rs_top), F(jit_rs_key), JIT_RS_SIZE - 1
};

/* A CALL's return address: where a landing (return prediction) can go
 * on from, in the block's page. */
struct landing {
	jit_fixup f;
	int64_t rel;
};

static const struct jit_far_fields far_fields = {
	F(tlb_gen), F(tlb_gen_global), F(cpl)
};

/* A static target outside the block's page that a far chain exit can
 * reach (64-bit code: the guard checks no CS base or limit). */
static bool far_chainable(const struct jit_tb *tb, int64_t rel)
{
	return tb->code_size == 8 && rel != NOT_IN_PAGE && !chainable(tb, rel) &&
	       rel >= INT32_MIN && rel <= INT32_MAX;
}

/* The guest registers a loop's head may hold in the scratch registers. */
#define GPR_FIELDS F(s.gpr), F(s.gpr) + (int32_t)sizeof(((struct emu_cpu *)0)->s.gpr)

/* A jump back to the block's start after count instructions, the flag
 * record of kind op there (CC_EAGER: not known): to the loop's head if
 * the record and the scratch registers allow (struct jit_loop), else to
 * where the head's loads are, else to the body. */
static void emit_loop_back(struct emu_jit *j, struct jit_emit *e, const struct jit_tb *tb,
			   unsigned count, enum cc_op op)
{
	struct jit_loop *l = &j->loop;
	const uint8_t *target = tb->body;

	if (!l->second_pass && !l->back_edge)
		l->back_edge = jit_emit_regs_pick(e, GPR_FIELDS, l->want);
	if (!l->head_after_cf || op == CC_INC || op == CC_DEC) {
		if (l->head && jit_emit_regs_hold(e, l->want))
			target = l->head;
		else if (l->preload)
			target = l->preload;
	}
	jit_emit_loop_back(e, count, JIT_BUDGET, target);
}

/* Leave after count instructions: for a transfer to RIP (chain), the
 * static target rel if it can be patched in (which sets c->s.rip
 * itself), else the jump cache (in 64-bit code); else back to C.  op:
 * the flag record's kind where known (a jump back to the start may
 * use it), else CC_EAGER. */
static void emit_exit(struct emu_jit *j, struct jit_emit *e, const struct jit_tb *tb,
		      unsigned count, bool chain, int64_t rel, enum cc_op op)
{
	uint8_t *site;

	if (chain && far_chainable(tb, rel)) {
		site = jit_emit_far_chain_exit(e, count, rel, &chain_fields, &far_fields,
					       CHAIN_DATA, j->epilogue);
		set_site_data(site, FAR_SITE, tb->code_size);
		return;
	}
	if (chain && rel == 0 && chainable(tb, 0)) {
		/* a loop: the chain entry's checks hold as they did at the
		 * block's entry (a write to its page leaves the block, CS
		 * stays), so only the budget is checked on the way back */
		emit_loop_back(j, e, tb, count, op);
		count = 0;
	}
	if (chain && !chainable(tb, rel)) {
		jit_emit_jc_exit(e, count, j->jc_lookup[jc_index(tb->code_size)]);
		return;
	}
	if (!chain || !chainable(tb, rel)) {
		jit_emit_exit(e, count, F(jit_chain_from), j->epilogue);
		return;
	}
	site = jit_emit_chain_exit(e, count, rel, &chain_fields, CHAIN_DATA, j->epilogue);
	/* The physical address and mode of the successor this site may
	 * jump to, for the check before patching (data after the jump). */
	set_site_data(site, pa_in_page(tb, rel), tb->code_size);
}

/* Leave for the static target rel (a transfer, as emit_exit's chain),
 * RIP set on the way: a patched chain exit skips that store, the way
 * back to C from it or the successor's entry makes it. */
static void emit_exit_to(struct emu_jit *j, struct jit_emit *e, const struct jit_tb *tb,
			 unsigned count, int64_t rel, enum cc_op op)
{
	if (!chainable(tb, rel) && !far_chainable(tb, rel))
		jit_emit_store_rip(e, F(s.rip), rel);
	emit_exit(j, e, tb, count, true, rel, op);
}

/* ---- native code for the commonest forms ---- */

static int32_t gpr_field(unsigned r)
{
	return F(s.gpr) + 8 * (int32_t)r;
}

enum native { NAT_NONE, NAT_MOV, NAT_ALU, NAT_INCDEC, NAT_EXT, NAT_SHIFT, NAT_IMUL, NAT_NOT,
	      NAT_NEG, NAT_ROT, NAT_CMOV, NAT_MUL };

/* Where a native operation's operands come from: guest registers (and
 * the immediate), or one of them already in T0, loaded from memory by
 * the inline TLB path: the source (ALU reg, [m]; IMUL; MOVZX/MOVSX) or
 * the destination (CMP/TEST [m], which store nothing). */
enum preload { PRE_NONE, PRE_SRC, PRE_DST };

struct nat {
	enum native kind;
	unsigned size, dst, src;   /* src ~0u: the immediate */
	bool legacy8;              /* byte registers 4-7 are AH-BH (no REX) */
	int32_t src_field;         /* NAT_EXT: the source register's bytes */
	unsigned from;             /* NAT_EXT: the source size */
	bool sign;                 /* NAT_EXT: MOVSX; NAT_MUL: IMUL */
	uint64_t imm;
	enum jit_alu op;
	enum jit_shift shift;
	enum cc_op cc;
	bool store;                /* the result goes to dst (not CMP/TEST) */
	bool store_held;           /* ... to memory: the held address */
	bool dec;
	bool count_cl;             /* NAT_SHIFT: by CL, else by imm (nonzero) */
	bool right;                /* NAT_ROT: ROR, else ROL (by imm, nonzero) */
	bool carry_in;             /* NAT_ALU: ADC, SBB (they read CF) */
	bool flags_dead;           /* a later instruction replaces the flags
				    * (flags_dead_after) */
	bool record_taken;         /* CMP/TEST: their record only where the
				    * Jcc after them leaves (record_if_taken) */
	bool cf_only;              /* NAT_ALU: only CF is read, by the INC/DEC
				    * right after (only_cf_read_after) */
	bool record_slow;          /* NAT_INCDEC, NAT_ALU: the record only on
				    * slow paths of instructions after it
				    * (record_slow_until) */
};

/* Byte operations (the ALU, TEST and MOV forms the translator knows). */
static bool byte_op(const struct insn *in)
{
	unsigned op = in->op;

	if (op < 0x40)
		return (op & 7) < 6 && !(op & 1);
	switch (op) {
	case 0x80: case 0x84: case 0x88: case 0x8a: case 0xa8: case 0xb0 ... 0xb7:
	case 0xc0: case 0xc6: case 0xd0: case 0xd2: case 0xf6:
		return true;
	}
	return false;
}

/* The operand size of in: 1 for a byte operation. */
static unsigned op_size(const struct insn *in)
{
	return byte_op(in) ? 1 : in->opsize;
}

/* The bytes of register r in an operation of n's size. */
static int32_t reg_field(const struct nat *n, unsigned r)
{
	if (n->size == 1 && n->legacy8 && r >= 4 && r < 8)
		return gpr_field(r - 4) + 1;
	return gpr_field(r);
}

/* A result's store: a byte or word operation writes its bytes, others
 * the register (a 4-byte result zero-extended, as the handlers do). */
static unsigned store_size(const struct nat *n)
{
	return n->size <= 2 ? n->size : 8;
}

/* The common start of the pick functions: the operand size, the
 * immediate masked to it; false without a fast handler (the slow path
 * of a memory form). */
static bool nat_init(const struct insn *in, struct nat *n)
{
	memset(n, 0, sizeof(*n));
	n->size = op_size(in);
	n->legacy8 = !in->rex;
	n->src = ~0u;
	n->imm = in->imm & emu_size_mask(n->size);
	return in->fast;
}

/* ModRM.reg of 80-83 and the ALU opcodes 00-3F: the host operation and
 * the flag record (ADC and SBB: carry_in, which only the register forms
 * take). */
static bool alu_of(unsigned aop, struct nat *n)
{
	static const struct { enum jit_alu op; enum cc_op cc; } t[8] = {
		{ JIT_ADD, CC_ADD }, { JIT_OR, CC_LOGIC }, { JIT_ADC, CC_ADC }, { JIT_SBB, CC_SBB },
		{ JIT_AND, CC_LOGIC }, { JIT_SUB, CC_SUB }, { JIT_XOR, CC_LOGIC },
		{ JIT_SUB, CC_SUB },
	};

	n->kind = NAT_ALU;
	n->op = t[aop].op;
	n->cc = t[aop].cc;
	n->store = aop != 7;
	n->carry_in = aop == 2 || aop == 3;
	return true;
}

/* MOVZX, MOVSX (0F B6, B7, BE, BF) and MOVSXD (63): the source size and
 * signedness; the register source's bytes (AH-BH: the second byte of
 * RAX-RBX, without REX). */
static void ext_of(const struct insn *in, struct nat *n)
{
	n->kind = NAT_EXT;
	n->dst = in->reg;
	n->from = in->op == 0x63 ? 4 : (in->op & 1) ? 2 : 1;
	n->sign = in->op != 0x1b6 && in->op != 0x1b7;
	if (n->from == 1 && in->rm >= 4 && in->rm < 8 && !in->rex)
		n->src_field = gpr_field(in->rm - 4) + 1;
	else
		n->src_field = gpr_field(in->rm);
}

/* SHL/SAL, SHR, SAR of a register: of 4 or 8 bytes by 1, imm8 or CL,
 * of 1 or 2 bytes by 1 or an imm8 below their width (the host's CF is
 * undefined beyond; the handler knows).  A count that masks to 0 stays a
 * handler. */
static bool shift_of(const struct insn *in, struct nat *n)
{
	static const int kind[8] = { -1, -1, -1, -1, JIT_SHL, JIT_SHR, JIT_SHL, JIT_SAR };
	unsigned mask;

	n->size = (in->op & 1) ? in->opsize : 1;
	mask = n->size == 8 ? 63 : 31;
	if (kind[in->reg & 7] < 0)
		return false;
	n->kind = NAT_SHIFT;
	n->shift = kind[in->reg & 7];
	n->dst = in->rm;
	n->cc = CC_SZP;
	n->count_cl = in->op == 0xd3 || in->op == 0xd2;
	n->imm = in->op == 0xd0 || in->op == 0xd1 ? 1 : in->imm & mask;
	if (n->size < 4)
		return !n->count_cl && n->imm && n->imm < n->size * 8u;
	return n->count_cl || n->imm;
}

/* NOT and NEG (F6, F7 /2, /3) of r/m. */
static bool not_neg_of(const struct insn *in, struct nat *n)
{
	n->kind = (in->reg & 7) == 2 ? NAT_NOT : NAT_NEG;
	n->dst = in->rm;
	n->store = true;
	return (in->reg & 7) == 2 || (in->reg & 7) == 3;
}

/* MUL, IMUL r/m (F7 /4, /5; a fast handler: no DIV) of 4 or 8 bytes:
 * RAX the destination of emit_operands, the source in src or memory. */
static bool mul_of(const struct insn *in, struct nat *n)
{
	n->kind = NAT_MUL;
	n->dst = GPR_RAX;
	n->sign = (in->reg & 7) == 5;
	n->cc = CC_SZP;
	return n->size >= 4;
}

/* Whether in (which has a fast handler, so no LOCK or REP) has a native
 * form with register operands, and which (ROL and ROR, whose flag
 * updates the translator does not compute, only for flags_dead). */
static bool pick_native(const struct jit_tb *tb, const struct insn *in, struct nat *n)
{
	unsigned op = in->op, rr = (op & 7) | ((in->rex & 1) << 3);

	if (!nat_init(in, n) || in->has_mem)
		return false;
	if (op < 0x40 && (op & 7) < 4) {
		n->dst = (op & 2) ? in->reg : in->rm;
		n->src = (op & 2) ? in->rm : in->reg;
		return alu_of(op >> 3, n);
	}
	if (op < 0x40 && (op & 7) >= 4) {
		n->dst = GPR_RAX;
		return alu_of(op >> 3, n);
	}
	switch (op) {
	case 0x80: case 0x81: case 0x83:
		n->dst = in->rm;
		return alu_of(in->reg & 7, n);
	case 0x84: case 0x85: case 0xa8: case 0xa9: case 0xf6: case 0xf7:
		if (op == 0xf7 && (in->reg & 7) >= 4) {
			n->src = in->rm;
			return mul_of(in, n);
		}
		if ((op == 0xf6 || op == 0xf7) && (in->reg & 7) >= 2)
			return not_neg_of(in, n);
		n->kind = NAT_ALU;
		n->op = JIT_AND;
		n->cc = CC_LOGIC;
		n->dst = op == 0xa8 || op == 0xa9 ? GPR_RAX : in->rm;
		if (op == 0x84 || op == 0x85)
			n->src = in->reg;
		return true;
	case 0x88 ... 0x8b:
		n->kind = NAT_MOV;
		n->dst = (op & 2) ? in->reg : in->rm;
		n->src = (op & 2) ? in->rm : in->reg;
		return true;
	case 0xb0 ... 0xbf:
		n->kind = NAT_MOV;
		n->dst = rr;
		return true;
	case 0xc6:
	case 0xc7:
		n->kind = NAT_MOV;
		n->dst = in->rm;
		return (in->reg & 7) == 0;
	case 0xff:
		n->kind = NAT_INCDEC;
		n->dst = in->rm;
		n->dec = in->reg & 1;
		return (in->reg & 7) < 2;
	case 0x40 ... 0x4f:  /* INC/DEC reg outside 64-bit code */
		n->kind = NAT_INCDEC;
		n->dst = op & 7;
		n->dec = op & 8;
		return tb->code_size != 8;
	case 0x63: case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf:
		ext_of(in, n);
		return true;
	case 0xc0: case 0xd0:
		return shift_of(in, n);
	case 0xc1: case 0xd1:
		if ((in->reg & 7) < 2) {    /* ROL, ROR of 4 or 8 bytes */
			n->kind = NAT_ROT;
			n->dst = in->rm;
			n->right = in->reg & 1;
			n->imm = in->op == 0xd1 ? 1 : in->imm & (n->size == 8 ? 63 : 31);
			return (n->size == 4 || n->size == 8) && n->imm;
		}
		return shift_of(in, n);
	case 0xd3:
		return shift_of(in, n);
	case 0x1af:
		n->kind = NAT_IMUL;
		n->dst = in->reg;
		n->src = in->rm;
		n->cc = CC_SZP;
		return n->size != 2;
	case 0x140 ... 0x14f:  /* CMOVcc: where emit_tb can rebuild the flags */
		n->kind = NAT_CMOV;
		n->dst = in->reg;
		n->src = in->rm;
		return true;
	}
	return false;
}

/* The same operations with a memory operand (the address sizes are
 * pick_mem's choice): the operand is loaded through the inline TLB path, *pre
 * says which it is and *load_size how many bytes. */
static bool pick_native_mem(const struct insn *in, struct nat *n, enum preload *pre,
			    unsigned *load_size)
{
	unsigned op = in->op;

	*pre = PRE_SRC;
	if (!nat_init(in, n) || !in->has_mem)
		return false;
	*load_size = n->size;
	if (op < 0x40 && (op & 6) == 2) {          /* ALU reg, [m] */
		n->dst = in->reg;
		return alu_of(op >> 3, n) && !n->carry_in;
	}
	switch (op) {
	case 0x63: case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf:
		ext_of(in, n);
		*load_size = n->from;
		return true;
	case 0x1af:
		n->kind = NAT_IMUL;
		n->dst = in->reg;
		n->cc = CC_SZP;
		return n->size != 2;
	case 0xf7:
		if ((in->reg & 7) >= 4)
			return mul_of(in, n);
		break;
	}
	*pre = PRE_DST;                             /* CMP/TEST [m], reg/imm */
	switch (op) {
	case 0x38: case 0x39:
		n->src = in->reg;
		return alu_of(7, n);
	case 0x80: case 0x81: case 0x83:
		return (in->reg & 7) == 7 && alu_of(7, n);
	case 0x84: case 0x85: case 0xf6: case 0xf7:
		if ((op == 0xf6 || op == 0xf7) && (in->reg & 7) != 0)
			return false;
		n->kind = NAT_ALU;
		n->op = JIT_AND;
		n->cc = CC_LOGIC;
		if (op == 0x84 || op == 0x85)
			n->src = in->reg;
		return true;
	}
	return false;
}

/* ADD/OR/AND/SUB/XOR [m], reg or imm, NOT, NEG, INC, DEC [m] (the
 * address sizes are pick_mem's choice): the memory operand read and written through one inline
 * TLB lookup. */
static bool pick_native_rmw(const struct insn *in, struct nat *n)
{
	unsigned op = in->op, aop;

	if (!nat_init(in, n) || !in->has_mem)
		return false;
	n->store_held = true;
	if (op < 0x40 && (op & 6) == 0) {
		n->src = in->reg;
		aop = op >> 3;
	} else if (op == 0x80 || op == 0x81 || op == 0x83) {
		aop = in->reg & 7;
	} else if (op == 0xf6 || op == 0xf7) {
		return not_neg_of(in, n);
	} else if (op == 0xff && (in->reg & 7) < 2) {
		n->kind = NAT_INCDEC;
		n->dec = in->reg & 1;
		return true;
	} else if (op == 0xc0 || op == 0xc1 || (op >= 0xd0 && op <= 0xd3)) {
		return shift_of(in, n);
	} else {
		return false;
	}
	return aop != 7 && alu_of(aop, n) && !n->carry_in;   /* not CMP (no write), ADC, SBB */
}

/* LEA of a 4- or 8-byte register with 4- or 8-byte addressing. */
static bool pick_lea(const struct insn *in)
{
	return in->op == 0x8d && in->fast && in->has_mem && (in->opsize == 4 || in->opsize == 8) &&
	       (in->adsize == 4 || in->adsize == 8);
}

static void emit_lea(struct jit_emit *e, const struct insn *in, int64_t end)
{
	jit_emit_ea(e, in->base >= 0 && in->base < 16 ? gpr_field(in->base) : -1,
		    in->base == 16, end, in->index >= 0 ? gpr_field(in->index) : -1,
		    in->scale, in->disp, -1);
	if (in->adsize == 4 || in->opsize == 4)
		jit_emit_zext32(e);
	jit_emit_store(e, JIT_T0, gpr_field(in->reg), 8);
}

/* What the translator knows about the flag record at a point of the
 * block: the operation and size of the last native flag-setter, or
 * CC_EAGER for "not known here". */
/* What the host's EFLAGS hold after an instruction's code, for the next
 * instruction's condition (no code runs between). */
enum host_flags {
	HOST_NONE,
	HOST_ALL,    /* the guest's arithmetic flags */
	HOST_NO_CF,  /* those but CF (INC, DEC) */
};

struct flag_state {
	enum cc_op op;
	unsigned size;
	enum host_flags host, host_prev;  /* after this instruction, the one before */
	bool eager;  /* the record is known to be eager (op CC_EAGER means
		      * unknown otherwise) */
};

/* Fast-handled instructions that leave the flags alone. */
static bool keeps_flags(const struct insn *in)
{
	switch (in->op) {
	case 0x50 ... 0x5f: case 0x63: case 0x68: case 0x6a: case 0x88 ... 0x8b:
	case 0x8d: case 0x90: case 0xb0 ... 0xbf: case 0xc6: case 0xc7: case 0x10d: case 0x118 ... 0x11f:
	case 0x140 ... 0x14f: case 0x190 ... 0x19f: case 0x1b6: case 0x1b7:
	case 0x1be: case 0x1bf:
		return true;
	}
	return false;
}

/*
 * Instructions without a fast handler after which the block goes on:
 * those that only compute (data, flags, x87/MMX/SSE state, memory) and
 * change nothing the run loop watches between instructions (IF, TF, the
 * interrupt shadow, HLT, CS, SS, the mode, control registers, MSRs, the
 * TLB) and talk to no device through ports.  Indirect JMP/CALL are here
 * too: like any of these they leave the block if RIP is not the next
 * instruction's.  LOCK and XCHG with memory go on too: when the handler
 * loses a race it restarts the instruction through the run loop, as a
 * fault would.
 */
static bool continues_after(const struct insn *in)
{
	unsigned op = in->op;

	if ((in->prefixes & PFX_LOCK) && !in->has_mem)
		return false;        /* #UD */
	if (op >= 0x200)                        /* 0F 38, 0F 3A: SSSE3, SSE4 */
		return true;
	if (op < 0x40)
		return (op & 7) < 6;                /* ALU; not segment pushes/pops, DAA... */
	if (op >= 0x100) {
		op &= 0xff;
		switch (op) {
		case 0x01:                          /* SWAPGS, RDTSCP (GS's base and TSC_AUX
						     * are read where used) */
			return !in->has_mem && (in->reg & 7) == 7 && (in->rm & 7) <= 1;
		case 0x20: case 0x21:               /* MOV from CR, DR: reads */
			return true;
		case 0xae:                          /* fences, FXSAVE/FXRSTOR, MXCSR, XSAVE,
						     * CLFLUSH, FS/GS base */
			return true;
		case 0xc7:                          /* CMPXCHG8B/16B, RDRAND, RDSEED */
			return in->has_mem ? (in->reg & 7) == 1 : (in->reg & 7) >= 6;
		case 0x0d: case 0x10 ... 0x17: case 0x18 ... 0x1f: case 0x28 ... 0x2f:
		case 0x31:                          /* RDTSC */
		case 0x40 ... 0x7f:                 /* CMOVcc, SSE, MMX (EMMS) */
		case 0x80 ... 0x9f:                 /* Jcc, SETcc */
		case 0xa3 ... 0xa5: case 0xab ... 0xad: case 0xaf:
		case 0xb0 ... 0xb1: case 0xb3: case 0xb6 ... 0xbf:
		case 0xc0 ... 0xc6: case 0xc8 ... 0xff:
			return true;
		}
		return false;
	}
	switch (op) {
	case 0x69: case 0x6b: case 0x80 ... 0x85: case 0x88 ... 0x8b: case 0x8d:
	case 0x90 ... 0x99: case 0x9b: case 0x9c: case 0x9e: case 0x9f:
	case 0xa4 ... 0xaf:                     /* string operations, also REP */
	case 0xb0 ... 0xbf: case 0xc0: case 0xc1:
	case 0xc6 ... 0xc9: case 0xd0 ... 0xd3: case 0xd7: case 0xd8 ... 0xdf:
	case 0xf5: case 0xf6: case 0xf7: case 0xf8: case 0xf9: case 0xfc: case 0xfd:
	case 0xfe:
		return true;
	case 0x86: case 0x87:
	case 0x50 ... 0x5f: case 0x68: case 0x6a:  /* PUSH, POP outside 64-bit code */
	case 0xe8: case 0xe9: case 0xeb:        /* CALL, JMP rel: on at the target */
	case 0xfa:                              /* CLI (STI ends: its shadow) */
	case 0x9d:                              /* POPF (emit_tb leaves if it set TF) */
		return true;
	case 0xff:                              /* INC, DEC, CALL, JMP near, PUSH */
		return (in->reg & 7) != 3 && (in->reg & 7) != 5 && (in->reg & 7) != 7;
	}
	return false;
}

/* The host's arithmetic flags = the guest's after the known record of
 * an ADD, SUB, ADC or SBB: the operation done again on its operands. */
static void emit_redo(struct jit_emit *e, const struct flag_state *fs)
{
	static const enum jit_alu op[] = {
		[CC_ADD] = JIT_ADD, [CC_SUB] = JIT_SUB, [CC_ADC] = JIT_ADC, [CC_SBB] = JIT_SBB,
	};

	if (fs->op == CC_ADC || fs->op == CC_SBB)
		jit_emit_cf_from(e, F(cc_carry));
	jit_emit_load(e, JIT_T0, F(cc_src1), fs->size);
	jit_emit_load(e, JIT_T1, F(cc_src2), fs->size);
	jit_emit_alu(e, op[fs->op], fs->size);
}

/* The flag record's operation and size, as the handler would set them. */
static void emit_record(struct jit_emit *e, enum cc_op op, unsigned size,
			struct flag_state *fs)
{
	_Static_assert(offsetof(struct emu_cpu, cc_size) == offsetof(struct emu_cpu, cc_op) + 1 &&
		       offsetof(struct emu_cpu, cc_pad) == offsetof(struct emu_cpu, cc_op) + 2,
		       "cc_op, cc_size and cc_pad: one 4-byte store");
	jit_emit_store_imm(e, F(cc_op), 4, (int32_t)(op | size << 8));
	fs->op = op;
	fs->size = size;
	fs->eager = false;
}

/* T0 = the destination and T1 = the source of a two-operand operation,
 * from registers, the immediate or what the memory path loaded. */
static void emit_operands(struct jit_emit *e, const struct nat *n, enum preload pre)
{
	if (pre == PRE_SRC) {
		jit_emit_copy_t0_to_t1(e);
		jit_emit_load(e, JIT_T0, reg_field(n, n->dst), n->size);
		return;
	}
	if (pre == PRE_NONE)
		jit_emit_load(e, JIT_T0, reg_field(n, n->dst), n->size);
	if (n->src == ~0u)
		jit_emit_load_imm(e, JIT_T1, n->imm);
	else
		jit_emit_load(e, JIT_T1, reg_field(n, n->src), n->size);
}

/* SHL/SHR/SAR: the record of emu_flags_szp; a count of 0 (by CL)
 * changes no flag but still zero-extends a 4-byte register, as the
 * handler's write does (memory keeps its value).  PRE_DST: the operand
 * is in T0, the result goes to the held address. */
static void emit_shift(struct jit_emit *e, const struct nat *n, struct flag_state *fs,
		       enum preload pre)
{
	unsigned s = n->size;
	jit_fixup zero = NULL, done;

	if (n->flags_dead && !n->count_cl) {  /* the result alone */
		if (pre == PRE_NONE)
			jit_emit_load(e, JIT_T0, reg_field(n, n->dst), s);
		jit_emit_shift_imm(e, n->shift, s, (uint8_t)n->imm);
		if (n->store_held)
			jit_emit_store_held(e, s);
		else
			jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
		return;
	}
	if (n->count_cl)
		jit_emit_load(e, JIT_T1, gpr_field(GPR_RCX), 4);
	else
		jit_emit_load_imm(e, JIT_T1, n->imm);
	if (pre == PRE_NONE)
		jit_emit_load(e, JIT_T0, reg_field(n, n->dst), s);
	if (n->count_cl)
		zero = jit_emit_branch_t1_zero(e, s == 8 ? 63 : 31);
	jit_emit_shift(e, n->shift, s);
	if (n->store_held)
		jit_emit_store_held(e, s);
	else
		jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
	if (!n->flags_dead) {   /* else the record stays the older one */
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		jit_emit_store(e, JIT_T1, F(cc_src1), 8);
		emit_record(e, CC_SZP, s, fs);
	}
	if (!zero)
		return;
	done = jit_emit_jump(e);
	jit_emit_bind(e, zero);
	if (!n->store_held)
		jit_emit_store(e, JIT_T0, gpr_field(n->dst), 8);
	jit_emit_bind(e, done);
	fs->op = CC_EAGER;  /* either record: not known here */
	fs->eager = false;
}

/* Before INC or DEC (first in their code): CF survives in cc_carry,
 * computed from the record before theirs replaces it (as
 * emu_flags_arith does), or taken from the host's flags where the
 * instruction before left the guest's there.  It may call C. */
static void emit_keep_cf(struct jit_emit *e, const struct flag_state *fs)
{
	jit_fixup keep;

	if (fs->host_prev == HOST_ALL) {
		jit_emit_store_cf(e, F(cc_carry));
	} else if (fs->op == CC_LOGIC) {
		jit_emit_store_imm(e, F(cc_carry), 8, 0);
	} else if (fs->op == CC_SUB || fs->op == CC_ADD || fs->op == CC_ADC ||
		   fs->op == CC_SBB) {
		emit_redo(e, fs);
		jit_emit_store_cf(e, F(cc_carry));
	} else if (fs->op == CC_SZP) {  /* CF is bit 0 of the word */
		jit_emit_cf_from(e, F(cc_src1));
		jit_emit_store_cf(e, F(cc_carry));
	} else if (fs->op == CC_EAGER) {
		/* known only at run time: after SUB/CMP CF is a < b of the
		 * operands the record holds (every writer stores them
		 * zero-extended from their size), after a logic operation
		 * 0, in eager flags bit 0, after ADD the result below the
		 * first operand at the record's size; others ask C */
		jit_fixup sub, add, logic, eager, done[4];

		jit_emit_load(e, JIT_T0, F(cc_op), 1);
		keep = jit_emit_branch_t0_in(e, CC_INC, CC_DEC);
		add = jit_emit_branch_t0_in(e, CC_ADD, CC_ADD);
		sub = jit_emit_branch_t0_in(e, CC_SUB, CC_SUB);
		logic = jit_emit_branch_t0_in(e, CC_LOGIC, CC_LOGIC);
		eager = jit_emit_branch_t0_in(e, CC_EAGER, CC_EAGER);
		jit_emit_call_store_bool(e, (const void *)emu_cf, F(cc_carry));
		done[0] = jit_emit_jump(e);
		jit_emit_bind(e, sub);
		jit_emit_load(e, JIT_T0, F(cc_src1), 8);
		jit_emit_load(e, JIT_T1, F(cc_src2), 8);
		jit_emit_alu(e, JIT_CMP, 8);
		jit_emit_store_cf(e, F(cc_carry));
		done[1] = jit_emit_jump(e);
		jit_emit_bind(e, add);
		jit_emit_add_carry(e, F(cc_size), F(cc_res), F(cc_src1));
		jit_emit_store_cf(e, F(cc_carry));
		done[2] = jit_emit_jump(e);
		jit_emit_bind(e, eager);
		jit_emit_cf_from(e, F(s.rflags));
		jit_emit_store_cf(e, F(cc_carry));
		done[3] = jit_emit_jump(e);
		jit_emit_bind(e, logic);
		jit_emit_store_imm(e, F(cc_carry), 8, 0);
		jit_emit_bind(e, keep);
		for (unsigned i = 0; i < 4; i++)
			jit_emit_bind(e, done[i]);
	}  /* after INC or DEC it is in cc_carry already */
}

/* The host's CF = the guest's, for ADC and SBB; false where the record
 * is not known here. */
static bool emit_guest_cf(struct jit_emit *e, const struct flag_state *fs, bool emit)
{
	if (fs->host_prev == HOST_ALL)
		return true;
	if (fs->host_prev == HOST_NO_CF || fs->op == CC_INC || fs->op == CC_DEC) {
		if (emit)
			jit_emit_cf_from(e, F(cc_carry));
		return true;
	}
	if (fs->eager) {
		if (emit)
			jit_emit_cf_from(e, F(s.rflags));
		return true;
	}
	switch (fs->op) {
	case CC_ADD: case CC_SUB: case CC_ADC: case CC_SBB:
		if (emit)
			emit_redo(e, fs);
		return true;
	case CC_LOGIC:
		if (emit)
			jit_emit_clear_cf(e);
		return true;
	case CC_SZP:    /* CF is bit 0 of the word */
		if (emit)
			jit_emit_cf_from(e, F(cc_src1));
		return true;
	default:
		return false;
	}
}

/*
 * Before ROL or ROR, whose record keeps SF, ZF, PF and AF of the one
 * before (the result and size stay; CF and OF go into the word of
 * CC_SZP): cc_src1 = that record's AF alone.  False where the record is
 * not known here.
 */
static bool emit_keep_af(struct jit_emit *e, const struct flag_state *fs, bool emit)
{
	if (fs->eager)
		return false;
	switch (fs->op) {
	case CC_LOGIC:
		if (emit)
			jit_emit_store_imm(e, F(cc_src1), 8, 0);
		return true;
	case CC_SZP:
		if (emit)
			jit_emit_load(e, JIT_T0, F(cc_src1), 8);
		break;
	case CC_ADD: case CC_SUB: case CC_ADC: case CC_SBB:
		if (emit) {    /* AF = bit 4 of a ^ b ^ r */
			jit_emit_load(e, JIT_T0, F(cc_src1), 8);
			jit_emit_load(e, JIT_T1, F(cc_src2), 8);
			jit_emit_alu(e, JIT_XOR, 8);
			jit_emit_load(e, JIT_T1, F(cc_res), 8);
			jit_emit_alu(e, JIT_XOR, 8);
		}
		break;
	default:
		return false;
	}
	if (emit) {
		jit_emit_load_imm(e, JIT_T1, RFLAGS_AF);
		jit_emit_alu(e, JIT_AND, 8);
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
	}
	return true;
}

static void emit_native(struct jit_emit *e, const struct nat *n, struct flag_state *fs,
			enum preload pre)
{
	unsigned s = n->size;

	switch (n->kind) {
	case NAT_MOV:
		if (n->src == ~0u)
			jit_emit_load_imm(e, JIT_T0, n->imm);
		else
			jit_emit_load(e, JIT_T0, reg_field(n, n->src), s);
		jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
		return;
	case NAT_EXT:
		if (pre == PRE_NONE)
			jit_emit_load_ext(e, JIT_T0, n->src_field, n->from, n->sign);
		if (s == 4)
			jit_emit_zext32(e);
		jit_emit_store(e, JIT_T0, gpr_field(n->dst), store_size(n));
		return;
	case NAT_SHIFT:
		emit_shift(e, n, fs, pre);
		return;
	case NAT_IMUL:  /* the record of CC_SZP: the result, CF | OF */
		emit_operands(e, n, pre);
		jit_emit_imul(e, s);
		jit_emit_store(e, JIT_T0, gpr_field(n->dst), 8);
		if (n->flags_dead)
			return;
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		jit_emit_store(e, JIT_T1, F(cc_src1), 8);
		break;
	case NAT_MUL:   /* RDX:RAX = RAX * src, the record of IMUL's */
		emit_operands(e, n, pre);
		jit_emit_mul(e, n->sign, s, gpr_field(GPR_RDX));
		jit_emit_store(e, JIT_T0, gpr_field(GPR_RAX), 8);
		if (n->flags_dead)
			return;
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		jit_emit_store(e, JIT_T1, F(cc_src1), 8);
		break;
	case NAT_ROT:
		if (!n->flags_dead)
			emit_keep_af(e, fs, true);
		jit_emit_load(e, JIT_T0, gpr_field(n->dst), s);
		jit_emit_rotate(e, n->right, s, (uint8_t)n->imm);
		jit_emit_store(e, JIT_T0, gpr_field(n->dst), 8);
		if (n->flags_dead)
			return;
		jit_emit_rotate_flags(e, n->right, s);
		jit_emit_load(e, JIT_T0, F(cc_src1), 8);
		jit_emit_alu(e, JIT_OR, 8);
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
		jit_emit_store_imm(e, F(cc_op), sizeof(((struct emu_cpu *)0)->cc_op), CC_SZP);
		fs->op = CC_SZP;    /* the size stays the earlier record's */
		fs->eager = false;
		return;
	case NAT_ALU: {
		/* an immediate goes into the host instruction, and into the
		 * record as one (zero-extended from its size) */
		bool imm = n->src == ~0u && pre != PRE_SRC &&
			   (n->flags_dead || n->cf_only || n->record_slow || n->cc == CC_LOGIC ||
			    n->imm == (uint64_t)(int64_t)(int32_t)n->imm) &&
			   (s < 8 || n->imm == (uint64_t)(int64_t)(int32_t)n->imm);

		if (n->carry_in) {  /* the carry goes into the record too */
			emit_guest_cf(e, fs, true);
			jit_emit_store_cf(e, F(cc_carry));
		}
		if (!imm)
			emit_operands(e, n, pre);
		else if (pre == PRE_NONE)
			jit_emit_load(e, JIT_T0, reg_field(n, n->dst), s);
		if (n->record_taken || n->cf_only || n->record_slow) {
			/* the flags for the Jcc alone, CF for the INC/DEC, or
			 * none (the next instruction's slow path stores the
			 * record) */
			if (imm)
				jit_emit_alu_imm(e, n->op, s, n->imm);
			else
				jit_emit_alu(e, n->op, s);
			if (n->store_held)
				jit_emit_store_held(e, s);
			else if (n->store)
				jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
			fs->op = CC_EAGER;  /* the record in memory: the older one */
			fs->eager = false;
			fs->host = HOST_ALL;
			return;
		}
		if (n->flags_dead) {    /* the record stays the older one */
			if (n->store && imm)
				jit_emit_alu_imm(e, n->op, s, n->imm);
			else if (n->store)
				jit_emit_alu(e, n->op, s);
			if (n->store_held)
				jit_emit_store_held(e, s);
			else if (n->store)
				jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
			return;
		}
		if (n->cc != CC_LOGIC) {  /* a logic record's flags come from its result */
			jit_emit_store(e, JIT_T0, F(cc_src1), 8);
			if (imm)
				jit_emit_store_imm(e, F(cc_src2), 8, (int32_t)n->imm);
			else
				jit_emit_store(e, JIT_T1, F(cc_src2), 8);
		}
		if (imm)
			jit_emit_alu_imm(e, n->op, s, n->imm);
		else
			jit_emit_alu(e, n->op, s);
		if (n->store_held)
			jit_emit_store_held(e, s);
		else if (n->store)
			jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		break;
	}
	case NAT_INCDEC:
		if (n->flags_dead) {    /* a register: no record, so no CF to keep */
			jit_emit_load(e, JIT_T0, gpr_field(n->dst), s);
			jit_emit_incdec(e, n->dec, s);
			jit_emit_store(e, JIT_T0, gpr_field(n->dst), store_size(n));
			return;
		}
		if (n->record_slow) {   /* the result alone; CF saved if cheap */
			if (fs->host_prev == HOST_ALL)
				jit_emit_store_cf(e, F(cc_carry));
			jit_emit_load(e, JIT_T0, gpr_field(n->dst), s);
			jit_emit_incdec(e, n->dec, s);
			jit_emit_store(e, JIT_T0, gpr_field(n->dst), store_size(n));
			fs->op = CC_EAGER;  /* the record in memory: the older one */
			fs->eager = false;
			fs->host = HOST_NO_CF;
			return;
		}
		if (pre == PRE_NONE) {  /* for memory, emit_mem did it first */
			emit_keep_cf(e, fs);
			jit_emit_load(e, JIT_T0, gpr_field(n->dst), s);
		}
		/* the record: the result alone (and CF in cc_carry) */
		jit_emit_incdec(e, n->dec, s);
		if (n->store_held)
			jit_emit_store_held(e, s);
		else
			jit_emit_store(e, JIT_T0, gpr_field(n->dst), store_size(n));
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		break;
	case NAT_NOT:   /* XOR with all ones; no flag changes */
		if (pre == PRE_NONE)
			jit_emit_load(e, JIT_T0, reg_field(n, n->dst), s);
		jit_emit_load_imm(e, JIT_T1, emu_size_mask(s));
		jit_emit_alu(e, JIT_XOR, s);
		if (n->store_held)
			jit_emit_store_held(e, s);
		else
			jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
		return;
	case NAT_NEG:   /* 0 - a: the record of SUB */
		if (pre == PRE_NONE)
			jit_emit_load(e, JIT_T0, reg_field(n, n->dst), s);
		jit_emit_copy_t0_to_t1(e);
		jit_emit_load_imm(e, JIT_T0, 0);
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
		jit_emit_store(e, JIT_T1, F(cc_src2), 8);
		jit_emit_alu(e, JIT_SUB, s);
		if (n->store_held)
			jit_emit_store_held(e, s);
		else
			jit_emit_store(e, JIT_T0, reg_field(n, n->dst), store_size(n));
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		emit_record(e, CC_SUB, s, fs);
		fs->host = HOST_ALL;
		return;
	case NAT_CMOV:  /* emit_tb's, after the flags */
	case NAT_NONE:
		return;
	}
	emit_record(e, n->kind == NAT_INCDEC ? (n->dec ? CC_DEC : CC_INC) : n->cc, s, fs);
	/* only stores since the operation: its host flags are the guest's */
	if (n->kind == NAT_INCDEC)
		fs->host = HOST_NO_CF;
	else if (n->kind == NAT_ALU)
		fs->host = HOST_ALL;
}

/*
 * Whether the flags instruction i of the block writes are dead: a later
 * instruction is a native register operation that replaces the whole
 * record without reading it (ALU but ADC/SBB, TEST, NEG, or a ROL/ROR
 * whose own flags are dead), and all between are native register moves
 * (MOV, MOVZX/MOVSX, LEA, a folded JMP), which neither read flags nor
 * fault.  Nothing runs between that could fault,
 * leave the block or take an interrupt.
 */
static bool flags_dead_after(const struct jit_tb *tb, unsigned i)
{
	struct nat n;

	for (unsigned k = i + 1; k < tb->n; k++) {
		const struct insn *in = &tb->in[k];

		if (pick_lea(in) || (in->folded && in->op != 0xe8))
			continue;
		if (!pick_native(tb, in, &n))
			return false;
		if ((n.kind == NAT_ALU && !n.carry_in) || n.kind == NAT_NEG ||
		    n.kind == NAT_IMUL || n.kind == NAT_MUL ||
		    (n.kind == NAT_SHIFT && !n.count_cl))
			return true;
		/* ROL/ROR read the record only to keep parts of it in
		 * theirs: not if theirs is dead too (ChaCha's ADD, XOR, ROL) */
		if (n.kind == NAT_ROT && flags_dead_after(tb, k))
			return true;
		if (n.kind != NAT_MOV && n.kind != NAT_EXT)
			return false;
	}
	return false;
}

/*
 * Whether of the flags instruction i writes only CF is read: the next
 * instruction is an INC or DEC of a register, which replaces the rest of
 * the record and saves CF from the host's flags (emit_keep_cf), or whose
 * own flags are dead too.  Nothing between can fault or leave.
 */
static bool only_cf_read_after(const struct jit_tb *tb, unsigned i)
{
	struct nat n;

	if (i + 1 >= tb->n || (i + 2 == tb->n && tb->cross_pa != JIT_NO_CROSS))
		return false;
	return !tb->in[i + 1].has_mem && pick_native(tb, &tb->in[i + 1], &n) &&
	       n.kind == NAT_INCDEC;
}

static bool offset_fits(uint64_t imm);

/* A Jcc that emit_tb branches on natively (its taken side a stub that
 * leaves the block), end its offset past it. */
static bool jcc_native(const struct jit_tb *tb, const struct insn *in, int64_t end)
{
	return is_jcc(in) && in->fast && in->opsize == tb->code_size &&
	       (chainable(tb, end + (int64_t)in->imm) ||
		(tb->code_size == 8 && offset_fits(in->imm)));
}

/*
 * Whether the record of CMP or TEST at i (n) is needed only where the
 * Jcc right after it leaves the block: on its other side a later
 * instruction replaces the flags with nothing between that could read
 * them, fault or leave (flags_dead_after).  The Jcc's exit stub then
 * stores the record (emit_record_again: the registers are unchanged),
 * and the fall-through path stores none.  next: the Jcc's offset.
 */
static bool record_if_taken(const struct jit_tb *tb, unsigned i, const struct nat *n,
			    int64_t next)
{
	return n->kind == NAT_ALU && !n->store && !n->carry_in && i + 1 < tb->n &&
	       jcc_native(tb, &tb->in[i + 1], next + tb->in[i + 1].len) &&
	       flags_dead_after(tb, i + 1);
}

/* The record CMP or TEST n skipped (record_taken), from its registers,
 * which nothing changed since. */
static void emit_record_again(struct jit_emit *e, const struct nat *n)
{
	jit_emit_load(e, JIT_T0, reg_field(n, n->dst), n->size);
	if (n->src == ~0u)
		jit_emit_load_imm(e, JIT_T1, n->imm);
	else
		jit_emit_load(e, JIT_T1, reg_field(n, n->src), n->size);
	if (n->cc != CC_LOGIC) {
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
		jit_emit_store(e, JIT_T1, F(cc_src2), 8);
	}
	jit_emit_alu(e, n->op, n->size);
	jit_emit_store(e, JIT_T0, F(cc_res), 8);
	jit_emit_store_imm(e, F(cc_op), 4, (int32_t)(n->cc | n->size << 8));
}

/* The host's flags as the guest's after the known record, for a Jcc on
 * condition cc; false if the record is not one this can rebuild. */
static bool emit_flags(struct jit_emit *e, const struct flag_state *fs, unsigned cc)
{
	unsigned s = fs->size;

	/* still there from the instruction before (not for CF after INC
	 * and DEC: B/AE and BE/A) */
	if (fs->host_prev == HOST_ALL ||
	    (fs->host_prev == HOST_NO_CF && (cc >> 1) != 1 && (cc >> 1) != 3))
		return true;
	if (fs->eager) {
		jit_emit_flags_from_rflags(e, F(s.rflags));
		return true;
	}

	switch (fs->op) {
	case CC_SUB: case CC_ADD: case CC_ADC: case CC_SBB:
		emit_redo(e, fs);
		return true;
	case CC_SZP:
		/* ZF, SF and PF come from the result (a TEST of it); CF and
		 * OF would need the word: those conditions stay handlers */
		if ((cc >> 1) != 2 && (cc >> 1) != 4 && (cc >> 1) != 5)
			return false;
		/* fall through */
	case CC_LOGIC:
		jit_emit_load(e, JIT_T0, F(cc_res), s);
		jit_emit_load(e, JIT_T1, F(cc_res), s);
		jit_emit_alu(e, JIT_AND, s);
		return true;
	case CC_INC: case CC_DEC:
		/* again on the operand: the result minus one (plus one) */
		jit_emit_load(e, JIT_T0, F(cc_res), s);
		jit_emit_load_imm(e, JIT_T1, fs->op == CC_DEC ? 1 : ~0ULL);
		jit_emit_add_keep_flags(e);
		jit_emit_cf_from(e, F(cc_carry));
		jit_emit_incdec(e, fs->op == CC_DEC, s);
		return true;
	default:
		return false;
	}
}

/* ---- memory: inline software-TLB lookups (the stack and jumps through
 * memory in 64-bit code only) ---- */

enum mem_kind {
	MEM_NONE, MEM_LOAD, MEM_STORE, MEM_STORE_IMM, MEM_PUSH, MEM_POP, MEM_CALL, MEM_RET,
	MEM_JMP,     /* JMP near through memory: T0 = the target */
	MEM_NATIVE,  /* a load, then a native operation (pick_native_mem) */
	MEM_RMW,     /* the same, and a store back (pick_native_rmw) */
	MEM_ATOMIC,  /* XCHG, XADD, CMPXCHG with memory (pick_atomic) */
};

/* Whether a direct target (displacement imm after an instruction in the
 * block's page) is within the emitter's 32-bit offsets of the block. */
static bool offset_fits(uint64_t imm)
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

static enum mem_kind pick_mem(const struct jit_tb *tb, const struct insn *in)
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

static struct jit_tlb_layout tlb_layout(struct emu_cpu *c)
{
	return (struct jit_tlb_layout){
		.tables = F(tlb_fast), .entries = TLB_ENTRIES,
		.entry_size = sizeof(struct tlb_fast),
		.read_tag = offsetof(struct tlb_fast, read_tag),
		.write_tag = offsetof(struct tlb_fast, write_tag),
		.addend = offsetof(struct tlb_fast, addend),
		.page_flags = offsetof(struct tlb_fast, page_flags),
		.cpl = F(cpl),
	};
}

/* A field of segment register seg in the vCPU. */
#define seg_field(sreg, member) \
	(F(s.seg) + (sreg) * (int32_t)sizeof(struct segment) + \
	 (int32_t)offsetof(struct segment, member))

/* A segment accessed inline whose base is 0 and limit 4 GiB - 1: every
 * offset is its linear address, inside the limit. */
static bool seg_flat(const struct segment *sg)
{
	return !sg->unusable && sg->s && (sg->type & 0xe) == 2 && sg->base == 0 &&
	       sg->limit == 0xffffffff;
}

static uint8_t flat_segments(const struct emu_cpu *c)
{
	uint8_t m = 0;

	for (int s = 0; s < NUM_SEGS; s++)
		if (seg_flat(&c->s.seg[s]))
			m |= (uint8_t)(1u << s);
	return m;
}

/* Segment seg as a block accesses it inline: flat (if in flat_mask, the
 * segments flat when it was translated: their checks test c->jit_seg_flat
 * and no limit or base is applied) or checked against its limit. */
static struct jit_seg_layout seg_layout(int seg, uint8_t flat_mask)
{
	bool flat = flat_mask & 1u << seg;

	return (struct jit_seg_layout){
		seg_field(seg, base), seg_field(seg, limit),
		flat ? F(jit_seg_flat) : F(jit_seg_fast), (uint8_t)(1u << seg), flat,
	};
}

/*
 * Outside 64-bit code: the segments (bit SEG_CHECK_SS_B: SS's B bit, for
 * the 32-bit stack) whose type and usability the block's code has checked
 * on every way to this point (done), and those the instruction being
 * emitted checks first (added).  Nothing a block runs loads a segment, so
 * later accesses check only their limits; an instruction's slow path,
 * where its handler ran whether they passed or not, checks the added ones
 * again before going back into the block.
 */
#define SEG_CHECK_SS_B (1u << NUM_SEGS)
struct seg_checks {
	uint8_t done, added;
	uint8_t flat;   /* the segments flat at translation (seg_layout) */
};

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

/* A record the fast path left out (record_slow), from the registers:
 * an INC/DEC's (CF from the record before it unless kept already, its
 * result, its kind) or an ALU operation's (its operands: for ADD and SUB
 * that stored their result, the first one is the result less or plus the
 * second, which is not the destination). */
struct pending_record {
	bool on;
	bool keep_cf;              /* CF still to be saved, from fs's record */
	struct flag_state fs;      /* the flags before the INC/DEC */
	struct nat n;
};

/* The handler call an inline access falls back to (out of line). */
struct slow_stub {
	jit_fixup f, f2;           /* f2: a second way there, or NULL */
	bool leave;                /* RET: leave the block after the handler */
	const uint8_t *resume;     /* writable address after the fast path */
	const struct insn *in;     /* its fast handler, or emu_exec_general */
	int64_t off, end;
	unsigned count;
	jit_fixup f3;              /* a third way there, or NULL */
	struct flag_state fs;      /* the host flags to rebuild before going
				    * back (fs.host), as the fast path left them */
	uint8_t recheck;           /* segment checks the fast path added
				    * (struct seg_checks) */
	struct pending_record pend;  /* the record of the INC/DEC before */
};

/* T0 = the direct target rel; a branch taken if it is not canonical. */
static jit_fixup emit_target_check(struct jit_emit *e, const struct jit_tb *tb, int64_t rel)
{
	if (tb->code_size != 8)  /* past the CS limit or the IP wrap */
		return jit_emit_branch_rip_ge(e, rel, F(jit_rip_limit));
	jit_emit_rip_to(e, JIT_T0, rel);
	return jit_emit_branch_noncanonical(e);
}

/* A JMP rel (64-bit code) that did not fold: its target is in another
 * page. */
static bool direct_jump_out(const struct jit_tb *tb, const struct insn *in)
{
	return tb->code_size == 8 && (in->op == 0xe9 || in->op == 0xeb) && in->fast &&
	       !in->folded && in->opsize == 8 && offset_fits(in->imm);
}

/* T0 = the host address of the ModRM memory operand of in (size bytes),
 * or the returned branch is taken: a segment check, an address with bits
 * of align_mask set (#GP), a TLB miss. */
static jit_fixup emit_operand_host(struct jit_emit *e, const struct jit_tlb_layout *l,
				   const struct insn *in, int64_t end, unsigned size,
				   bool write, uint8_t align_mask, struct seg_checks *sc)
{
	int seg = insn_seg(in);
	jit_fixup fail[4];
	unsigned nf = 0;

	jit_emit_ea(e, in->base >= 0 && in->base < 16 ? gpr_field(in->base) : -1,
		    in->base == 16, end, in->index >= 0 ? gpr_field(in->index) : -1,
		    in->scale, in->disp,
		    seg >= SEG_FS && in->adsize == 8 ? seg_field(seg, base) : -1);
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

/* The general register a field of the vCPU's GPRs belongs to. */
static unsigned gpr_of(int32_t field)
{
	return (unsigned)(field - F(s.gpr)) / 8;
}

/* The general register a register-only native operation or MOV load
 * (not a stack operation) writes, or ~0u: none. */
static unsigned gpr_written(const struct jit_tb *tb, const struct insn *in, enum mem_kind k)
{
	struct nat n;

	if (k == MEM_LOAD) {
		nat_init(in, &n);
		return gpr_of(reg_field(&n, in->reg));
	}
	if (k != MEM_NONE)
		return ~0u;
	if (pick_lea(in))
		return in->reg;
	if (pick_native(tb, in, &n) &&
	    (n.kind == NAT_MOV || n.kind == NAT_EXT || (n.store && !n.store_held)))
		return gpr_of(reg_field(&n, n.dst));
	return ~0u;
}

/*
 * Whether the record of instruction i (n: an INC/DEC, or an ALU operation
 * of registers whose operands the registers still hold after it) is
 * needed only where a later instruction takes its slow path: until an
 * instruction that replaces the whole record (returned: its index; 0:
 * there is none), all between are register moves and MOV loads and
 * stores that write neither operand register.  Each of those slow paths
 * stores the record before its handler runs (emit_pending_record; an
 * INC/DEC's CF from the record before it, still in memory); no fast path
 * stores it.  The replacing one is a native register operation as for
 * flags_dead_after, or an ALU operation on memory (not ADC/SBB, not
 * cf_only), whose slow path stores it too.
 */
static unsigned record_slow_until(const struct jit_tb *tb, unsigned i, const struct nat *this)
{
	unsigned dst, src = ~0u;

	if (this->flags_dead || this->record_taken || this->cf_only)
		return 0;
	if (this->kind == NAT_ALU &&
	    (this->carry_in || (this->store && this->cc != CC_LOGIC && this->src != ~0u &&
				reg_field(this, this->src) == reg_field(this, this->dst))))
		return 0;
	if (this->kind == NAT_INCDEC)
		dst = this->dst;
	else if (this->kind == NAT_ALU)
		dst = gpr_of(reg_field(this, this->dst));
	else
		return 0;
	if (this->kind == NAT_ALU && this->src != ~0u)
		src = gpr_of(reg_field(this, this->src));
	for (unsigned k = i + 1; k < tb->n; k++) {
		const struct insn *in = &tb->in[k];
		enum mem_kind mk;
		enum preload pre;
		unsigned size, w;
		struct nat n;

		if (k + 1 == tb->n && tb->cross_pa != JIT_NO_CROSS)
			return 0;
		if (emu_fast_is_nop(in) || (in->folded && in->op != 0xe8))
			continue;
		mk = pick_mem(tb, in);
		if (mk == MEM_NATIVE || mk == MEM_RMW) {
			if (mk == MEM_NATIVE)
				pick_native_mem(in, &n, &pre, &size);
			else if (!pick_native_rmw(in, &n))
				return 0;
			return n.kind == NAT_ALU && !n.carry_in && !only_cf_read_after(tb, k) ? k : 0;
		}
		if (mk == MEM_NONE && !pick_lea(in)) {
			if (!pick_native(tb, in, &n))
				return 0;
			if ((n.kind == NAT_ALU && !n.carry_in) || n.kind == NAT_NEG ||
			    n.kind == NAT_IMUL || n.kind == NAT_MUL ||
			    (n.kind == NAT_SHIFT && !n.count_cl))
				return k;
			if (n.kind != NAT_MOV && n.kind != NAT_EXT)
				return 0;
		} else if (mk != MEM_NONE && mk != MEM_LOAD && mk != MEM_STORE &&
			   mk != MEM_STORE_IMM) {
			return 0;
		}
		w = gpr_written(tb, in, mk);
		if (w == dst || w == src)
			return 0;
	}
	return 0;
}

static void emit_pending_record(struct jit_emit *e, const struct pending_record *p)
{
	struct flag_state fs = p->fs;

	const struct nat *n = &p->n;

	if (!p->on)
		return;
	if (n->kind == NAT_ALU && (!n->store || n->cc == CC_LOGIC)) {
		/* CMP/TEST: their operands; a logic operation: its result */
		if (n->store)
			jit_emit_load(e, JIT_T0, reg_field(n, n->dst), n->size);
		else
			emit_record_again(e, n);
		if (n->store) {
			jit_emit_store(e, JIT_T0, F(cc_res), 8);
			emit_record(e, n->cc, n->size, &fs);
		}
		return;
	}
	if (n->kind == NAT_ALU) {  /* ADD, SUB: the first operand again */
		jit_emit_load(e, JIT_T0, reg_field(n, n->dst), n->size);
		if (n->src == ~0u)
			jit_emit_load_imm(e, JIT_T1, n->imm);
		else
			jit_emit_load(e, JIT_T1, reg_field(n, n->src), n->size);
		jit_emit_store(e, JIT_T0, F(cc_res), 8);
		jit_emit_store(e, JIT_T1, F(cc_src2), 8);
		jit_emit_alu(e, n->cc == CC_ADD ? JIT_SUB : JIT_ADD, n->size);
		jit_emit_store(e, JIT_T0, F(cc_src1), 8);
		emit_record(e, n->cc, n->size, &fs);
		return;
	}
	fs.host_prev = HOST_NONE;  /* the host's flags are long gone */
	if (p->keep_cf)
		emit_keep_cf(e, &fs);
	jit_emit_load(e, JIT_T0, gpr_field(n->dst), n->size);
	jit_emit_store(e, JIT_T0, F(cc_res), 8);
	emit_record(e, n->dec ? CC_DEC : CC_INC, n->size, &fs);
}

/* The fast path of a memory instruction; its slow path is the handler. */
/* RSP += by (8 in 64-bit code; 4 on a 32-bit stack: ESP wraps and is
 * zero-extended, as the handlers' sp_set leaves it). */
static void emit_step_sp(struct jit_emit *e, int by)
{
	unsigned s = by < 0 ? (unsigned)-by : (unsigned)by;

	jit_emit_load(e, JIT_T0, gpr_field(GPR_RSP), 8);
	jit_emit_alu_imm(e, by < 0 ? JIT_SUB : JIT_ADD, s, s);
	jit_emit_store(e, JIT_T0, gpr_field(GPR_RSP), 8);
}

/* The bytes the native stack operations move: 8 in 64-bit code, 4 in
 * 32-bit code (pick_mem takes only 4-byte operands there). */
static unsigned stack_width(const struct jit_tb *tb)
{
	return tb->code_size == 8 ? 8 : 4;
}

static jit_fixup emit_mem(struct jit_emit *e, const struct jit_tb *tb,
			  const struct jit_tlb_layout *l, enum mem_kind k,
			  const struct insn *in, int64_t end, struct flag_state *fs,
			  struct flag_state *slow_fs, struct seg_checks *sc)
{
	bool stack = k == MEM_PUSH || k == MEM_POP || k == MEM_CALL || k == MEM_RET;
	bool read = k == MEM_LOAD || k == MEM_POP || k == MEM_RET || k == MEM_NATIVE ||
		    k == MEM_JMP;
	unsigned s = stack ? stack_width(tb) : k == MEM_JMP ? 8 : k == MEM_ATOMIC ? atomic_size(in)
									       : op_size(in);
	unsigned r = (in->op & 7) | ((in->rex & 1) << 3);
	enum preload pre = PRE_NONE;
	struct nat n;
	jit_fixup slow;
	bool cf_only = false;

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

	if (stack) {
		jit_fixup fail[4];
		unsigned nf = 0;

		/* 32-bit code: SS.B set (ESP, not SP) */
		if (s == 4 && seg_check_needed(sc, SEG_CHECK_SS_B))
			fail[nf++] = jit_emit_branch_byte_clear(e, seg_field(SEG_SS, db));
		jit_emit_ea(e, gpr_field(GPR_RSP), false, 0, -1, 0,
			    k == MEM_PUSH || k == MEM_CALL ? -(int32_t)s : 0, -1);
		if (s == 4) {   /* ESP, wrapped, in SS */
			const struct jit_seg_layout sl = seg_layout(SEG_SS, sc->flat);

			jit_emit_seg_linear(e, &sl, 4, 4, !seg_check_needed(sc, 1u << SEG_SS),
					    fail + nf);
			nf += 2;
		}
		slow = jit_emit_tlb_host(e, l, s, !read, fail, nf);
	} else {
		slow = emit_operand_host(e, l, in, end, s, !read, 0, sc);
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

/*
 * SSE instructions the host runs as they are (jit_emit_sse on XMM0 and
 * XMM1): integer, logical, shuffle and move forms on XMM registers, which
 * neither MXCSR nor the arithmetic flags enter.  Floating-point
 * arithmetic, the string compares and forms with implicit operands go
 * through the interpreter.
 */
enum sse_kind {
	SSE_NONE,
	SSE_OP,         /* xmm(reg) = op(xmm(reg), xmm/m128) */
	SSE_SHIFT_IMM,  /* 66 0F 71-73: xmm(rm) = op(xmm(rm), imm8) */
	SSE_LOAD,       /* xmm(reg) = xmm/m128 */
	SSE_STORE,      /* xmm/m128 = xmm(reg) */
	SSE_MOVMSK,     /* PMOVMSKB r32, xmm */
	SSE_TO_XMM,     /* MOVD/MOVQ xmm, r/m (66 0F 6E); MOVQ xmm, xmm/m64 (F3 0F 7E) */
	SSE_FROM_XMM,   /* MOVD/MOVQ r/m, xmm (66 0F 7E); MOVQ xmm/m64, xmm (66 0F D6) */
	SSE_STRI,       /* PCMPISTRI, PCMPESTRI: ECX and the flags */
};

struct sse {
	enum sse_kind kind;
	uint8_t prefix;     /* the mandatory prefix byte, or 0 */
	bool aligned;       /* a memory operand must be 16-byte aligned */
	bool imm;           /* an imm8 follows */
	unsigned size;      /* memory operand bytes */
};

static enum sse_kind sse_op_0f(unsigned op, enum simd_pfx pfx, bool *aligned, bool *imm)
{
	*aligned = true;
	*imm = false;
	if (pfx == PFX_66) {
		switch (op) {
		case 0x60 ... 0x6d: case 0x74 ... 0x76:
		case 0xd1 ... 0xd5: case 0xd8 ... 0xdf: case 0xe0 ... 0xe5:
		case 0xe8 ... 0xef: case 0xf1 ... 0xf6: case 0xf8 ... 0xfe:
		case 0x14: case 0x15: case 0x54 ... 0x57:
			return SSE_OP;
		case 0x70: case 0xc6:
			*imm = true;
			return SSE_OP;
		case 0x71 ... 0x73:
			*imm = true;
			return SSE_SHIFT_IMM;
		case 0x6f: case 0x28: return SSE_LOAD;
		case 0x7f: case 0x29: case 0xe7: return SSE_STORE;
		case 0x10: *aligned = false; return SSE_LOAD;
		case 0x11: *aligned = false; return SSE_STORE;
		case 0x6e: return SSE_TO_XMM;
		case 0x7e: case 0xd6: return SSE_FROM_XMM;
		case 0xd7: return SSE_MOVMSK;
		}
	} else if (pfx == PFX_NONE) {
		switch (op) {
		case 0x14: case 0x15: case 0x54 ... 0x57:
			return SSE_OP;
		case 0xc6:
			*imm = true;
			return SSE_OP;
		case 0x28: return SSE_LOAD;
		case 0x29: case 0x2b: return SSE_STORE;
		case 0x10: *aligned = false; return SSE_LOAD;
		case 0x11: *aligned = false; return SSE_STORE;
		}
	} else if (pfx == PFX_F3) {
		switch (op) {
		case 0x6f: *aligned = false; return SSE_LOAD;
		case 0x7f: *aligned = false; return SSE_STORE;
		case 0x7e: return SSE_TO_XMM;
		case 0x70: *imm = true; return SSE_OP;
		}
	} else {
		switch (op) {
		case 0x70: *imm = true; return SSE_OP;
		case 0xf0: *aligned = false; return SSE_LOAD;  /* LDDQU */
		}
	}
	return SSE_NONE;
}

static bool pick_sse(const struct jit_tb *tb, const struct insn *in, struct sse *x)
{
	enum simd_pfx pfx = simd_prefix(in);
	unsigned map = in->op >> 8, op = in->op & 0xff;
	static const uint8_t prefix_byte[] = { 0, 0x66, 0xf3, 0xf2 };

	x->kind = SSE_NONE;
	if (in->fast || (in->prefixes & PFX_LOCK) || (in->has_mem && tb->code_size == 8 &&
						      in->adsize != 8))
		return false;
	if (map == 1) {
		x->kind = sse_op_0f(op, pfx, &x->aligned, &x->imm);
	} else if (map == 2 && pfx == PFX_66) {
		/* PSHUFB ... PMULHRSW, PABS*; SSE4.1 PMULDQ, PCMPEQQ,
		 * PACKUSDW, PMIN/PMAX*, PMULLD (not the blends through XMM0) */
		if (((op <= 0x0b || (op >= 0x1c && op <= 0x1e)) && host_ssse3) ||
		    ((op == 0x28 || op == 0x29 || op == 0x2b || (op >= 0x38 && op <= 0x40)) &&
		     host_sse41))
			x->kind = SSE_OP, x->aligned = true, x->imm = false;
	} else if (map == 3 && pfx == PFX_66) {
		/* PALIGNR; SSE4.1 BLENDPS/PD, PBLENDW */
		if ((op == 0x0f && host_ssse3) || (op >= 0x0c && op <= 0x0e && host_sse41))
			x->kind = SSE_OP, x->aligned = true, x->imm = true;
		/* PCMPISTRI, PCMPESTRI with 32-bit lengths (no alignment) */
		if ((op == 0x63 || (op == 0x61 && !(in->rex & 8))) && host_sse42)
			x->kind = SSE_STRI, x->aligned = false, x->imm = true;
	}
	switch (x->kind) {
	case SSE_NONE:
		return false;
	case SSE_SHIFT_IMM: {
		unsigned ext = in->reg & 7;

		if (in->has_mem || !(ext == 2 || ext == 4 || ext == 6 ||
				     (op == 0x73 && (ext == 3 || ext == 7))) ||
		    (ext == 4 && op == 0x73))
			return false;
		break;
	}
	case SSE_MOVMSK:
		if (in->has_mem)
			return false;
		break;
	case SSE_STORE:  /* MOVNTDQ, MOVNTPS: memory only */
		if (!in->has_mem && (op == 0xe7 || op == 0x2b))
			return false;
		break;
	case SSE_LOAD:
		if (!in->has_mem && op == 0xf0)
			return false;
		break;
	default:
		break;
	}
	x->prefix = prefix_byte[pfx];
	x->size = 16;
	if (x->kind == SSE_TO_XMM || x->kind == SSE_FROM_XMM)
		x->size = op == 0x7e && pfx == PFX_F3 ? 8 : op == 0xd6 ? 8 : (in->rex & 8) ? 8 : 4;
	if (x->kind == SSE_TO_XMM || x->kind == SSE_FROM_XMM)
		x->aligned = false;
	return true;
}

static int32_t xmm_field(unsigned r)
{
	return F(xmm) + (int32_t)(r * sizeof(union xmm));
}

/* Host XMMx = the 16-byte r/m operand: the memory at host address T0
 * (emit_operand_host's) or the XMM register. */
static void xmm_from_rm(struct jit_emit *e, const struct insn *in, unsigned x)
{
	if (in->has_mem)
		jit_emit_xmm_load_ind(e, x, 16);
	else
		jit_emit_xmm_load(e, x, xmm_field(in->rm));
}

/* The instruction's code; the returned branch (or NULL for a register
 * form) leads to its handler. */
static jit_fixup emit_sse(struct jit_emit *e, const struct jit_tlb_layout *l,
			  const struct insn *in, int64_t end, const struct sse *x,
			  struct flag_state *fs, struct seg_checks *sc)
{
	bool write = x->kind == SSE_STORE || (x->kind == SSE_FROM_XMM && in->has_mem);
	uint8_t align = in->has_mem && x->aligned ? 15 : 0;
	jit_fixup slow = NULL;
	int imm = x->imm ? (int)(uint8_t)in->imm : -1;

	if (in->has_mem)
		slow = emit_operand_host(e, l, in, end, x->size, write, align, sc);
	switch (x->kind) {
	case SSE_OP:
		xmm_from_rm(e, in, 1);
		jit_emit_xmm_load(e, 0, xmm_field(in->reg));
		jit_emit_sse(e, x->prefix, in->op, 0xc1, imm);  /* op xmm0, xmm1 */
		jit_emit_xmm_store(e, 0, xmm_field(in->reg));
		break;
	case SSE_SHIFT_IMM:
		jit_emit_xmm_load(e, 0, xmm_field(in->rm));
		jit_emit_sse(e, x->prefix, in->op, (uint8_t)(0xc0 | (in->reg & 7) << 3), imm);
		jit_emit_xmm_store(e, 0, xmm_field(in->rm));
		break;
	case SSE_LOAD:
		xmm_from_rm(e, in, 0);
		jit_emit_xmm_store(e, 0, xmm_field(in->reg));
		break;
	case SSE_STORE:
		jit_emit_xmm_load(e, 0, xmm_field(in->reg));
		if (in->has_mem)
			jit_emit_xmm_store_ind(e, 0, 16);
		else
			jit_emit_xmm_store(e, 0, xmm_field(in->rm));
		break;
	case SSE_MOVMSK:
		jit_emit_xmm_load(e, 0, xmm_field(in->rm));
		jit_emit_sse(e, 0x66, 0x1d7, 0xc0, -1);  /* pmovmskb eax, xmm0 */
		jit_emit_store(e, JIT_T0, gpr_field(in->reg), 8);
		break;
	case SSE_TO_XMM:
		if (in->has_mem) {
			jit_emit_xmm_load_ind(e, 0, x->size);
		} else if (in->op == 0x16e) {
			jit_emit_load(e, JIT_T0, gpr_field(in->rm), x->size);
			jit_emit_t0_to_xmm0(e, x->size);
		} else {                              /* MOVQ xmm, xmm */
			jit_emit_xmm_load(e, 0, xmm_field(in->rm));
			jit_emit_sse(e, 0xf3, 0x17e, 0xc0, -1);  /* movq xmm0, xmm0 */
		}
		jit_emit_xmm_store(e, 0, xmm_field(in->reg));
		break;
	case SSE_FROM_XMM:
		jit_emit_xmm_load(e, 0, xmm_field(in->reg));
		if (in->has_mem) {
			jit_emit_xmm_store_ind(e, 0, x->size);
		} else if (in->op == 0x17e) {         /* MOVD/MOVQ r, xmm: zero-extended */
			jit_emit_xmm0_to_t0(e, x->size);
			jit_emit_store(e, JIT_T0, gpr_field(in->rm), 8);
		} else {                              /* MOVQ xmm, xmm (D6) */
			jit_emit_sse(e, 0xf3, 0x17e, 0xc0, -1);  /* movq xmm0, xmm0 */
			jit_emit_xmm_store(e, 0, xmm_field(in->rm));
		}
		break;
	case SSE_STRI:
		xmm_from_rm(e, in, 1);
		jit_emit_xmm_load(e, 0, xmm_field(in->reg));
		if (in->op == 0x361) {  /* the lengths */
			jit_emit_load(e, JIT_T0, gpr_field(GPR_RAX), 4);
			jit_emit_load(e, JIT_T1, gpr_field(GPR_RDX), 4);
		}
		jit_emit_sse(e, 0x66, in->op, 0xc1, imm);  /* pcmp?stri xmm0, xmm1 */
		jit_emit_store_ecx(e, gpr_field(GPR_RCX));
		jit_emit_flags_to_rflags(e, F(s.rflags));
		jit_emit_store_imm(e, F(cc_op), sizeof(((struct emu_cpu *)0)->cc_op), CC_EAGER);
		fs->op = CC_EAGER;
		fs->eager = true;
		fs->host = HOST_ALL;
		break;
	case SSE_NONE:
		break;
	}
	return slow;
}

/* A native Jcc's taken path, emitted after the block's code. */
struct taken_stub {
	jit_fixup f;
	unsigned count;
	int64_t rel;               /* the target */
	int64_t end;               /* the fall-through (RIP for the handler) */
	int64_t off;               /* the Jcc itself */
	const struct insn *in;
	bool record;               /* the CMP/TEST before: its record first */
	struct nat rec;
	enum cc_op op;             /* the record's kind there, if known */
	struct jit_regs regs;      /* what the scratch registers hold there */
};

/*
 * After the handler of in, an instruction without a fast handler after
 * which the block goes on (count: the instructions run with it): on
 * unless the write hit cached code, a device shut the machine down, or
 * RIP moved elsewhere (a CALL or JMP rel chained to its static target,
 * through a register or memory the jump cache; a string operation not
 * done: back to C), or POPF set TF or RF (debug.c steps).  Returns the
 * new count of stubs.
 */
static unsigned exits_after_call(struct jit_emit *e, const struct jit_tb *tb,
				 const struct insn *in, unsigned count, int64_t end, int64_t next,
				 struct exit_stub *stubs, unsigned ns)
{
	bool direct = static_target(tb, in);
	bool jump = in->op == 0xff || direct;

	stubs[ns++] = (struct exit_stub){ jit_emit_branch_ptr_null(e, F(blk)), count, false, 0 };
	stubs[ns++] = (struct exit_stub){ jit_emit_branch_byte_set(e, F(shutdown)), count, false, 0 };
	stubs[ns++] = (struct exit_stub){
		jit_emit_branch_rip_ne(e, F(s.rip), next), count, jump,
		direct ? end + (int64_t)in->imm : NOT_IN_PAGE };
	if (in->op == 0x9d)
		stubs[ns++] = (struct exit_stub){
			jit_emit_branch_byte_set(e, F(debug_active)), count, false, 0 };
	return ns;
}

static void emu_jit_cross(struct emu_cpu *c, const struct jit_tb *tb);

/*
 * The start of the first instruction's code, as the block's jumps back
 * to its start reach it (struct jit_loop): after a register INC/DEC's
 * CF save (there the record may be any; a back edge leaving an INC/DEC
 * record has CF in cc_carry already and skips it), the loads of the
 * guest registers the back edges hold (second pass).
 */
static void emit_loop_head(struct emu_jit *j, struct jit_emit *e, const struct jit_tb *tb,
			   struct flag_state *fs)
{
	struct jit_loop *l = &j->loop;
	const struct insn *in = &tb->in[0];
	struct nat n;

	l->head_after_cf = !in->has_mem && pick_native(tb, in, &n) && n.kind == NAT_INCDEC &&
			   !flags_dead_after(tb, 0) &&
			   !(tb->n == 1 && tb->cross_pa != JIT_NO_CROSS);
	if (l->head_after_cf) {
		emit_keep_cf(e, fs);
		fs->op = CC_INC;  /* CF in cc_carry, as after INC: no second save */
	}
	l->preload = jit_emit_rx(e);
	if (l->second_pass) {
		jit_emit_regs_load(e, l->want);
		l->head = jit_emit_rx(e);
	}
}

/* Emit tb's code; false if the cache had no room. */
static bool emit_tb(struct emu_cpu *c, struct emu_jit *j, struct jit_tb *tb)
{
	struct exit_stub stubs[BLOCK_MAX * 4];
	struct taken_stub taken[BLOCK_MAX];
	struct slow_stub slows[BLOCK_MAX];
	struct landing landings[BLOCK_MAX];
	struct jit_tlb_layout tlb = tlb_layout(c);
	unsigned nslow = 0, nland = 0;
	struct flag_state fs = { CC_EAGER, 0, HOST_NONE, HOST_NONE, false };
	struct seg_checks sc = { 0, 0, c->code_size == 8 ? 0 : flat_segments(c) };
	bool deferred = false;   /* the instruction before skipped its record */
	struct nat pending;      /* ... which it is */
	struct pending_record pend = { .on = false };  /* record_slow: an earlier one's */
	unsigned pend_until = 0;  /* ... needed on slow paths up to this instruction */
	unsigned ns = 0, nt = 0, i;
	bool rip_stale = false;  /* c->s.rip not stored since native code */
	bool sse_checked = false;  /* CR0/CR4 looked at for native SSE */
	struct sse sse;
	int64_t off = 0, next;
	struct jit_emit e;
	jit_fixup body;
	const uint8_t *entry, *entry_fail;

	jit_emit_init(&e, j->cc.rw + j->cc.used, j->cc.rw + j->cc.size, j->cc.rx - j->cc.rw);
	entry = jit_emit_rx(&e);
	body = jit_emit_entry(&e, &tlb, c->evm->page_gen);
	entry_fail = jit_emit_rx(&e);
	jit_emit_entry_fail(&e, &chain_fields, j->epilogue);
	tb->chain_entry = jit_emit_rx(&e);
	jit_emit_chain_entry(&e, JIT_BUDGET, c->evm->page_gen, tb->gen_ptr, tb->gen, entry_fail);
	if (tb->code_size != 8)
		jit_emit_exit_if_rip_above(&e, tb->end_off, F(jit_rip_limit), entry_fail);
	jit_emit_bind(&e, body);
	tb->body = jit_emit_rx(&e);
	j->loop.preload = j->loop.head = NULL;
	for (i = 0; i < tb->n; i++) {
		const struct insn *in = &tb->in[i];
		int64_t end = off + in->len;

		struct nat n;
		enum mem_kind mk;
		unsigned until;

		if (i == 0)
			emit_loop_head(j, &e, tb, &fs);
		next = emu_walk_next(in, end);  /* relative: the fold's offset */
		fs.host_prev = fs.host;
		fs.host = HOST_NONE;
		if (deferred && !jcc_native(tb, in, end)) {
			/* (record_if_taken promised this Jcc) */
			emit_record_again(&e, &pending);
			fs.op = pending.cc;
			fs.size = pending.size;
			fs.host_prev = HOST_NONE;
			deferred = false;
		}
		if (i + 1 == tb->n && tb->cross_pa != JIT_NO_CROSS) {
			/* spans into the next page (add_crossing): RIP goes
			 * on past it unless the interpreter took over (c->blk
			 * NULL), as after any handler */
			jit_emit_store_rip(&e, F(insn_rip), off);
			jit_emit_store_rip(&e, F(s.rip), end);
			rip_stale = false;
			jit_emit_call(&e, (const void *)emu_jit_cross, tb);
			if (!in->fast && !continues_after(in)) {
				jit_emit_exit(&e, i + 1, F(jit_chain_from), j->epilogue);
				break;
			}
			ns = exits_after_call(&e, tb, in, i + 1, end, next, stubs, ns);
			goto next_insn;
		}
		if (emu_fast_is_nop(in)) {
			/* no code: the block's count has it, and the host's
			 * flags are as the instruction before left them */
			fs.host = fs.host_prev;
			goto next_insn;
		}
		if ((mk = pick_mem(tb, in)) != MEM_NONE) {
			bool leave = mk == MEM_RET || mk == MEM_JMP || (mk == MEM_CALL && !in->folded);
			bool indirect = in->op == 0xff;
			jit_fixup f, f2 = NULL;
			struct flag_state slow_fs;  /* the flags its slow path leaves */

			if (mk == MEM_CALL && indirect) {
				/* RIP = the register's target, #GP before
				 * the push (the slow path sets RIP again) */
				jit_emit_load(&e, JIT_T0, gpr_field(in->rm), 8);
				f2 = jit_emit_branch_noncanonical(&e);
				jit_emit_store(&e, JIT_T0, F(s.rip), 8);
			} else if (leave && mk == MEM_CALL) {  /* #GP before the push */
				f2 = emit_target_check(&e, tb, end + (int64_t)in->imm);
			}
			if (mk == MEM_CALL && chainable(tb, end))
				landings[nland++] = (struct landing){
					jit_emit_ret_push(&e, &rs_fields, end), end };
			f = emit_mem(&e, tb, &tlb, mk, in, end, &fs, &slow_fs, &sc);

			if (mk == MEM_RET) {
				/* as the handlers: #GP for a non-canonical
				 * target or one past the CS limit before RSP
				 * moves; then through the jump cache (RET
				 * always ends its block) */
				f2 = tb->code_size == 8 ? jit_emit_branch_noncanonical(&e)
							: jit_emit_branch_t0_ge(&e, F(jit_rip_limit));
				jit_emit_store(&e, JIT_T0, F(s.rip), 8);
				emit_step_sp(&e, (int)stack_width(tb));
				jit_emit_ret_pop(&e, &rs_fields, F(s.rip), i + 1,
						 j->jc_lookup[jc_index(tb->code_size)]);
			} else if (mk == MEM_JMP) {
				f2 = jit_emit_branch_noncanonical(&e);
				jit_emit_store(&e, JIT_T0, F(s.rip), 8);
				emit_exit(j, &e, tb, i + 1, true, NOT_IN_PAGE, CC_EAGER);
			} else if (leave && indirect) {
				emit_exit(j, &e, tb, i + 1, true, NOT_IN_PAGE, CC_EAGER);
			} else if (leave) {     /* a CALL out of the page */
				emit_exit_to(j, &e, tb, i + 1, end + (int64_t)in->imm, CC_EAGER);
			}
			slows[nslow++] = (struct slow_stub){ f, f2, leave, jit_emit_label(&e), in, off,
							     end, i + 1, NULL, slow_fs, sc.added, pend };
			if (leave)
				break;
			rip_stale = true;
			goto next_insn;
		}
		if (tb->code_size == 8 && in->fast && in->op == 0xff && (in->reg & 7) == 4 &&
		    !in->has_mem) {
			/* JMP through a register: on to the jump cache */
			jit_fixup f;

			jit_emit_load(&e, JIT_T0, gpr_field(in->rm), 8);
			f = jit_emit_branch_noncanonical(&e);
			jit_emit_store(&e, JIT_T0, F(s.rip), 8);
			emit_exit(j, &e, tb, i + 1, true, NOT_IN_PAGE, CC_EAGER);
			slows[nslow++] = (struct slow_stub){ f, NULL, true, jit_emit_label(&e), in, off, end,
							     i + 1, NULL, { .op = CC_EAGER }, 0,
							     { .on = false } };
			break;
		}
		if (pick_lea(in)) {
			emit_lea(&e, in, end);
			rip_stale = true;
			goto next_insn;
		}
		if (in->folded && in->op != 0xe8) {
			/* a JMP the block goes on after: nothing to do */
			rip_stale = true;
			goto next_insn;
		}
		if (in->op >= 0x190 && in->op <= 0x19f && in->fast && !in->has_mem &&
		    emit_flags(&e, &fs, in->op & 15)) {
			/* SETcc of a register (AH-BH without REX) */
			struct nat b = { .size = 1, .legacy8 = !in->rex };

			jit_emit_setcc(&e, in->op & 15);
			jit_emit_store(&e, JIT_T0, reg_field(&b, in->rm), 1);
			rip_stale = true;
			goto next_insn;
		}
		if (pick_native(tb, in, &n) && n.kind == NAT_CMOV) {
			if (emit_flags(&e, &fs, in->op & 15)) {
				jit_emit_load(&e, JIT_T0, gpr_field(n.dst), n.size);
				jit_emit_load(&e, JIT_T1, gpr_field(n.src), n.size);
				jit_emit_cmov(&e, in->op & 15, n.size);
				jit_emit_store(&e, JIT_T0, gpr_field(n.dst), store_size(&n));
				rip_stale = true;
				goto next_insn;
			}
		} else if (pick_native(tb, in, &n) &&
			   (n.kind != NAT_ROT || flags_dead_after(tb, i) ||
			    emit_keep_af(&e, &fs, false)) &&
			   (!n.carry_in || emit_guest_cf(&e, &fs, false))) {
			n.flags_dead = flags_dead_after(tb, i);
			n.record_taken = !n.flags_dead && record_if_taken(tb, i, &n, next);
			n.cf_only = !n.flags_dead && !n.record_taken && n.kind == NAT_ALU &&
				    !n.carry_in && only_cf_read_after(tb, i);
			until = record_slow_until(tb, i, &n);
			n.record_slow = until != 0;
			if (n.record_slow) {
				pend = (struct pending_record){
					true, fs.host_prev != HOST_ALL && fs.op != CC_INC &&
					fs.op != CC_DEC, fs, n };
				pend_until = until;
			}
			emit_native(&e, &n, &fs, PRE_NONE);
			if (n.record_slow)
				goto next_insn_keep_pending;
			if (n.record_taken) {
				deferred = true;
				pending = n;
			}
			rip_stale = true;
			goto next_insn;
		}
		if (direct_jump_out(tb, in)) {
			/* RIP = the target, then the jump cache; the handler
			 * raises #GP for a non-canonical one */
			jit_fixup f = emit_target_check(&e, tb, end + (int64_t)in->imm);

			emit_exit_to(j, &e, tb, i + 1, end + (int64_t)in->imm, CC_EAGER);
			slows[nslow++] = (struct slow_stub){ f, NULL, true, jit_emit_label(&e), in, off, end,
							     i + 1, NULL, { .op = CC_EAGER }, 0,
							     { .on = false } };
			break;
		}
		if (jcc_native(tb, in, end) && emit_flags(&e, &fs, in->op & 15)) {
			taken[nt] = (struct taken_stub){
				jit_emit_branch_cc(&e, in->op & 15), i + 1,
				end + (int64_t)in->imm, end, off, in, deferred, pending,
				deferred ? pending.cc : fs.op, { .valid = false } };
			jit_emit_regs_save(&e, &taken[nt++].regs);
			deferred = false;
			rip_stale = true;
			goto next_insn;
		}
		if (pick_sse(tb, in, &sse)) {
			jit_fixup checks[2] = { NULL, NULL };

			if (!sse_checked) {
				/* #UD, #NM: CR0 and CR4 change only where
				 * a block ends */
				checks[0] = jit_emit_branch_bits(&e, F(s.cr0), CR0_EM | CR0_TS, false);
				checks[1] = jit_emit_branch_bits(&e, F(s.cr4), CR4_OSFXSR, true);
				sse_checked = true;
			}
			jit_fixup f = emit_sse(&e, &tlb, in, end, &sse, &fs, &sc);
			if (f || checks[0])
				slows[nslow++] = (struct slow_stub){ f, checks[0], false, jit_emit_label(&e), in,
								     off, end, i + 1, checks[1], fs,
								     sc.added, { .on = false } };
			rip_stale = true;
			goto next_insn;
		}
		jit_emit_store_rip(&e, F(insn_rip), off);
		jit_emit_store_rip(&e, F(s.rip), end);
		rip_stale = false;
		if (!keeps_flags(in)) {
			fs.op = CC_EAGER;
			fs.eager = false;
		}
		if (!in->fast) {
			jit_emit_call(&e, (const void *)emu_exec_general, in);
			if (!continues_after(in)) {
				jit_emit_exit(&e, i + 1, F(jit_chain_from), j->epilogue);
				break;
			}
			ns = exits_after_call(&e, tb, in, i + 1, end, next, stubs, ns);
			goto next_insn;
		}
		jit_emit_call(&e, (const void *)emu_fast_handlers[in->fast], in);
		if (may_write(in)) {
			stubs[ns++] = (struct exit_stub){
				jit_emit_branch_ptr_null(&e, F(blk)), i + 1, false, 0 };
			stubs[ns++] = (struct exit_stub){
				jit_emit_branch_byte_set(&e, F(shutdown)), i + 1, false, 0 };
		}
		if (may_branch(in)) {
			/* a static target is chained; others are found in
			 * the jump cache */
			int64_t rel = static_target(tb, in) ? end + (int64_t)in->imm : NOT_IN_PAGE;

			stubs[ns++] = (struct exit_stub){
				jit_emit_branch_rip_ne(&e, F(s.rip), next), i + 1, true, rel };
		}
next_insn:
		if (i >= pend_until)
			pend.on = false;  /* replaced: no slow path needs it */
next_insn_keep_pending:
		sc.done |= sc.added;
		sc.added = 0;
		if (i + 1 == tb->n) {
			if (rip_stale)
				emit_exit_to(j, &e, tb, i + 1, next, fs.op);
			else
				emit_exit(j, &e, tb, i + 1, true, next, fs.op);
		}
		off = next;
	}
	for (i = 0; i < ns; i++) {
		jit_emit_bind(&e, stubs[i].f);
		/* the plain exits of one instruction (its write hit code, a
		 * device shut down) share their code */
		while (i + 1 < ns && !stubs[i].chain && !stubs[i + 1].chain &&
		       stubs[i + 1].count == stubs[i].count)
			jit_emit_bind(&e, stubs[++i].f);
		emit_exit(j, &e, tb, stubs[i].count, stubs[i].chain, stubs[i].rel, CC_EAGER);
	}
	for (i = 0; i < nslow; i++) {
		const struct slow_stub *t = &slows[i];
		jit_fixup gone, down;

		/* the handler does it all (page walk, MMIO, code pages,
		 * faults); then on after the instruction unless the write
		 * hit cached code or a device shut the machine down */
		jit_emit_bind(&e, t->f);
		jit_emit_bind(&e, t->f2);
		jit_emit_bind(&e, t->f3);
		emit_pending_record(&e, &t->pend);
		jit_emit_store_rip(&e, F(insn_rip), t->off);
		jit_emit_store_rip(&e, F(s.rip), t->end);
		jit_emit_call(&e, t->in->fast ? (const void *)emu_fast_handlers[t->in->fast]
					      : (const void *)emu_exec_general, t->in);
		if (t->leave) {
			emit_exit(j, &e, tb, t->count, true, NOT_IN_PAGE, CC_EAGER);
			continue;
		}
		gone = jit_emit_branch_ptr_null(&e, F(blk));
		down = jit_emit_branch_byte_set(&e, F(shutdown));
		for (int seg = 0; seg < NUM_SEGS; seg++) {
			if (t->recheck & 1u << seg) {
				const struct jit_seg_layout sl = seg_layout(seg, sc.flat);

				gone = jit_fixup_join(gone, jit_emit_seg_usable(&e, &sl));
			}
		}
		if (t->recheck & SEG_CHECK_SS_B)
			gone = jit_fixup_join(gone, jit_emit_branch_byte_clear(&e, seg_field(SEG_SS, db)));
		if (t->fs.host != HOST_NONE) {
			/* the handler's record, in the host's flags */
			struct flag_state rebuild = t->fs;

			rebuild.host_prev = HOST_NONE;
			emit_flags(&e, &rebuild, 0);
		}
		jit_emit_jump_to(&e, t->resume);
		jit_emit_bind(&e, gone);
		jit_emit_bind(&e, down);
		jit_emit_exit(&e, t->count, F(jit_chain_from), j->epilogue);
	}
	for (i = 0; i < nland; i++) {
		/* on at the return address, chained as any exit in the page */
		jit_emit_bind(&e, landings[i].f);
		set_site_data(jit_emit_landing(&e, &chain_fields, CHAIN_DATA, j->epilogue),
			      pa_in_page(tb, landings[i].rel), tb->code_size);
	}
	for (i = 0; i < nt; i++) {
		const struct taken_stub *t = &taken[i];
		jit_fixup slow = NULL;

		jit_emit_bind(&e, t->f);
		jit_emit_regs_resume(&e, &t->regs);
		if (t->record)
			emit_record_again(&e, &t->rec);
		/* outside 64-bit code a target past the CS limit (or at the IP
		 * wrap) is the handler's business: #GP; so is a non-canonical
		 * one in another page in 64-bit code.  The block's own code
		 * was checked on the way in. */
		if (tb->code_size != 8 && !(t->rel >= 0 && t->rel < tb->end_off))
			slow = jit_emit_branch_rip_ge(&e, t->rel, F(jit_rip_limit));
		else if (!chainable(tb, t->rel))
			slow = emit_target_check(&e, tb, t->rel);
		emit_exit_to(j, &e, tb, t->count, t->rel, t->op);
		if (slow) {
			jit_emit_bind(&e, slow);
			jit_emit_store_rip(&e, F(insn_rip), t->off);
			jit_emit_store_rip(&e, F(s.rip), t->end);
			jit_emit_call(&e, (const void *)emu_fast_handlers[t->in->fast], t->in);
			jit_emit_exit(&e, t->count, F(jit_chain_from), j->epilogue);
		}
	}
	if (e.overflow)
		return false;
	tb->entry = (unsigned (*)(struct emu_cpu *, uint64_t))entry;
	j->code_bytes += (e.p - j->cc.rw) - j->cc.used;
	j->cc.used = e.p - j->cc.rw;
	return true;
}

/*
 * The decode cache ends a block before an instruction that spans into
 * the next page (its bytes there are another page's); the translator
 * takes it as the block's last, run by emu_jit_cross, rather than leave
 * the block for C to decode it each time.  Only if the block falls
 * through to it and the next page can be fetched now; that page is
 * marked as code first, so that a write to it from now on changes its
 * generation.
 */
static void add_crossing(struct emu_cpu *c, struct jit_tb *tb)
{
	struct emu_vm *evm = c->evm;
	const struct insn *last = &tb->in[tb->n - 1];
	unsigned page_off = (unsigned)(tb->pa & 0xfff) + tb->end_off;
	uint64_t rip = c->insn_rip + tb->end_off, lin, pa2;
	uint8_t bytes[15];
	struct insn in;
	uint32_t gen2;

	if (tb->n >= BLOCK_MAX || page_off >= 4096 || 4096 - page_off >= sizeof(bytes) ||
	    last->folded || emu_ends_block(last) || (may_branch(last) && !is_jcc(last)) ||
	    !(last->fast || continues_after(last)))
		return;
	lin = tb->code_size == 8 ? rip : (c->s.seg[SEG_CS].base + rip) & 0xffffffffULL;
	if (!emu_probe_code(c, (lin | 0xfff) + 1, &pa2) || (pa2 >> 12) >= evm->npages)
		return;
	__atomic_or_fetch(&evm->code_page[pa2 >> 12], EMU_PAGE_CODE, __ATOMIC_ACQ_REL);
	gen2 = __atomic_load_n(&evm->page_gen[pa2 >> 12], __ATOMIC_ACQUIRE);
	if (emu_peek_code(c, rip, bytes, sizeof(bytes)) != sizeof(bytes) ||
	    emu_decode(c, bytes, sizeof(bytes), &in) || in.len <= 4096 - page_off)
		return;
	tb->in[tb->n++] = in;
	tb->last_off = tb->end_off;
	tb->end_off += in.len;
	tb->cross_pa = pa2 & ~0xfffULL;
	tb->cross_gen = gen2;
}

/* Translated code's call for a block's last instruction that spans two
 * pages (add_crossing): its handler if the next page is still the one
 * it was decoded from, with the same bytes; else the interpreter
 * decodes it afresh and runs it, and c->blk = NULL ends the block. */
static void emu_jit_cross(struct emu_cpu *c, const struct jit_tb *tb)
{
	const struct insn *in = &tb->in[tb->n - 1];
	uint64_t lin = tb->code_size == 8 ? c->insn_rip
					  : (c->s.seg[SEG_CS].base + c->insn_rip) & 0xffffffffULL;
	uint64_t pa2;

	if (emu_probe_code(c, (lin | 0xfff) + 1, &pa2) && (pa2 & ~0xfffULL) == tb->cross_pa &&
	    __atomic_load_n(&c->evm->page_gen[pa2 >> 12], __ATOMIC_ACQUIRE) == tb->cross_gen) {
		if (in->fast)
			emu_fast_handlers[in->fast](c, in);
		else
			emu_exec_general(c, in);
		return;
	}
	c->s.rip = c->insn_rip;
	c->blk = NULL;
	emu_step(c);
	c->icount--;    /* the block counts it */
	c->blk = NULL;
}

/* The block's metadata: its instructions up to the first without a fast
 * handler that ends it (or one more that spans into the next page), and
 * their extent for the entry checks outside 64-bit code. */
static void describe(struct emu_cpu *c, struct jit_tb *tb, const struct dblock *b)
{
	unsigned i, off = 0;

	tb->pa = b->pa;
	tb->gen = b->gen;
	tb->gen_ptr = &c->evm->page_gen[b->pa >> 12];
	tb->code_size = b->code_size;
	tb->cross_pa = JIT_NO_CROSS;
	for (i = 0; i < b->n; i++) {
		tb->in[i] = b->in[i];
		tb->last_off = off;
		off += b->in[i].len;
		if (!b->in[i].fast && !continues_after(&b->in[i])) {
			i++;
			break;
		}
	}
	tb->n = i;
	tb->end_off = off;
	if (i == b->n)
		add_crossing(c, tb);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A translation of b's code made before (the decode cache dropped the
 * block since): the same bytes (page generation) in the same mode. */
static struct jit_tb *find_translation(struct emu_jit *j, const struct dblock *b)
{
	struct jit_tb *tb;

	for (uint32_t k = j->tb_index[tb_slot(b->pa)], walked = 0; k && walked < TB_SLOT_WALK;
	     k = tb->next_in_slot, walked++) {
		tb = &j->tbs[k - 1];
		if (tb->pa == b->pa && tb->code_size == b->code_size && tb->gen == b->gen &&
		    *tb->gen_ptr == tb->gen)
			return tb;
	}
	return NULL;
}

/* Far chain exits stay patched to the block they reached, in another
 * page that may have been rewritten since: that block's entry fails its
 * generation check and goes back to C each time.  Older translations of
 * tb's code now jump to tb's entry (which checks tb's generation). */
static void redirect_stale(struct emu_jit *j, const struct jit_tb *tb, uint32_t k)
{
	for (unsigned walked = 0; k && walked < TB_SLOT_WALK; walked++) {
		struct jit_tb *old = &j->tbs[k - 1];

		if (old->pa == tb->pa && old->code_size == tb->code_size &&
		    *old->gen_ptr != old->gen)
			jit_patch_entry((uint8_t *)old->chain_entry - (j->cc.rx - j->cc.rw),
					j->cc.rx - j->cc.rw, tb->chain_entry);
		k = old->next_in_slot;
	}
}

/* b's translation: found again, or made now; NULL if it cannot be, or
 * (*not_yet) if b has not run often enough to be translated yet. */
static struct jit_tb *translate(struct emu_cpu *c, struct dblock *b, bool *not_yet)
{
	struct emu_jit *j = c->jit;
	struct jit_tb *tb = find_translation(j, b);
	uint32_t *index = &j->tb_index[tb_slot(b->pa)];
	uint64_t t0, code_bytes;
	size_t used;
	bool ok;

	*not_yet = false;
	if (tb) {
		j->found_again++;
		goto found;
	}
	if (b->jit_heat < j->hot_entries) {
		b->jit_heat++;
		*not_yet = true;
		return NULL;
	}
	t0 = now_ns();
	if (!j->epilogue || j->ntbs >= j->max_tbs ||
	    j->cc.size - j->cc.used < jit_emit_bound(BLOCK_MAX))
		flush(c);
	code_cache_populate(&j->cc, j->cc.used + jit_emit_bound(BLOCK_MAX));
	tb = &j->tbs[j->ntbs];
	describe(c, tb, b);
	used = j->cc.used;
	code_bytes = j->code_bytes;
	j->loop.second_pass = j->loop.back_edge = false;
	ok = emit_tb(c, j, tb);
	if (ok && j->loop.back_edge) {
		/* a loop: again, in its place, with its head holding what
		 * its back edges hold */
		j->cc.used = used;
		j->code_bytes = code_bytes;
		j->loop.second_pass = true;
		ok = emit_tb(c, j, tb);
	}
	if (!ok) {
		/* cannot happen with the bound above; never run partial code */
		flush(c);
		return NULL;
	}
	j->ntbs++;
	if (j->perf_map)
		fprintf(j->perf_map, "%lx %lx guest_%llx_pa_%llx_m%u\n",
			(unsigned long)(uintptr_t)tb->entry,
			(unsigned long)(j->cc.rx + j->cc.used - (const uint8_t *)(uintptr_t)tb->entry),
			(unsigned long long)c->insn_rip, (unsigned long long)b->pa, b->code_size);
	redirect_stale(j, tb, *index);
	tb->next_in_slot = *index;
	*index = j->ntbs;
	j->translated++;
	j->translate_ns += now_ns() - t0;
found:
	b->jit_entry = tb->entry;
	b->jit_chain_entry = tb->chain_entry;
	b->jit_end_off = tb->end_off;
	b->jit_last_off = tb->last_off;
	b->jit_epoch = j->cc.epoch;
	return tb;
}

static uint64_t jc_gen(const struct emu_cpu *c, uint64_t rip);

/* Point the exit that just returned at block b's translation, if that
 * is the block the exit names (for an exit to another page: the block
 * its target maps to now, under the TLB generation and CPL its guard
 * then checks). */
static void chain(struct emu_cpu *c, const struct dblock *b)
{
	struct emu_jit *j = c->jit;
	uint8_t *site = c->jit_chain_from;
	uint64_t pa;

	c->jit_chain_from = NULL;
	if (site < j->cc.rw || site + 5 + CHAIN_DATA > j->cc.rw + j->cc.used ||
	    c->jit_chain_rip != c->insn_rip)
		return;
	memcpy(&pa, site + 5, 8);
	if (site[5 + 8] != b->code_size)
		return;
	if (pa == FAR_SITE)
		jit_patch_far(site, CHAIN_DATA, j->cc.rx - j->cc.rw, jc_gen(c, c->insn_rip), c->cpl,
			      b->jit_chain_entry);
	else if (pa == b->pa)
		jit_patch_jump(site, j->cc.rx - j->cc.rw, b->jit_chain_entry);
}

/* The generation a jump cache entry for code at rip counts under: for
 * the upper half on a global page the global one (a CR3 write keeps that
 * mapping), else every flush's. */
static uint64_t jc_gen(const struct emu_cpu *c, uint64_t rip)
{
	const struct tlb_entry *e = &c->tlb[(rip >> 12) % TLB_ENTRIES];

	if ((rip >> 63) && e->vpage == rip >> 12 && (e->perms & TLB_GLOBAL))
		return c->tlb_gen_global;
	return c->tlb_gen;
}

/* Outside 64-bit code: the offset no instruction of a chained block may
 * reach, the lower of the CS limit + 1 and the IP wrap (the CS limit is
 * at most 4 GiB - 1, so lim + 1 does not wrap). */
static uint64_t rip_limit(const struct emu_cpu *c)
{
	uint64_t mask = emu_size_mask(c->code_size), lim = c->s.seg[SEG_CS].limit;

	return lim + 1 < mask ? lim + 1 : mask;
}

/* The key of return prediction entries pushed and popped from now until
 * translated code returns to C, which alone changes the TLB generation,
 * the code size, the CPL and the CS base (entries pushed under another
 * CS base are forgotten). */
static void set_return_key(struct emu_cpu *c)
{
	c->jit_rs_key = c->tlb_gen << 4 | jc_index(c->code_size) << 2 | c->cpl;
	if (c->code_size != 8 && (uint32_t)c->s.seg[SEG_CS].base != c->jit_rs_cs_base) {
		forget_returns(c);
		c->jit_rs_cs_base = (uint32_t)c->s.seg[SEG_CS].base;
	}
}

/* c->jit_seg_fast and c->jit_seg_flat, for the segments as they are now */
static void set_seg_fast(struct emu_cpu *c)
{
	uint8_t m = 0;

	for (int s = 0; s < NUM_SEGS; s++) {
		const struct segment *sg = &c->s.seg[s];

		if (!sg->unusable && sg->s && (sg->type & 0xe) == 2)
			m |= (uint8_t)(1u << s);
	}
	c->jit_seg_fast = m;
	c->jit_seg_flat = flat_segments(c);
}

/* Right before translated code runs: what it reads of the state that
 * only C changes (segments, TLB generation, mode, CPL). */
static void prepare_entry(struct emu_cpu *c)
{
	if (c->code_size != 8)
		set_seg_fast(c);
	set_return_key(c);
}

unsigned emu_jit_run(struct emu_cpu *c)
{
	struct emu_jit *j = c->jit;
	const struct insn *in;
	struct dblock *b;
	bool not_yet;
	unsigned n;

	c->insn_rip = c->s.rip;
	c->trace[c->trace_pos++ & 63] = c->insn_rip;
	c->blk = NULL;
	/* code the jump cache knows (no exit to patch): no decoding and no
	 * block lookup */
	if (!c->jit_chain_from) {
		struct jit_jc_entry *jc = &j->jc[jit_jc_slot(c->insn_rip, JIT_JC_SIZE - 1)];

		if (jc->rip == c->insn_rip && jc->mode == jit_jc_mode(c->cpl, c->code_size) &&
		    (jc->tlb_gen == c->tlb_gen || jc->tlb_gen == c->tlb_gen_global) &&
		    (c->code_size == 8 || jc->cs_base == (uint32_t)c->s.seg[SEG_CS].base)) {
			/* translated code watches c->blk only for going
			 * NULL (a write to code, a fault) */
			static const struct dblock no_block;

			if (c->code_size != 8)  /* the chain entry checks the block's end */
				c->jit_rip_limit = rip_limit(c);
			c->blk = &no_block;
			prepare_entry(c);
			n = j->enter_at(c, c->insn_rip, jc->chain_entry);
			c->blk = NULL;
			if (n) {
				c->icount += n;
				j->entries++;
				j->entries_jc++;
				j->entered_insns += n;
				return n;
			}
			/* its page was written since (or, outside 64-bit
			 * code, the block is not all inside CS): decode and
			 * look again */
			jc->rip = ~0ULL;
			c->jit_chain_from = NULL;
		}
	}
	in = emu_decode_cached(c);
	b = (struct dblock *)c->blk;  /* this vCPU's own decode cache */
	if (!b)
		goto interpret;
	/* the block's copies of its translation's entry data (b->jit_*) */
	if (b->jit_epoch != j->cc.epoch) {
		if (b->rewrites >= JIT_MAX_REWRITES) {
			/* the run loop walks it afresh in the interpreter,
			 * until its code has stayed put for a window (else
			 * code patched a few times in a row at boot, as
			 * Linux's jump labels are, would never be translated) */
			if (c->icount - b->decoded_at < EMU_REWRITE_WINDOW) {
				c->blk = NULL;
				c->jit_chain_from = NULL;
				return 0;
			}
			b->rewrites = 0;
		}
		if (!translate(c, b, &not_yet)) {
			if (!not_yet)
				goto interpret;
			/* the interpreter's block walk runs it */
			c->blk = NULL;
			c->jit_chain_from = NULL;
			return 0;
		}
	}
	if (c->code_size != 8) {
		if (c->insn_rip + b->jit_end_off > emu_size_mask(c->code_size) ||
		    c->insn_rip + b->jit_last_off > c->s.seg[SEG_CS].limit)
			goto interpret;
		c->jit_rip_limit = rip_limit(c);  /* for the blocks chained from here */
	}
	if (c->jit_chain_from)
		chain(c, b);
	{
		struct jit_jc_entry *jc = &j->jc[jit_jc_slot(c->insn_rip, JIT_JC_SIZE - 1)];

		jc->rip = c->insn_rip;
		jc->tlb_gen = jc_gen(c, c->insn_rip);
		jc->mode = jit_jc_mode(c->cpl, c->code_size);
		jc->cs_base = (uint32_t)c->s.seg[SEG_CS].base;
		jc->chain_entry = b->jit_chain_entry;
	}
	prepare_entry(c);
	n = b->jit_entry(c, c->insn_rip);
	c->blk = NULL;
	c->icount += n;
	j->entries++;
	j->entered_insns += n;
	return n;
interpret:
	j->interpreted++;
	c->jit_chain_from = NULL;
	emu_step_decoded(c, in);
	return 1;
}

#else

int emu_jit_create(struct emu_cpu *c)
{
	return -ENOSYS;
}

void emu_jit_destroy(struct emu_cpu *c)
{
}

unsigned emu_jit_run(struct emu_cpu *c)
{
	emu_step(c);
	return 1;
}

#endif

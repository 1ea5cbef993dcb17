/*
 * The translator: blocks of decoded guest instructions become host code.
 * This file emits a block's code around its instructions (exits, chains,
 * slow paths) and runs blocks; native.c, memory.c and sse.c emit the
 * instructions of their kinds (translate.h).
 *
 * Design (first milestone of issue 14):
 *
 * - Units.  A translated block (struct jit_tb) is one decoded block of the
 *   decode cache (decode_cache.c): the instructions decoded one after
 *   another from one guest-physical address in one mode, up to a transfer
 *   of control or BLOCK_MAX instructions, JMP/CALL folded within a page
 *   in 32- and 64-bit code (and a RET after a folded CALL, at the CALL's
 *   return address: translated code goes on there if RET popped it).  It is found through that block (struct dblock holds
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
 *   that one compare, and for a write that the page holds no decoded
 *   code and has no dirty-log watch (struct tlb_fast).  Anything else calls the
 *   instruction's handler out of line, which takes the slow path (page
 *   walk, MMIO, faults, code pages) exactly as the interpreter does.
 *   Accesses through one base register in 64-bit code share one lookup
 *   where they fall in one page (page_group.c).
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
#include "accel/emu/jit/translate.h"
#include "util/log.h"
#include "vm/vm.h"

#if defined(__x86_64__)

/* A vCPU's code cache (memfd pages, touched as used): a default-guest
 * boot emits about 165 MB of code; at 32 MB it flushed 20 times and
 * translated every hot block again after each, at 128 MB once. */
#define JIT_CODE_SIZE (128u << 20)
/* Blocks average well over 256 bytes of code. */
#define JIT_MAX_TBS (JIT_CODE_SIZE / 256)

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
	jit_host_ssse3 = __builtin_cpu_supports("ssse3");
	jit_host_sse41 = __builtin_cpu_supports("sse4.1");
	jit_host_sse42 = __builtin_cpu_supports("sse4.2");
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

bool is_jcc(const struct insn *in)
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
bool chainable(const struct jit_tb *tb, int64_t rel)
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
	bool predicted;            /* a folded RET: on only if it returned to */
	int64_t ret_to;            /* ... this offset */
};

/* A folded RET whose target was not its CALL's return address: out of
 * line, the RET's unfolded way (T0 the target). */
struct ret_miss {
	jit_fixup f;
	unsigned count;
	unsigned slow;             /* the RET's slow stub, for the #GP */
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
	struct ret_miss misses[BLOCK_MAX];
	struct page_use pu[BLOCK_MAX];
	struct {
		struct own_lookup own;
		unsigned insn, slow;
	} owns[BLOCK_MAX];
	struct jit_tlb_layout tlb = tlb_layout(c);
	unsigned nslow = 0, nland = 0, nmiss = 0, nown = 0;
	struct flag_state fs = { CC_EAGER, 0, HOST_NONE, HOST_NONE, false };
	struct seg_checks sc = { 0, 0, 0 };
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
	if (tb->code_size != 8)
		inline_segment_mask(c, &sc.flat);
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
	plan_page_groups(tb, pu);
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
			bool leave = (mk == MEM_RET && !in->folded) || mk == MEM_JMP ||
				     (mk == MEM_CALL && !in->folded);
			bool indirect = in->op == 0xff;
			jit_fixup f, f2 = NULL;
			struct flag_state slow_fs;  /* the flags its slow path leaves */
			struct own_lookup own;

			if (mk == MEM_CALL && indirect) {
				/* RIP = the register's target, #GP before
				 * the push (the slow path sets RIP again) */
				jit_emit_load(&e, JIT_T0, gpr_field(in->rm), 8);
				f2 = jit_emit_branch_noncanonical(&e);
				jit_emit_store(&e, JIT_T0, F(s.rip), 8);
			} else if (leave && mk == MEM_CALL) {  /* #GP before the push */
				f2 = emit_target_check(&e, tb, end + (int64_t)in->imm);
			}
			/* (a RET folded in the block needs no prediction) */
			if (mk == MEM_CALL && chainable(tb, end) && !(in->folded & FOLD_RET_IN_BLOCK))
				landings[nland++] = (struct landing){
					jit_emit_ret_push(&e, &rs_fields, end), end };
			f = emit_mem(&e, tb, &tlb, mk, in, end, &fs, &slow_fs, &sc, &pu[i], &own);
			if (own.f)
				owns[nown].own = own, owns[nown].insn = i, owns[nown++].slow = nslow;

			if (mk == MEM_RET && in->folded) {
				/* on at the CALL's return address if that is
				 * what it popped (no check needed: the CALL's
				 * target checks were made) */
				misses[nmiss++] = (struct ret_miss){
					jit_emit_branch_t0_ne_rip(&e, next), i + 1, nslow };
				emit_step_sp(&e, (int)stack_width(tb));
			} else if (mk == MEM_RET) {
				/* as the handlers: #GP for a target past the
				 * CS limit before RSP moves; then the return
				 * prediction, else #GP for a non-canonical
				 * target (a predicted one is not) and the jump
				 * cache (RET always ends its block) */
				if (tb->code_size != 8)
					f2 = jit_emit_branch_t0_ge(&e, F(jit_rip_limit));
				jit_emit_bind(&e, jit_emit_ret_pop(&e, &rs_fields, i + 1,
								   gpr_field(GPR_RSP),
								   stack_width(tb)));
				if (tb->code_size == 8)
					f2 = jit_emit_branch_noncanonical(&e);
				jit_emit_store(&e, JIT_T0, F(s.rip), 8);
				emit_step_sp(&e, (int)stack_width(tb));
				emit_exit(j, &e, tb, i + 1, true, NOT_IN_PAGE, CC_EAGER);
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
							     end, i + 1, NULL, slow_fs, sc.added, pend,
							     mk == MEM_RET && !leave, next };
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
							     { .on = false }, false, 0 };
			break;
		}
		if (pick_lea(in)) {
			emit_lea(&e, in, end);
			rip_stale = true;
			goto next_insn;
		}
		if (emu_folded_jmp(in)) {
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
			n.record_taken = !n.flags_dead &&
					 record_if_taken(tb, i, &n, next, &until);
			n.cf_only = !n.flags_dead && !n.record_taken && n.kind == NAT_ALU &&
				    !n.carry_in && only_cf_read_after(tb, i);
			if (!n.record_taken)
				until = record_slow_until(tb, i, &n);
			/* (a CMP/TEST's taken side stores it, the slow paths
			 * after the Jcc until its replacement too) */
			n.record_slow = until != 0;
			if (n.record_slow) {
				pend = (struct pending_record){
					true, fs.host_prev != HOST_ALL && fs.op != CC_INC &&
					fs.op != CC_DEC, fs, n };
				pend_until = until;
			}
			emit_native(&e, &n, &fs, PRE_NONE);
			if (n.record_taken) {
				deferred = true;
				pending = n;
			}
			rip_stale = true;
			if (n.record_slow)
				goto next_insn_keep_pending;
			goto next_insn;
		}
		if (direct_jump_out(tb, in)) {
			/* RIP = the target, then the jump cache; the handler
			 * raises #GP for a non-canonical one */
			jit_fixup f = emit_target_check(&e, tb, end + (int64_t)in->imm);

			emit_exit_to(j, &e, tb, i + 1, end + (int64_t)in->imm, CC_EAGER);
			slows[nslow++] = (struct slow_stub){ f, NULL, true, jit_emit_label(&e), in, off, end,
							     i + 1, NULL, { .op = CC_EAGER }, 0,
							     { .on = false }, false, 0 };
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
								     sc.added, { .on = false }, false, 0 };
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
	for (i = 0; i < nown; i++) {
		/* a page group's access looked up alone, then on as its fast
		 * path; the lookup's failure its slow path */
		const struct insn *in = &tb->in[owns[i].insn];
		const struct slow_stub *t = &slows[owns[i].slow];

		slows[owns[i].slow].f3 = jit_fixup_join(
			t->f3, emit_own_lookup(&e, tb, &tlb, pick_mem(tb, in), in, t->end,
					       &owns[i].own));
	}
	for (i = 0; i < nmiss; i++) {
		/* a folded RET that went elsewhere: as an unfolded one, but
		 * with no return prediction to pop (its CALL pushed none) */
		jit_emit_bind(&e, misses[i].f);
		slows[misses[i].slow].f2 = tb->code_size == 8 ?
			jit_emit_branch_noncanonical(&e) : jit_emit_branch_t0_ge(&e, F(jit_rip_limit));
		jit_emit_store(&e, JIT_T0, F(s.rip), 8);
		emit_step_sp(&e, (int)stack_width(tb));
		emit_exit(j, &e, tb, misses[i].count, true, NOT_IN_PAGE, CC_EAGER);
	}
	for (i = 0; i < nslow; i++) {
		const struct slow_stub *t = &slows[i];
		jit_fixup gone, down, elsewhere = NULL;

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
		if (t->predicted)
			elsewhere = jit_emit_branch_rip_ne(&e, F(s.rip), t->ret_to);
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
		if (elsewhere) {
			jit_emit_bind(&e, elsewhere);
			emit_exit(j, &e, tb, t->count, true, NOT_IN_PAGE, CC_EAGER);
		}
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

/* An instruction at off (from the block's start) of len bytes: in the
 * block's extent (64-bit code: offsets below the start count as 0, the
 * extent is not used there). */
static void add_extent(struct jit_tb *tb, int64_t off, unsigned len)
{
	if (off > (int64_t)tb->last_off)
		tb->last_off = (uint32_t)off;
	if (off + len > (int64_t)tb->end_off)
		tb->end_off = (uint32_t)(off + len);
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
static void add_crossing(struct emu_cpu *c, struct jit_tb *tb, int64_t walk_off)
{
	struct emu_vm *evm = c->evm;
	const struct insn *last = &tb->in[tb->n - 1];
	unsigned page_off = (unsigned)((int64_t)(tb->pa & 0xfff) + walk_off);
	uint64_t rip = c->insn_rip + walk_off, lin, pa2;
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
	/* (in the order emu_decode_cached takes) */
	gen2 = __atomic_load_n(&evm->page_gen[pa2 >> 12], __ATOMIC_ACQUIRE);
	emu_page_flags_set(c, pa2 >> 12, EMU_PAGE_CODE);
	if (emu_peek_code(c, rip, bytes, sizeof(bytes)) != sizeof(bytes) ||
	    emu_decode(c, bytes, sizeof(bytes), &in) || in.len <= 4096 - page_off)
		return;
	tb->in[tb->n++] = in;
	add_extent(tb, walk_off, in.len);
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
 * their extent for the entry checks outside 64-bit code (where folded
 * jumps only go forwards of the start: decode_cache.c). */
static void describe(struct emu_cpu *c, struct jit_tb *tb, const struct dblock *b)
{
	int64_t off = 0;   /* from the start, as the walk goes (folds too) */
	unsigned i;

	tb->pa = b->pa;
	tb->gen = b->gen;
	tb->gen_ptr = &c->evm->page_gen[b->pa >> 12];
	tb->code_size = b->code_size;
	tb->cross_pa = JIT_NO_CROSS;
	tb->last_off = tb->end_off = 0;
	for (i = 0; i < b->n; i++) {
		tb->in[i] = b->in[i];
		add_extent(tb, off, b->in[i].len);
		if (!b->in[i].fast && !continues_after(&b->in[i])) {
			i++;
			break;
		}
		off = emu_walk_next(&b->in[i], off + b->in[i].len);
	}
	tb->n = i;
	if (i == b->n)
		add_crossing(c, tb, off);
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
	c->jit_seg_fast = inline_segment_mask(c, &c->jit_seg_flat);
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

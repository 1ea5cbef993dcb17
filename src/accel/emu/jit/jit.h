/*
 * The translator: decoded blocks become host code that runs their
 * instructions back to back (translate.c has the design).
 */
#ifndef WIRT_ACCEL_EMU_JIT_JIT_H
#define WIRT_ACCEL_EMU_JIT_JIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "accel/emu/emu.h"
#include "accel/emu/jit/code_cache.h"
#include "accel/emu/jit/emit.h"

/* Guest instructions a chain of blocks runs at most before it goes back
 * to the run loop (interrupts, kicks): one batch of the run loop
 * (RUN_BATCH).  1024 cost Linux's crypto self-tests and md5sum about 5%
 * in returns to C; a few microseconds of delay for an interrupt. */
#define JIT_BUDGET 4096
/* A block whose code was rewritten this many times in a row, each soon
 * after the last (decode_cache.c), is left to the interpreter. */
#define JIT_MAX_REWRITES 4

/* A translated block: the decoded block it came from, copied (the
 * decode cache may reuse its slot while chained code still runs this). */
struct jit_tb {
	uint64_t pa;
	const uint32_t *gen_ptr;   /* its page's generation, and its value */
	uint32_t gen;
	uint8_t code_size;
	uint8_t n;
	uint32_t end_off;          /* outside 64-bit code: bytes from the first
				    * instruction's start to the furthest end
				    * of one (folded jumps go forwards there) */
	uint32_t last_off;         /* and to the furthest start of one */
	uint32_t next_in_slot;     /* 1 + the index of the translation
				    * before it in its tb_index slot, or 0 */
	unsigned (*entry)(struct emu_cpu *c, uint64_t start_rip);
	const uint8_t *chain_entry;  /* executable address */
	const uint8_t *body;  /* its first instruction's code (executable), after the checks */
	/* The last instruction spans into the next page: that page's
	 * physical address and generation when it was decoded (JIT_NO_CROSS:
	 * none does) */
	uint64_t cross_pa;
	uint32_t cross_gen;
	struct insn in[BLOCK_MAX];
};
#define JIT_NO_CROSS (~0ULL)

/* Jump cache entries (a power of two). */
#define JIT_JC_SIZE 32768

/* A block whose code jumps back to its own start is emitted twice: the
 * first pass finds what a back edge leaves in the scratch registers, the
 * second loads that at the loop's head, where the back edges then land
 * with the registers held (no reload through memory per iteration). */
struct jit_loop {
	bool second_pass;
	bool back_edge;               /* a jump to the start found want (first pass) */
	struct jit_mirror want[2];    /* per scratch register: a guest register */
	/* executable addresses in the block being emitted (NULL: none):
	 * where want is loaded, and right after (want held) */
	const uint8_t *preload, *head;
	bool head_after_cf;           /* both follow the first INC/DEC's CF
				       * save (a back edge with another record
				       * goes to the block's body) */
};

struct emu_jit {
	struct code_cache cc;
	struct jit_jc_entry *jc;   /* indirect exits, by RIP */
	const uint8_t *epilogue;   /* executable address */
	const uint8_t *jc_lookup[3];  /* for 16-, 32- and 64-bit code (jc_index) */
	/* C's way into a block found in the jump cache */
	unsigned (*enter_at)(struct emu_cpu *c, uint64_t start, const uint8_t *chain_entry);
	struct jit_tb *tbs;        /* metadata, flushed with the code */
	unsigned ntbs, max_tbs;
	/* by a hash of the physical address: 1 + the index of the latest
	 * translation there (0: none), the others chained through
	 * next_in_slot, so that a block the decode cache evicted and
	 * decodes again finds its code */
	uint32_t *tb_index;
	/* entries from C a block's code runs interpreted before it is
	 * translated (JIT_HOT_ENTRIES; tests that want every block
	 * translated set 0) */
	unsigned hot_entries;
	struct jit_loop loop;      /* emit_tb's, for the block it emits */
	/* statistics (wirt -v -v prints them when the vCPU goes) */
	uint64_t translated, found_again, flushes, code_bytes, translate_ns;
	uint64_t entries, entered_insns, interpreted;  /* runs from C */
	uint64_t entries_jc;       /* of those entries, found in the jump cache */
	/* WIRT_JIT_PERF_MAP=1: each translation's host code and guest
	 * address in /tmp/perf-PID.map, where perf report finds them */
	FILE *perf_map;
};

/* Per-vCPU set-up (before the sandbox) and tear-down. */
int emu_jit_create(struct emu_cpu *c);
void emu_jit_destroy(struct emu_cpu *c);
/* Run the block at CS:RIP (and those it chains to), or one instruction
 * through the interpreter where no block applies; returns how many
 * instructions ran, or 0 if the interpreter should run this block (not
 * run often enough yet, or its code is rewritten too often to
 * translate).  Faults unwind through
 * emu_raise as in the interpreter. */
unsigned emu_jit_run(struct emu_cpu *c);

#endif

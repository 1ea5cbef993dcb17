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

struct jit_emit {
	uint8_t *p;       /* next byte (writable view) */
	uint8_t *end;     /* first byte not ours */
	ptrdiff_t rx_delta;  /* executable address - writable address */
	bool overflow;
};

/* A forward branch not yet bound to its target: where its displacement is. */
typedef uint8_t *jit_fixup;

static inline void jit_emit_init(struct jit_emit *e, uint8_t *rw, uint8_t *end,
				 ptrdiff_t rx_delta)
{
	e->p = rw;
	e->end = end;
	e->rx_delta = rx_delta;
	e->overflow = false;
}

/* Host bytes a block of n guest instructions may need at most. */
size_t jit_emit_bound(unsigned n);

/* The exit all blocks share: restores the host registers and returns
 * the count. */
void jit_emit_epilogue(struct jit_emit *e);
/* A block's entry from C: saves registers, loads c, start and count 0,
 * then jumps to the body (bind the fixup there). */
jit_fixup jit_emit_entry(struct jit_emit *e);
/*
 * A block's entry from a chained predecessor (start and count are set):
 * back to C if count >= budget or if *gen_ptr no longer equals gen (the
 * guest wrote to the block's page).
 */
void jit_emit_chain_entry(struct jit_emit *e, unsigned budget, const uint32_t *gen_ptr,
			  uint32_t gen, const uint8_t *epilogue_rx);
/* Back to C if start + rel > c->field (unsigned). */
void jit_emit_exit_if_rip_above(struct jit_emit *e, int64_t rel, int32_t field,
				const uint8_t *epilogue_rx);

/* c->field = start + rel (a guest RIP). */
void jit_emit_store_rip(struct jit_emit *e, int32_t field, int64_t rel);
/* fn(c, arg). */
void jit_emit_call(struct jit_emit *e, const void *fn, const void *arg);
/* Branches to bind later: if c->field (a guest RIP) != start + rel, if
 * the pointer c->field is NULL, if the byte c->field is not 0. */
jit_fixup jit_emit_branch_rip_ne(struct jit_emit *e, int32_t field, int64_t rel);
jit_fixup jit_emit_branch_ptr_null(struct jit_emit *e, int32_t field);
jit_fixup jit_emit_branch_byte_set(struct jit_emit *e, int32_t field);
/* Bind a fixup to the current position. */
void jit_emit_bind(struct jit_emit *e, jit_fixup f);

/* Back to C after count more instructions; c->chain_field = NULL. */
void jit_emit_exit(struct jit_emit *e, unsigned count, int32_t chain_field,
		   const uint8_t *epilogue_rx);
/*
 * Leave after count more instructions for the block at start + rel:
 * start += rel, c->chain_field = the patch site (writable address),
 * c->rip_field = start; then a jump that goes back to C until
 * jit_patch_jump points it at the successor's chain entry.  Returns the
 * patch site.
 */
uint8_t *jit_emit_chain_exit(struct jit_emit *e, unsigned count, int64_t rel,
			     int32_t chain_field, int32_t rip_field,
			     const uint8_t *epilogue_rx);
/* Point the jump at site (writable address; rx_delta as in jit_emit) at
 * target (executable address). */
void jit_patch_jump(uint8_t *site, ptrdiff_t rx_delta, const uint8_t *target_rx);

static inline uint8_t *jit_emit_rx(const struct jit_emit *e)
{
	return e->p + e->rx_delta;
}

#endif

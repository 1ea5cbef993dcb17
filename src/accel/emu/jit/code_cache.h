/*
 * The translator's code cache: one memfd mapped twice, writable for the
 * emitter and executable for running, never both at once (code_cache.c).
 */
#ifndef WIRT_ACCEL_EMU_JIT_CODE_CACHE_H
#define WIRT_ACCEL_EMU_JIT_CODE_CACHE_H

#include <stddef.h>
#include <stdint.h>

struct code_cache {
	uint8_t *rw;      /* the emitter's view: read + write */
	uint8_t *rx;      /* the same pages: read + execute */
	size_t size;
	size_t used;      /* bytes handed out since the last flush */
	size_t populated; /* bytes whose pages both views have mapped */
	int fd;
	uint32_t epoch;   /* bumped by every flush: older code is gone */
};

/* 0 or a negative errno; the mappings are made here, before the sandbox. */
int code_cache_init(struct code_cache *cc, size_t size);
void code_cache_destroy(struct code_cache *cc);
/* Map the pages of the first end bytes in both views now, a chunk at a
 * time, instead of taking two page faults per page as code is written
 * and then run (a boot emits tens of megabytes). */
void code_cache_populate(struct code_cache *cc, size_t end);
/* Forget everything emitted (the caller drops its references). */
void code_cache_flush(struct code_cache *cc);

/* The executable address of a writable one, and back. */
static inline uint8_t *code_cache_rx(const struct code_cache *cc, const uint8_t *rw)
{
	return cc->rx + (rw - cc->rw);
}

static inline uint8_t *code_cache_rw(const struct code_cache *cc, const uint8_t *rx)
{
	return cc->rw + (rx - cc->rx);
}

#endif

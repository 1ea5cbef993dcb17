/*
 * The translator's code cache.
 *
 * Host code is written through one view and run through another of the
 * same memfd pages: no page is ever mapped writable and executable at
 * once (a guest that found a bug in the emitter still could not write
 * host code it then runs through the same address).  Both mappings are
 * made when the vCPU is created, before the seccomp sandbox, and never
 * changed afterwards: the cache has a fixed size and is flushed whole
 * when it is full.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/emu/jit/code_cache.h"

int code_cache_init(struct code_cache *cc, size_t size)
{
	int err;

	cc->fd = memfd_create("wirt-jit", MFD_CLOEXEC);
	if (cc->fd < 0)
		return -errno;
	if (ftruncate(cc->fd, size) < 0)
		goto fail;
	cc->rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, cc->fd, 0);
	if (cc->rw == MAP_FAILED)
		goto fail;
	cc->rx = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, cc->fd, 0);
	if (cc->rx == MAP_FAILED) {
		err = errno;
		munmap(cc->rw, size);
		errno = err;
		goto fail;
	}
	cc->size = size;
	cc->used = 0;
	cc->populated = 0;
	cc->epoch = 1;
	return 0;
fail:
	err = -errno;
	close(cc->fd);
	cc->fd = -1;
	return err;
}

void code_cache_destroy(struct code_cache *cc)
{
	if (cc->fd < 0)
		return;
	munmap(cc->rw, cc->size);
	munmap(cc->rx, cc->size);
	close(cc->fd);
	cc->fd = -1;
}

/* Populated ahead of use by this much: a few hundred blocks. */
#define POPULATE_CHUNK (1u << 20)

void code_cache_populate(struct code_cache *cc, size_t end)
{
	while (cc->populated < end && cc->populated < cc->size) {
		size_t n = cc->size - cc->populated < POPULATE_CHUNK ? cc->size - cc->populated
								     : POPULATE_CHUNK;

		/* an older kernel without MADV_POPULATE_*: the pages are
		 * faulted in on use as before */
		madvise(cc->rw + cc->populated, n, MADV_POPULATE_WRITE);
		madvise(cc->rx + cc->populated, n, MADV_POPULATE_READ);
		cc->populated += n;
	}
}

void code_cache_flush(struct code_cache *cc)
{
	cc->used = 0;
	cc->epoch++;
}

/*
 * `wirt img bench`: time many reads or writes of one size on an image,
 * like qemu-img bench.  Offsets are random multiples of the request size
 * (or, with -S STEP, sequential like qemu-img's), QUEUE_DEPTH requests in
 * flight: with worker threads through the block layer, or with -n
 * through Linux native AIO (io_submit) on the host ranges the image maps
 * its clusters to; requests that need the driver (allocation, compressed
 * clusters, backing files) are then done in line after the queue drains.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/aio_abi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "block/block.h"
#include "block/file_io.h"
#include "cli/img.h"
#include "util/log.h"
#include "util/parse.h"

struct bench {
	struct block_dev *bs;
	uint64_t count, size, offset, step, span;
	unsigned depth;
	bool write, native, random;
	int pattern;
	uint64_t next;			/* requests handed out (atomic) */
	int err;
};

static uint64_t mix(uint64_t x)
{
	/* splitmix64: a cheap, well-spread offset for request number x. */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t req_offset(const struct bench *b, uint64_t i)
{
	uint64_t slots = b->span / b->size;

	if (b->random)
		return b->offset + mix(i) % slots * b->size;
	if (!b->step)
		return b->offset;
	/* As qemu-img: back to the start when the next one would not fit. */
	return b->offset + i % ((b->span - b->size) / b->step + 1) * b->step;
}

static int do_sync(struct bench *b, uint64_t off, void *buf)
{
	return b->write ? block_write(b->bs, off, buf, b->size) :
	       block_read(b->bs, off, buf, b->size);
}

static void *worker(void *arg)
{
	struct bench *b = arg;
	void *buf;
	uint64_t i;
	int ret;

	if (posix_memalign(&buf, FILE_DIRECT_ALIGN, b->size)) {
		__atomic_store_n(&b->err, -ENOMEM, __ATOMIC_RELAXED);
		return NULL;
	}
	memset(buf, b->pattern, b->size);
	for (;;) {
		i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
		if (i >= b->count || __atomic_load_n(&b->err, __ATOMIC_RELAXED))
			break;
		ret = do_sync(b, req_offset(b, i), buf);
		if (ret < 0) {
			__atomic_store_n(&b->err, ret, __ATOMIC_RELAXED);
			break;
		}
	}
	free(buf);
	return NULL;
}

static int run_threads(struct bench *b)
{
	pthread_t *t = calloc(b->depth, sizeof(*t));
	unsigned i, n = 0;

	if (!t)
		return -ENOMEM;
	for (i = 0; i < b->depth; i++, n++)
		if (pthread_create(&t[i], NULL, worker, b))
			break;
	if (!n)
		b->err = -EAGAIN;
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
	return b->err;
}

/* ---- Linux native AIO, through the raw system calls ---- */

struct aio {
	aio_context_t ctx;
	struct iocb *cbs;
	struct iocb **free;		/* stack of idle control blocks */
	struct iocb **batch;		/* prepared, not yet submitted */
	unsigned nfree, nbatch, inflight;
	struct io_event *ev;
};

static int aio_reap(struct bench *b, struct aio *a, unsigned min)
{
	long n, i;

	while (a->inflight && min) {
		n = syscall(SYS_io_getevents, a->ctx, min, a->inflight, a->ev,
			    NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++) {
			struct iocb *cb = (struct iocb *)(uintptr_t)a->ev[i].data;

			if (a->ev[i].res != (int64_t)cb->aio_nbytes)
				return a->ev[i].res < 0 ? (int)a->ev[i].res : -EIO;
			a->free[a->nfree++] = cb;
		}
		a->inflight -= n;
		min = (unsigned)n >= min ? 0 : min - n;
	}
	return 0;
}

/* Submit the prepared control blocks in one system call (or a few). */
static int aio_submit(struct bench *b, struct aio *a)
{
	long n;
	int ret;

	while (a->nbatch) {
		n = syscall(SYS_io_submit, a->ctx, a->nbatch, a->batch);
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (n < 0) {
			if ((ret = aio_reap(b, a, 1)) < 0)
				return ret;
			continue;
		}
		a->inflight += n;
		a->nbatch -= n;
		memmove(a->batch, a->batch + n, a->nbatch * sizeof(*a->batch));
	}
	return 0;
}

/* Prepare request i, or do it in line if the driver has to handle it. */
static int aio_one(struct bench *b, struct aio *a, uint64_t i)
{
	uint64_t off = req_offset(b, i);
	struct block_mapping m;
	struct iocb *cb;
	unsigned need;
	int ret;

	ret = block_map(b->bs, off, b->size, &m);
	if (ret < 0)
		return ret;
	need = BLOCK_MAP_HOST | (b->write ? BLOCK_MAP_WRITABLE : 0);
	/* O_DIRECT needs aligned offsets; the block layer bounces others. */
	if ((m.flags & need) != need || m.len < b->size ||
	    (block_is_nocache(b->bs) && ((m.host | b->size) & (FILE_DIRECT_ALIGN - 1)))) {
		ret = aio_submit(b, a);
		if (!ret)
			ret = aio_reap(b, a, a->inflight);
		if (!ret) {
			cb = a->free[a->nfree - 1];
			ret = do_sync(b, off, (void *)(uintptr_t)cb->aio_buf);
		}
		return ret;
	}
	if (!a->nfree) {
		ret = aio_submit(b, a);
		if (!ret)
			ret = aio_reap(b, a, 1);
		if (ret < 0)
			return ret;
	}
	cb = a->free[--a->nfree];
	cb->aio_fildes = m.fd;
	cb->aio_offset = m.host;
	cb->aio_lio_opcode = b->write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	a->batch[a->nbatch++] = cb;
	return 0;
}

static int aio_setup(struct bench *b, struct aio *a)
{
	unsigned i;
	void *buf;

	memset(a, 0, sizeof(*a));
	if (syscall(SYS_io_setup, b->depth, &a->ctx) < 0)
		return -errno;
	a->cbs = calloc(b->depth, sizeof(*a->cbs));
	a->free = calloc(b->depth, sizeof(*a->free));
	a->ev = calloc(b->depth, sizeof(*a->ev));
	a->batch = calloc(b->depth, sizeof(*a->batch));
	if (!a->cbs || !a->free || !a->ev || !a->batch)
		return -ENOMEM;
	for (i = 0; i < b->depth; i++) {
		if (posix_memalign(&buf, FILE_DIRECT_ALIGN, b->size))
			return -ENOMEM;
		memset(buf, b->pattern, b->size);
		a->cbs[i].aio_buf = (uintptr_t)buf;
		a->cbs[i].aio_nbytes = b->size;
		a->cbs[i].aio_data = (uintptr_t)&a->cbs[i];
		a->free[a->nfree++] = &a->cbs[i];
	}
	return 0;
}

static void aio_teardown(struct bench *b, struct aio *a)
{
	unsigned i;

	if (a->ctx)
		syscall(SYS_io_destroy, a->ctx);
	for (i = 0; a->cbs && i < b->depth; i++)
		free((void *)(uintptr_t)a->cbs[i].aio_buf);
	free(a->cbs);
	free(a->free);
	free(a->ev);
	free(a->batch);
}

static int run_native(struct bench *b)
{
	struct aio a;
	uint64_t i;
	int ret;

	ret = aio_setup(b, &a);
	for (i = 0; i < b->count && !ret; i++)
		ret = aio_one(b, &a, i);
	if (!ret)
		ret = aio_submit(b, &a);
	if (!ret)
		ret = aio_reap(b, &a, a.inflight);
	aio_teardown(b, &a);
	return ret;
}

/* ---- command line ---- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench_run(struct bench *b, bool quiet)
{
	double t0, dt;
	int ret;

	if (b->offset > block_size(b->bs) || b->size > block_size(b->bs) - b->offset) {
		log_error("img bench: image of %llu bytes too small for "
			  "requests of %llu bytes at offset %llu",
			  (unsigned long long)block_size(b->bs),
			  (unsigned long long)b->size,
			  (unsigned long long)b->offset);
		return -EINVAL;
	}
	b->span = block_size(b->bs) - b->offset;
	if (!quiet)
		printf("Sending %llu %s requests, %llu bytes each, %u in parallel "
		       "(%s, starting at offset %llu%s)\n",
		       (unsigned long long)b->count, b->write ? "write" : "read",
		       (unsigned long long)b->size, b->depth,
		       b->native ? "native AIO" : "threads",
		       (unsigned long long)b->offset,
		       b->random ? ", random offsets" : ", sequential");
	t0 = now();
	ret = b->native ? run_native(b) : run_threads(b);
	if (!ret && b->write)
		ret = block_flush(b->bs);
	dt = now() - t0;
	if (ret < 0) {
		if (ret != -EIO)
			log_error("img bench: I/O failed: %s", strerror(-ret));
		return ret;
	}
	printf("Run completed in %.3f seconds.\n", dt);
	printf("IOPS: %.0f, %.1f MiB/s\n", b->count / dt,
	       b->count * (double)b->size / dt / (1 << 20));
	return 0;
}

static int parse_num(const char *what, const char *s, uint64_t min,
		     uint64_t max, uint64_t *out, bool size)
{
	int ret = size ? parse_size(s, 0, out) : parse_uint(s, min, max, out);

	if (ret < 0 || *out < min || *out > max) {
		log_error("img bench: invalid %s '%s'", what, s);
		return -1;
	}
	return 0;
}

/* A byte value, decimal or 0x hex, as qemu-img's --pattern takes it. */
static int parse_pattern(const char *s, int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || end == s || *end || v > 255 || s[0] == '-') {
		log_error("img bench: invalid pattern '%s' (a byte, 0..255)", s);
		return -1;
	}
	*out = v;
	return 0;
}

int img_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pattern", required_argument, NULL, 'P' },
		{ "force-share", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct bench b = { .count = 75000, .depth = 64, .size = 4096,
			   .pattern = 0xa5, .random = true };
	struct img_opts o = { 0 };
	uint64_t v;
	int c, ret;

	while ((c = img_next_option("bench", argc, argv, ":c:d:f:ni:o:s:S:t:wqUh",
				    longopts, &o, &ret)) != -1) {
		switch (c) {
		case IMG_OPT_EXIT:
			return ret;
		case 'c':
			if (parse_num("count", optarg, 1, UINT32_MAX * 16ULL,
				      &b.count, false) < 0)
				return 2;
			break;
		case 'd':
			if (parse_num("queue depth", optarg, 1, 1024, &v, false) < 0)
				return 2;
			b.depth = v;
			break;
		case 'n':
			b.native = true;
			break;
		case 'i':
			if (strcmp(optarg, "native") && strcmp(optarg, "threads")) {
				log_error("img bench: -i must be threads or native");
				return 2;
			}
			b.native = !strcmp(optarg, "native");
			break;
		case 'o':
			if (parse_num("offset", optarg, 0, INT64_MAX, &b.offset,
				      true) < 0)
				return 2;
			break;
		case 's':
			if (parse_num("request size", optarg, 1, 64 << 20, &b.size,
				      true) < 0)
				return 2;
			break;
		case 'S':
			if (parse_num("step", optarg, 0, INT64_MAX, &b.step, true) < 0)
				return 2;
			b.random = false;
			break;
		case 'w':
			b.write = true;
			break;
		case 'P':
			if (parse_pattern(optarg, &b.pattern) < 0)
				return 2;
			break;
		}
	}
	if (img_operands("bench", argc, 1, "exactly one FILE") < 0)
		return 2;
	if (block_open(&b.bs, argv[optind], o.fmt,
		       o.flags | o.share | (b.write ? BLOCK_O_RDWR : 0)) < 0)
		return 1;
	ret = bench_run(&b, o.quiet);
	block_close(b.bs);
	return ret < 0 ? 1 : 0;
}

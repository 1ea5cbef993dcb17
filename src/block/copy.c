/*
 * Image-to-image copy for `wirt img convert`: reads the source in large
 * chunks, asks the source driver which ranges read as zeros, and leaves
 * zero ranges unwritten when the destination already reads as zeros.
 * With compression, whole chunks (cluster aligned) go to the
 * destination's compressed write path instead.  A reader thread keeps a
 * few chunks ahead of the writing (and compressing) one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "block/block_driver.h"
#include "block/file_io.h"
#include "util/log.h"

#define COPY_CHUNK	(2u << 20)
#define COPY_GRAIN	(64u << 10)
/*
 * Compressed clusters are packed per chunk; the last host cluster of each
 * is partly empty, so chunks are large: 16 MiB, or 16 clusters.
 */
#define COMPRESS_CHUNK	(16u << 20)
#define COMPRESS_CLUSTERS 16
#define PIPE_SLOTS	4

/* Write buf[0..len) to out at off, skipping grain-sized runs of zeros. */
static int write_sparse(struct block_dev *out, uint64_t off, const uint8_t *buf,
			size_t len, size_t grain)
{
	size_t pos = 0, start, n;
	int ret;

	while (pos < len) {
		n = grain - (off + pos) % grain;
		if (n > len - pos)
			n = len - pos;
		if (buf_is_zero(buf + pos, n)) {
			pos += n;
			continue;
		}
		start = pos;
		do {
			pos += n;
			n = grain < len - pos ? grain : len - pos;
		} while (pos < len && !buf_is_zero(buf + pos, n));
		ret = block_write(out, off + start, buf + start, pos - start);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static size_t copy_grain(struct block_dev *out)
{
	struct block_info info;

	if (block_get_info(out, &info) < 0 || !info.cluster_size ||
	    info.cluster_size > COPY_CHUNK)
		return COPY_GRAIN;
	return info.cluster_size;
}

/*
 * One piece of the input, read by the reader thread and written by the
 * caller's: a status run (or, compressing, a whole chunk).
 */
struct copy_item {
	uint64_t off, n;
	bool skip;			/* nothing to write */
};

/* A bounded queue between the reader and the writer. */
struct copy_pipe {
	struct block_dev *in, *out;
	const struct block_copy_opts *o;
	size_t chunk, grain;
	unsigned slots;
	uint8_t *buf[PIPE_SLOTS];
	struct copy_item item[PIPE_SLOTS];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t head, tail;		/* items filled, items written */
	bool done;			/* the reader has finished */
	int err;			/* first error of either side */
};

static void pipe_fail(struct copy_pipe *p, int err)
{
	pthread_mutex_lock(&p->lock);
	if (!p->err)
		p->err = err;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* Read the piece at off into buf; item->n is shortened to one run. */
static int read_item(struct copy_pipe *p, uint64_t off, uint8_t *buf,
		     struct copy_item *item)
{
	uint64_t pnum;
	int st;

	item->off = off;
	item->skip = false;
	st = block_status(p->in, off, item->n, &pnum);
	if (st < 0)
		return st;
	if (p->o->compress) {
		/* Whole chunks: the compressed path wants whole clusters. */
		if (st == BLOCK_STATUS_ZERO && pnum == item->n)
			item->skip = true;
		return item->skip ? 0 : block_read(p->in, off, buf, item->n);
	}
	item->n = pnum;
	if (st == BLOCK_STATUS_ZERO && p->o->out_zeroed)
		item->skip = true;
	else if (st == BLOCK_STATUS_ZERO)
		memset(buf, 0, item->n);
	else
		return block_read(p->in, off, buf, item->n);
	return 0;
}

static void *reader(void *arg)
{
	struct copy_pipe *p = arg;
	struct copy_item item;
	uint64_t off = 0, slot;
	int ret;

	while (off < p->in->size) {
		pthread_mutex_lock(&p->lock);
		while (p->head - p->tail == p->slots && !p->err)
			pthread_cond_wait(&p->cond, &p->lock);
		slot = p->head % p->slots;
		ret = p->err;
		pthread_mutex_unlock(&p->lock);
		if (ret)
			break;
		item.n = p->in->size - off < p->chunk ? p->in->size - off :
			 p->chunk;
		ret = read_item(p, off, p->buf[slot], &item);
		if (ret < 0) {
			pipe_fail(p, ret);
			break;
		}
		pthread_mutex_lock(&p->lock);
		p->item[slot] = item;
		p->head++;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
		off += item.n;
	}
	pthread_mutex_lock(&p->lock);
	p->done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int write_item(struct copy_pipe *p, const struct copy_item *it,
		      const uint8_t *buf)
{
	if (it->skip)
		return 0;
	if (p->o->compress)
		return block_write_compressed(p->out, it->off, buf, it->n);
	if (p->o->out_zeroed)
		return write_sparse(p->out, it->off, buf, it->n, p->grain);
	return block_write(p->out, it->off, buf, it->n);
}

/* The caller's thread writes what the reader has read, in order. */
static int writer(struct copy_pipe *p)
{
	struct copy_item it;
	uint64_t slot;
	int ret;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->head == p->tail && !p->done && !p->err)
			pthread_cond_wait(&p->cond, &p->lock);
		ret = p->err;
		if (ret || p->head == p->tail) {
			pthread_mutex_unlock(&p->lock);
			return ret;
		}
		slot = p->tail % p->slots;
		it = p->item[slot];
		pthread_mutex_unlock(&p->lock);
		ret = write_item(p, &it, p->buf[slot]);
		if (ret < 0) {
			pipe_fail(p, ret);
			return ret;
		}
		if (p->o->progress)
			p->o->progress(p->o->opaque, it.off + it.n, p->in->size);
		pthread_mutex_lock(&p->lock);
		p->tail++;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
}

static int run_pipe(struct copy_pipe *p)
{
	pthread_t t;
	unsigned i;
	int ret = -ENOMEM;

	for (i = 0; i < p->slots; i++) {
		/* Aligned, so O_DIRECT images need no bounce buffers. */
		p->buf[i] = aligned_alloc(FILE_DIRECT_ALIGN, p->chunk);
		if (!p->buf[i])
			goto out;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	ret = -pthread_create(&t, NULL, reader, p);
	if (!ret) {
		ret = writer(p);
		pthread_join(t, NULL);
		if (!ret)
			ret = p->err;
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
out:
	for (i = 0; i < p->slots; i++)
		free(p->buf[i]);
	return ret;
}

/*
 * Reading and writing overlap: a reader thread fills a few chunk buffers
 * ahead while this thread writes (and compresses) the ones before.
 */
int block_copy_opts(struct block_dev *in, struct block_dev *out,
		    const struct block_copy_opts *o)
{
	struct copy_pipe p = {
		.in = in, .out = out, .o = o, .grain = copy_grain(out),
		.chunk = COPY_CHUNK, .slots = PIPE_SLOTS,
	};
	int ret;

	if (out->size < in->size)
		return -ENOSPC;
	if (o->compress) {
		p.chunk = COMPRESS_CHUNK;
		if (p.grain * COMPRESS_CLUSTERS > p.chunk)
			p.chunk = p.grain * COMPRESS_CLUSTERS;
		p.slots = 2;		/* large chunks: double buffering */
	}
	ret = run_pipe(&p);
	if (!ret && !o->no_flush)
		ret = block_flush(out);
	return ret;
}

int block_copy(struct block_dev *in, struct block_dev *out, bool out_zeroed)
{
	struct block_copy_opts o = { .out_zeroed = out_zeroed };

	return block_copy_opts(in, out, &o);
}

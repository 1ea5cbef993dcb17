/*
 * qcow2 compressed cluster writes (`wirt img convert -c`): each cluster is
 * deflated (raw deflate, 4 KiB window, as the qcow2 specification's zlib
 * type is read by other tools) or zstd-compressed, and the results are
 * packed back to back into freshly allocated host clusters.  A host
 * cluster's refcount is the number of compressed clusters touching it.
 *
 * Only clusters not yet allocated are written compressed; anything else,
 * and clusters that do not shrink, go through the ordinary write path.
 * The clusters of a batch are compressed on one thread per CPU.
 *
 * Ordering: refcounts and data first, then (after a barrier) the L2
 * entries that point at them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "block/file_io.h"
#include "block/qcow2.h"
#include "block/qcow2_extra.h"

/* Clusters of a batch are compressed on up to this many threads. */
#define SQUEEZE_THREADS	8

/* Where one compressed cluster went in the packed buffer. */
struct packed {
	uint64_t pos;		/* byte offset from the first host cluster */
	uint64_t len;		/* compressed bytes, 0: write uncompressed */
};

static size_t deflate_cluster(const uint8_t *in, size_t len, uint8_t *out,
			      size_t cap)
{
	z_stream z = { 0 };
	size_t n = 0;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return 0;
	z.next_in = (uint8_t *)in;
	z.avail_in = len;
	z.next_out = out;
	z.avail_out = cap;
	if (deflate(&z, Z_FINISH) == Z_STREAM_END)
		n = cap - z.avail_out;
	deflateEnd(&z);
	return n;
}

static size_t zstd_cluster(const uint8_t *in, size_t len, uint8_t *out,
			   size_t cap)
{
	size_t n = ZSTD_compress(out, cap, in, len, ZSTD_CLEVEL_DEFAULT);

	return ZSTD_isError(n) ? 0 : n;
}

/* Compressed size of one cluster into out, 0 if it does not shrink. */
static size_t compress_cluster(const struct qcow2 *s, const uint8_t *in,
			       uint8_t *out)
{
	/* Compressed data packs byte-wise, so any saving is worth having. */
	size_t cap = s->cluster_size - 1;

	return s->compression ? zstd_cluster(in, s->cluster_size, out, cap) :
	       deflate_cluster(in, s->cluster_size, out, cap);
}

/* The L2 table for guest offset off if it exists and is ours alone. */
static int l2_table(struct block_dev *bs, uint64_t off, uint64_t *l2_off)
{
	struct qcow2 *s = bs->opaque;
	uint64_t i = off / qcow2_l1_span(s), new;
	uint8_t *l2;
	int ret;

	if (i >= s->l1_size)
		return -ENOTSUP;
	*l2_off = s->l1[i] & QCOW2_OFFSET_MASK;
	if (*l2_off && ((*l2_off & (s->cluster_size - 1)) ||
			*l2_off < s->cluster_size))
		return qcow2_corrupt(bs, "L2 table offset 0x%llx is not a "
				     "data cluster",
				     (unsigned long long)*l2_off);
	if (*l2_off)
		return s->l1[i] & QCOW2_OFLAG_COPIED ? 0 : -ENOTSUP;
	ret = qcow2_alloc_clusters(bs, 1, &new);
	if (ret < 0)
		return ret;
	l2 = qcow2_cache_new(bs, &s->l2_cache, new);
	if (!l2)
		return -ENOMEM;
	ret = file_pwrite_all(bs->fd, l2, s->cluster_size, new);
	if (!ret)
		ret = file_barrier(bs);
	if (ret < 0) {
		qcow2_cache_drop(&s->l2_cache, new);
		return ret;
	}
	s->l1[i] = new | QCOW2_OFLAG_COPIED;
	ret = qcow2_write_l1_entry(bs, i);
	if (ret < 0) {
		s->l1[i] = 0;
		return ret;
	}
	*l2_off = new;
	return 0;
}

/* Host clusters [first, last] a compressed cluster at pos touches. */
static void touched(const struct qcow2 *s, uint64_t pos, uint64_t len,
		    uint64_t *first, uint64_t *last)
{
	*first = pos >> s->cluster_bits;
	*last = (align_up(pos + len, 512) - 1) >> s->cluster_bits;
}

/*
 * Lay out n compressed clusters back to back; a host cluster never gets
 * more references than its refcount width holds.  Returns bytes used.
 */
static uint64_t pack(const struct qcow2 *s, struct packed *p, uint64_t n,
		     uint32_t *refs)
{
	uint64_t pos = 0, i, a, b;

	for (i = 0; i < n; i++) {
		if (!p[i].len)
			continue;
		touched(s, pos, p[i].len, &a, &b);
		if (refs[a] + 1 > s->refcount_max ||
		    refs[b] + 1 > s->refcount_max) {
			pos = (a + 1) << s->cluster_bits;
			touched(s, pos, p[i].len, &a, &b);
		}
		p[i].pos = pos;
		refs[a]++;
		if (b != a)
			refs[b]++;
		pos += p[i].len;
	}
	return pos;
}

static uint64_t compressed_entry(const struct qcow2 *s, uint64_t host,
				 uint64_t len)
{
	uint32_t x = 62 - (s->cluster_bits - 8);
	uint64_t extra = ((host + len - 1) >> 9) - (host >> 9);

	return QCOW2_OFLAG_COMPRESSED | (extra << x) | host;
}

struct batch {
	uint64_t n;		/* clusters */
	struct packed *p;
	uint8_t *out;		/* compressed data, cluster-sized slots */
	uint8_t *packed;
	uint32_t *refs;		/* references per host cluster */
};

static void batch_free(struct batch *b)
{
	free(b->p);
	free(b->out);
	free(b->packed);
	free(b->refs);
}

static int batch_alloc(const struct qcow2 *s, struct batch *b, uint64_t n)
{
	memset(b, 0, sizeof(*b));
	b->n = n;
	b->p = calloc(n, sizeof(*b->p));
	b->out = malloc(n << s->cluster_bits);
	b->packed = calloc(n + 1, s->cluster_size);
	b->refs = calloc(n + 2, sizeof(*b->refs));
	if (!b->p || !b->out || !b->packed || !b->refs) {
		batch_free(b);
		return -ENOMEM;
	}
	return 0;
}

/* Store the packed data and give every host cluster its reference count. */
static int store(struct block_dev *bs, struct batch *b, uint64_t bytes,
		 uint64_t *host)
{
	struct qcow2 *s = bs->opaque;
	uint64_t k = div_round_up(align_up(bytes, 512), s->cluster_size), i;
	int ret;

	ret = qcow2_alloc_clusters(bs, k, host);
	if (ret < 0)
		return ret;
	for (i = 0; i < b->n; i++)
		if (b->p[i].len)
			memcpy(b->packed + b->p[i].pos,
			       b->out + (i << s->cluster_bits), b->p[i].len);
	ret = file_pwrite_all(bs->fd, b->packed, align_up(bytes, 512), *host);
	for (i = 0; i < k && !ret; i++)
		if (b->refs[i] != 1)
			ret = qcow2_update_refcount(bs, *host + (i << s->cluster_bits),
						    s->cluster_size,
						    (int)b->refs[i] - 1);
	if (!ret)
		ret = file_barrier(bs);
	if (ret < 0)
		qcow2_free_clusters(bs, *host, k << s->cluster_bits);
	return ret;
}

/* Point the L2 entries of the batch at their compressed data. */
static int link_entries(struct block_dev *bs, struct batch *b, uint64_t l2_off,
		uint64_t ci, uint64_t host)
{
	struct qcow2 *s = bs->opaque;
	uint8_t *l2;
	uint64_t i;
	int ret;

	ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
	if (ret < 0)
		return ret;
	for (i = 0; i < b->n; i++)
		if (b->p[i].len)
			put_be64(l2 + (ci + i) * 8,
				 compressed_entry(s, host + b->p[i].pos,
						  b->p[i].len));
	ret = file_pwrite_all(bs->fd, l2 + ci * 8, b->n * 8, l2_off + ci * 8);
	if (ret < 0)
		qcow2_cache_drop(&s->l2_cache, l2_off);
	return ret;
}

static bool all_unallocated(const struct qcow2 *s, const uint8_t *l2,
			    uint64_t ci, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (get_be64(l2 + (ci + i) * 8))
			return false;
	return true;
}

/* Clusters that did not shrink (or are the image's end) go uncompressed. */
static int write_plain(struct block_dev *bs, struct batch *b, uint64_t off,
		       const uint8_t *buf, uint64_t len)
{
	struct qcow2 *s = bs->opaque;
	uint64_t i, o, n;
	int ret;

	for (i = 0; i < b->n; i++) {
		o = i << s->cluster_bits;
		if (b->p[i].len || buf_is_zero(buf + o, len - o < s->cluster_size ?
					       len - o : s->cluster_size))
			continue;
		n = len - o < s->cluster_size ? len - o : s->cluster_size;
		ret = qcow2_write(bs, off + o, buf + o, n);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Compressing the clusters of a batch, split among a few threads. */
struct squeeze {
	const struct qcow2 *s;
	struct batch *b;
	const uint8_t *buf;
	uint64_t len;			/* bytes of buf */
	uint64_t first, step;		/* clusters first, first + step, ... */
	int err;
};

static void *squeeze(void *arg)
{
	struct squeeze *q = arg;
	const struct qcow2 *s = q->s;
	uint64_t i, o, n;
	uint8_t *tail = NULL;
	const uint8_t *src;

	for (i = q->first; i < q->b->n; i += q->step) {
		o = i << s->cluster_bits;
		n = q->len - o < s->cluster_size ? q->len - o : s->cluster_size;
		if (buf_is_zero(q->buf + o, n))
			continue;
		src = q->buf + o;
		if (n < s->cluster_size) {
			/* The image's last, partial cluster: pad with zeros. */
			tail = calloc(1, s->cluster_size);
			if (!tail) {
				q->err = -ENOMEM;
				break;
			}
			memcpy(tail, src, n);
			src = tail;
		}
		q->b->p[i].len = compress_cluster(s, src, q->b->out + o);
	}
	free(tail);
	return NULL;
}

/* Fill b->p[].len for every cluster, on up to SQUEEZE_THREADS threads. */
static int squeeze_all(const struct qcow2 *s, struct batch *b,
		       const uint8_t *buf, uint64_t len)
{
	struct squeeze q[SQUEEZE_THREADS];
	pthread_t t[SQUEEZE_THREADS];
	bool started[SQUEEZE_THREADS] = { false };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t k, nt = cpus > 1 ? (uint64_t)cpus : 1;
	int ret = 0;

	if (nt > SQUEEZE_THREADS)
		nt = SQUEEZE_THREADS;
	if (nt > b->n)
		nt = b->n;
	for (k = 0; k < nt; k++) {
		q[k] = (struct squeeze){ .s = s, .b = b, .buf = buf, .len = len,
					 .first = k, .step = nt };
		/* The first share runs here; others on threads if we can. */
		if (k)
			started[k] = !pthread_create(&t[k], NULL, squeeze, &q[k]);
	}
	squeeze(&q[0]);
	for (k = 1; k < nt; k++) {
		if (started[k])
			pthread_join(t[k], NULL);
		else
			squeeze(&q[k]);
	}
	for (k = 0; k < nt; k++)
		if (q[k].err)
			ret = q[k].err;
	return ret;
}

/* [off, off + len) within one L2 table. */
static int write_l2_range(struct block_dev *bs, uint64_t off,
			  const uint8_t *buf, uint64_t len)
{
	struct qcow2 *s = bs->opaque;
	uint64_t n = div_round_up(len, s->cluster_size), bytes, host;
	uint64_t l2_off, ci = (off >> s->cluster_bits) & (qcow2_l2_entries(s) - 1);
	struct batch b;
	uint8_t *l2;
	int ret;

	ret = l2_table(bs, off, &l2_off);
	if (!ret)
		ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
	if (ret == -ENOTSUP || (!ret && !all_unallocated(s, l2, ci, n)))
		return qcow2_write(bs, off, buf, len);
	if (ret < 0)
		return ret;
	ret = batch_alloc(s, &b, n);
	if (ret < 0)
		return ret;
	ret = squeeze_all(s, &b, buf, len);
	bytes = ret ? 0 : pack(s, b.p, n, b.refs);
	if (bytes) {
		ret = store(bs, &b, bytes, &host);
		if (!ret)
			ret = link_entries(bs, &b, l2_off, ci, host);
	}
	if (!ret)
		ret = write_plain(bs, &b, off, buf, len);
	batch_free(&b);
	return ret;
}

static int64_t write_l2_piece(struct block_dev *bs, uint64_t off, uint8_t *p,
			      uint64_t n, void *unused)
{
	int ret = write_l2_range(bs, off, p, n);

	return ret < 0 ? ret : (int64_t)n;
}

int qcow2_write_compressed(struct block_dev *bs, uint64_t off,
			   const void *buf, size_t len)
{
	struct qcow2 *s = bs->opaque;

	/* Whole clusters; only the image's last one may be cut short. */
	if (off & (s->cluster_size - 1) ||
	    (len & (s->cluster_size - 1) &&
	     align_up(off + len, s->cluster_size) < bs->size))
		return -EINVAL;
	return block_for_each_piece(bs, off, (void *)buf, len,
				    qcow2_l1_span(s), write_l2_piece, NULL);
}

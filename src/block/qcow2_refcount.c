/*
 * qcow2 refcounts and cluster allocation: reading and updating refcount
 * entries of any width (1 to 64 bits), finding free clusters, adding
 * refcount blocks and growing the refcount table when the image grows.
 *
 * Ordering: a cluster's refcount is written before anything points at it,
 * and a new refcount block is on disk before the table entry naming it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block/file_io.h"
#include "block/qcow2.h"
#include "util/log.h"

uint64_t qcow2_refcount_get_entry(const struct qcow2 *s, const uint8_t *rb,
				  uint64_t index)
{
	uint32_t bits = 1u << s->refcount_order;
	uint32_t per_byte;

	switch (s->refcount_order) {
	case 3:
		return rb[index];
	case 4:
		return get_be16(rb + index * 2);
	case 5:
		return get_be32(rb + index * 4);
	case 6:
		return get_be64(rb + index * 8);
	}
	per_byte = 8 / bits;
	return (rb[index / per_byte] >> ((index % per_byte) * bits)) &
	       ((1u << bits) - 1);
}

void qcow2_refcount_set_entry(const struct qcow2 *s, uint8_t *rb,
			      uint64_t index, uint64_t value)
{
	uint32_t bits = 1u << s->refcount_order;
	uint32_t per_byte, shift, mask;

	switch (s->refcount_order) {
	case 3:
		rb[index] = value;
		return;
	case 4:
		put_be16(rb + index * 2, value);
		return;
	case 5:
		put_be32(rb + index * 4, value);
		return;
	case 6:
		put_be64(rb + index * 8, value);
		return;
	}
	per_byte = 8 / bits;
	shift = (index % per_byte) * bits;
	mask = ((1u << bits) - 1) << shift;
	rb[index / per_byte] = (rb[index / per_byte] & ~mask) |
			       ((value << shift) & mask);
}

/* Byte range [*start, *end) of a refcount block holding entries [a, b). */
static void entry_bytes(const struct qcow2 *s, uint64_t a, uint64_t b,
			uint64_t *start, uint64_t *end)
{
	*start = (a << s->refcount_order) / 8;
	*end = div_round_up(b << s->refcount_order, 8);
}

static uint64_t rt_block(const struct qcow2 *s, uint64_t rt_index)
{
	if (rt_index >= s->rt_size)
		return 0;
	return s->rt[rt_index] & QCOW2_RT_OFFSET_MASK;
}

int qcow2_get_refcount(struct block_dev *bs, uint64_t cluster, uint64_t *rc)
{
	struct qcow2 *s = bs->opaque;
	uint64_t rb_off = rt_block(s, cluster >> s->rb_bits);
	uint8_t *rb;
	int ret;

	*rc = 0;
	if (!rb_off)
		return 0;
	ret = qcow2_cache_get(bs, &s->rb_cache, rb_off, &rb);
	if (ret < 0)
		return ret;
	*rc = qcow2_refcount_get_entry(s, rb,
				       cluster & ((1ULL << s->rb_bits) - 1));
	return 0;
}

static void cluster_freed(struct block_dev *bs, uint64_t cluster)
{
	struct qcow2 *s = bs->opaque;
	uint64_t off = cluster << s->cluster_bits;

	qcow2_cache_drop(&s->l2_cache, off);
	if (cluster < s->free_hint)
		s->free_hint = cluster;
	file_punch_hole(bs->fd, off, s->cluster_size);
}

/* Apply delta to entries [first, first + n) of the block at rb_off. */
static int update_block(struct block_dev *bs, uint64_t rb_off, uint64_t first,
			uint64_t n, int delta, uint64_t base)
{
	struct qcow2 *s = bs->opaque;
	uint64_t i, rc, start, end;
	uint8_t *rb;
	int ret;

	ret = qcow2_cache_get(bs, &s->rb_cache, rb_off, &rb);
	if (ret < 0)
		return ret;
	for (i = first; i < first + n; i++) {
		rc = qcow2_refcount_get_entry(s, rb, i);
		if (delta < 0 && rc < (uint64_t)-delta)
			return qcow2_corrupt(bs, "refcount of cluster %llu "
					     "would drop below zero",
					     (unsigned long long)(base + i));
		if (delta > 0 && rc + delta > s->refcount_max) {
			log_error("%s: refcount of cluster %llu would exceed "
				  "%llu (use more refcount bits)", bs->filename,
				  (unsigned long long)(base + i),
				  (unsigned long long)s->refcount_max);
			return -ERANGE;
		}
		qcow2_refcount_set_entry(s, rb, i, rc + delta);
	}
	entry_bytes(s, first, first + n, &start, &end);
	ret = file_pwrite_all(bs->fd, rb + start, end - start, rb_off + start);
	if (ret < 0) {
		qcow2_cache_drop(&s->rb_cache, rb_off);
		return ret;
	}
	for (i = first; delta < 0 && i < first + n; i++)
		if (!qcow2_refcount_get_entry(s, rb, i))
			cluster_freed(bs, base + i);
	return 0;
}

/* Add delta to the refcount of every cluster touching [offset, +len). */
int qcow2_update_refcount(struct block_dev *bs, uint64_t offset,
			  uint64_t len, int delta)
{
	struct qcow2 *s = bs->opaque;
	uint64_t c, last, per_block = 1ULL << s->rb_bits;
	uint64_t rt_index, n, rb_off;
	int ret;

	if (!len)
		return 0;
	c = offset >> s->cluster_bits;
	last = (offset + len - 1) >> s->cluster_bits;
	while (c <= last) {
		rt_index = c >> s->rb_bits;
		n = per_block - (c & (per_block - 1));
		if (n > last - c + 1)
			n = last - c + 1;
		rb_off = rt_block(s, rt_index);
		if (!rb_off)
			return qcow2_corrupt(bs, "cluster %llu in use but has no "
					     "refcount block",
					     (unsigned long long)c);
		ret = update_block(bs, rb_off, c & (per_block - 1), n, delta,
				   rt_index << s->rb_bits);
		if (ret < 0)
			return ret;
		c += n;
	}
	return 0;
}

/* Set one cluster's refcount outright (repairs): no delta to wrap around. */
int qcow2_set_refcount(struct block_dev *bs, uint64_t cluster, uint64_t value)
{
	struct qcow2 *s = bs->opaque;
	uint64_t rb_off = rt_block(s, cluster >> s->rb_bits);
	uint64_t i = cluster & ((1ULL << s->rb_bits) - 1), start, end, old;
	uint8_t *rb;
	int ret;

	if (value > s->refcount_max) {
		log_error("%s: cluster %llu has %llu references, more than %u "
			  "refcount bits hold", bs->filename,
			  (unsigned long long)cluster, (unsigned long long)value,
			  1u << s->refcount_order);
		return -ERANGE;
	}
	if (!rb_off)
		return value ? qcow2_corrupt(bs, "cluster %llu in use but has "
					     "no refcount block",
					     (unsigned long long)cluster) : 0;
	ret = qcow2_cache_get(bs, &s->rb_cache, rb_off, &rb);
	if (ret < 0)
		return ret;
	old = qcow2_refcount_get_entry(s, rb, i);
	qcow2_refcount_set_entry(s, rb, i, value);
	entry_bytes(s, i, i + 1, &start, &end);
	ret = file_pwrite_all(bs->fd, rb + start, end - start, rb_off + start);
	if (ret < 0) {
		qcow2_cache_drop(&s->rb_cache, rb_off);
		return ret;
	}
	if (old && !value)
		cluster_freed(bs, cluster);
	return 0;
}

int qcow2_free_clusters(struct block_dev *bs, uint64_t offset, uint64_t len)
{
	return qcow2_update_refcount(bs, offset, len, -1);
}

/* Drop the reference an L2 entry held; errors only leak space. */
void qcow2_free_entry(struct block_dev *bs, uint64_t entry)
{
	struct qcow2 *s = bs->opaque;
	uint64_t host, len;

	switch (qcow2_entry_kind(s, entry)) {
	case QCOW2_COMPRESSED:
		qcow2_compressed_range(s, entry, &host, &len);
		break;
	case QCOW2_NORMAL:
	case QCOW2_ZERO:
		host = entry & QCOW2_OFFSET_MASK;
		len = s->cluster_size;
		if (host)
			break;
		return;
	default:
		return;
	}
	if (qcow2_free_clusters(bs, host, len) < 0)
		log_warn("%s: could not free clusters at 0x%llx; space leaked",
			 bs->filename, (unsigned long long)host);
}

/* Clusters the allocator must never hand out, whatever refcounts say. */
static bool reserved_cluster(const struct qcow2 *s, uint64_t c)
{
	uint64_t off = c << s->cluster_bits;

	if (c == 0)
		return true;
	if (off >= s->rt_offset &&
	    off < s->rt_offset + ((uint64_t)s->rt_clusters << s->cluster_bits))
		return true;
	return off >= (s->l1_offset & ~(s->cluster_size - 1)) &&
	       off < s->l1_offset + (uint64_t)s->l1_size * 8;
}

/* First run of n free clusters at or after the free hint. */
static int find_free_run(struct block_dev *bs, uint64_t n, uint64_t *start,
			 uint64_t *first_free)
{
	struct qcow2 *s = bs->opaque;
	uint64_t idx = s->free_hint, run = 0, rc, end;
	uint64_t limit;
	bool seen = false;
	int ret;

	ret = file_size(bs->fd, &limit);
	if (ret < 0)
		return ret;
	limit = (limit >> s->cluster_bits) + n + QCOW2_MAX_LEAKED_PAST_END;
	*start = idx;
	while (run < n) {
		if ((idx >> s->rb_bits) >= s->rt_size)
			break;
		if (!rt_block(s, idx >> s->rb_bits) && !reserved_cluster(s, idx)) {
			end = ((idx >> s->rb_bits) + 1) << s->rb_bits;
			if (!seen)
				*first_free = idx;
			seen = true;
			run += end - idx;
			idx = end;
			continue;
		}
		if (idx >= limit)
			return qcow2_corrupt(bs, "refcounts claim clusters far "
					     "past the end of the file; repair "
					     "it with 'wirt img check -r'");
		ret = qcow2_get_refcount(bs, idx, &rc);
		if (ret < 0)
			return ret;
		if (rc || reserved_cluster(s, idx)) {
			run = 0;
			*start = idx + 1;
		} else {
			if (!seen)
				*first_free = idx;
			seen = true;
			run++;
		}
		idx++;
	}
	if (!seen)
		*first_free = *start;
	if (*start + n > (QCOW2_OFFSET_MASK >> s->cluster_bits)) {
		log_error("%s: image file would grow past the qcow2 limit",
			  bs->filename);
		return -ENOSPC;
	}
	return 0;
}

/*
 * Grow the refcount table so it has an entry for need_index.  The new
 * table and the refcount blocks describing it go into free space together;
 * the header switches to the new table in one write.
 */
static int grow_refcount_table(struct block_dev *bs, uint64_t need_index)
{
	struct qcow2 *s = bs->opaque;
	uint64_t per_cluster = s->cluster_size / 8, per_block = 1ULL << s->rb_bits;
	uint64_t entries, t, b = 0, p, first_free, r, c, nb, k, i;
	uint64_t *new_rt = NULL, *new_idx = NULL, old_off, max_r;
	uint32_t old_clusters;
	uint8_t *blocks = NULL, hdr[12];
	int ret;

	entries = need_index + 1;
	if (entries < s->rt_size + s->rt_size / 2)
		entries = s->rt_size + s->rt_size / 2;
	t = div_round_up(entries, per_cluster);
	for (;;) {
		ret = find_free_run(bs, t + b, &p, &first_free);
		if (ret < 0)
			return ret;
		/* Missing refcount blocks for the clusters [p, p + t + b). */
		nb = 0;
		max_r = 0;
		for (r = p >> s->rb_bits; r <= (p + t + b - 1) >> s->rb_bits; r++)
			if (!rt_block(s, r)) {
				nb++;
				max_r = r;
			}
		k = max_r + 1 > entries ? div_round_up(max_r + 1, per_cluster) : t;
		if (k <= t && nb <= b)
			break;
		t = k > t ? k : t;
		b = nb > b ? nb : b;
	}
	entries = t * per_cluster;
	if (t * s->cluster_size > QCOW2_MAX_RT_BYTES) {
		log_error("%s: refcount table would exceed %u bytes",
			  bs->filename, QCOW2_MAX_RT_BYTES);
		return -EFBIG;
	}
	new_rt = calloc(entries, 8);
	new_idx = calloc(nb + 1, 8);
	blocks = calloc(nb + 1, s->cluster_size);
	ret = -ENOMEM;
	if (!new_rt || !new_idx || !blocks)
		goto out;
	memcpy(new_rt, s->rt, s->rt_size * 8);
	k = 0;
	for (r = p >> s->rb_bits; r <= (p + t + b - 1) >> s->rb_bits; r++)
		if (!rt_block(s, r)) {
			new_idx[k] = r;
			new_rt[r] = (p + t + k) << s->cluster_bits;
			k++;
		}
	/* Refcounts of the new clusters [p, p + t + nb). */
	for (c = p; c < p + t + nb; c++) {
		r = c >> s->rb_bits;
		for (i = 0; i < nb && new_idx[i] != r; i++)
			;
		if (i < nb) {
			qcow2_refcount_set_entry(s, blocks + i * s->cluster_size,
						 c & (per_block - 1), 1);
			continue;
		}
		ret = qcow2_update_refcount(bs, c << s->cluster_bits, 1, 1);
		if (ret < 0)
			goto out;
	}
	for (i = 0; i < nb; i++) {
		ret = file_pwrite_all(bs->fd, blocks + i * s->cluster_size,
				      s->cluster_size,
				      (p + t + i) << s->cluster_bits);
		if (ret < 0)
			goto out;
	}
	for (i = 0; i < entries; i++)
		new_rt[i] = htobe64(new_rt[i]);
	ret = file_pwrite_all(bs->fd, new_rt, entries * 8, p << s->cluster_bits);
	for (i = 0; i < entries; i++)
		new_rt[i] = be64toh(new_rt[i]);
	if (ret < 0)
		goto out;
	ret = file_barrier(bs);
	if (ret < 0)
		goto out;
	put_be64(hdr, p << s->cluster_bits);
	put_be32(hdr + 8, t);
	ret = qcow2_write_header_field(bs, QH_RT_OFFSET, hdr, 12);
	if (ret < 0)
		goto out;
	ret = file_barrier(bs);
	if (ret < 0)
		goto out;
	old_off = s->rt_offset;
	old_clusters = s->rt_clusters;
	free(s->rt);
	s->rt = new_rt;
	new_rt = NULL;
	s->rt_size = entries;
	s->rt_offset = p << s->cluster_bits;
	s->rt_clusters = t;
	ret = qcow2_free_clusters(bs, old_off,
				  (uint64_t)old_clusters << s->cluster_bits);
out:
	free(new_rt);
	free(new_idx);
	free(blocks);
	return ret;
}

/* Give refcount block rt_index a home in the first free cluster it covers. */
static int add_refcount_block(struct block_dev *bs, uint64_t rt_index,
			      uint64_t pos)
{
	struct qcow2 *s = bs->opaque;
	uint64_t off = pos << s->cluster_bits, be;
	uint8_t *rb;
	int ret;

	rb = qcow2_cache_new(bs, &s->rb_cache, off);
	if (!rb)
		return -ENOMEM;
	qcow2_refcount_set_entry(s, rb, pos & ((1ULL << s->rb_bits) - 1), 1);
	ret = file_pwrite_all(bs->fd, rb, s->cluster_size, off);
	if (!ret)
		ret = file_barrier(bs);
	if (ret < 0) {
		qcow2_cache_drop(&s->rb_cache, off);
		return ret;
	}
	be = htobe64(off);
	ret = file_pwrite_all(bs->fd, &be, 8, s->rt_offset + rt_index * 8);
	if (ret < 0) {
		qcow2_cache_drop(&s->rb_cache, off);
		return ret;
	}
	s->rt[rt_index] = off;
	return 0;
}

/* Returns 1 if it changed the layout (search again), 0 if all is there. */
static int ensure_refcount_blocks(struct block_dev *bs, uint64_t start,
				  uint64_t n)
{
	struct qcow2 *s = bs->opaque;
	uint64_t r, pos;
	int ret;

	for (r = start >> s->rb_bits; r <= (start + n - 1) >> s->rb_bits; r++) {
		if (r >= s->rt_size) {
			ret = grow_refcount_table(bs, r);
			return ret < 0 ? ret : 1;
		}
		if (rt_block(s, r))
			continue;
		pos = r << s->rb_bits;
		if (pos < start)
			pos = start;
		ret = add_refcount_block(bs, r, pos);
		return ret < 0 ? ret : 1;
	}
	return 0;
}

/* Allocate n contiguous clusters with refcount 1; *offset is the first. */
int qcow2_alloc_clusters(struct block_dev *bs, uint64_t n, uint64_t *offset)
{
	struct qcow2 *s = bs->opaque;
	uint64_t start, first_free;
	int ret;

	for (;;) {
		ret = find_free_run(bs, n, &start, &first_free);
		if (ret < 0)
			return ret;
		ret = ensure_refcount_blocks(bs, start, n);
		if (ret < 0)
			return ret;
		if (!ret)
			break;
	}
	ret = qcow2_update_refcount(bs, start << s->cluster_bits,
				   n << s->cluster_bits, 1);
	if (ret < 0)
		return ret;
	s->free_hint = first_free == start ? start + n : first_free;
	*offset = start << s->cluster_bits;
	return 0;
}

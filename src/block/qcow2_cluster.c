/*
 * qcow2 guest data: mapping guest offsets through the L1 and L2 tables,
 * reading (backing files, zero and compressed clusters), writing with
 * cluster allocation and copy-on-write, discard and allocation status.
 *
 * Ordering on writes: new clusters get their refcount and their data first,
 * then (after a barrier) the L2 entry that points at them; old clusters are
 * released only after the L2 entry no longer points at them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "block/file_io.h"
#include "block/qcow2.h"
#include "util/log.h"

enum qcow2_kind qcow2_entry_kind(const struct qcow2 *s, uint64_t entry)
{
	if (entry & QCOW2_OFLAG_COMPRESSED)
		return QCOW2_COMPRESSED;
	if (s->version >= 3 && (entry & QCOW2_OFLAG_ZERO))
		return QCOW2_ZERO;
	if (!(entry & QCOW2_OFFSET_MASK))
		return QCOW2_UNALLOCATED;
	return QCOW2_NORMAL;
}

/* Host bytes [*host, *host + *len) a compressed cluster's data occupies. */
void qcow2_compressed_range(const struct qcow2 *s, uint64_t entry,
			    uint64_t *host, uint64_t *len)
{
	uint32_t x = 62 - (s->cluster_bits - 8);
	uint64_t sectors;

	*host = entry & ((1ULL << x) - 1);
	sectors = ((entry >> x) & ((1ULL << (s->cluster_bits - 8)) - 1)) + 1;
	*len = sectors * 512 - (*host & 511);
}

int qcow2_write_l1_entry(struct block_dev *bs, uint32_t index)
{
	struct qcow2 *s = bs->opaque;
	uint64_t be = htobe64(s->l1[index]);

	return file_pwrite_all(bs->fd, &be, 8, s->l1_offset + index * 8ULL);
}

/* True if host [host, host + len) overlaps the header, L1 or refcount table. */
static bool hits_metadata(const struct qcow2 *s, uint64_t host, uint64_t len)
{
	uint64_t l1_end = s->l1_offset + (uint64_t)s->l1_size * 8;
	uint64_t rt_end = s->rt_offset +
			  ((uint64_t)s->rt_clusters << s->cluster_bits);

	return host < s->cluster_size ||
	       (host < l1_end && host + len > s->l1_offset) ||
	       (host < rt_end && host + len > s->rt_offset);
}

/* The L2 table for l1_index, or *l2_off = 0 if there is none. */
static int l2_offset(struct block_dev *bs, uint64_t l1_index, uint64_t *l2_off)
{
	struct qcow2 *s = bs->opaque;

	*l2_off = 0;
	if (l1_index >= s->l1_size)
		return 0;
	*l2_off = s->l1[l1_index] & QCOW2_OFFSET_MASK;
	if (*l2_off & (s->cluster_size - 1))
		return qcow2_corrupt(bs, "L2 table offset 0x%llx is not "
				     "cluster aligned",
				     (unsigned long long)*l2_off);
	if (*l2_off && hits_metadata(s, *l2_off, s->cluster_size))
		return qcow2_corrupt(bs, "L2 table at 0x%llx overlaps the "
				     "header, L1 or refcount table",
				     (unsigned long long)*l2_off);
	return 0;
}

static int check_data_entry(struct block_dev *bs, uint64_t entry)
{
	struct qcow2 *s = bs->opaque;
	uint64_t host = entry & QCOW2_OFFSET_MASK;

	if (qcow2_entry_kind(s, entry) != QCOW2_NORMAL)
		return 0;
	if (host & (s->cluster_size - 1))
		return qcow2_corrupt(bs, "data cluster offset 0x%llx is not "
				     "cluster aligned",
				     (unsigned long long)host);
	if (host < s->cluster_size)
		return qcow2_corrupt(bs, "data cluster points at the header");
	return 0;
}

struct qcow2_map {
	enum qcow2_kind kind;
	uint64_t entry;		/* L2 entry of the first cluster */
	uint64_t host;		/* host offset of off (NORMAL) */
	uint64_t bytes;		/* length of the run, <= len */
};

/* Kind of subcluster sc from the two halves of an extended L2 bitmap. */
static enum qcow2_kind subcluster_kind(uint64_t bitmap, uint32_t sc)
{
	if ((bitmap >> 32) & (1ULL << sc))
		return QCOW2_ZERO;
	if (bitmap & (1ULL << sc))
		return QCOW2_NORMAL;
	return QCOW2_UNALLOCATED;
}

/*
 * Extended L2 entries: the run of subclusters of one kind from off, within
 * one cluster.  Bit 0 of the entry is reserved there; the bitmap says
 * which subclusters hold data (low half) and which read as zeros (high).
 */
static int map_subclusters(struct block_dev *bs, const uint8_t *l2,
			   uint64_t ci, uint64_t off, uint64_t len,
			   struct qcow2_map *m)
{
	struct qcow2 *s = bs->opaque;
	uint64_t in = qcow2_offset_in_cluster(s, off), bitmap;
	uint32_t sc = in >> s->sc_bits, end;
	int ret;

	m->entry = get_be64(l2 + ci * 16) & ~QCOW2_OFLAG_ZERO;
	bitmap = get_be64(l2 + ci * 16 + 8);
	m->kind = qcow2_entry_kind(s, m->entry);
	m->bytes = s->cluster_size - in;
	if (m->kind == QCOW2_COMPRESSED)
		goto out;
	if ((uint32_t)bitmap & (uint32_t)(bitmap >> 32))
		return qcow2_corrupt(bs, "subcluster both allocated and zero "
				     "(L2 bitmap 0x%016llx)",
				     (unsigned long long)bitmap);
	m->kind = subcluster_kind(bitmap, sc);
	if (m->kind == QCOW2_NORMAL) {
		if (!(m->entry & QCOW2_OFFSET_MASK))
			return qcow2_corrupt(bs, "allocated subcluster in a "
					     "cluster without host offset");
		ret = check_data_entry(bs, m->entry);
		if (ret < 0)
			return ret;
		m->host = (m->entry & QCOW2_OFFSET_MASK) + in;
	}
	for (end = sc + 1; end < QCOW2_SUBCLUSTERS &&
	     subcluster_kind(bitmap, end) == m->kind; end++)
		;
	m->bytes = ((uint64_t)end << s->sc_bits) - in;
out:
	if (m->bytes > len)
		m->bytes = len;
	return 0;
}

/*
 * Map the run starting at guest offset off: clusters of the same kind
 * (and, for data, contiguous on the host) within one L2 table.
 */
static int qcow2_map(struct block_dev *bs, uint64_t off, uint64_t len,
		     struct qcow2_map *m)
{
	struct qcow2 *s = bs->opaque;
	uint64_t span = qcow2_l1_span(s), l2_off, ci, e, in;
	uint8_t *l2;
	int ret;

	if (len > span - (off & (span - 1)))
		len = span - (off & (span - 1));
	ret = l2_offset(bs, off / span, &l2_off);
	if (ret < 0)
		return ret;
	m->bytes = len;
	m->entry = 0;
	m->host = 0;
	m->kind = QCOW2_UNALLOCATED;
	if (!l2_off)
		return 0;
	ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
	if (ret < 0)
		return ret;
	ci = (off >> s->cluster_bits) & (qcow2_l2_entries(s) - 1);
	if (s->extl2)
		return map_subclusters(bs, l2, ci, off, len, m);
	in = qcow2_offset_in_cluster(s, off);
	m->entry = get_be64(l2 + ci * 8);
	m->kind = qcow2_entry_kind(s, m->entry);
	ret = check_data_entry(bs, m->entry);
	if (ret < 0)
		return ret;
	m->host = (m->entry & QCOW2_OFFSET_MASK) + in;
	m->bytes = s->cluster_size - in;
	if (m->kind == QCOW2_COMPRESSED)
		goto out;
	for (ci++; m->bytes < len && ci < qcow2_l2_entries(s); ci++) {
		e = get_be64(l2 + ci * 8);
		if (qcow2_entry_kind(s, e) != m->kind)
			break;
		if (m->kind == QCOW2_NORMAL &&
		    (e & QCOW2_OFFSET_MASK) != m->host + m->bytes)
			break;
		m->bytes += s->cluster_size;
	}
out:
	if (m->bytes > len)
		m->bytes = len;
	return 0;
}

static int inflate_zlib(struct qcow2 *s, size_t clen)
{
	z_stream z = { 0 };
	int ret;

	if (inflateInit2(&z, -15) != Z_OK)
		return -ENOMEM;
	z.next_in = s->cbuf;
	z.avail_in = clen;
	z.next_out = s->dbuf;
	z.avail_out = s->cluster_size;
	ret = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR || ret == Z_OK) &&
	    z.avail_out == 0)
		return 0;
	return -EIO;
}

static int inflate_zstd(struct qcow2 *s, size_t clen)
{
	ZSTD_DStream *d = ZSTD_createDStream();
	ZSTD_inBuffer in = { s->cbuf, clen, 0 };
	ZSTD_outBuffer out = { s->dbuf, s->cluster_size, 0 };
	size_t r;
	int ret = -EIO;

	if (!d)
		return -ENOMEM;
	while (out.pos < out.size && in.pos < in.size) {
		r = ZSTD_decompressStream(d, &out, &in);
		if (ZSTD_isError(r))
			break;
		if (r == 0 && out.pos < out.size && in.pos == in.size)
			break;
	}
	if (out.pos == out.size)
		ret = 0;
	ZSTD_freeDStream(d);
	return ret;
}

/* Decompress the cluster an L2 entry names into s->dbuf. */
static int read_compressed(struct block_dev *bs, uint64_t entry)
{
	struct qcow2 *s = bs->opaque;
	uint64_t host, clen;
	int ret;

	if (s->dbuf_entry == entry)
		return 0;
	qcow2_compressed_range(s, entry, &host, &clen);
	if (host < s->cluster_size)
		return qcow2_corrupt(bs, "compressed cluster points at the header");
	s->dbuf_entry = 0;
	ret = file_pread_zero(bs->fd, s->cbuf, clen, host);
	if (ret < 0)
		return ret;
	ret = s->compression ? inflate_zstd(s, clen) : inflate_zlib(s, clen);
	if (ret == -EIO)
		return qcow2_corrupt(bs, "compressed cluster at 0x%llx does not "
				     "decompress", (unsigned long long)host);
	if (ret < 0)
		return ret;
	s->dbuf_entry = entry;
	return 0;
}

int qcow2_read(struct block_dev *bs, uint64_t off, void *buf, size_t len)
{
	struct qcow2 *s = bs->opaque;
	struct qcow2_map m;
	uint8_t *p = buf;
	int ret;

	while (len) {
		ret = qcow2_map(bs, off, len, &m);
		if (ret < 0)
			return ret;
		switch (m.kind) {
		case QCOW2_UNALLOCATED:
			ret = block_read_backing(bs, off, p, m.bytes);
			break;
		case QCOW2_ZERO:
			memset(p, 0, m.bytes);
			break;
		case QCOW2_NORMAL:
			ret = file_pread_zero(bs->fd, p, m.bytes, m.host);
			break;
		case QCOW2_COMPRESSED:
			ret = read_compressed(bs, m.entry);
			if (!ret)
				memcpy(p, s->dbuf + qcow2_offset_in_cluster(s, off),
				       m.bytes);
			break;
		}
		if (ret < 0)
			return ret;
		off += m.bytes;
		p += m.bytes;
		len -= m.bytes;
	}
	return 0;
}

/*
 * Writing guest data at host [host, +len) must not hit known metadata, nor
 * land past the cluster holding the end of the file: clusters this image
 * owns lie within it, and a hostile entry must not grow it by terabytes.
 */
static int check_overlap(struct block_dev *bs, uint64_t host, uint64_t len)
{
	struct qcow2 *s = bs->opaque;
	int ret;

	if (hits_metadata(s, host, len))
		return qcow2_corrupt(bs, "guest data at 0x%llx would overwrite "
				     "image metadata", (unsigned long long)host);
	ret = qcow2_within_file(bs, host, len);
	if (ret < 0)
		return ret;
	if (!ret)
		return qcow2_corrupt(bs, "data cluster at 0x%llx lies past the "
				     "end of the file",
				     (unsigned long long)host);
	return 0;
}

/* 1 if host [host, +len) ends within the cluster holding the file's end. */
int qcow2_within_file(struct block_dev *bs, uint64_t host, uint64_t len)
{
	struct qcow2 *s = bs->opaque;
	int ret;

	if (host + len <= align_up(s->file_end, s->cluster_size))
		return 1;
	ret = file_size(bs->fd, &s->file_end);
	if (ret < 0)
		return ret;
	return host + len <= align_up(s->file_end, s->cluster_size);
}

/*
 * Fill a private copy of a shared L2 table (in s->cow_buf): every cluster
 * it names is shared too, so none may keep its copied flag.
 */
static void copy_shared_l2(struct qcow2 *s, uint8_t *l2)
{
	uint64_t i;

	for (i = 0; i < qcow2_l2_entries(s); i++)
		put_be64(l2 + i * 8, get_be64(s->cow_buf + i * 8) &
			 ~QCOW2_OFLAG_COPIED);
}

/* Make the L2 table for l1_index exist and belong to this L1 alone. */
static int l2_for_write(struct block_dev *bs, uint64_t l1_index,
			uint64_t *l2_off)
{
	struct qcow2 *s = bs->opaque;
	uint64_t old, new;
	uint8_t *l2;
	int ret;

	ret = l2_offset(bs, l1_index, &old);
	if (ret < 0)
		return ret;
	if (old && (s->l1[l1_index] & QCOW2_OFLAG_COPIED)) {
		*l2_off = old;
		return 0;
	}
	if (old) {
		ret = qcow2_cache_get(bs, &s->l2_cache, old, &l2);
		if (ret < 0)
			return ret;
		memcpy(s->cow_buf, l2, s->cluster_size);
	}
	ret = qcow2_alloc_clusters(bs, 1, &new);
	if (ret < 0)
		return ret;
	l2 = qcow2_cache_new(bs, &s->l2_cache, new);
	if (!l2)
		return -ENOMEM;
	if (old)
		copy_shared_l2(s, l2);
	ret = file_pwrite_all(bs->fd, l2, s->cluster_size, new);
	if (!ret)
		ret = file_barrier(bs);
	if (ret < 0) {
		qcow2_cache_drop(&s->l2_cache, new);
		return ret;
	}
	s->l1[l1_index] = new | QCOW2_OFLAG_COPIED;
	ret = qcow2_write_l1_entry(bs, l1_index);
	if (ret < 0) {
		s->l1[l1_index] = old;
		return ret;
	}
	*l2_off = new;
	if (old && !file_barrier(bs))
		qcow2_free_clusters(bs, old, s->cluster_size);
	return 0;
}

static bool in_place(const struct qcow2 *s, uint64_t entry)
{
	return qcow2_entry_kind(s, entry) == QCOW2_NORMAL &&
	       (entry & QCOW2_OFLAG_COPIED);
}

/* Write n bytes into clusters already owned by this image, contiguous. */
static int write_in_place(struct block_dev *bs, uint8_t *l2, uint64_t ci,
			  uint64_t off, const uint8_t *buf, uint64_t *n)
{
	struct qcow2 *s = bs->opaque;
	uint64_t in = qcow2_offset_in_cluster(s, off);
	uint64_t first = get_be64(l2 + ci * 8) & QCOW2_OFFSET_MASK;
	uint64_t bytes = s->cluster_size - in, e;
	int ret;

	for (ci++; bytes < *n && ci < qcow2_l2_entries(s); ci++) {
		e = get_be64(l2 + ci * 8);
		if (!in_place(s, e) ||
		    (e & QCOW2_OFFSET_MASK) != first + in + bytes)
			break;
		bytes += s->cluster_size;
	}
	if (bytes > *n)
		bytes = *n;
	*n = bytes;
	ret = check_overlap(bs, first + in, bytes);
	if (ret < 0)
		return ret;
	if (s->dbuf_entry)
		s->dbuf_entry = 0;
	return file_pwrite_all(bs->fd, buf, bytes, first + in);
}

/* Copy the old contents of guest [off, off + len) to host offset host. */
static int copy_old(struct block_dev *bs, uint64_t off, uint64_t len,
		    uint64_t host)
{
	struct qcow2 *s = bs->opaque;
	int ret;

	if (!len)
		return 0;
	ret = qcow2_read(bs, off, s->cow_buf, len);
	if (ret < 0)
		return ret;
	return file_pwrite_all(bs->fd, s->cow_buf, len, host);
}

/*
 * Write *n bytes into fresh clusters replacing the entries from ci on that
 * are not writable in place (unallocated, zero, compressed or shared).
 */
static int write_alloc(struct block_dev *bs, uint64_t l2_off, uint64_t ci,
		       uint64_t off, const uint8_t *buf, uint64_t *n)
{
	struct qcow2 *s = bs->opaque;
	uint64_t in = qcow2_offset_in_cluster(s, off), cs = s->cluster_size;
	uint64_t k = 1, bytes = cs - in, host, i, tail, old[64];
	bool must_free = false;
	uint8_t *l2;
	int ret;

	ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
	if (ret < 0)
		return ret;
	old[0] = get_be64(l2 + ci * 8);
	while (bytes < *n && k < 64 && ci + k < qcow2_l2_entries(s) &&
	       !in_place(s, get_be64(l2 + (ci + k) * 8))) {
		old[k] = get_be64(l2 + (ci + k) * 8);
		bytes += cs;
		k++;
	}
	if (bytes > *n)
		bytes = *n;
	*n = bytes;
	ret = qcow2_alloc_clusters(bs, k, &host);
	if (ret < 0)
		return ret;
	tail = k * cs - in - bytes;
	ret = copy_old(bs, off - in, in, host);
	if (!ret)
		ret = file_pwrite_all(bs->fd, buf, bytes, host + in);
	if (!ret)
		ret = copy_old(bs, off + bytes, tail, host + in + bytes);
	if (!ret)
		ret = file_barrier(bs);
	if (!ret)
		ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
	if (ret < 0) {
		qcow2_free_clusters(bs, host, k * cs);
		return ret;
	}
	for (i = 0; i < k; i++) {
		put_be64(l2 + (ci + i) * 8, (host + i * cs) | QCOW2_OFLAG_COPIED);
		if (old[i] & (QCOW2_OFFSET_MASK | QCOW2_OFLAG_COMPRESSED))
			must_free = true;
	}
	ret = file_pwrite_all(bs->fd, l2 + ci * 8, k * 8, l2_off + ci * 8);
	if (ret < 0) {
		qcow2_cache_drop(&s->l2_cache, l2_off);
		return ret;
	}
	if (!must_free || file_barrier(bs) < 0)
		return 0;
	for (i = 0; i < k; i++)
		qcow2_free_entry(bs, old[i]);
	s->dbuf_entry = 0;
	return 0;
}

/* Write [off, off + len), which lies within one L2 table. */
static int write_l2_range(struct block_dev *bs, uint64_t off, const uint8_t *buf,
			  uint64_t len)
{
	struct qcow2 *s = bs->opaque;
	uint64_t l2_off, ci, n;
	uint8_t *l2;
	int ret;

	ret = l2_for_write(bs, off / qcow2_l1_span(s), &l2_off);
	if (ret < 0)
		return ret;
	while (len) {
		ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
		if (ret < 0)
			return ret;
		ci = (off >> s->cluster_bits) & (qcow2_l2_entries(s) - 1);
		ret = check_data_entry(bs, get_be64(l2 + ci * 8));
		if (ret < 0)
			return ret;
		n = len;
		if (in_place(s, get_be64(l2 + ci * 8)))
			ret = write_in_place(bs, l2, ci, off, buf, &n);
		else
			ret = write_alloc(bs, l2_off, ci, off, buf, &n);
		if (ret < 0)
			return ret;
		off += n;
		buf += n;
		len -= n;
	}
	return 0;
}

static int64_t write_l2_piece(struct block_dev *bs, uint64_t off, uint8_t *p,
			      uint64_t n, void *unused)
{
	int ret = write_l2_range(bs, off, p, n);

	return ret < 0 ? ret : (int64_t)n;
}

int qcow2_write(struct block_dev *bs, uint64_t off, const void *buf,
		size_t len)
{
	return block_for_each_piece(bs, off, (void *)buf, len,
				    qcow2_l1_span(bs->opaque), write_l2_piece,
				    NULL);
}

/* Discard whole clusters [first, first + count) of one L2 table. */
static int discard_l2_range(struct block_dev *bs, uint64_t off, uint64_t count,
			    uint64_t none)
{
	struct qcow2 *s = bs->opaque;
	uint64_t l2_off, ci, i, *old;
	uint8_t *l2;
	int ret;

	ret = l2_offset(bs, off / qcow2_l1_span(s), &l2_off);
	/* Without a table the range already reads as the backing file. */
	if (ret < 0 || (!l2_off && (!bs->backing || !none)))
		return ret;
	ret = l2_for_write(bs, off / qcow2_l1_span(s), &l2_off);
	if (!ret)
		ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
	if (ret < 0)
		return ret;
	old = malloc(count * 8);
	if (!old)
		return -ENOMEM;
	ci = (off >> s->cluster_bits) & (qcow2_l2_entries(s) - 1);
	for (i = 0; i < count; i++) {
		old[i] = get_be64(l2 + (ci + i) * 8);
		put_be64(l2 + (ci + i) * 8, none);
	}
	ret = file_pwrite_all(bs->fd, l2 + ci * 8, count * 8, l2_off + ci * 8);
	if (ret < 0)
		qcow2_cache_drop(&s->l2_cache, l2_off);
	if (!ret && !file_barrier(bs))
		for (i = 0; i < count; i++)
			qcow2_free_entry(bs, old[i]);
	s->dbuf_entry = 0;
	free(old);
	return ret;
}

/*
 * Discard whole clusters: afterwards they read as zeros.  A v2 image with
 * a backing file cannot say "zero", so there discard does nothing.
 */
int qcow2_discard(struct block_dev *bs, uint64_t off, uint64_t len)
{
	struct qcow2 *s = bs->opaque;
	uint64_t start = align_up(off, s->cluster_size), end = off + len;
	uint64_t span = qcow2_l1_span(s), n;
	int ret;

	if (end != bs->size)
		end &= ~(s->cluster_size - 1);
	else
		end = align_up(end, s->cluster_size);
	if (s->version < 3 && bs->backing)
		return 0;
	while (start < end) {
		n = span - (start & (span - 1));
		if (n > end - start)
			n = end - start;
		ret = discard_l2_range(bs, start, n >> s->cluster_bits,
				       s->version >= 3 ? QCOW2_OFLAG_ZERO : 0);
		if (ret < 0)
			return ret;
		start += n;
	}
	return 0;
}

/*
 * Forget a whole L2 table: the L1 entry goes first (after a barrier the
 * table is unreachable), then the references it held are dropped, so a
 * crash in between only leaks.
 */
static int drop_l2_table(struct block_dev *bs, uint64_t l1_index)
{
	struct qcow2 *s = bs->opaque;
	uint64_t l2_off, old, i, esize = qcow2_l2_entry_size(s);
	uint8_t *l2, *copy;
	int ret;

	ret = l2_offset(bs, l1_index, &l2_off);
	if (ret < 0 || !l2_off)
		return ret;
	ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
	if (ret < 0)
		return ret;
	copy = malloc(s->cluster_size);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, l2, s->cluster_size);
	old = s->l1[l1_index];
	s->l1[l1_index] = 0;
	ret = qcow2_write_l1_entry(bs, l1_index);
	if (ret < 0) {
		s->l1[l1_index] = old;
		free(copy);
		return ret;
	}
	if (!file_barrier(bs)) {
		for (i = 0; i < qcow2_l2_entries(s); i++)
			qcow2_free_entry(bs, get_be64(copy + i * esize));
		qcow2_free_clusters(bs, l2_off, s->cluster_size);
	}
	qcow2_cache_drop(&s->l2_cache, l2_off);
	s->dbuf_entry = 0;
	free(copy);
	return 0;
}

/*
 * Make guest clusters [off, off + len) unallocated, freeing what they used
 * (shrinking: nothing past the end may stay allocated).  off is cluster
 * aligned; L2 tables that fall wholly inside the range are freed too.
 */
int qcow2_deallocate(struct block_dev *bs, uint64_t off, uint64_t len)
{
	struct qcow2 *s = bs->opaque;
	uint64_t span = qcow2_l1_span(s), end = align_up(off + len,
							 s->cluster_size), n;
	int ret;

	while (off < end) {
		n = span - (off & (span - 1));
		if (n > end - off)
			n = end - off;
		if (n == span)
			ret = drop_l2_table(bs, off / span);
		else
			ret = discard_l2_range(bs, off, n >> s->cluster_bits, 0);
		if (ret < 0)
			return ret;
		off += n;
	}
	return 0;
}

/*
 * 1 if the run at off has data clusters of this image's own (normal or
 * compressed), 0 if not (unallocated or zero); *pnum is its length.
 */
int qcow2_has_data(struct block_dev *bs, uint64_t off, uint64_t len,
		   uint64_t *pnum)
{
	struct qcow2_map m;
	int ret;

	ret = qcow2_map(bs, off, len, &m);
	if (ret < 0)
		return ret;
	*pnum = m.bytes;
	return m.kind == QCOW2_NORMAL || m.kind == QCOW2_COMPRESSED;
}

int qcow2_status(struct block_dev *bs, uint64_t off, uint64_t len,
		 uint64_t *pnum)
{
	struct qcow2_map m;
	uint64_t bsize;
	int ret;

	ret = qcow2_map(bs, off, len, &m);
	if (ret < 0)
		return ret;
	*pnum = m.bytes;
	switch (m.kind) {
	case QCOW2_ZERO:
		return BLOCK_STATUS_ZERO;
	case QCOW2_UNALLOCATED:
		if (!bs->backing)
			return BLOCK_STATUS_ZERO;
		bsize = bs->backing->size;
		if (off >= bsize)
			return BLOCK_STATUS_ZERO;
		if (*pnum > bsize - off)
			*pnum = bsize - off;
		return block_status(bs->backing, off, *pnum, pnum);
	default:
		return BLOCK_STATUS_DATA;
	}
}

/*
 * qcow2 block_map() hook: which guest ranges this image defines and where
 * plain (uncompressed) data lies in the file, so the generic layer can
 * read and rewrite allocated clusters without holding the driver lock.
 * Anything unusual (compressed, shared, subclusters, overlap with
 * metadata) is reported as not writable and left to the driver's own path.
 */
#include <errno.h>

#include "block/file_io.h"
#include "block/qcow2.h"
#include "block/qcow2_extra.h"

/* True if guest data at host [host, host + len) would hit known metadata. */
static bool hits_metadata(const struct qcow2 *s, uint64_t host, uint64_t len)
{
	uint64_t l1_end = s->l1_offset + (uint64_t)s->l1_size * 8;
	uint64_t rt_end = s->rt_offset +
			  ((uint64_t)s->rt_clusters << s->cluster_bits);

	return host < s->cluster_size ||
	       (host < l1_end && host + len > s->l1_offset) ||
	       (host < rt_end && host + len > s->rt_offset);
}

static unsigned entry_flags(const struct qcow2 *s, uint64_t e)
{
	switch (qcow2_entry_kind(s, e)) {
	case QCOW2_UNALLOCATED:
		return 0;
	case QCOW2_ZERO:
		return BLOCK_MAP_ALLOCATED | BLOCK_MAP_ZERO;
	case QCOW2_COMPRESSED:
		return BLOCK_MAP_ALLOCATED;
	default:
		return BLOCK_MAP_ALLOCATED | BLOCK_MAP_HOST |
		       (e & QCOW2_OFLAG_COPIED ? BLOCK_MAP_WRITABLE : 0);
	}
}

/* Flags of subcluster sc from the two halves of an extended L2 bitmap. */
static unsigned subcluster_flags(uint64_t bitmap, uint32_t sc)
{
	bool zero = (bitmap >> 32) & (1ULL << sc), data = bitmap & (1ULL << sc);

	if (zero && data)
		return BLOCK_MAP_ALLOCATED;	/* corrupt: the driver says so */
	if (zero)
		return BLOCK_MAP_ALLOCATED | BLOCK_MAP_ZERO;
	return data ? BLOCK_MAP_ALLOCATED | BLOCK_MAP_HOST : 0;
}

/*
 * Extended L2 entries (16 bytes: entry, then a bitmap of allocated and
 * zero subclusters): the run of alike subclusters from off within one
 * cluster.  Such images are only read, so nothing is writable.
 */
static void map_subclusters(const struct qcow2 *s, const uint8_t *l2,
			    uint64_t ci, uint64_t in, struct block_mapping *m)
{
	uint64_t e = get_be64(l2 + ci * 16), bitmap = get_be64(l2 + ci * 16 + 8);
	uint32_t sc = in >> s->sc_bits, end;

	m->len = s->cluster_size - in;
	if (qcow2_entry_kind(s, e & ~QCOW2_OFLAG_ZERO) == QCOW2_COMPRESSED) {
		m->flags = BLOCK_MAP_ALLOCATED;
		return;
	}
	m->flags = subcluster_flags(bitmap, sc);
	for (end = sc + 1; end < QCOW2_SUBCLUSTERS &&
	     subcluster_flags(bitmap, end) == m->flags; end++)
		;
	m->len = ((uint64_t)end << s->sc_bits) - in;
	m->host = (e & QCOW2_OFFSET_MASK) + in;
	if ((m->flags & BLOCK_MAP_HOST) && (m->host - in < s->cluster_size ||
	    ((m->host - in) & (s->cluster_size - 1))))
		m->flags &= ~BLOCK_MAP_HOST;
}

int qcow2_map_range(struct block_dev *bs, uint64_t off, uint64_t len,
		    struct block_mapping *m)
{
	struct qcow2 *s = bs->opaque;
	uint64_t span = qcow2_l1_span(s), in, ci, e, l2_off, host;
	uint8_t *l2;
	int ret;

	m->fd = bs->fd;
	m->flags = 0;
	m->host = 0;
	if (len > span - (off & (span - 1)))
		len = span - (off & (span - 1));
	m->len = len;
	l2_off = off / span < s->l1_size ?
		 s->l1[off / span] & QCOW2_OFFSET_MASK : 0;
	if (!l2_off)
		return 0;
	if (l2_off & (s->cluster_size - 1))
		return qcow2_corrupt(bs, "L2 table offset 0x%llx is not "
				     "cluster aligned",
				     (unsigned long long)l2_off);
	ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
	if (ret < 0)
		return ret;
	ci = (off >> s->cluster_bits) & (qcow2_l2_entries(s) - 1);
	in = qcow2_offset_in_cluster(s, off);
	if (s->extl2) {
		map_subclusters(s, l2, ci, in, m);
		if (m->len > len)
			m->len = len;
		if ((m->flags & BLOCK_MAP_HOST) &&
		    hits_metadata(s, m->host, m->len))
			m->flags &= ~BLOCK_MAP_HOST;
		return 0;
	}
	e = get_be64(l2 + ci * 8);
	m->flags = entry_flags(s, e);
	host = (e & QCOW2_OFFSET_MASK) + in;
	m->len = s->cluster_size - in;
	if (m->flags & BLOCK_MAP_HOST) {
		if (host - in < s->cluster_size ||
		    ((host - in) & (s->cluster_size - 1)))
			m->flags &= ~(BLOCK_MAP_HOST | BLOCK_MAP_WRITABLE);
		m->host = host;
	}
	/* Compressed clusters are one run each; others extend while alike. */
	if (qcow2_entry_kind(s, e) != QCOW2_COMPRESSED)
		for (ci++; m->len < len && ci < qcow2_l2_entries(s); ci++) {
			e = get_be64(l2 + ci * 8);
			if (entry_flags(s, e) != m->flags ||
			    qcow2_entry_kind(s, e) == QCOW2_COMPRESSED)
				break;
			if ((m->flags & BLOCK_MAP_HOST) &&
			    (e & QCOW2_OFFSET_MASK) != host + m->len)
				break;
			m->len += s->cluster_size;
		}
	if (m->len > len)
		m->len = len;
	if ((m->flags & BLOCK_MAP_HOST) && hits_metadata(s, host, m->len))
		m->flags &= ~(BLOCK_MAP_HOST | BLOCK_MAP_WRITABLE);
	/* The driver refuses writes that would grow the file far past its end. */
	if ((m->flags & BLOCK_MAP_WRITABLE) &&
	    qcow2_within_file(bs, host, m->len) != 1)
		m->flags &= ~BLOCK_MAP_WRITABLE;
	if (bs->read_only)
		m->flags &= ~BLOCK_MAP_WRITABLE;
	return 0;
}

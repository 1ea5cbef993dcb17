/*
 * qcow2 consistency check: count the references every cluster really has
 * (header, L1/L2 tables of the image and of each snapshot, data clusters,
 * compressed data, refcount structures, snapshot table), compare them with
 * the stored refcounts and the "copied" flags, and optionally repair.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/file_io.h"
#include "block/qcow2.h"
#include "util/log.h"

#define MAX_REPORTS	30
#define MAX_CHECK_CLUSTERS (1ULL << 28)

struct check_state {
	struct block_dev *bs;
	struct block_check *res;
	uint32_t *refs;
	uint64_t nclusters;
	unsigned reports;
	uint64_t last_host;		/* for fragmentation */
	bool active;			/* walking the active L1 table */
};

static void report(struct check_state *cs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void report(struct check_state *cs, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (cs->reports++ >= MAX_REPORTS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_warn("%s: %s", cs->bs->filename, msg);
}

static void corruption(struct check_state *cs)
{
	cs->res->corruptions++;
}

/* Count one reference to every cluster touching [off, off + len). */
static void add_ref(struct check_state *cs, uint64_t off, uint64_t len,
		    const char *what)
{
	struct qcow2 *s = cs->bs->opaque;
	uint64_t c, last;

	if (!len)
		return;
	c = off >> s->cluster_bits;
	last = (off + len - 1) >> s->cluster_bits;
	if (last >= cs->nclusters) {
		report(cs, "%s at 0x%llx lies past the end of the file", what,
		       (unsigned long long)off);
		corruption(cs);
		return;
	}
	for (; c <= last; c++)
		if (cs->refs[c] < UINT32_MAX)
			cs->refs[c]++;
}

static void check_l2_entry(struct check_state *cs, uint64_t e)
{
	struct qcow2 *s = cs->bs->opaque;
	uint64_t host, len;

	switch (qcow2_entry_kind(s, e)) {
	case QCOW2_COMPRESSED:
		qcow2_compressed_range(s, e, &host, &len);
		if (host < s->cluster_size) {
			report(cs, "compressed cluster points at the header");
			corruption(cs);
			return;
		}
		add_ref(cs, host, len, "compressed cluster");
		return;
	case QCOW2_NORMAL:
	case QCOW2_ZERO:
		host = e & QCOW2_OFFSET_MASK;
		if (!host)
			return;
		if (host & (s->cluster_size - 1)) {
			report(cs, "data cluster 0x%llx is not cluster aligned",
			       (unsigned long long)host);
			corruption(cs);
			return;
		}
		if (cs->active) {
			if (cs->last_host &&
			    host != cs->last_host + s->cluster_size)
				cs->res->fragmented_clusters++;
			cs->last_host = host;
			cs->res->allocated_clusters++;
		}
		add_ref(cs, host, s->cluster_size, "data cluster");
		return;
	default:
		return;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * L2 tables one L1 table names more than once (a corruption), sorted, with
 * a flag each: every table is walked once, however often it is named, so
 * a hostile L1 table cannot multiply the work by millions.
 */
int qcow2_find_dups(const uint64_t *l1, uint32_t size, struct qcow2_dups *d)
{
	uint64_t *v = malloc((size + 1ULL) * 8);
	size_t i, n = 0;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < size; i++)
		if (l1[i] & QCOW2_OFFSET_MASK)
			v[n++] = l1[i] & QCOW2_OFFSET_MASK;
	qsort(v, n, 8, cmp_u64);
	d->n = 0;
	for (i = 1; i < n; i++)
		if (v[i] == v[i - 1] && (!d->n || v[d->n - 1] != v[i]))
			v[d->n++] = v[i];
	d->off = v;
	d->walked = calloc(d->n + 1, 1);
	if (!d->walked) {
		free(v);
		return -ENOMEM;
	}
	return 0;
}

/* False if the L2 table at off was walked already. */
bool qcow2_walk_once(struct qcow2_dups *d, uint64_t off)
{
	uint64_t *p = bsearch(&off, d->off, d->n, 8, cmp_u64);

	if (!p)
		return true;
	if (d->walked[p - d->off])
		return false;
	d->walked[p - d->off] = true;
	return true;
}

void qcow2_free_dups(struct qcow2_dups *d)
{
	free(d->off);
	free(d->walked);
}

static int check_l1(struct check_state *cs, const uint64_t *l1, uint32_t size,
		    uint64_t l1_off)
{
	struct qcow2 *s = cs->bs->opaque;
	struct qcow2_dups dups;
	uint64_t off, i, j;
	uint8_t *l2;
	int ret;

	add_ref(cs, l1_off, size * 8ULL, "L1 table");
	/* An L1 table in clusters something else uses: counted, not walked. */
	if (size && (l1_off >> s->cluster_bits) < cs->nclusters &&
	    cs->refs[l1_off >> s->cluster_bits] > 1) {
		report(cs, "L1 table at 0x%llx shares its clusters",
		       (unsigned long long)l1_off);
		corruption(cs);
		return 0;
	}
	ret = qcow2_find_dups(l1, size, &dups);
	if (ret < 0)
		return ret;
	for (i = 0; i < size; i++) {
		off = l1[i] & QCOW2_OFFSET_MASK;
		if (!off)
			continue;
		if (off & (s->cluster_size - 1) || off < s->cluster_size) {
			report(cs, "L2 table offset 0x%llx is invalid",
			       (unsigned long long)off);
			corruption(cs);
			continue;
		}
		add_ref(cs, off, s->cluster_size, "L2 table");
		if ((off >> s->cluster_bits) >= cs->nclusters ||
		    !qcow2_walk_once(&dups, off))
			continue;
		ret = qcow2_cache_get(cs->bs, &s->l2_cache, off, &l2);
		if (ret == -EIO) {
			corruption(cs);
			continue;
		}
		if (ret < 0)
			break;
		ret = 0;
		memcpy(s->cow_buf, l2, s->cluster_size);
		for (j = 0; j < qcow2_l2_entries(s); j++)
			check_l2_entry(cs, get_be64(s->cow_buf +
						    j * qcow2_l2_entry_size(s)));
	}
	qcow2_free_dups(&dups);
	return ret < 0 ? ret : 0;
}

static int check_snapshots(struct check_state *cs)
{
	struct qcow2 *s = cs->bs->opaque;
	struct qcow2_snapshot *sn;
	uint64_t *l1, i;
	uint32_t n;
	int ret;

	add_ref(cs, s->snapshots_offset, s->snapshots_size, "snapshot table");
	for (n = 0; n < s->nb_snapshots; n++) {
		sn = &s->snapshots[n];
		l1 = calloc(sn->l1_size + 1, 8);
		if (!l1)
			return -ENOMEM;
		if (sn->l1_size && file_pread_exact(cs->bs->fd, l1,
						    sn->l1_size * 8ULL,
						    sn->l1_offset) < 0) {
			report(cs, "L1 table of snapshot '%s' lies past the end "
			       "of the file", sn->name);
			corruption(cs);
			free(l1);
			continue;
		}
		for (i = 0; i < sn->l1_size; i++)
			l1[i] = be64toh(l1[i]);
		ret = check_l1(cs, l1, sn->l1_size, sn->l1_offset);
		free(l1);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void count_refcount_structures(struct check_state *cs)
{
	struct qcow2 *s = cs->bs->opaque;
	uint64_t i, rb;

	add_ref(cs, 0, s->cluster_size, "header");
	add_ref(cs, s->rt_offset, (uint64_t)s->rt_clusters << s->cluster_bits,
		"refcount table");
	for (i = 0; i < s->rt_size; i++) {
		rb = s->rt[i] & QCOW2_RT_OFFSET_MASK;
		if (rb)
			add_ref(cs, rb, s->cluster_size, "refcount block");
	}
}

/*
 * Refcounts for clusters past the end of the file are leaks.  A refcount
 * block that several table entries share is already a corruption; it is
 * scanned once, so a hostile table cannot make this loop run for hours.
 */
static int check_past_end(struct check_state *cs, bool repair)
{
	struct qcow2 *s = cs->bs->opaque;
	uint64_t per_block = 1ULL << s->rb_bits, r, i, rb_off, rc, c;
	uint8_t *rb;
	int ret;

	for (r = cs->nclusters >> s->rb_bits; r < s->rt_size; r++) {
		rb_off = s->rt[r] & QCOW2_RT_OFFSET_MASK;
		if (!rb_off || (rb_off >> s->cluster_bits) >= cs->nclusters ||
		    cs->refs[rb_off >> s->cluster_bits] > 1)
			continue;
		i = r == cs->nclusters >> s->rb_bits ?
		    cs->nclusters & (per_block - 1) : 0;
		for (; i < per_block; i++) {
			ret = qcow2_cache_get(cs->bs, &s->rb_cache, rb_off, &rb);
			if (ret < 0)
				return ret;
			if (!i && buf_is_zero(rb, s->cluster_size))
				break;
			rc = qcow2_refcount_get_entry(s, rb, i);
			if (!rc)
				continue;
			c = (r << s->rb_bits) + i;
			cs->res->leaks++;
			report(cs, "refcount for cluster %llu past the end of "
			       "the file", (unsigned long long)c);
			if (repair && (ret = qcow2_set_refcount(cs->bs, c, 0)) < 0)
				return ret;
		}
	}
	return 0;
}

/* Stored refcount above the references: leak; below: corruption. */
static int compare_refcounts(struct check_state *cs, bool repair)
{
	uint64_t c, rc;
	int ret;

	for (c = 0; c < cs->nclusters; c++) {
		ret = qcow2_get_refcount(cs->bs, c, &rc);
		if (ret < 0)
			return ret;
		if (rc == cs->refs[c])
			continue;
		if (rc > cs->refs[c]) {
			cs->res->leaks++;
			report(cs, "leaked cluster %llu: refcount %llu, "
			       "references %u", (unsigned long long)c,
			       (unsigned long long)rc, cs->refs[c]);
		} else {
			corruption(cs);
			report(cs, "cluster %llu: refcount %llu but %u "
			       "references", (unsigned long long)c,
			       (unsigned long long)rc, cs->refs[c]);
		}
		if (!repair)
			continue;
		ret = qcow2_set_refcount(cs->bs, c, cs->refs[c]);
		if (ret < 0)
			return ret;
	}
	return check_past_end(cs, repair);
}

static void check_flag(struct check_state *cs, uint64_t e, const char *what)
{
	struct qcow2 *s = cs->bs->opaque;
	uint64_t host = e & QCOW2_OFFSET_MASK, c = host >> s->cluster_bits;
	bool want;

	if (!host || (e & QCOW2_OFLAG_COMPRESSED) || c >= cs->nclusters)
		return;
	want = cs->refs[c] == 1;
	if (want == !!(e & QCOW2_OFLAG_COPIED))
		return;
	corruption(cs);
	report(cs, "%s 0x%llx: copied flag %s but %u references", what,
	       (unsigned long long)host, want ? "clear" : "set", cs->refs[c]);
}

/* The active tables' copied flags must match the reference counts. */
static int check_copied_flags(struct check_state *cs)
{
	struct qcow2 *s = cs->bs->opaque;
	struct qcow2_dups dups;
	uint64_t off, i, j;
	uint8_t *l2;
	int ret;

	ret = qcow2_find_dups(s->l1, s->l1_size, &dups);
	if (ret < 0)
		return ret;
	for (i = 0; i < s->l1_size; i++) {
		off = s->l1[i] & QCOW2_OFFSET_MASK;
		if (!off || off & (s->cluster_size - 1) ||
		    (off >> s->cluster_bits) >= cs->nclusters)
			continue;
		check_flag(cs, s->l1[i], "L2 table");
		if (!qcow2_walk_once(&dups, off))
			continue;
		ret = qcow2_cache_get(cs->bs, &s->l2_cache, off, &l2);
		if (ret == -EIO)
			continue;
		if (ret < 0)
			break;
		ret = 0;
		memcpy(s->cow_buf, l2, s->cluster_size);
		for (j = 0; j < qcow2_l2_entries(s); j++)
			check_flag(cs, get_be64(s->cow_buf +
						j * qcow2_l2_entry_size(s)),
				   "data cluster");
	}
	qcow2_free_dups(&dups);
	return ret < 0 ? ret : 0;
}

static int run_check(struct block_dev *bs, struct block_check *res,
		     bool repair)
{
	struct qcow2 *s = bs->opaque;
	struct check_state cs = { .bs = bs, .res = res };
	uint64_t fsize;
	int ret;

	memset(res, 0, sizeof(*res));
	ret = file_size(bs->fd, &fsize);
	if (ret < 0)
		return ret;
	cs.nclusters = div_round_up(fsize, s->cluster_size);
	if (cs.nclusters > MAX_CHECK_CLUSTERS) {
		log_error("%s: image too large to check", bs->filename);
		return -EFBIG;
	}
	cs.refs = calloc(cs.nclusters + 1, sizeof(*cs.refs));
	if (!cs.refs)
		return -ENOMEM;
	res->checked_clusters = cs.nclusters;
	if (repair)
		cs.reports = MAX_REPORTS * 2;	/* already reported */
	count_refcount_structures(&cs);
	cs.active = true;
	ret = check_l1(&cs, s->l1, s->l1_size, s->l1_offset);
	cs.active = false;
	if (!ret)
		ret = check_snapshots(&cs);
	if (!ret)
		ret = compare_refcounts(&cs, repair);
	if (!ret && !repair)
		ret = check_copied_flags(&cs);
	if (!repair && cs.reports > MAX_REPORTS)
		log_warn("%s: %u more problems not shown", bs->filename,
			 cs.reports - MAX_REPORTS);
	free(cs.refs);
	return ret;
}

/*
 * A clean image needs neither the dirty nor the corrupt bit; the dirty bit
 * of a lazy-refcounts session stays until the image is closed.
 */
static int clear_flags(struct block_dev *bs)
{
	struct qcow2 *s = bs->opaque;
	uint64_t clear = QCOW2_INCOMPAT_CORRUPT;

	if (!s->marked_dirty)
		clear |= QCOW2_INCOMPAT_DIRTY;
	if (!(s->incompat & clear))
		return 0;
	return qcow2_set_incompat(bs, s->incompat & ~clear);
}

int qcow2_check(struct block_dev *bs, struct block_check *res, bool repair)
{
	struct qcow2 *s = bs->opaque;
	int ret;

	ret = run_check(bs, res, false);
	if (ret < 0 || !repair || bs->read_only)
		return ret;
	if (!res->leaks && !res->corruptions &&
	    !(s->incompat & (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT)))
		return 0;
	ret = run_check(bs, res, true);
	if (!ret)
		ret = file_barrier(bs);
	if (!ret)
		ret = qcow2_update_copied_flags(bs);
	if (!ret)
		ret = file_barrier(bs);
	if (ret < 0)
		return ret;
	s->free_hint = 0;
	ret = run_check(bs, res, false);
	if (ret < 0)
		return ret;
	if (!res->corruptions && !res->leaks)
		ret = clear_flags(bs);
	res->repaired = true;
	return ret;
}

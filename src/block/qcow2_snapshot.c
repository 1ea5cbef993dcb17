/*
 * qcow2 internal snapshots: reading and writing the snapshot table, and
 * creating, deleting and reverting to snapshots.  A snapshot is a copy of
 * the L1 table; the clusters it shares with the active image carry one
 * reference per L1 table that reaches them, and the active image's "copied"
 * flags tell which clusters it may still write in place.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block/file_io.h"
#include "block/qcow2.h"
#include "util/log.h"

#define SN_FIXED_LEN	40
#define SN_EXTRA_MAX	1024

void qcow2_free_snapshots(struct qcow2 *s)
{
	uint32_t i;

	for (i = 0; s->snapshots && i < s->nb_snapshots; i++) {
		free(s->snapshots[i].id);
		free(s->snapshots[i].name);
		free(s->snapshots[i].extra);
	}
	free(s->snapshots);
	s->snapshots = NULL;
}

static char *read_string(int fd, uint64_t off, uint32_t len)
{
	char *str = malloc(len + 1);

	if (!str)
		return NULL;
	if (file_pread_exact(fd, str, len, off) < 0) {
		free(str);
		return NULL;
	}
	str[len] = 0;
	return str;
}

/* Parse one entry at *off; advances *off past it. */
static int read_one(struct block_dev *bs, struct qcow2_snapshot *sn,
		    uint64_t *off)
{
	struct qcow2 *s = bs->opaque;
	uint8_t h[SN_FIXED_LEN];
	uint16_t id_len, name_len;
	uint32_t extra;

	if (file_pread_exact(bs->fd, h, sizeof(h), *off) < 0)
		return qcow2_corrupt(bs, "snapshot table runs past the end of "
				     "the file");
	sn->l1_offset = get_be64(h);
	sn->l1_size = get_be32(h + 8);
	id_len = get_be16(h + 12);
	name_len = get_be16(h + 14);
	sn->date_sec = get_be32(h + 16);
	sn->date_nsec = get_be32(h + 20);
	sn->vm_clock_nsec = get_be64(h + 24);
	sn->vm_state_size = get_be32(h + 32);
	extra = get_be32(h + 36);
	if (extra > SN_EXTRA_MAX || (s->version >= 3 && extra < 16))
		return qcow2_corrupt(bs, "snapshot extra data of %u bytes",
				     extra);
	if (sn->l1_size * 8ULL > QCOW2_MAX_L1_BYTES ||
	    (sn->l1_offset & (s->cluster_size - 1)))
		return qcow2_corrupt(bs, "invalid snapshot L1 table");
	*off += SN_FIXED_LEN;
	sn->extra = malloc(extra ? extra : 1);
	if (!sn->extra)
		return -ENOMEM;
	sn->extra_size = extra;
	if (file_pread_exact(bs->fd, sn->extra, extra, *off) < 0)
		return qcow2_corrupt(bs, "snapshot table runs past the end");
	if (extra >= 8)
		sn->vm_state_size = get_be64(sn->extra);
	sn->has_disk_size = extra >= 16;
	if (sn->has_disk_size)
		sn->disk_size = get_be64(sn->extra + 8);
	sn->has_icount = extra >= 24;
	sn->icount = sn->has_icount ? get_be64(sn->extra + 16) : ~0ULL;
	*off += extra;
	sn->id = read_string(bs->fd, *off, id_len);
	*off += id_len;
	sn->name = read_string(bs->fd, *off, name_len);
	*off += name_len;
	if (!sn->id || !sn->name)
		return qcow2_corrupt(bs, "snapshot table runs past the end");
	*off = align_up(*off, 8);
	return 0;
}

int qcow2_read_snapshots(struct block_dev *bs)
{
	struct qcow2 *s = bs->opaque;
	uint64_t off = s->snapshots_offset;
	uint32_t i, n = s->nb_snapshots;
	int ret;

	s->snapshots_size = 0;
	if (!n)
		return 0;
	if (n > QCOW2_MAX_SNAPSHOTS || !off || (off & (s->cluster_size - 1)))
		return qcow2_corrupt(bs, "invalid snapshot table (%u entries at "
				     "0x%llx)", n, (unsigned long long)off);
	s->snapshots = calloc(n, sizeof(*s->snapshots));
	if (!s->snapshots)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		ret = read_one(bs, &s->snapshots[i], &off);
		if (ret < 0)
			return ret;
	}
	s->snapshots_size = off - s->snapshots_offset;
	return 0;
}

int qcow2_snapshot_list(struct block_dev *bs, struct block_snapshot **list,
			int *count)
{
	struct qcow2 *s = bs->opaque;
	struct block_snapshot *l;
	uint32_t i;

	l = calloc(s->nb_snapshots + 1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	for (i = 0; i < s->nb_snapshots; i++) {
		struct qcow2_snapshot *sn = &s->snapshots[i];

		snprintf(l[i].id, sizeof(l[i].id), "%s", sn->id);
		snprintf(l[i].name, sizeof(l[i].name), "%s", sn->name);
		l[i].vm_state_size = sn->vm_state_size;
		l[i].disk_size = sn->has_disk_size ? sn->disk_size : bs->size;
		l[i].date_sec = sn->date_sec;
		l[i].date_nsec = sn->date_nsec;
		l[i].vm_clock_nsec = sn->vm_clock_nsec;
	}
	*list = l;
	*count = s->nb_snapshots;
	return 0;
}

/* Serialise snapshots into a malloc'd buffer; *len gets its size. */
static uint8_t *build_table(const struct qcow2_snapshot *sn, uint32_t n,
			    uint64_t *len)
{
	uint64_t size = 0, off = 0;
	uint32_t i, il, nl;
	uint8_t *t;

	for (i = 0; i < n; i++)
		size += align_up(SN_FIXED_LEN + sn[i].extra_size +
				 strlen(sn[i].id) + strlen(sn[i].name), 8);
	t = calloc(1, size ? size : 1);
	if (!t)
		return NULL;
	for (i = 0; i < n; i++) {
		il = strlen(sn[i].id);
		nl = strlen(sn[i].name);
		put_be64(t + off, sn[i].l1_offset);
		put_be32(t + off + 8, sn[i].l1_size);
		put_be16(t + off + 12, il);
		put_be16(t + off + 14, nl);
		put_be32(t + off + 16, sn[i].date_sec);
		put_be32(t + off + 20, sn[i].date_nsec);
		put_be64(t + off + 24, sn[i].vm_clock_nsec);
		put_be32(t + off + 32, sn[i].vm_state_size > UINT32_MAX ?
			 0 : sn[i].vm_state_size);
		put_be32(t + off + 36, sn[i].extra_size);
		memcpy(t + off + SN_FIXED_LEN, sn[i].extra, sn[i].extra_size);
		off += SN_FIXED_LEN + sn[i].extra_size;
		memcpy(t + off, sn[i].id, il);
		memcpy(t + off + il, sn[i].name, nl);
		off = align_up(off + il + nl, 8);
	}
	*len = size;
	return t;
}

/* Write a new table for sn[0..n) and switch the header to it. */
static int commit_table(struct block_dev *bs, struct qcow2_snapshot *sn,
			uint32_t n)
{
	struct qcow2 *s = bs->opaque;
	uint64_t len, off = 0, old_off = s->snapshots_offset;
	uint64_t old_len = s->snapshots_size;
	uint8_t *t = build_table(sn, n, &len), hdr[12];
	int ret;

	if (!t)
		return -ENOMEM;
	ret = 0;
	if (len)
		ret = qcow2_alloc_clusters(bs, div_round_up(len, s->cluster_size),
					   &off);
	if (!ret && len)
		ret = file_pwrite_all(bs->fd, t, len, off);
	free(t);
	if (!ret)
		ret = file_barrier(bs);
	put_be32(hdr, n);
	put_be64(hdr + 4, off);
	if (!ret)
		ret = qcow2_write_header_field(bs, QH_NB_SNAPSHOTS, hdr, 12);
	if (!ret)
		ret = file_barrier(bs);
	if (ret < 0) {
		if (len && off)
			qcow2_free_clusters(bs, off, len);
		return ret;
	}
	s->snapshots_offset = off;
	s->snapshots_size = len;
	if (old_len)
		qcow2_free_clusters(bs, old_off, old_len);
	return 0;
}

/* Host range one L2 entry holds a reference to, len 0 if none. */
static void entry_range(const struct qcow2 *s, uint64_t e, uint64_t *host,
			uint64_t *len)
{
	*len = 0;
	switch (qcow2_entry_kind(s, e)) {
	case QCOW2_COMPRESSED:
		qcow2_compressed_range(s, e, host, len);
		break;
	case QCOW2_NORMAL:
	case QCOW2_ZERO:
		*host = e & QCOW2_OFFSET_MASK;
		if (*host)
			*len = s->cluster_size;
		break;
	default:
		break;
	}
}

/* Add delta to every cluster the L2 table at l2_off points at. */
static int l2_refs(struct block_dev *bs, uint64_t l2_off, int delta)
{
	struct qcow2 *s = bs->opaque;
	uint64_t i, host, len, run = 0, run_len = 0;
	uint8_t *l2;
	int ret;

	ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
	if (ret < 0)
		return ret;
	memcpy(s->cow_buf, l2, s->cluster_size);
	for (i = 0; i < qcow2_l2_entries(s); i++) {
		entry_range(s, get_be64(s->cow_buf + i * 8), &host, &len);
		if (!len)
			continue;
		if (run_len && host == run + run_len &&
		    !(host & (s->cluster_size - 1)) && len == s->cluster_size) {
			run_len += len;
			continue;
		}
		if (run_len)
			ret = qcow2_update_refcount(bs, run, run_len, delta);
		if (ret < 0)
			return ret;
		run = host;
		run_len = len;
	}
	if (run_len)
		ret = qcow2_update_refcount(bs, run, run_len, delta);
	return ret;
}

/* Add delta to the refcount of everything an L1 table reaches. */
static int l1_refs(struct block_dev *bs, const uint64_t *l1, uint32_t size,
		   int delta)
{
	struct qcow2 *s = bs->opaque;
	uint64_t off;
	uint32_t i;
	int ret;

	for (i = 0; i < size; i++) {
		off = l1[i] & QCOW2_OFFSET_MASK;
		if (!off)
			continue;
		if (off & (s->cluster_size - 1))
			return qcow2_corrupt(bs, "unaligned L2 table offset");
		ret = l2_refs(bs, off, delta);
		if (!ret)
			ret = qcow2_update_refcount(bs, off, s->cluster_size,
						    delta);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Set the copied flag of an entry iff the clusters it names have rc 1. */
static int want_copied(struct block_dev *bs, uint64_t e, uint64_t *out)
{
	struct qcow2 *s = bs->opaque;
	uint64_t rc, host = e & QCOW2_OFFSET_MASK;
	int ret;

	*out = e & ~QCOW2_OFLAG_COPIED;
	if ((e & QCOW2_OFLAG_COMPRESSED) || !host)
		return 0;
	ret = qcow2_get_refcount(bs, host >> s->cluster_bits, &rc);
	if (ret < 0)
		return ret;
	if (rc == 1)
		*out |= QCOW2_OFLAG_COPIED;
	return 0;
}

static int fix_l2_flags(struct block_dev *bs, uint64_t l2_off)
{
	struct qcow2 *s = bs->opaque;
	uint64_t i, e, want;
	bool changed = false;
	uint8_t *l2;
	int ret;

	for (i = 0; i < qcow2_l2_entries(s); i++) {
		ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
		if (ret < 0)
			return ret;
		e = get_be64(l2 + i * 8);
		ret = want_copied(bs, e, &want);
		if (ret < 0)
			return ret;
		if (want != e) {
			ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
			if (ret < 0)
				return ret;
			put_be64(l2 + i * 8, want);
			changed = true;
		}
	}
	if (!changed)
		return 0;
	ret = qcow2_cache_get(bs, &s->l2_cache, l2_off, &l2);
	if (!ret)
		ret = file_pwrite_all(bs->fd, l2, s->cluster_size, l2_off);
	return ret;
}

/*
 * Bring the active tables' copied flags in line with the refcounts.  L2
 * tables shared with snapshots are fixed too: a table copied on write
 * must not carry a copied flag for a cluster it shares.
 */
int qcow2_update_copied_flags(struct block_dev *bs)
{
	struct qcow2 *s = bs->opaque;
	struct qcow2_dups dups;
	uint64_t want, off;
	uint32_t i;
	int ret;

	ret = qcow2_find_dups(s->l1, s->l1_size, &dups);
	if (ret < 0)
		return ret;
	for (i = 0; i < s->l1_size; i++) {
		off = s->l1[i] & QCOW2_OFFSET_MASK;
		if (!off)
			continue;
		ret = want_copied(bs, s->l1[i], &want);
		if (!ret && qcow2_walk_once(&dups, off))
			ret = fix_l2_flags(bs, off);
		if (ret < 0)
			break;
		if (want == s->l1[i])
			continue;
		s->l1[i] = want;
		ret = qcow2_write_l1_entry(bs, i);
		if (ret < 0)
			break;
	}
	qcow2_free_dups(&dups);
	return ret < 0 ? ret : 0;
}

static struct qcow2_snapshot *find(struct qcow2 *s, const char *name)
{
	uint32_t i;

	for (i = 0; i < s->nb_snapshots; i++)
		if (!strcmp(s->snapshots[i].name, name))
			return &s->snapshots[i];
	for (i = 0; i < s->nb_snapshots; i++)
		if (!strcmp(s->snapshots[i].id, name))
			return &s->snapshots[i];
	return NULL;
}

static char *next_id(struct qcow2 *s)
{
	unsigned long max = 0, v;
	uint32_t i;
	char *id;

	for (i = 0; i < s->nb_snapshots; i++) {
		v = strtoul(s->snapshots[i].id, NULL, 10);
		if (v > max)
			max = v;
	}
	if (asprintf(&id, "%lu", max + 1) < 0)
		return NULL;
	return id;
}

/* Write a copy of the active L1 table (without copied flags). */
static int copy_l1(struct block_dev *bs, uint64_t *off)
{
	struct qcow2 *s = bs->opaque;
	uint64_t bytes = s->l1_size * 8ULL, *t, i;
	int ret;

	*off = 0;
	if (!bytes)
		return 0;
	t = malloc(bytes);
	if (!t)
		return -ENOMEM;
	for (i = 0; i < s->l1_size; i++)
		t[i] = htobe64(s->l1[i] & ~QCOW2_OFLAG_COPIED);
	ret = qcow2_alloc_clusters(bs, div_round_up(bytes, s->cluster_size), off);
	if (!ret)
		ret = file_pwrite_all(bs->fd, t, bytes, *off);
	free(t);
	return ret;
}

static int init_snapshot(struct block_dev *bs, struct qcow2_snapshot *sn,
			 const char *name, uint64_t vm_state_size,
			 uint64_t vm_clock_nsec)
{
	struct qcow2 *s = bs->opaque;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	memset(sn, 0, sizeof(*sn));
	sn->l1_size = s->l1_size;
	sn->date_sec = ts.tv_sec;
	sn->date_nsec = ts.tv_nsec;
	sn->disk_size = bs->size;
	sn->has_disk_size = true;
	sn->extra_size = 16;
	sn->extra = calloc(1, 16);
	sn->name = strdup(name);
	sn->id = next_id(s);
	if (!sn->extra || !sn->name || !sn->id)
		return -ENOMEM;
	put_be64(sn->extra + 8, bs->size);
	sn->vm_state_size = vm_state_size;
	put_be64(sn->extra, vm_state_size);
	sn->vm_clock_nsec = vm_clock_nsec;
	return 0;
}

/*
 * The VM state area (qcow2 spec, "Snapshots"): guest offsets from the
 * first L1 entry past the virtual disk, so a snapshot's copy of the L1
 * table takes the machine state with the disk's data.
 */
static uint64_t vmstate_base(struct block_dev *bs)
{
	struct qcow2 *s = bs->opaque;

	return div_round_up(bs->size, qcow2_l1_span(s)) * qcow2_l1_span(s);
}

int qcow2_vmstate_io(struct block_dev *bs, uint64_t pos, void *buf, size_t len,
		     bool write)
{
	struct qcow2 *s = bs->opaque;
	uint64_t off = vmstate_base(bs) + pos, need;
	int ret;

	if (pos > QCOW2_MAX_L1_BYTES / 8 * qcow2_l1_span(s) || off + len < off)
		return -EFBIG;
	if (!write)
		return qcow2_read(bs, off, buf, len);
	need = div_round_up(off + len, qcow2_l1_span(s));
	if (need > s->l1_size) {
		ret = qcow2_grow_l1(bs, need);
		if (ret < 0)
			return ret;
	}
	return qcow2_write(bs, off, buf, len);
}

static void free_one(struct qcow2_snapshot *sn)
{
	free(sn->id);
	free(sn->name);
	free(sn->extra);
}

int qcow2_snapshot_create(struct block_dev *bs, const char *name,
			  uint64_t vm_state_size, uint64_t vm_clock_nsec)
{
	struct qcow2 *s = bs->opaque;
	struct qcow2_snapshot *list, sn;
	int ret;

	if (find(s, name)) {
		log_error("%s: a snapshot named '%s' exists already",
			  bs->filename, name);
		return -EEXIST;
	}
	if (strlen(name) > UINT16_MAX || s->nb_snapshots >= QCOW2_MAX_SNAPSHOTS)
		return -EINVAL;
	ret = init_snapshot(bs, &sn, name, vm_state_size, vm_clock_nsec);
	if (!ret)
		ret = l1_refs(bs, s->l1, s->l1_size, 1);
	if (!ret)
		ret = qcow2_update_copied_flags(bs);
	if (!ret)
		ret = copy_l1(bs, &sn.l1_offset);
	if (ret < 0) {
		free_one(&sn);
		return ret;
	}
	list = realloc(s->snapshots, (s->nb_snapshots + 1) * sizeof(*list));
	if (!list) {
		free_one(&sn);
		return -ENOMEM;
	}
	s->snapshots = list;
	list[s->nb_snapshots] = sn;
	ret = commit_table(bs, list, s->nb_snapshots + 1);
	if (ret < 0) {
		free_one(&sn);
		return ret;
	}
	s->nb_snapshots++;
	/* The active image needs the VM state no more; left, it would cost
	 * copies on write at the next savevm. */
	if (vm_state_size)
		qcow2_discard(bs, vmstate_base(bs), align_up(vm_state_size, s->cluster_size));
	return 0;
}

/* Load a snapshot's L1 table in host order. */
static int load_l1(struct block_dev *bs, const struct qcow2_snapshot *sn,
		   uint64_t **out)
{
	uint64_t *t = calloc(sn->l1_size + 1, 8);
	uint32_t i;

	if (!t)
		return -ENOMEM;
	if (sn->l1_size && file_pread_exact(bs->fd, t, sn->l1_size * 8ULL,
					    sn->l1_offset) < 0) {
		free(t);
		return qcow2_corrupt(bs, "snapshot L1 table lies past the end "
				     "of the file");
	}
	for (i = 0; i < sn->l1_size; i++)
		t[i] = be64toh(t[i]);
	*out = t;
	return 0;
}

int qcow2_snapshot_delete(struct block_dev *bs, const char *name)
{
	struct qcow2 *s = bs->opaque;
	struct qcow2_snapshot *sn = find(s, name), gone;
	uint64_t *l1;
	uint32_t idx;
	int ret;

	if (!sn) {
		log_error("%s: no snapshot '%s'", bs->filename, name);
		return -ENOENT;
	}
	ret = load_l1(bs, sn, &l1);
	if (ret < 0)
		return ret;
	idx = sn - s->snapshots;
	gone = *sn;
	memmove(sn, sn + 1, (s->nb_snapshots - idx - 1) * sizeof(*sn));
	ret = commit_table(bs, s->snapshots, s->nb_snapshots - 1);
	if (ret < 0) {
		memmove(s->snapshots + idx + 1, s->snapshots + idx,
			(s->nb_snapshots - idx - 1) * sizeof(*sn));
		s->snapshots[idx] = gone;
		free(l1);
		return ret;
	}
	s->nb_snapshots--;
	ret = l1_refs(bs, l1, gone.l1_size, -1);
	if (!ret && gone.l1_size)
		ret = qcow2_free_clusters(bs, gone.l1_offset,
					  gone.l1_size * 8ULL);
	if (!ret)
		ret = qcow2_update_copied_flags(bs);
	free_one(&gone);
	free(l1);
	return ret;
}

/* Make the active L1 table hold exactly the entries of t[0..n). */
static int write_active_l1(struct block_dev *bs, const uint64_t *t, uint32_t n)
{
	struct qcow2 *s = bs->opaque;
	uint64_t *be;
	uint32_t i;
	int ret;

	if (n > s->l1_size) {
		ret = qcow2_grow_l1(bs, n);
		if (ret < 0)
			return ret;
	}
	be = calloc(s->l1_size + 1, 8);
	if (!be)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		be[i] = htobe64(t[i] & ~QCOW2_OFLAG_COPIED);
	ret = file_pwrite_all(bs->fd, be, s->l1_size * 8ULL, s->l1_offset);
	free(be);
	if (ret < 0)
		return ret;
	for (i = 0; i < s->l1_size; i++)
		s->l1[i] = i < n ? t[i] & ~QCOW2_OFLAG_COPIED : 0;
	return 0;
}

int qcow2_snapshot_apply(struct block_dev *bs, const char *name)
{
	struct qcow2 *s = bs->opaque;
	struct qcow2_snapshot *sn = find(s, name);
	uint64_t *snap_l1, *old_l1, be;
	uint32_t old_size = s->l1_size;
	int ret;

	if (!sn) {
		log_error("%s: no snapshot '%s'", bs->filename, name);
		return -ENOENT;
	}
	ret = load_l1(bs, sn, &snap_l1);
	if (ret < 0)
		return ret;
	old_l1 = malloc(old_size * 8ULL + 8);
	if (!old_l1) {
		free(snap_l1);
		return -ENOMEM;
	}
	memcpy(old_l1, s->l1, old_size * 8ULL);
	ret = l1_refs(bs, snap_l1, sn->l1_size, 1);
	if (!ret)
		ret = file_barrier(bs);
	if (!ret)
		ret = write_active_l1(bs, snap_l1, sn->l1_size);
	if (!ret)
		ret = file_barrier(bs);
	if (!ret)
		ret = l1_refs(bs, old_l1, old_size, -1);
	if (!ret && sn->has_disk_size && sn->disk_size != bs->size) {
		be = htobe64(sn->disk_size);
		ret = qcow2_write_header_field(bs, QH_SIZE, &be, 8);
		if (!ret)
			bs->size = sn->disk_size;
	}
	if (!ret)
		ret = qcow2_update_copied_flags(bs);
	s->dbuf_entry = 0;
	free(snap_l1);
	free(old_l1);
	return ret;
}

/* The snapshot's L1 table becomes the one reads go through, in memory
 * only (the image is open read-only): qemu-img convert -l / -s. */
int qcow2_snapshot_load_tmp(struct block_dev *bs, const char *id, const char *name)
{
	struct qcow2 *s = bs->opaque;
	struct qcow2_snapshot *sn = NULL;
	uint64_t *l1;
	uint32_t i;
	int ret;

	for (i = 0; i < s->nb_snapshots && !sn; i++)
		if ((!id || !strcmp(s->snapshots[i].id, id)) &&
		    (!name || !strcmp(s->snapshots[i].name, name)))
			sn = &s->snapshots[i];
	if (!sn && id && !name)
		sn = find(s, id);
	if (!sn) {
		if (id && name)
			log_error("%s: no snapshot with id '%s' and name '%s'",
				  bs->filename, id, name);
		else
			log_error("%s: no snapshot %s'%s'", bs->filename,
				  name ? "named " : "", name ? name : id);
		return -ENOENT;
	}
	ret = load_l1(bs, sn, &l1);
	if (ret < 0)
		return ret;
	free(s->l1);
	s->l1 = l1;
	s->l1_size = sn->l1_size;
	s->dbuf_entry = 0;
	/* The size stays the image's, as in qemu-img: past the snapshot's
	 * L1 table everything reads as zeros. */
	return 0;
}

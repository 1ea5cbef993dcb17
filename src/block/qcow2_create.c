/*
 * qcow2 image creation and growing: writing a fresh header with its
 * extensions, refcount table, refcount blocks and L1 table, and growing
 * the L1 table when the virtual size grows.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/file_io.h"
#include "block/qcow2.h"
#include "util/log.h"

/* Feature names written into new images, for tools that meet them. */
static const struct {
	uint8_t type, bit;
	const char *name;
} feature_names[] = {
	{ 0, 0, "dirty bit" },
	{ 0, 1, "corrupt bit" },
	{ 0, 2, "external data file" },
	{ 0, 3, "compression type" },
	{ 0, 4, "extended L2 entries" },
	{ 1, 0, "lazy refcounts" },
	{ 2, 0, "bitmaps" },
	{ 2, 1, "raw external data" },
};

#define NR_FEATURE_NAMES (sizeof(feature_names) / sizeof(feature_names[0]))

/* Header, backing format and feature name extensions fit in this. */
#define HEADER_ROOM	1024

struct qcow2_layout {
	uint32_t cluster_bits;
	uint64_t cluster_size;
	uint32_t refcount_order;
	uint64_t l1_size;		/* entries */
	uint64_t l1_clusters;
	uint64_t rt_clusters;
	uint64_t rb_count;
};

static int check_opts(const char *path, const struct block_create_opts *o,
		      struct qcow2_layout *l, int *version)
{
	uint64_t cs = o->cluster_size ? o->cluster_size : 65536;
	int bits = o->refcount_bits ? o->refcount_bits : 16;

	*version = o->version ? o->version : 3;
	if (cs < 512 || cs > (1u << QCOW2_MAX_CLUSTER_BITS) || (cs & (cs - 1))) {
		log_error("%s: cluster size must be a power of two from 512 "
			  "to 2M", path);
		return -EINVAL;
	}
	if (*version != 2 && *version != 3) {
		log_error("%s: qcow2 version must be 2 or 3", path);
		return -EINVAL;
	}
	if (bits > 64 || (bits & (bits - 1)) || (*version == 2 && bits != 16)) {
		log_error("%s: refcount bits must be a power of two up to 64 "
			  "(16 for version 2)", path);
		return -EINVAL;
	}
	if (o->lazy_refcounts && *version == 2) {
		log_error("%s: lazy refcounts need qcow2 version 3", path);
		return -EINVAL;
	}
	if (o->zstd && *version == 2) {
		log_error("%s: zstd compression needs qcow2 version 3", path);
		return -EINVAL;
	}
	l->cluster_bits = __builtin_ctzll(cs);
	l->cluster_size = cs;
	l->refcount_order = __builtin_ctz(bits);
	return 0;
}

static int plan_layout(const char *path, uint64_t size, struct qcow2_layout *l)
{
	uint64_t span = 1ULL << (2 * l->cluster_bits - 3);
	uint64_t per_block = 1ULL << (l->cluster_bits + 3 - l->refcount_order);
	uint64_t n, prev = 0;

	if (size > QCOW2_MAX_SIZE) {
		log_error("%s: size too large for qcow2", path);
		return -EFBIG;
	}
	l->l1_size = div_round_up(size, span);
	if (l->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
		log_error("%s: size too large for cluster size %llu", path,
			  (unsigned long long)l->cluster_size);
		return -EFBIG;
	}
	/* An empty disk has no L1 table (and no cluster leaked for one). */
	l->l1_clusters = div_round_up(l->l1_size * 8, l->cluster_size);
	l->rb_count = 1;
	l->rt_clusters = 1;
	for (;;) {
		n = 1 + l->l1_clusters + l->rt_clusters + l->rb_count;
		if (n == prev)
			return 0;
		prev = n;
		l->rb_count = div_round_up(n, per_block);
		l->rt_clusters = div_round_up(l->rb_count * 8, l->cluster_size);
	}
}

static uint32_t put_ext(uint8_t *c0, uint32_t off, uint32_t type,
			const void *data, uint32_t len)
{
	put_be32(c0 + off, type);
	put_be32(c0 + off + 4, len);
	memcpy(c0 + off + 8, data, len);
	return off + 8 + align_up(len, 8);
}

static uint32_t put_feature_names(uint8_t *c0, uint32_t off)
{
	uint8_t table[NR_FEATURE_NAMES * 48];
	size_t i;

	memset(table, 0, sizeof(table));
	for (i = 0; i < NR_FEATURE_NAMES; i++) {
		table[i * 48] = feature_names[i].type;
		table[i * 48 + 1] = feature_names[i].bit;
		strncpy((char *)table + i * 48 + 2, feature_names[i].name, 46);
	}
	return put_ext(c0, off, QCOW2_EXT_FEATURE_NAMES, table, sizeof(table));
}

/* Fill cluster 0; fails if extensions and backing name do not fit. */
static int build_header(uint8_t *c0, const struct qcow2_layout *l, int version,
			uint64_t size, const struct block_create_opts *o,
			const char *bfmt, const char *path)
{
	uint32_t off, blen = o->backing_file ? strlen(o->backing_file) : 0;
	uint64_t rt = l->cluster_size, l1 = (1 + l->rt_clusters + l->rb_count) *
					      l->cluster_size;
	bool names;

	/* c0 has room for all extensions even when a cluster has not. */
	for (names = true;; names = false) {
		memset(c0, 0, l->cluster_size + HEADER_ROOM);
		off = version == 3 ? 112 : QCOW2_V2_HEADER_LEN;
		if (bfmt && bfmt[0])
			off = put_ext(c0, off, QCOW2_EXT_BACKING_FORMAT, bfmt,
				      strlen(bfmt));
		if (names && version == 3)
			off = put_feature_names(c0, off);
		off += 8;	/* end of extensions */
		if (off + blen <= l->cluster_size)
			break;
		if (!names) {
			log_error("%s: backing file name does not fit in a "
				  "cluster", path);
			return -EINVAL;
		}
	}
	put_be32(c0, QCOW2_MAGIC);
	put_be32(c0 + QH_VERSION, version);
	if (blen) {
		memcpy(c0 + off, o->backing_file, blen);
		put_be64(c0 + QH_BACKING_OFFSET, off);
		put_be32(c0 + QH_BACKING_SIZE, blen);
	}
	put_be32(c0 + QH_CLUSTER_BITS, l->cluster_bits);
	put_be64(c0 + QH_SIZE, size);
	put_be32(c0 + QH_L1_SIZE, l->l1_size);
	put_be64(c0 + QH_L1_OFFSET, l->l1_size ? l1 : 0);
	put_be64(c0 + QH_RT_OFFSET, rt);
	put_be32(c0 + QH_RT_CLUSTERS, l->rt_clusters);
	if (version == 3) {
		if (o->zstd) {
			put_be64(c0 + QH_INCOMPAT, QCOW2_INCOMPAT_COMPRESSION);
			c0[QH_COMPRESSION] = 1;
		}
		if (o->lazy_refcounts)
			put_be64(c0 + QH_COMPAT, QCOW2_COMPAT_LAZY_REFCOUNTS);
		put_be32(c0 + QH_REFCOUNT_ORDER, l->refcount_order);
		put_be32(c0 + QH_HEADER_LEN, 112);
	}
	return 0;
}

/* Refcount table and blocks: every metadata cluster has refcount 1. */
static int write_refcounts(int fd, const struct qcow2_layout *l)
{
	struct qcow2 s = { .refcount_order = l->refcount_order };
	uint64_t per_block = 1ULL << (l->cluster_bits + 3 - l->refcount_order);
	uint64_t used = 1 + l->rt_clusters + l->rb_count + l->l1_clusters;
	uint64_t rt_bytes = l->rt_clusters * l->cluster_size, i, c;
	uint8_t *rt = calloc(1, rt_bytes), *rb = malloc(l->cluster_size);
	int ret = -ENOMEM;

	if (!rt || !rb)
		goto out;
	for (i = 0; i < l->rb_count; i++)
		put_be64(rt + i * 8, (1 + l->rt_clusters + i) * l->cluster_size);
	ret = file_pwrite_all(fd, rt, rt_bytes, l->cluster_size);
	for (i = 0; !ret && i < l->rb_count; i++) {
		memset(rb, 0, l->cluster_size);
		for (c = i * per_block; c < used && c < (i + 1) * per_block; c++)
			qcow2_refcount_set_entry(&s, rb, c - i * per_block, 1);
		ret = file_pwrite_all(fd, rb, l->cluster_size,
				      (1 + l->rt_clusters + i) * l->cluster_size);
	}
out:
	free(rt);
	free(rb);
	return ret;
}

/* Size and format of the backing file, which must exist. */
static int inspect_backing(const char *path, const char *backing,
			   const char *fmt, uint64_t *size, char *fmt_out)
{
	struct block_dev *b;
	char *full = NULL, *copy, *slash;
	int ret;

	if (backing[0] == '/' || !(slash = strrchr(path, '/'))) {
		full = strdup(backing);
	} else {
		copy = strndup(path, slash - path);
		if (copy && asprintf(&full, "%s/%s", copy, backing) < 0)
			full = NULL;
		free(copy);
	}
	if (!full)
		return -ENOMEM;
	ret = block_open(&b, full, fmt, 0);
	if (ret < 0) {
		log_error("%s: cannot open backing file '%s'", path, full);
		free(full);
		return ret;
	}
	free(full);
	*size = b->size;
	snprintf(fmt_out, 32, "%s", b->drv->name);
	block_close(b);
	return 0;
}

int qcow2_create(const char *path, uint64_t size,
		 const struct block_create_opts *opts)
{
	struct qcow2_layout l;
	char bfmt[32] = "";
	uint64_t bsize, end;
	uint8_t *c0;
	int version, ret, fd;

	ret = check_opts(path, opts, &l, &version);
	if (ret < 0)
		return ret;
	if (opts->backing_file) {
		ret = inspect_backing(path, opts->backing_file,
				      opts->backing_format, &bsize, bfmt);
		if (ret < 0)
			return ret;
		if (!size)
			size = bsize;
	}
	ret = plan_layout(path, size, &l);
	if (ret < 0)
		return ret;
	c0 = malloc(l.cluster_size + HEADER_ROOM);
	if (!c0)
		return -ENOMEM;
	ret = build_header(c0, &l, version, size, opts, bfmt, path);
	if (ret < 0)
		goto out;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		log_error("cannot create '%s': %s", path, strerror(errno));
		goto out;
	}
	end = (1 + l.rt_clusters + l.rb_count + l.l1_clusters) * l.cluster_size;
	ret = file_pwrite_all(fd, c0, l.cluster_size, 0);
	if (!ret)
		ret = write_refcounts(fd, &l);
	if (!ret && ftruncate(fd, end) < 0)
		ret = -errno;
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (ret < 0)
		log_error("cannot write '%s': %s", path, strerror(-ret));
	close(fd);
out:
	free(c0);
	return ret;
}

/* Replace the L1 table by one with at least min_size entries. */
int qcow2_grow_l1(struct block_dev *bs, uint64_t min_size)
{
	struct qcow2 *s = bs->opaque;
	uint64_t bytes = align_up(min_size * 8, s->cluster_size), off, i;
	uint64_t old_off = s->l1_offset, old_bytes = s->l1_size * 8ULL;
	uint64_t *t, *be;
	uint8_t hdr[12];
	int ret;

	if (bytes > QCOW2_MAX_L1_BYTES) {
		log_error("%s: L1 table would exceed %u bytes", bs->filename,
			  QCOW2_MAX_L1_BYTES);
		return -EFBIG;
	}
	t = calloc(1, bytes);
	be = calloc(1, bytes);
	ret = -ENOMEM;
	if (!t || !be)
		goto out;
	if (old_bytes)		/* an empty image has no table at all */
		memcpy(t, s->l1, old_bytes);
	for (i = 0; i < bytes / 8; i++)
		be[i] = htobe64(t[i]);
	ret = qcow2_alloc_clusters(bs, bytes / s->cluster_size, &off);
	if (ret < 0)
		goto out;
	ret = file_pwrite_all(bs->fd, be, bytes, off);
	if (!ret)
		ret = file_barrier(bs);
	put_be32(hdr, bytes / 8);
	put_be64(hdr + 4, off);
	if (!ret)
		ret = qcow2_write_header_field(bs, QH_L1_SIZE, hdr, 12);
	if (!ret)
		ret = file_barrier(bs);
	if (ret < 0) {
		qcow2_free_clusters(bs, off, bytes);
		goto out;
	}
	free(s->l1);
	s->l1 = t;
	t = NULL;
	s->l1_size = bytes / 8;
	s->l1_offset = off;
	if (old_bytes)
		qcow2_free_clusters(bs, old_off, old_bytes);
out:
	free(t);
	free(be);
	return ret;
}

/* True if some guest cluster from off to the end holds data of its own. */
static int in_use_past(struct block_dev *bs, uint64_t off, bool *used)
{
	uint64_t pnum;
	int ret;

	*used = false;
	while (off < bs->size) {
		ret = qcow2_has_data(bs, off, bs->size - off, &pnum);
		if (ret < 0)
			return ret;
		if (ret) {
			*used = true;
			return 0;
		}
		off += pnum;
	}
	return 0;
}

/*
 * Shrinking drops the clusters past the new end.  Without shrink that is
 * allowed only when none of them is in use, so no data can be lost.
 */
static int qcow2_shrink(struct block_dev *bs, uint64_t size, bool shrink)
{
	struct qcow2 *s = bs->opaque;
	uint64_t start = align_up(size, s->cluster_size);
	bool used;
	int ret;

	if (s->nb_snapshots) {
		log_error("%s: cannot shrink an image with internal snapshots",
			  bs->filename);
		return -ENOTSUP;
	}
	if (start >= bs->size)
		return 0;
	if (!shrink) {
		ret = in_use_past(bs, start, &used);
		if (ret < 0)
			return ret;
		if (used) {
			log_error("%s: data lies past the new end; shrinking "
				  "needs --shrink to discard it", bs->filename);
			return -EBUSY;
		}
	}
	ret = qcow2_deallocate(bs, start, bs->size - start);
	if (!ret)
		ret = file_barrier(bs);
	return ret;
}

int qcow2_resize(struct block_dev *bs, uint64_t size, bool shrink)
{
	struct qcow2 *s = bs->opaque;
	uint64_t need = div_round_up(size, qcow2_l1_span(s)), be;
	int ret;

	if (size < bs->size) {
		ret = qcow2_shrink(bs, size, shrink);
		if (ret < 0)
			return ret;
	}
	if (size > QCOW2_MAX_SIZE) {
		log_error("%s: size too large for qcow2", bs->filename);
		return -EFBIG;
	}
	if (need > s->l1_size) {
		ret = qcow2_grow_l1(bs, need);
		if (ret < 0)
			return ret;
	}
	be = htobe64(size);
	ret = qcow2_write_header_field(bs, QH_SIZE, &be, 8);
	if (!ret)
		ret = file_barrier(bs);
	if (!ret)
		bs->size = size;
	return ret;
}

/*
 * qcow2 driver: probing, opening (header and extension validation, feature
 * bits), image information, flush and close.  The data path lives in
 * qcow2_cluster.c, allocation in qcow2_refcount.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/file_io.h"
#include "block/qcow2.h"
#include "block/qcow2_extra.h"
#include "util/log.h"

#define KNOWN_INCOMPAT (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | \
			QCOW2_INCOMPAT_COMPRESSION | QCOW2_INCOMPAT_EXTL2)

/* Deepest chain of qcow2 images this thread is opening, for loop checks. */
#define CHAIN_MAX 64

static __thread struct {
	dev_t dev;
	ino_t ino;
} opening[CHAIN_MAX];
static __thread int nr_opening;

int qcow2_corrupt(struct block_dev *bs, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s: corrupt qcow2 image: %s", bs->filename, msg);
	return -EIO;
}

int qcow2_write_header_field(struct block_dev *bs, uint32_t offset,
			     const void *data, size_t len)
{
	return file_pwrite_all(bs->fd, data, len, offset);
}

/* Write the incompatible feature bits, and make them durable. */
int qcow2_set_incompat(struct block_dev *bs, uint64_t incompat)
{
	struct qcow2 *s = bs->opaque;
	uint64_t be = htobe64(incompat);
	int ret;

	if (s->version < 3)
		return 0;
	ret = qcow2_write_header_field(bs, QH_INCOMPAT, &be, 8);
	if (!ret)
		ret = file_barrier(bs);
	if (!ret)
		s->incompat = incompat;
	return ret;
}

static int qcow2_probe(const uint8_t *buf, size_t len)
{
	if (len < 8 || get_be32(buf) != QCOW2_MAGIC)
		return 0;
	return 100;
}

static int bad_header(struct block_dev *bs, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad_header(struct block_dev *bs, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s: %s", bs->filename, msg);
	return err;
}

/* Name of an incompatible feature bit from the image's own name table. */
static void feature_name(const uint8_t *table, uint32_t len, int bit,
			 char *out, size_t size)
{
	uint32_t i;

	snprintf(out, size, "bit %d", bit);
	for (i = 0; i + 48 <= len; i += 48)
		if (table[i] == 0 && table[i + 1] == bit) {
			snprintf(out, size, "bit %d (%.46s)", bit,
				 (const char *)table + i + 2);
			return;
		}
}

/*
 * A dirty image (lazy refcounts, not closed cleanly) is repaired when it
 * is opened for writing, after the tables are read; see repair_dirty().
 */
static int check_incompat(struct block_dev *bs, const uint8_t *names,
			  uint32_t names_len, unsigned flags)
{
	struct qcow2 *s = bs->opaque;
	uint64_t unknown = s->incompat & ~KNOWN_INCOMPAT;
	bool rw = flags & BLOCK_O_RDWR;
	char name[80];
	int bit;

	if (s->incompat & QCOW2_INCOMPAT_DATA_FILE)
		return bad_header(bs, -ENOTSUP, "qcow2 images with an external "
				  "data file are not supported");
	if (unknown) {
		bit = __builtin_ctzll(unknown);
		feature_name(names, names_len, bit, name, sizeof(name));
		return bad_header(bs, -ENOTSUP, "unsupported qcow2 feature %s",
				  name);
	}
	if (rw && s->extl2)
		return bad_header(bs, -ENOTSUP, "images with extended L2 "
				  "entries (subclusters) can only be read; "
				  "convert to write");
	if (rw && !(flags & BLOCK_O_REPAIR) &&
	    (s->incompat & QCOW2_INCOMPAT_CORRUPT))
		return bad_header(bs, -EROFS, "image is marked corrupt; it can "
				  "only be opened read-only until "
				  "'wirt img check -r' repairs it");
	return 0;
}

/* Header fields: version, sizes, feature bits. */
static int parse_header(struct block_dev *bs, const uint8_t *h)
{
	struct qcow2 *s = bs->opaque;

	s->version = get_be32(h + QH_VERSION);
	if (s->version != 2 && s->version != 3)
		return bad_header(bs, -ENOTSUP, "unsupported qcow2 version %u",
				  s->version);
	s->cluster_bits = get_be32(h + QH_CLUSTER_BITS);
	if (s->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
	    s->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return bad_header(bs, -EINVAL, "unsupported cluster size 2^%u",
				  s->cluster_bits);
	s->cluster_size = 1ULL << s->cluster_bits;
	s->l2_bits = s->cluster_bits - 3;
	s->header_length = QCOW2_V2_HEADER_LEN;
	s->refcount_order = 4;
	if (s->version == 3) {
		s->incompat = get_be64(h + QH_INCOMPAT);
		s->compat = get_be64(h + QH_COMPAT);
		s->autoclear = get_be64(h + QH_AUTOCLEAR);
		s->refcount_order = get_be32(h + QH_REFCOUNT_ORDER);
		s->header_length = get_be32(h + QH_HEADER_LEN);
		if (s->header_length < QCOW2_V3_HEADER_LEN ||
		    s->header_length > s->cluster_size)
			return bad_header(bs, -EINVAL, "invalid qcow2 header "
					  "length %u", s->header_length);
		if (s->refcount_order > 6)
			return bad_header(bs, -EINVAL, "invalid refcount order %u",
					  s->refcount_order);
	}
	s->extl2 = s->incompat & QCOW2_INCOMPAT_EXTL2;
	if (s->extl2) {
		if (s->cluster_bits < QCOW2_EXTL2_MIN_CLUSTER_BITS)
			return bad_header(bs, -EINVAL, "extended L2 entries need "
					  "clusters of at least 16K");
		s->l2_bits = s->cluster_bits - 4;
		s->sc_bits = s->cluster_bits - 5;
	}
	s->refcount_max = s->refcount_order == 6 ? ~0ULL :
			  (1ULL << (1u << s->refcount_order)) - 1;
	s->rb_bits = s->cluster_bits + 3 - s->refcount_order;
	if (get_be32(h + QH_CRYPT))
		return bad_header(bs, -ENOTSUP, "encrypted qcow2 images are "
				  "not supported");
	bs->size = get_be64(h + QH_SIZE);
	if (bs->size > QCOW2_MAX_SIZE)
		return bad_header(bs, -EINVAL, "virtual size %llu is too large",
				  (unsigned long long)bs->size);
	return 0;
}

static int parse_compression(struct block_dev *bs, const uint8_t *h)
{
	struct qcow2 *s = bs->opaque;
	uint8_t type = s->header_length > QH_COMPRESSION ? h[QH_COMPRESSION] : 0;

	if (!(s->incompat & QCOW2_INCOMPAT_COMPRESSION)) {
		if (type)
			return bad_header(bs, -EINVAL, "compression type %u set "
					  "without its feature bit", type);
		return 0;
	}
	if (s->header_length <= QH_COMPRESSION)
		return bad_header(bs, -EINVAL, "compression feature bit set "
				  "but header has no compression type");
	if (type > 1)
		return bad_header(bs, -ENOTSUP, "unsupported compression type %u",
				  type);
	s->compression = type;
	return 0;
}

/* Walk the header extensions between the header and the end of cluster 0. */
static int parse_extensions(struct block_dev *bs, uint8_t *c0, uint32_t end,
			    uint32_t *names_off, uint32_t *names_len)
{
	struct qcow2 *s = bs->opaque;
	uint32_t off = s->header_length, type, len;

	*names_off = *names_len = 0;
	while (off + 8 <= end) {
		type = get_be32(c0 + off);
		len = get_be32(c0 + off + 4);
		off += 8;
		if (type == QCOW2_EXT_END)
			return 0;
		if (len > end - off)
			return bad_header(bs, -EINVAL, "header extension 0x%x "
					  "runs past the first cluster", type);
		if (type == QCOW2_EXT_BACKING_FORMAT) {
			if (len >= sizeof(s->backing_format))
				return bad_header(bs, -EINVAL, "backing format "
						  "name too long");
			memcpy(s->backing_format, c0 + off, len);
			s->backing_format[len] = 0;
		} else if (type == QCOW2_EXT_FEATURE_NAMES) {
			*names_off = off;
			*names_len = len;
		}
		off += align_up(len, 8);
	}
	return 0;
}

static int read_backing_name(struct block_dev *bs, const uint8_t *c0)
{
	struct qcow2 *s = bs->opaque;
	uint64_t off = get_be64(c0 + QH_BACKING_OFFSET);
	uint32_t len = get_be32(c0 + QH_BACKING_SIZE);

	if (!off)
		return 0;
	if (len > 1023 || off > s->cluster_size || len > s->cluster_size - off)
		return bad_header(bs, -EINVAL, "invalid backing file name "
				  "(offset %llu, length %u)",
				  (unsigned long long)off, len);
	memcpy(s->backing_file, c0 + off, len);
	s->backing_file[len] = 0;
	if (strlen(s->backing_file) != len || !len)
		return bad_header(bs, -EINVAL, "invalid backing file name");
	return 0;
}

static int read_l1(struct block_dev *bs, const uint8_t *h, uint64_t fsize)
{
	struct qcow2 *s = bs->opaque;
	uint64_t need, i;
	int ret;

	s->l1_size = get_be32(h + QH_L1_SIZE);
	s->l1_offset = get_be64(h + QH_L1_OFFSET);
	need = div_round_up(bs->size, qcow2_l1_span(s));
	if (s->l1_size < need)
		return bad_header(bs, -EINVAL, "L1 table (%u entries) too small "
				  "for the virtual size", s->l1_size);
	if ((uint64_t)s->l1_size * 8 > QCOW2_MAX_L1_BYTES)
		return bad_header(bs, -EFBIG, "L1 table too large (%u entries)",
				  s->l1_size);
	if (!s->l1_size)
		return 0;
	if (s->l1_offset & (s->cluster_size - 1) || !s->l1_offset)
		return bad_header(bs, -EINVAL, "L1 table offset 0x%llx is not "
				  "cluster aligned",
				  (unsigned long long)s->l1_offset);
	if (s->l1_offset > fsize || s->l1_size * 8ULL > fsize - s->l1_offset)
		return bad_header(bs, -EINVAL, "L1 table lies past the end of "
				  "the file");
	s->l1 = malloc(s->l1_size * 8ULL);
	if (!s->l1)
		return -ENOMEM;
	ret = file_pread_exact(bs->fd, s->l1, s->l1_size * 8ULL, s->l1_offset);
	if (ret < 0)
		return ret;
	for (i = 0; i < s->l1_size; i++)
		s->l1[i] = be64toh(s->l1[i]);
	return 0;
}

static int read_refcount_table(struct block_dev *bs, const uint8_t *h,
			       uint64_t fsize)
{
	struct qcow2 *s = bs->opaque;
	uint64_t bytes, i, e;
	int ret;

	s->rt_offset = get_be64(h + QH_RT_OFFSET);
	s->rt_clusters = get_be32(h + QH_RT_CLUSTERS);
	bytes = (uint64_t)s->rt_clusters << s->cluster_bits;
	if (!s->rt_clusters || bytes > QCOW2_MAX_RT_BYTES)
		return bad_header(bs, -EINVAL, "invalid refcount table size "
				  "(%u clusters)", s->rt_clusters);
	if (!s->rt_offset || s->rt_offset & (s->cluster_size - 1))
		return bad_header(bs, -EINVAL, "refcount table offset is not "
				  "cluster aligned");
	if (s->rt_offset > fsize || bytes > fsize - s->rt_offset)
		return bad_header(bs, -EINVAL, "refcount table lies past the "
				  "end of the file");
	s->rt_size = bytes / 8;
	s->rt = malloc(bytes);
	if (!s->rt)
		return -ENOMEM;
	ret = file_pread_exact(bs->fd, s->rt, bytes, s->rt_offset);
	if (ret < 0)
		return ret;
	for (i = 0; i < s->rt_size; i++) {
		s->rt[i] = be64toh(s->rt[i]);
		e = s->rt[i] & QCOW2_RT_OFFSET_MASK;
		if (e & (s->cluster_size - 1))
			return bad_header(bs, -EINVAL, "refcount block %llu is "
					  "not cluster aligned",
					  (unsigned long long)i);
	}
	return 0;
}

static int alloc_buffers(struct qcow2 *s)
{
	s->cbuf = malloc(2 * s->cluster_size + 512);
	s->dbuf = malloc(s->cluster_size);
	s->cow_buf = malloc(s->cluster_size);
	return s->cbuf && s->dbuf && s->cow_buf ? 0 : -ENOMEM;
}

/* Bits we cannot keep up to date are cleared when the image is written. */
static int clear_autoclear(struct block_dev *bs)
{
	struct qcow2 *s = bs->opaque;
	uint8_t zero[8] = { 0 };
	int ret;

	if (!s->autoclear)
		return 0;
	ret = qcow2_write_header_field(bs, QH_AUTOCLEAR, zero, 8);
	if (!ret)
		ret = file_barrier(bs);
	if (!ret)
		s->autoclear = 0;
	return ret;
}

static int open_tables(struct block_dev *bs, uint8_t *c0, uint64_t fsize,
		       unsigned flags)
{
	struct qcow2 *s = bs->opaque;
	uint32_t names_off, names_len, end;
	uint64_t boff;
	int ret;

	boff = get_be64(c0 + QH_BACKING_OFFSET);
	end = boff && boff > s->header_length && boff < s->cluster_size ?
	      boff : s->cluster_size;
	ret = parse_extensions(bs, c0, end, &names_off, &names_len);
	if (!ret)
		ret = check_incompat(bs, c0 + names_off, names_len, flags);
	if (!ret)
		ret = parse_compression(bs, c0);
	if (!ret)
		ret = read_backing_name(bs, c0);
	if (!ret)
		ret = read_l1(bs, c0, fsize);
	if (!ret)
		ret = read_refcount_table(bs, c0, fsize);
	if (ret)
		return ret;
	if (s->l1_size && s->l1_offset < s->rt_offset +
	    ((uint64_t)s->rt_clusters << s->cluster_bits) &&
	    s->rt_offset < s->l1_offset + s->l1_size * 8ULL)
		return bad_header(bs, -EINVAL, "L1 table and refcount table "
				  "overlap");
	s->nb_snapshots = get_be32(c0 + QH_NB_SNAPSHOTS);
	s->snapshots_offset = get_be64(c0 + QH_SNAPSHOTS_OFFSET);
	return qcow2_read_snapshots(bs);
}

static void qcow2_free_state(struct qcow2 *s)
{
	qcow2_cache_free(&s->l2_cache);
	qcow2_cache_free(&s->rb_cache);
	qcow2_free_snapshots(s);
	free(s->l1);
	free(s->rt);
	free(s->cbuf);
	free(s->dbuf);
	free(s->cow_buf);
	free(s);
}

/*
 * Opened for writing: an image left dirty gets its refcounts rebuilt (as
 * after a crash with lazy refcounts); with lazy refcounts the dirty bit
 * is set while the image is open.  Not when opening in order to repair.
 */
static int prepare_write(struct block_dev *bs, unsigned flags)
{
	struct qcow2 *s = bs->opaque;
	struct block_check res;
	int ret;

	if (!(flags & BLOCK_O_RDWR) || (flags & BLOCK_O_REPAIR))
		return 0;
	if (s->incompat & QCOW2_INCOMPAT_DIRTY) {
		log_notice("%s: image was not closed cleanly; repairing its "
			   "refcounts", bs->filename);
		ret = qcow2_check(bs, &res, true);
		if (!ret && (res.corruptions || res.leaks))
			ret = -EIO;
		if (ret < 0)
			return bad_header(bs, ret, "could not repair the image "
					  "(%s); see 'wirt img check'",
					  strerror(-ret));
	}
	if (!(s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS) || s->version < 3)
		return 0;
	ret = qcow2_set_incompat(bs, s->incompat | QCOW2_INCOMPAT_DIRTY);
	if (!ret)
		s->marked_dirty = true;
	return ret;
}

/* Refuse an image that is its own backing file, however far down. */
static int enter_chain(struct block_dev *bs)
{
	struct stat st;
	int i;

	if (fstat(bs->fd, &st) < 0)
		return -errno;
	for (i = 0; i < nr_opening; i++)
		if (opening[i].dev == st.st_dev && opening[i].ino == st.st_ino)
			return bad_header(bs, -ELOOP, "backing chain loops back "
					  "to this image");
	if (nr_opening == CHAIN_MAX)
		return bad_header(bs, -ELOOP, "backing chain deeper than %d "
				  "images", CHAIN_MAX);
	opening[nr_opening].dev = st.st_dev;
	opening[nr_opening].ino = st.st_ino;
	nr_opening++;
	return 0;
}

static int open_backing(struct block_dev *bs)
{
	struct qcow2 *s = bs->opaque;
	int ret = enter_chain(bs);

	if (ret < 0)
		return ret;
	ret = block_open_backing(bs, s->backing_file, s->backing_format);
	nr_opening--;
	return ret;
}

static int qcow2_open(struct block_dev *bs, unsigned flags)
{
	struct qcow2 *s = calloc(1, sizeof(*s));
	uint8_t *c0 = NULL;
	uint64_t fsize;
	int ret;

	if (!s)
		return -ENOMEM;
	bs->opaque = s;
	ret = file_size(bs->fd, &fsize);
	if (ret < 0)
		goto fail;
	ret = -EINVAL;
	c0 = calloc(1, 1u << QCOW2_MAX_CLUSTER_BITS);
	if (!c0) {
		ret = -ENOMEM;
		goto fail;
	}
	if (fsize < QCOW2_V2_HEADER_LEN ||
	    file_pread_zero(bs->fd, c0, 1u << QCOW2_MAX_CLUSTER_BITS, 0) < 0 ||
	    get_be32(c0) != QCOW2_MAGIC) {
		bad_header(bs, -EINVAL, "not a qcow2 image (truncated or bad "
			   "magic)");
		goto fail;
	}
	ret = parse_header(bs, c0);
	if (!ret)
		ret = open_tables(bs, c0, fsize, flags);
	if (!ret)
		ret = alloc_buffers(s);
	if (!ret && s->backing_file[0] && !(flags & BLOCK_O_NO_BACKING))
		ret = open_backing(bs);
	if (!ret && (flags & BLOCK_O_RDWR))
		ret = clear_autoclear(bs);
	if (!ret)
		ret = prepare_write(bs, flags);
	if (ret)
		goto fail;
	free(c0);
	return 0;
fail:
	free(c0);
	qcow2_free_state(s);
	bs->opaque = NULL;
	return ret;
}

static int qcow2_flush(struct block_dev *bs)
{
	if (fdatasync(bs->fd) < 0)
		return -errno;
	return 0;
}

static void qcow2_close(struct block_dev *bs)
{
	struct qcow2 *s = bs->opaque;
	int ret = 0;

	/* Unsafe (scratch) images are not synced, as with qemu-img. */
	if (!bs->read_only && !bs->unsafe)
		ret = qcow2_flush(bs);
	/* Once everything is on disk the refcounts are known to be right. */
	if (s->marked_dirty && (ret < 0 || qcow2_set_incompat(bs, s->incompat &
						~QCOW2_INCOMPAT_DIRTY) < 0))
		log_warn("%s: could not clear the dirty bit", bs->filename);
	qcow2_free_state(bs->opaque);
	bs->opaque = NULL;
}

static int qcow2_get_info(struct block_dev *bs, struct block_info *info)
{
	struct qcow2 *s = bs->opaque;

	info->cluster_size = s->cluster_size;
	snprintf(info->backing_file, sizeof(info->backing_file), "%s",
		 s->backing_file);
	snprintf(info->backing_format, sizeof(info->backing_format), "%s",
		 s->backing_format);
	snprintf(info->format_detail, sizeof(info->format_detail),
		 "version %u, refcount bits %u, compression %s%s%s%s",
		 s->version, 1u << s->refcount_order,
		 s->compression ? "zstd" : "zlib",
		 s->extl2 ? ", extended L2 entries" : "",
		 s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS ? ", lazy refcounts" : "",
		 s->incompat & QCOW2_INCOMPAT_CORRUPT ? ", marked corrupt" : "");
	info->dirty = s->incompat & QCOW2_INCOMPAT_DIRTY;
	info->corrupt = s->incompat & QCOW2_INCOMPAT_CORRUPT;
	info->format_version = s->version;
	info->refcount_bits = 1u << s->refcount_order;
	snprintf(info->compression, sizeof(info->compression), "%s",
		 s->compression ? "zstd" : "zlib");
	return 0;
}

const struct block_driver block_qcow2 = {
	.name = "qcow2",
	.probe = qcow2_probe,
	.open = qcow2_open,
	.read = qcow2_read,
	.write = qcow2_write,
	.flush = qcow2_flush,
	.discard = qcow2_discard,
	.get_info = qcow2_get_info,
	.close = qcow2_close,
	.create = qcow2_create,
	.status = qcow2_status,
	.resize = qcow2_resize,
	.check = qcow2_check,
	.snapshot_list = qcow2_snapshot_list,
	.snapshot_create = qcow2_snapshot_create,
	.snapshot_delete = qcow2_snapshot_delete,
	.snapshot_apply = qcow2_snapshot_apply,
	.snapshot_load_tmp = qcow2_snapshot_load_tmp,
	.vmstate_io = qcow2_vmstate_io,
	.map = qcow2_map_range,
	.write_compressed = qcow2_write_compressed,
	.set_backing = qcow2_set_backing,
};

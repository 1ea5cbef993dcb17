/*
 * VMDK driver: hosted sparse extents in one file (createType
 * "monolithicSparse"), read and write; "streamOptimized" images (compressed
 * grains, footer) read, and written once in order (vmdk_stream.c);
 * descriptor files naming flat or sparse extent files (vmdk_desc.c).
 * Layout from VMware's Virtual Disk Format specification: a 512-byte
 * sparse extent header, an embedded text descriptor, a grain directory
 * (and its redundant copy) pointing at grain tables, which point at
 * grains; all offsets in 512-byte sectors.
 *
 * Ordering on writes: a new grain's data is written before the grain table
 * entries naming it; a new grain table before the directory entry.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "block/block_driver.h"
#include "block/file_io.h"
#include "block/vmdk.h"
#include "util/log.h"

static int vmdk_probe(const uint8_t *buf, size_t len)
{
	if (len >= 4 && get_le32(buf) == VMDK_MAGIC)
		return 100;
	if (len >= 21 && !memcmp(buf, "# Disk DescriptorFile", 21))
		return 50;
	return 0;
}

int vmdk_error(struct block_dev *bs, int err, const char *what)
{
	log_error("%s: %s", bs->filename, what);
	return err;
}

/* Value of `key="value"` or `key=value` in the descriptor, or NULL. */
bool vmdk_desc_value(const char *desc, const char *key, char *out,
		     size_t size)
{
	size_t klen = strlen(key), n = 0;
	const char *p = desc, *v;

	while ((p = strstr(p, key))) {
		if ((p == desc || p[-1] == '\n') && p[klen] == '=') {
			v = p + klen + 1;
			if (*v == '"')
				v++;
			while (v[n] && v[n] != '"' && v[n] != '\n' &&
			       v[n] != '\r' && n + 1 < size)
				n++;
			memcpy(out, v, n);
			out[n] = 0;
			return true;
		}
		p += klen;
	}
	return false;
}

static int read_descriptor(struct block_dev *bs, uint64_t fsize)
{
	struct vmdk *s = bs->opaque;
	uint64_t len = s->desc_sectors * SECTOR;
	char *desc;

	strcpy(s->create_type, "monolithicSparse");
	if (!s->desc_sector || !s->desc_sectors)
		return 0;
	if (s->desc_sectors > VMDK_MAX_DESC_SECTORS ||
	    s->desc_sector * SECTOR > fsize)
		return vmdk_error(bs, -EINVAL, "invalid vmdk descriptor location");
	desc = calloc(1, len + 1);
	if (!desc)
		return -ENOMEM;
	file_pread_zero(bs->fd, desc, len, s->desc_sector * SECTOR);
	vmdk_desc_value(desc, "createType", s->create_type, sizeof(s->create_type));
	vmdk_desc_value(desc, "parentFileNameHint", s->parent, sizeof(s->parent));
	free(desc);
	/* An extent file's own descriptor may name the whole disk's type. */
	if (vmdk_opening_extent())
		return 0;
	if (strcmp(s->create_type, "monolithicSparse") &&
	    strcmp(s->create_type, "streamOptimized"))
		return vmdk_error(bs, -ENOTSUP, "only monolithicSparse and "
				  "streamOptimized vmdk images are supported");
	return 0;
}

static int parse_header(struct block_dev *bs, const uint8_t *h, uint64_t fsize)
{
	struct vmdk *s = bs->opaque;

	s->version = get_le32(h + 4);
	s->flags = get_le32(h + 8);
	s->capacity = get_le64(h + 12);
	s->grain = get_le64(h + 20);
	s->desc_sector = get_le64(h + 28);
	s->desc_sectors = get_le64(h + 36);
	s->gtes = get_le32(h + 44);
	s->rgd_sector = get_le64(h + 48);
	s->gd_sector = get_le64(h + 56);
	s->overhead = get_le64(h + 64);
	if (s->version < 1 || s->version > 3)
		return vmdk_error(bs, -ENOTSUP, "unsupported vmdk version");
	s->compressed = s->flags & VMDK_FLAG_COMPRESSED;
	if (s->compressed && get_le16(h + 77) != 1)
		return vmdk_error(bs, -ENOTSUP, "unsupported vmdk compression "
				  "algorithm");
	if (!s->grain || s->grain > VMDK_MAX_GRAIN_SECTORS ||
	    (s->grain & (s->grain - 1)))
		return vmdk_error(bs, -EINVAL, "invalid vmdk grain size");
	if (!s->gtes || s->gtes > 4096)
		return vmdk_error(bs, -EINVAL, "invalid vmdk grain table size");
	if (s->capacity > (1ULL << 52))
		return vmdk_error(bs, -EINVAL, "vmdk capacity too large");
	bs->size = s->capacity * SECTOR;
	/* Checked before narrowing to 32 bits, or the directory is short. */
	if (div_round_up(s->capacity, s->grain * s->gtes) * 4 > VMDK_MAX_GD_BYTES)
		return vmdk_error(bs, -EFBIG, "vmdk grain directory too large");
	s->gd_entries = div_round_up(s->capacity, s->grain * s->gtes);
	if (!(s->flags & VMDK_FLAG_RGD))
		s->rgd_sector = 0;
	return 0;
}

/* streamOptimized: the real header is a footer near the end of the file. */
static int read_footer(struct block_dev *bs, uint8_t *h, uint64_t fsize)
{
	struct vmdk *s = bs->opaque;
	int ret;

	if (fsize < 3 * SECTOR)
		return vmdk_error(bs, -EINVAL, "vmdk footer missing");
	ret = file_pread_exact(bs->fd, h, SECTOR, fsize - 2 * SECTOR);
	if (ret < 0)
		return ret;
	if (get_le32(h) != VMDK_MAGIC)
		return vmdk_error(bs, -EINVAL, "vmdk footer missing");
	ret = parse_header(bs, h, fsize);
	if (!ret && s->gd_sector == VMDK_GD_AT_END)
		ret = vmdk_error(bs, -EINVAL, "vmdk footer has no grain "
				 "directory");
	return ret;
}

static int read_directory(struct block_dev *bs, uint64_t sector, uint32_t **out,
			  uint64_t fsize)
{
	struct vmdk *s = bs->opaque;
	uint64_t bytes = s->gd_entries * 4ULL;
	uint32_t *gd, i;

	if (sector > fsize / SECTOR || bytes > fsize - sector * SECTOR)
		return vmdk_error(bs, -EINVAL, "vmdk grain directory lies past "
				  "the end of the file");
	gd = malloc(bytes + 4);
	if (!gd)
		return -ENOMEM;
	if (file_pread_exact(bs->fd, gd, bytes, sector * SECTOR) < 0) {
		free(gd);
		return -EIO;
	}
	for (i = 0; i < s->gd_entries; i++)
		gd[i] = le32toh(gd[i]);
	*out = gd;
	return 0;
}

static void vmdk_free(struct vmdk *s)
{
	vmdk_stream_free(s);
	vmdk_desc_close(s);
	free(s->gd);
	free(s->rgd);
	free(s->gt);
	free(s->cow);
	free(s->grain_buf);
	free(s->zbuf);
	free(s);
}

static int vmdk_open(struct block_dev *bs, unsigned flags)
{
	struct vmdk *s = calloc(1, sizeof(*s));
	uint8_t h[512];
	uint64_t fsize;
	int ret;

	if (!s)
		return -ENOMEM;
	bs->opaque = s;
	ret = file_size(bs->fd, &fsize);
	if (ret < 0)
		goto fail;
	ret = file_pread_zero(bs->fd, h, sizeof(h), 0);
	if (!ret && get_le32(h) != VMDK_MAGIC && vmdk_probe(h, sizeof(h))) {
		ret = vmdk_opening_extent() ?
		      vmdk_error(bs, -EINVAL, "a vmdk extent file is a "
				 "descriptor itself") :
		      vmdk_desc_open(bs, flags, fsize);
		if (ret)
			goto fail;
		return 0;
	}
	if (!ret && (fsize < sizeof(h) || get_le32(h) != VMDK_MAGIC))
		ret = vmdk_error(bs, -ENOTSUP, "not a vmdk image (truncated or "
				 "bad magic)");
	if (!ret)
		ret = parse_header(bs, h, fsize);
	if (!ret && s->gd_sector == VMDK_GD_AT_END)
		ret = read_footer(bs, h, fsize);
	if (!ret)
		ret = read_descriptor(bs, fsize);
	if (!ret)
		ret = read_directory(bs, s->gd_sector, &s->gd, fsize);
	if (!ret && s->rgd_sector)
		ret = read_directory(bs, s->rgd_sector, &s->rgd, fsize);
	if (ret)
		goto fail;
	s->gt = malloc(s->gtes * 4);
	s->cow = malloc(s->grain * SECTOR);
	s->grain_buf = malloc(s->grain * SECTOR);
	s->zbuf_cap = 2 * s->grain * SECTOR + 2 * SECTOR;
	s->zbuf = malloc(s->zbuf_cap);
	ret = -ENOMEM;
	if (!s->gt || !s->cow || !s->grain_buf || !s->zbuf)
		goto fail;
	s->next_sector = div_round_up(fsize, SECTOR);
	if (s->next_sector < s->overhead)
		s->next_sector = s->overhead;
	ret = 0;
	if (s->compressed && (flags & BLOCK_O_RDWR))
		ret = vmdk_stream_start(bs);
	if (s->parent[0] && !(flags & BLOCK_O_NO_BACKING))
		ret = block_open_backing(bs, s->parent, NULL);
	if (!ret)
		return 0;
fail:
	vmdk_free(s);
	bs->opaque = NULL;
	return ret;
}

static void vmdk_close(struct block_dev *bs)
{
	struct vmdk *s = bs->opaque;

	if (s->stream && vmdk_stream_finish(bs) < 0)
		log_error("%s: could not finish the vmdk stream", bs->filename);
	if (!bs->read_only && !bs->unsafe)
		fdatasync(bs->fd);
	vmdk_free(bs->opaque);
	bs->opaque = NULL;
}

/* Load the grain table at sector into the cache. */
static int load_gt(struct block_dev *bs, uint64_t sector)
{
	struct vmdk *s = bs->opaque;
	uint32_t i;
	int ret;

	if (s->gt_sector == sector)
		return 0;
	s->gt_sector = 0;
	ret = file_pread_exact(bs->fd, s->gt, s->gtes * 4, sector * SECTOR);
	if (ret == -EIO)
		log_error("%s: corrupt vmdk image: grain table past the end of "
			  "the file", bs->filename);
	if (ret < 0)
		return ret;
	for (i = 0; i < s->gtes; i++)
		s->gt[i] = le32toh(s->gt[i]);
	s->gt_sector = sector;
	return 0;
}

/* Grain table entry for the grain holding guest offset off (0 if none). */
static int lookup(struct block_dev *bs, uint64_t off, uint32_t *gte)
{
	struct vmdk *s = bs->opaque;
	uint64_t grain = off / (s->grain * SECTOR);
	uint32_t gdi = grain / s->gtes;
	int ret;

	*gte = 0;
	if (s->stream) {
		*gte = vmdk_stream_gte(s, grain);
		return 0;
	}
	if (gdi >= s->gd_entries || !s->gd[gdi])
		return 0;
	ret = load_gt(bs, s->gd[gdi]);
	if (ret < 0)
		return ret;
	*gte = s->gt[grain % s->gtes];
	if (*gte > 1 && *gte < s->overhead) {
		log_error("%s: corrupt vmdk image: grain at sector %u overlaps "
			  "metadata", bs->filename, *gte);
		return -EIO;
	}
	return 0;
}

static bool zero_grain(const struct vmdk *s, uint32_t gte)
{
	return gte == 1 && (s->flags & VMDK_FLAG_ZERO_GRAIN);
}

/* Inflate zlib (or, failing that, raw deflate) data into grain_buf. */
static int inflate_grain(struct vmdk *s, const uint8_t *in, uint32_t len,
			 int window)
{
	z_stream z = { 0 };
	int ret;

	if (inflateInit2(&z, window) != Z_OK)
		return -ENOMEM;
	z.next_in = (uint8_t *)in;
	z.avail_in = len;
	z.next_out = s->grain_buf;
	z.avail_out = s->grain * SECTOR;
	ret = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	if (ret != Z_STREAM_END && !(ret == Z_BUF_ERROR && !z.avail_out))
		return -EIO;
	memset(z.next_out, 0, z.avail_out);	/* a short last grain */
	return 0;
}

/* A compressed grain: a marker (lba, size) followed by deflate data. */
static int read_compressed(struct block_dev *bs, uint32_t gte)
{
	struct vmdk *s = bs->opaque;
	uint32_t size;
	int ret;

	if (s->grain_gte == gte)
		return 0;
	s->grain_gte = 0;
	ret = file_pread_zero(bs->fd, s->zbuf, SECTOR, gte * SECTOR);
	if (ret < 0)
		return ret;
	size = get_le32(s->zbuf + 8);
	if (size + 12ULL > s->zbuf_cap)
		goto bad;
	ret = file_pread_zero(bs->fd, s->zbuf, size + 12, gte * SECTOR);
	if (ret < 0)
		return ret;
	if (inflate_grain(s, s->zbuf + 12, size, 15) < 0 &&
	    inflate_grain(s, s->zbuf + 12, size, -15) < 0)
		goto bad;
	s->grain_gte = gte;
	return 0;
bad:
	log_error("%s: corrupt vmdk image: compressed grain at sector %u "
		  "does not decompress", bs->filename, gte);
	return -EIO;
}

/* Read n bytes at off, within one grain. */
static int64_t read_piece(struct block_dev *bs, uint64_t off, uint8_t *p,
			  uint64_t n, void *unused)
{
	struct vmdk *s = bs->opaque;
	uint64_t gsize = s->grain * SECTOR, in = off % gsize;
	const uint8_t *pend;
	uint32_t gte;
	int ret = lookup(bs, off, &gte);

	if (ret < 0)
		return ret;
	pend = s->stream ? vmdk_stream_pending(s, off / gsize) : NULL;
	if (pend)
		memcpy(p, pend + in, n);
	else if (zero_grain(s, gte))
		memset(p, 0, n);
	else if (gte <= 1)
		ret = block_read_backing(bs, off, p, n);
	else if (s->compressed && !(ret = read_compressed(bs, gte)))
		memcpy(p, s->grain_buf + in, n);
	else if (!s->compressed)
		ret = file_pread_zero(bs->fd, p, n, gte * SECTOR + in);
	return ret < 0 ? ret : (int64_t)n;
}

static int vmdk_read(struct block_dev *bs, uint64_t off, void *buf, size_t len)
{
	struct vmdk *s = bs->opaque;

	if (s->ext)
		return vmdk_desc_read(bs, off, buf, len);
	return block_for_each_piece(bs, off, buf, len, s->grain * SECTOR,
				    read_piece, NULL);
}

/* Give a new content ID to the descriptor before the first change. */
static int update_cid(struct block_dev *bs)
{
	struct vmdk *s = bs->opaque;
	uint64_t len = s->desc_sectors * SECTOR;
	uint32_t cid;
	char *desc, *p, hex[9];
	int ret = 0;

	if (s->cid_updated || !s->desc_sector)
		return 0;
	s->cid_updated = true;
	desc = calloc(1, len + 1);
	if (!desc)
		return -ENOMEM;
	if (file_pread_exact(bs->fd, desc, len, s->desc_sector * SECTOR) < 0)
		goto out;
	p = strstr(desc, "\nCID=");
	if (!p || strspn(p + 5, "0123456789abcdefABCDEF") != 8)
		goto out;
	if (getrandom(&cid, sizeof(cid), 0) != sizeof(cid))
		cid = (uint32_t)time(NULL);
	snprintf(hex, sizeof(hex), "%08x", cid);
	ret = file_pwrite_all(bs->fd, hex, 8,
			      s->desc_sector * SECTOR + (p + 5 - desc));
out:
	free(desc);
	return ret;
}

/* Allocate grain tables for directory entry gdi (primary and redundant). */
static int alloc_gt(struct block_dev *bs, uint32_t gdi)
{
	struct vmdk *s = bs->opaque;
	uint64_t gt_sectors = div_round_up(s->gtes * 4ULL, SECTOR);
	uint64_t bytes = gt_sectors * SECTOR, at = s->next_sector;
	uint8_t *zero = calloc(1, bytes * 2);
	uint32_t le;
	int ret;

	if (!zero)
		return -ENOMEM;
	if (at + 2 * gt_sectors > UINT32_MAX) {
		free(zero);
		return vmdk_error(bs, -EFBIG, "vmdk image file full");
	}
	ret = file_pwrite_all(bs->fd, zero, bytes * (s->rgd ? 2 : 1), at * SECTOR);
	free(zero);
	if (!ret)
		ret = file_barrier(bs);
	if (ret < 0)
		return ret;
	s->next_sector += gt_sectors * (s->rgd ? 2 : 1);
	if (s->rgd) {
		le = htole32(at + gt_sectors);
		ret = file_pwrite_all(bs->fd, &le, 4, s->rgd_sector * SECTOR + gdi * 4);
		if (ret < 0)
			return ret;
		s->rgd[gdi] = at + gt_sectors;
	}
	le = htole32(at);
	ret = file_pwrite_all(bs->fd, &le, 4, s->gd_sector * SECTOR + gdi * 4);
	if (ret < 0)
		return ret;
	s->gd[gdi] = at;
	return 0;
}

/* Point entries [first, first + n) of grain table gdi at consecutive grains. */
static int set_gtes(struct block_dev *bs, uint32_t gdi, uint32_t first,
		    uint32_t n, uint64_t sector)
{
	struct vmdk *s = bs->opaque;
	uint32_t *le = malloc(n * 4), i;
	int ret;

	if (!le)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		le[i] = htole32(sector + i * s->grain);
	ret = file_pwrite_all(bs->fd, le, n * 4, s->gd[gdi] * SECTOR + first * 4);
	if (!ret && s->rgd && s->rgd[gdi])
		ret = file_pwrite_all(bs->fd, le, n * 4,
				      s->rgd[gdi] * SECTOR + first * 4);
	free(le);
	s->gt_sector = 0;
	return ret;
}

/* Old contents of guest [off, off + len) into the file at host. */
static int copy_old(struct block_dev *bs, uint64_t off, uint64_t len,
		    uint64_t host)
{
	struct vmdk *s = bs->opaque;
	uint32_t gte;
	int ret;

	if (!len)
		return 0;
	ret = lookup(bs, off, &gte);
	if (ret < 0)
		return ret;
	if (zero_grain(s, gte))
		memset(s->cow, 0, len);
	else
		ret = block_read_backing(bs, off, s->cow, len);
	if (ret < 0)
		return ret;
	return file_pwrite_all(bs->fd, s->cow, len, host);
}

/*
 * Write *n bytes at off into new grains: all grains from off on that are
 * not allocated, within one grain table.
 */
static int write_alloc(struct block_dev *bs, uint64_t off, const uint8_t *buf,
		       uint64_t *n)
{
	struct vmdk *s = bs->opaque;
	uint64_t gsize = s->grain * SECTOR, in = off % gsize;
	uint64_t grain = off / gsize, k = 1, bytes = gsize - in, host, tail;
	uint32_t gdi = grain / s->gtes, gte;
	int ret;

	if (!s->gd[gdi] && (ret = alloc_gt(bs, gdi)) < 0)
		return ret;
	while (bytes < *n && (grain + k) % s->gtes && k < 256) {
		ret = lookup(bs, (grain + k) * gsize, &gte);
		if (ret < 0)
			return ret;
		if (gte > 1)
			break;
		bytes += gsize;
		k++;
	}
	if (bytes > *n)
		bytes = *n;
	*n = bytes;
	host = s->next_sector;
	if (host + k * s->grain > UINT32_MAX)
		return vmdk_error(bs, -EFBIG, "vmdk image file full");
	tail = k * gsize - in - bytes;
	ret = copy_old(bs, off - in, in, host * SECTOR);
	if (!ret)
		ret = file_pwrite_all(bs->fd, buf, bytes, host * SECTOR + in);
	if (!ret)
		ret = copy_old(bs, off + bytes, tail, host * SECTOR + in + bytes);
	if (!ret)
		ret = file_barrier(bs);
	if (ret < 0)
		return ret;
	s->next_sector += k * s->grain;
	return set_gtes(bs, gdi, grain % s->gtes, k, host);
}

/* Write up to max bytes at off: the rest of an allocated grain, or as
 * many unallocated grains as write_alloc takes at once. */
static int64_t write_piece(struct block_dev *bs, uint64_t off, uint8_t *p,
			   uint64_t max, void *unused)
{
	struct vmdk *s = bs->opaque;
	uint64_t gsize = s->grain * SECTOR, n = max;
	uint32_t gte;
	int ret = lookup(bs, off, &gte);

	if (ret < 0)
		return ret;
	if (gte > 1) {
		n = gsize - off % gsize < max ? gsize - off % gsize : max;
		ret = file_pwrite_all(bs->fd, p, n, gte * SECTOR + off % gsize);
	} else {
		ret = write_alloc(bs, off, p, &n);
	}
	return ret < 0 ? ret : (int64_t)n;
}

static int vmdk_write(struct block_dev *bs, uint64_t off, const void *buf,
		      size_t len)
{
	struct vmdk *s = bs->opaque;
	int ret;

	if (s->ext)
		return vmdk_desc_write(bs, off, buf, len);
	if (s->stream)
		return vmdk_stream_write(bs, off, buf, len);
	ret = update_cid(bs);
	if (ret < 0)
		return ret;
	return block_for_each_piece(bs, off, (void *)buf, len, 0, write_piece,
				    NULL);
}

static int vmdk_flush(struct block_dev *bs)
{
	struct vmdk *s = bs->opaque;
	int ret;

	if (s->ext)
		return vmdk_desc_flush(bs);
	if (s->stream && (ret = vmdk_stream_finish(bs)) < 0)
		return ret;
	return fdatasync(bs->fd) < 0 ? -errno : 0;
}

static int vmdk_status(struct block_dev *bs, uint64_t off, uint64_t len,
		       uint64_t *pnum)
{
	struct vmdk *s = bs->opaque;
	uint64_t gsize;
	uint32_t gte;
	int ret;

	if (s->ext)
		return vmdk_desc_status(bs, off, len, pnum);
	gsize = s->grain * SECTOR;
	ret = lookup(bs, off, &gte);
	if (ret < 0)
		return ret;
	*pnum = gsize - off % gsize;
	if (s->stream && vmdk_stream_pending(s, off / gsize))
		return BLOCK_STATUS_DATA;
	if (gte > 1)
		return BLOCK_STATUS_DATA;
	if (gte == 1 && !zero_grain(s, gte))
		return BLOCK_STATUS_DATA;
	if (gte == 0 && bs->backing && off < bs->backing->size)
		return BLOCK_STATUS_DATA;
	return BLOCK_STATUS_ZERO;
}

/*
 * block_map(): a plain grain is host bytes, writable in place once the
 * content ID has changed (the first write goes through vmdk_write).
 */
static int vmdk_map(struct block_dev *bs, uint64_t off, uint64_t len,
		    struct block_mapping *m)
{
	struct vmdk *s = bs->opaque;
	uint64_t gsize;
	uint32_t gte;
	int ret;

	if (s->ext)
		return vmdk_desc_map(bs, off, len, m);
	gsize = s->grain * SECTOR;
	ret = lookup(bs, off, &gte);
	if (ret < 0)
		return ret;
	m->len = gsize - off % gsize;
	m->fd = bs->fd;
	m->flags = 0;
	if (s->stream && vmdk_stream_pending(s, off / gsize))
		m->flags = BLOCK_MAP_ALLOCATED;
	else if (zero_grain(s, gte))
		m->flags = BLOCK_MAP_ALLOCATED | BLOCK_MAP_ZERO;
	else if (gte > 1 && s->compressed)
		m->flags = BLOCK_MAP_ALLOCATED;
	else if (gte > 1) {
		m->flags = BLOCK_MAP_ALLOCATED | BLOCK_MAP_HOST;
		m->host = gte * SECTOR + off % gsize;
		if (!bs->read_only && s->cid_updated)
			m->flags |= BLOCK_MAP_WRITABLE;
	}
	return 0;
}

static int vmdk_get_info(struct block_dev *bs, struct block_info *info)
{
	struct vmdk *s = bs->opaque;

	if (s->ext) {
		/* Disk usage is that of the extent files too. */
		for (unsigned i = 0; i < s->nr_ext; i++)
			if (s->ext[i].bs)
				info->allocated_size +=
					file_allocated(s->ext[i].bs->fd);
		snprintf(info->subformat, sizeof(info->subformat), "%s",
			 s->create_type);
		snprintf(info->format_detail, sizeof(info->format_detail),
			 "%s, %u extent files", s->create_type, s->nr_ext);
		return 0;
	}
	info->cluster_size = s->grain * SECTOR;
	info->format_version = s->version;
	snprintf(info->subformat, sizeof(info->subformat), "%s", s->create_type);
	snprintf(info->backing_file, sizeof(info->backing_file), "%s", s->parent);
	snprintf(info->format_detail, sizeof(info->format_detail),
		 "%s, version %u, grain %llu bytes%s", s->create_type,
		 s->version, (unsigned long long)(s->grain * SECTOR),
		 s->compressed ? ", compressed" : "");
	return 0;
}

/* ---- consistency check ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Check one grain table; appends its grains to list. */
static int check_gt(struct block_dev *bs, uint32_t gdi, uint64_t fsize,
		    struct block_check *res, uint32_t *list, uint64_t *n,
		    uint64_t cap)
{
	struct vmdk *s = bs->opaque;
	uint64_t gsize = s->grain * SECTOR;
	uint32_t i, gte, *red = NULL;
	int ret;

	ret = load_gt(bs, s->gd[gdi]);
	if (ret < 0) {
		res->corruptions++;
		return ret == -EIO ? 0 : ret;
	}
	if (s->rgd && s->rgd[gdi]) {
		red = malloc(s->gtes * 4);
		if (!red)
			return -ENOMEM;
		if (file_pread_exact(bs->fd, red, s->gtes * 4,
				     s->rgd[gdi] * SECTOR) < 0)
			res->corruptions++;
	}
	for (i = 0; i < s->gtes; i++) {
		gte = s->gt[i];
		if (red && le32toh(red[i]) != gte) {
			log_warn("%s: grain table %u entry %u differs from its "
				 "redundant copy", bs->filename, gdi, i);
			res->corruptions++;
		}
		if (gte <= 1)
			continue;
		if (gte < s->overhead ||
		    (!s->compressed && gte * SECTOR + gsize > align_up(fsize, gsize))) {
			log_warn("%s: grain %u at sector %u lies outside the "
				 "data area", bs->filename, gdi * s->gtes + i, gte);
			res->corruptions++;
			continue;
		}
		if (*n == cap) {	/* more grains than the file holds */
			res->corruptions++;
			continue;
		}
		list[(*n)++] = gte;
	}
	free(red);
	return 0;
}

static int vmdk_check(struct block_dev *bs, struct block_check *res,
		      bool repair)
{
	struct vmdk *s = bs->opaque;
	uint64_t fsize, n = 0, i, cap;
	uint32_t gdi, *list;
	int ret;

	if (s->ext)
		return vmdk_desc_check(bs, res, repair);
	ret = file_size(bs->fd, &fsize);
	if (ret < 0)
		return ret;
	/* Grains take a sector at least: a hostile capacity must not size
	 * the list (fuzzer finding: 4 GiB for a tiny file). */
	cap = (uint64_t)s->gd_entries * s->gtes;
	if (cap > fsize / (s->compressed ? SECTOR : s->grain * SECTOR) + 1)
		cap = fsize / (s->compressed ? SECTOR : s->grain * SECTOR) + 1;
	list = malloc(cap * 4 + 4);
	if (!list)
		return -ENOMEM;
	for (gdi = 0; gdi < s->gd_entries && !ret; gdi++)
		if (s->gd[gdi])
			ret = check_gt(bs, gdi, fsize, res, list, &n, cap);
	qsort(list, n, 4, cmp_u32);
	for (i = 1; i < n; i++)
		if (list[i] == list[i - 1] ||
		    (!s->compressed && list[i] < list[i - 1] + s->grain)) {
			log_warn("%s: grain at sector %u used twice",
				 bs->filename, list[i]);
			res->corruptions++;
		}
	res->allocated_clusters = n;
	res->checked_clusters = div_round_up(s->capacity, s->grain);
	free(list);
	s->gt_sector = 0;
	return ret;
}

/* ---- creation ---- */

struct vmdk_layout {
	uint64_t capacity, grain, gd_entries, gd_sectors, gt_sectors;
	uint64_t rgd, gd, overhead;
};

static void plan(struct vmdk_layout *l, uint64_t size, uint64_t grain_bytes)
{
	l->capacity = div_round_up(size, SECTOR);
	l->grain = grain_bytes / SECTOR;
	l->gd_entries = div_round_up(l->capacity, l->grain * VMDK_GTES);
	l->gd_sectors = div_round_up(l->gd_entries * 4, SECTOR);
	l->gt_sectors = div_round_up(VMDK_GTES * 4, SECTOR);
	l->rgd = 1 + VMDK_DESC_SECTORS;
	l->gd = l->rgd + l->gd_sectors + l->gd_entries * l->gt_sectors;
	l->overhead = align_up(l->gd + l->gd_sectors +
			       l->gd_entries * l->gt_sectors, l->grain);
}

void vmdk_build_header(uint8_t *h, uint64_t capacity, uint64_t grain,
		       uint64_t desc_sectors, uint64_t rgd, uint64_t gd,
		       uint64_t overhead, uint32_t flags)
{
	memset(h, 0, 512);
	put_le32(h, VMDK_MAGIC);
	/* Version 3 is what readers expect of compressed streams. */
	put_le32(h + 4, flags & VMDK_FLAG_COMPRESSED ? 3 : 1);
	put_le32(h + 8, flags);
	put_le64(h + 12, capacity);
	put_le64(h + 20, grain);
	put_le64(h + 28, 1);
	put_le64(h + 36, desc_sectors);
	put_le32(h + 44, VMDK_GTES);
	put_le64(h + 48, rgd);
	put_le64(h + 56, gd);
	put_le64(h + 64, overhead);
	h[73] = '\n';
	h[74] = ' ';
	h[75] = '\r';
	h[76] = '\n';
	if (flags & VMDK_FLAG_COMPRESSED)
		put_le16(h + 77, 1);		/* deflate */
}

void vmdk_build_descriptor(char *d, size_t size, const char *path,
			   uint64_t capacity, const char *type)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	uint64_t cyl = capacity / (16 * 63);
	uint32_t cid;

	if (getrandom(&cid, sizeof(cid), 0) != sizeof(cid))
		cid = 0x12345678;
	if (cyl > 16383)
		cyl = 16383;
	snprintf(d, size,
		 "# Disk DescriptorFile\n"
		 "version=1\n"
		 "CID=%08x\n"
		 "parentCID=ffffffff\n"
		 "createType=\"%s\"\n"
		 "\n"
		 "# Extent description\n"
		 "RW %llu SPARSE \"%s\"\n"
		 "\n"
		 "# The Disk Data Base\n"
		 "#DDB\n"
		 "\n"
		 "ddb.virtualHWVersion = \"4\"\n"
		 "ddb.geometry.cylinders = \"%llu\"\n"
		 "ddb.geometry.heads = \"16\"\n"
		 "ddb.geometry.sectors = \"63\"\n"
		 "ddb.adapterType = \"ide\"\n",
		 cid, type, (unsigned long long)capacity, base,
		 (unsigned long long)cyl);
}

/* The directory at sector gd pointing at tables laid out right after it. */
static int write_directory(int fd, const struct vmdk_layout *l, uint64_t gd)
{
	uint64_t bytes = l->gd_sectors * SECTOR, i;
	uint8_t *buf = calloc(1, bytes);
	int ret;

	if (!buf)
		return -ENOMEM;
	for (i = 0; i < l->gd_entries; i++)
		put_le32(buf + i * 4, gd + l->gd_sectors + i * l->gt_sectors);
	ret = file_pwrite_all(fd, buf, bytes, gd * SECTOR);
	free(buf);
	return ret;
}

static int vmdk_create(const char *path, uint64_t size,
		       const struct block_create_opts *opts)
{
	uint64_t grain = opts->cluster_size ? opts->cluster_size : 65536;
	char desc[VMDK_DESC_SECTORS * SECTOR];
	struct vmdk_layout l;
	uint8_t h[512];
	int fd, ret;

	if (opts->backing_file) {
		log_error("%s: creating vmdk images with a backing file is not "
			  "supported", path);
		return -ENOTSUP;
	}
	if (grain < 4096 || grain > VMDK_MAX_GRAIN_SECTORS * SECTOR ||
	    (grain & (grain - 1))) {
		log_error("%s: vmdk grain size must be a power of two from 4K "
			  "to 32M", path);
		return -EINVAL;
	}
	if (opts->subformat && !strcmp(opts->subformat, "streamOptimized"))
		return vmdk_stream_create(path, size, grain);
	plan(&l, size, grain);
	if (l.overhead + l.capacity > UINT32_MAX || l.gd_entries * 4 > VMDK_MAX_GD_BYTES) {
		log_error("%s: size too large for vmdk", path);
		return -EFBIG;
	}
	vmdk_build_header(h, l.capacity, l.grain, VMDK_DESC_SECTORS, l.rgd, l.gd,
			  l.overhead, VMDK_FLAG_NL_TEST | VMDK_FLAG_RGD);
	memset(desc, 0, sizeof(desc));
	vmdk_build_descriptor(desc, sizeof(desc), path, l.capacity,
			      "monolithicSparse");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		log_error("cannot create '%s': %s", path, strerror(errno));
		return ret;
	}
	ret = file_pwrite_all(fd, h, sizeof(h), 0);
	if (!ret)
		ret = file_pwrite_all(fd, desc, sizeof(desc), SECTOR);
	if (!ret)
		ret = write_directory(fd, &l, l.rgd);
	if (!ret)
		ret = write_directory(fd, &l, l.gd);
	if (!ret && ftruncate(fd, l.overhead * SECTOR) < 0)
		ret = -errno;
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (ret < 0)
		log_error("cannot write '%s': %s", path, strerror(-ret));
	close(fd);
	return ret;
}

const struct block_driver block_vmdk = {
	.name = "vmdk",
	.probe = vmdk_probe,
	.open = vmdk_open,
	.read = vmdk_read,
	.write = vmdk_write,
	.flush = vmdk_flush,
	.get_info = vmdk_get_info,
	.close = vmdk_close,
	.create = vmdk_create,
	.status = vmdk_status,
	.check = vmdk_check,
	.map = vmdk_map,
};

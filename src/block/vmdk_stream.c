/*
 * Writing streamOptimized VMDK images (`wirt img convert -O vmdk -o
 * subformat=streamOptimized`): a header whose grain directory is "at the
 * end", the descriptor, then each grain deflated behind a grain marker
 * (its first sector and compressed length), and at the end the grain
 * tables, the directory (each behind a metadata marker), a footer (the
 * header again, now naming the directory) and an end-of-stream marker.
 *
 * Grains must be written in increasing order; a grain is held in memory
 * until a write moves past it.  Flushing writes the tables and footer;
 * later grains may still follow, and overwrite that tail.  Only an empty
 * image can be opened to write a stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "block/file_io.h"
#include "block/vmdk.h"
#include "util/log.h"

#define STREAM_FLAGS (VMDK_FLAG_NL_TEST | VMDK_FLAG_COMPRESSED | \
		      VMDK_FLAG_MARKERS)

static uint64_t gt_sectors(const struct vmdk *s)
{
	return div_round_up(s->gtes * 4ULL, SECTOR);
}

static uint64_t gd_sectors(uint64_t gd_entries)
{
	return div_round_up(gd_entries * 4, SECTOR);
}

/* A metadata marker sector: how many sectors follow, and their type. */
static void marker(uint8_t *m, uint64_t sectors, uint32_t type)
{
	memset(m, 0, SECTOR);
	put_le64(m, sectors);
	put_le32(m + 12, type);
}

/*
 * Write the tail at sector at: grain tables, directory, footer, end of
 * stream.  gts[i] are the tables (NULL: none), gd_entries of them.
 */
static int write_tail(int fd, uint64_t at, uint8_t *h, uint32_t **gts,
		      uint64_t gd_entries, uint64_t gtsec)
{
	uint64_t nd = gd_sectors(gd_entries), i, k, len, pos = at;
	uint8_t *buf, *gd, *p;
	int ret = -ENOMEM;

	len = (gd_entries * (1 + gtsec) + 1 + nd + 3) * SECTOR;
	buf = calloc(1, len);
	gd = calloc(1, nd * SECTOR);
	if (!buf || !gd)
		goto out;
	p = buf;
	for (i = 0; i < gd_entries; i++) {
		if (!gts || !gts[i])
			continue;
		marker(p, gtsec, VMDK_MARKER_GT);
		p += SECTOR;
		pos++;
		for (k = 0; k < gtsec * SECTOR / 4; k++)
			put_le32(p + k * 4, gts[i][k]);
		put_le32(gd + i * 4, pos);
		p += gtsec * SECTOR;
		pos += gtsec;
	}
	marker(p, nd, VMDK_MARKER_GD);
	p += SECTOR;
	pos++;
	memcpy(p, gd, nd * SECTOR);
	put_le64(h + 56, pos);			/* the footer names the GD */
	p += nd * SECTOR;
	marker(p, 1, VMDK_MARKER_FOOTER);
	p += SECTOR;
	memcpy(p, h, SECTOR);
	p += SECTOR;
	memset(p, 0, SECTOR);			/* end-of-stream marker */
	p += SECTOR;
	ret = file_pwrite_all(fd, buf, p - buf, at * SECTOR);
	if (!ret && ftruncate(fd, (at * SECTOR) + (p - buf)) < 0)
		ret = -errno;
out:
	free(gd);
	free(buf);
	return ret;
}

int vmdk_stream_create(const char *path, uint64_t size, uint64_t grain_bytes)
{
	uint64_t capacity = div_round_up(size, SECTOR);
	uint64_t grain = grain_bytes / SECTOR, gd_entries, overhead;
	char desc[VMDK_DESC_SECTORS * SECTOR];
	uint8_t h[SECTOR];
	int fd, ret;

	gd_entries = div_round_up(capacity, grain * VMDK_GTES);
	if (capacity > UINT32_MAX || gd_entries * 4 > VMDK_MAX_GD_BYTES) {
		log_error("%s: size too large for vmdk", path);
		return -EFBIG;
	}
	overhead = align_up(1 + VMDK_DESC_SECTORS, grain);
	vmdk_build_header(h, capacity, grain, VMDK_DESC_SECTORS, 0,
			  VMDK_GD_AT_END, overhead, STREAM_FLAGS);
	memset(desc, 0, sizeof(desc));
	vmdk_build_descriptor(desc, sizeof(desc), path, capacity,
			      "streamOptimized");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		ret = -errno;
		log_error("cannot create '%s': %s", path, strerror(errno));
		return ret;
	}
	ret = file_pwrite_all(fd, h, SECTOR, 0);
	if (!ret)
		ret = file_pwrite_all(fd, desc, sizeof(desc), SECTOR);
	if (!ret)
		ret = write_tail(fd, overhead, h, NULL, gd_entries,
				 div_round_up(VMDK_GTES * 4ULL, SECTOR));
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (ret < 0)
		log_error("cannot write '%s': %s", path, strerror(-ret));
	close(fd);
	return ret;
}

/* Opening a stream to write: only an image without grains. */
int vmdk_stream_start(struct block_dev *bs)
{
	struct vmdk *s = bs->opaque;
	struct vmdk_stream *st;
	uint32_t i;

	for (i = 0; i < s->gd_entries; i++)
		if (s->gd[i])
			return vmdk_error(bs, -EROFS, "streamOptimized vmdk "
					  "images with data can only be read; "
					  "convert them to write");
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	s->stream = st;
	st->gt = calloc(s->gd_entries, sizeof(*st->gt));
	st->buf = malloc(s->grain * SECTOR);
	/* Marker, and deflate's worst case for one grain. */
	st->zbuf = malloc(SECTOR + compressBound(s->grain * SECTOR) + SECTOR);
	if (!st->gt || !st->buf || !st->zbuf)
		return -ENOMEM;
	st->tail = s->overhead;
	st->pending = -1;
	return 0;
}

void vmdk_stream_free(struct vmdk *s)
{
	struct vmdk_stream *st = s->stream;
	uint32_t i;

	if (!st)
		return;
	for (i = 0; st->gt && i < s->gd_entries; i++)
		free(st->gt[i]);
	free(st->gt);
	free(st->buf);
	free(st->zbuf);
	free(st);
	s->stream = NULL;
}

uint32_t vmdk_stream_gte(const struct vmdk *s, uint64_t g)
{
	const uint32_t *gt = s->stream->gt[g / s->gtes];

	return gt ? gt[g % s->gtes] : 0;
}

const uint8_t *vmdk_stream_pending(const struct vmdk *s, uint64_t g)
{
	return s->stream->pending == (int64_t)g ? s->stream->buf : NULL;
}

/* Deflate the pending grain behind its marker and append it. */
static int put_grain(struct block_dev *bs)
{
	struct vmdk *s = bs->opaque;
	struct vmdk_stream *st = s->stream;
	uint64_t g = st->pending, gsize = s->grain * SECTOR, bytes;
	uLongf clen = compressBound(gsize);
	uint32_t gdi = g / s->gtes;
	int ret;

	st->pending = -1;
	st->next_grain = g + 1;
	if (buf_is_zero(st->buf, gsize))
		return 0;		/* stays unallocated: reads as zeros */
	if (compress2(st->zbuf + 12, &clen, st->buf, gsize,
		      Z_DEFAULT_COMPRESSION) != Z_OK)
		return -ENOMEM;
	put_le64(st->zbuf, g * s->grain);
	put_le32(st->zbuf + 8, clen);
	bytes = align_up(12 + clen, SECTOR);
	memset(st->zbuf + 12 + clen, 0, bytes - 12 - clen);
	if (st->tail + bytes / SECTOR > UINT32_MAX)
		return vmdk_error(bs, -EFBIG, "vmdk image file full");
	if (!st->gt[gdi]) {
		st->gt[gdi] = calloc(gt_sectors(s) * SECTOR / 4, 4);
		if (!st->gt[gdi])
			return -ENOMEM;
	}
	ret = file_pwrite_all(bs->fd, st->zbuf, bytes, st->tail * SECTOR);
	if (ret < 0)
		return ret;
	st->gt[gdi][g % s->gtes] = st->tail;
	st->tail += bytes / SECTOR;
	return 0;
}

int vmdk_stream_write(struct block_dev *bs, uint64_t off, const void *buf,
		      size_t len)
{
	struct vmdk *s = bs->opaque;
	struct vmdk_stream *st = s->stream;
	uint64_t gsize = s->grain * SECTOR, g, in, n;
	const uint8_t *p = buf;
	int ret;

	while (len) {
		g = off / gsize;
		in = off % gsize;
		n = gsize - in < len ? gsize - in : len;
		if ((int64_t)g != st->pending) {
			if (g < st->next_grain || (int64_t)g < st->pending) {
				log_error("%s: streamOptimized vmdk images are "
					  "written once, front to back",
					  bs->filename);
				return -ENOTSUP;
			}
			if (st->pending >= 0 && (ret = put_grain(bs)) < 0)
				return ret;
			st->pending = g;
			memset(st->buf, 0, gsize);
		}
		memcpy(st->buf + in, p, n);
		off += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* Write the held grain, the tables and the footer at the current end. */
int vmdk_stream_finish(struct block_dev *bs)
{
	struct vmdk *s = bs->opaque;
	struct vmdk_stream *st = s->stream;
	uint8_t h[SECTOR];
	int ret;

	if (st->pending >= 0 && (ret = put_grain(bs)) < 0)
		return ret;
	vmdk_build_header(h, s->capacity, s->grain, s->desc_sectors, 0,
			  VMDK_GD_AT_END, s->overhead, STREAM_FLAGS);
	return write_tail(bs->fd, st->tail, h, st->gt, s->gd_entries,
			  gt_sectors(s));
}

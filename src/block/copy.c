/*
 * Image-to-image copy for `wirt img convert`: reads the source in large
 * chunks, asks the source driver which ranges read as zeros, and leaves
 * zero ranges unwritten when the destination already reads as zeros.
 * With compression, whole chunks (cluster aligned) go to the
 * destination's compressed write path instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "block/file_io.h"
#include "util/log.h"

#define COPY_CHUNK	(2u << 20)
#define COPY_GRAIN	(64u << 10)
/*
 * Compressed clusters are packed per chunk; the last host cluster of each
 * is partly empty, so chunks are large: 16 MiB, or 32 clusters.
 */
#define COMPRESS_CHUNK	(16u << 20)
#define COMPRESS_CLUSTERS 32

/* Write buf[0..len) to out at off, skipping grain-sized runs of zeros. */
static int write_sparse(struct block_dev *out, uint64_t off, const uint8_t *buf,
			size_t len, size_t grain)
{
	size_t pos = 0, start, n;
	int ret;

	while (pos < len) {
		n = grain - (off + pos) % grain;
		if (n > len - pos)
			n = len - pos;
		if (buf_is_zero(buf + pos, n)) {
			pos += n;
			continue;
		}
		start = pos;
		do {
			pos += n;
			n = grain < len - pos ? grain : len - pos;
		} while (pos < len && !buf_is_zero(buf + pos, n));
		ret = block_write(out, off + start, buf + start, pos - start);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static size_t copy_grain(struct block_dev *out)
{
	struct block_info info;

	if (block_get_info(out, &info) < 0 || !info.cluster_size ||
	    info.cluster_size > COPY_CHUNK)
		return COPY_GRAIN;
	return info.cluster_size;
}

/* Copy one status run [off, off + *n) of in; shortens *n to the run. */
static int copy_run(struct block_dev *in, struct block_dev *out, uint64_t off,
		    uint64_t *n, uint8_t *buf, size_t grain, bool zeroed)
{
	uint64_t pnum;
	int st;

	st = block_status(in, off, *n, &pnum);
	if (st < 0)
		return st;
	*n = pnum;
	if (st == BLOCK_STATUS_ZERO && zeroed)
		return 0;
	if (st == BLOCK_STATUS_ZERO)
		memset(buf, 0, *n);
	else if ((st = block_read(in, off, buf, *n)) < 0)
		return st;
	return zeroed ? write_sparse(out, off, buf, *n, grain) :
	       block_write(out, off, buf, *n);
}

/* A whole chunk through the compressed path, unless it reads as zeros. */
static int copy_compressed(struct block_dev *in, struct block_dev *out,
			   uint64_t off, uint64_t n, uint8_t *buf)
{
	uint64_t pnum;
	int st;

	st = block_status(in, off, n, &pnum);
	if (st < 0)
		return st;
	if (st == BLOCK_STATUS_ZERO && pnum == n)
		return 0;
	st = block_read(in, off, buf, n);
	if (st < 0)
		return st;
	return block_write_compressed(out, off, buf, n);
}

int block_copy_opts(struct block_dev *in, struct block_dev *out,
		    const struct block_copy_opts *o)
{
	size_t grain = copy_grain(out), chunk = COPY_CHUNK;
	uint64_t off = 0, n;
	uint8_t *buf;
	int ret = 0;

	if (out->size < in->size)
		return -ENOSPC;
	if (o->compress) {
		chunk = COMPRESS_CHUNK;
		if (grain * COMPRESS_CLUSTERS > chunk)
			chunk = grain * COMPRESS_CLUSTERS;
	}
	buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	while (off < in->size && !ret) {
		n = in->size - off < chunk ? in->size - off : chunk;
		if (o->compress)
			ret = copy_compressed(in, out, off, n, buf);
		else
			ret = copy_run(in, out, off, &n, buf, grain, o->out_zeroed);
		off += n;
		if (o->progress)
			o->progress(o->opaque, off, in->size);
	}
	free(buf);
	if (!ret && !o->no_flush)
		ret = block_flush(out);
	return ret;
}

int block_copy(struct block_dev *in, struct block_dev *out, bool out_zeroed)
{
	struct block_copy_opts o = { .out_zeroed = out_zeroed };

	return block_copy_opts(in, out, &o);
}

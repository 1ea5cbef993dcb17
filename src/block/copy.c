/*
 * Image-to-image copy for `wirt img convert`: reads the source in large
 * chunks, asks the source driver which ranges read as zeros, and leaves
 * zero ranges unwritten when the destination already reads as zeros.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "block/file_io.h"
#include "util/log.h"

#define COPY_CHUNK	(2u << 20)
#define COPY_GRAIN	(64u << 10)

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

int block_copy(struct block_dev *in, struct block_dev *out, bool out_zeroed)
{
	size_t grain = copy_grain(out);
	uint64_t off = 0, n, pnum;
	uint8_t *buf;
	int ret = 0, st;

	if (out->size < in->size)
		return -ENOSPC;
	buf = malloc(COPY_CHUNK);
	if (!buf)
		return -ENOMEM;
	while (off < in->size) {
		n = in->size - off < COPY_CHUNK ? in->size - off : COPY_CHUNK;
		st = block_status(in, off, n, &pnum);
		if (st < 0) {
			ret = st;
			break;
		}
		n = pnum;
		if (st == BLOCK_STATUS_ZERO && out_zeroed) {
			off += n;
			continue;
		}
		if (st == BLOCK_STATUS_ZERO)
			memset(buf, 0, n);
		else
			ret = block_read(in, off, buf, n);
		if (!ret)
			ret = out_zeroed ? write_sparse(out, off, buf, n, grain) :
			      block_write(out, off, buf, n);
		if (ret < 0)
			break;
		off += n;
	}
	free(buf);
	if (!ret)
		ret = block_flush(out);
	return ret;
}

/*
 * Changing a qcow2 image's backing file (`wirt img rebase`): the header's
 * backing file name and the backing format extension are rewritten in
 * place in the first cluster, every other header extension kept.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/file_io.h"
#include "block/qcow2.h"
#include "block/qcow2_extra.h"
#include "util/log.h"

/* Longest backing file name other qcow2 tools accept. */
#define BACKING_NAME_MAX 1023

static uint32_t put_ext(uint8_t *p, uint32_t type, const void *data,
			uint32_t len)
{
	put_be32(p, type);
	put_be32(p + 4, len);
	memcpy(p + 8, data, len);
	memset(p + 8 + len, 0, align_up(len, 8) - len);
	return 8 + align_up(len, 8);
}

/*
 * Copy the extensions of the old header at c0 into out, leaving out the
 * backing format; returns bytes written, or 0 with *bad set.
 */
static uint32_t keep_extensions(const struct qcow2 *s, const uint8_t *c0,
				uint32_t end, uint8_t *out, bool *bad)
{
	uint32_t off = s->header_length, n = 0, type, len;

	*bad = false;
	while (off + 8 <= end) {
		type = get_be32(c0 + off);
		len = get_be32(c0 + off + 4);
		if (type == QCOW2_EXT_END)
			break;
		if (len > end - off - 8) {
			*bad = true;
			return 0;
		}
		if (type != QCOW2_EXT_BACKING_FORMAT)
			n += put_ext(out + n, type, c0 + off + 8, len);
		off += 8 + align_up(len, 8);
	}
	return n;
}

int qcow2_set_backing(struct block_dev *bs, const char *name,
		      const char *format)
{
	struct qcow2 *s = bs->opaque;
	uint64_t cs = s->cluster_size, boff;
	uint32_t end, pos, nlen = name ? strlen(name) : 0;
	uint8_t *c0, *nh;
	bool bad;
	int ret;

	if (nlen > BACKING_NAME_MAX) {
		log_error("%s: backing file name longer than %d bytes",
			  bs->filename, BACKING_NAME_MAX);
		return -ENAMETOOLONG;
	}
	if (format && strlen(format) >= sizeof(s->backing_format))
		return -EINVAL;
	c0 = calloc(1, cs);
	nh = calloc(1, 2 * cs);
	ret = -ENOMEM;
	if (!c0 || !nh)
		goto out;
	ret = file_pread_zero(bs->fd, c0, cs, 0);
	if (ret < 0)
		goto out;
	boff = get_be64(c0 + QH_BACKING_OFFSET);
	end = boff > s->header_length && boff < cs ? boff : cs;
	memcpy(nh, c0, s->header_length);
	pos = s->header_length;
	pos += keep_extensions(s, c0, end, nh + pos, &bad);
	if (bad) {
		ret = qcow2_corrupt(bs, "header extension runs past the first "
				    "cluster");
		goto out;
	}
	if (name && format)
		pos += put_ext(nh + pos, QCOW2_EXT_BACKING_FORMAT, format,
			       strlen(format));
	pos += 8;			/* end of extensions: zeros */
	put_be64(nh + QH_BACKING_OFFSET, name ? pos : 0);
	put_be32(nh + QH_BACKING_SIZE, nlen);
	if (pos + nlen > cs) {
		log_error("%s: backing file name does not fit in the header "
			  "cluster (%llu bytes)", bs->filename,
			  (unsigned long long)cs);
		ret = -ENOSPC;
		goto out;
	}
	memcpy(nh + pos, name ? name : "", nlen);
	/* One write of the whole header region; stale bytes become zeros. */
	ret = file_pwrite_all(bs->fd, nh, cs, 0);
	if (ret < 0)
		goto out;
	snprintf(s->backing_file, sizeof(s->backing_file), "%s",
		 name ? name : "");
	snprintf(s->backing_format, sizeof(s->backing_format), "%s",
		 name && format ? format : "");
out:
	free(c0);
	free(nh);
	return ret;
}

/*
 * VMDK descriptor files that name separate extent files: monolithicFlat
 * (one raw file), twoGbMaxExtentFlat (raw files of at most 2 GiB) and
 * twoGbMaxExtentSparse (hosted sparse files of at most 2 GiB), as
 * described in the "# Extent description" lines:
 *
 *	RW 4194304 SPARSE "disk-s001.vmdk"
 *	RW 6144 FLAT "disk-flat.vmdk" 0
 *
 * (access, sectors, type, file name relative to the descriptor, and for
 * FLAT the sector offset in that file).  Each extent file is opened as a
 * raw or vmdk image of its own; guest I/O is split among them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/file_io.h"
#include "block/vmdk.h"
#include "util/log.h"

#define DESC_MAX	(64u << 10)
#define EXTENTS_MAX	4096

static __thread int opening_extent;

bool vmdk_opening_extent(void)
{
	return opening_extent > 0;
}

static int desc_error(struct block_dev *bs, int err, const char *what,
		      const char *arg)
{
	log_error("%s: %s%s%s", bs->filename, what, arg ? " " : "",
		  arg ? arg : "");
	return err;
}

/* Open the file of one extent line; kind is "FLAT", "SPARSE" or "ZERO". */
static int open_extent(struct block_dev *bs, struct vmdk_extent *e,
		       const char *kind, const char *name, unsigned flags)
{
	char *path;
	int ret;

	if (!strcmp(kind, "ZERO"))
		return 0;
	path = block_backing_path(bs->filename, name);
	if (!path)
		return -ENOMEM;
	flags |= BLOCK_O_NO_BACKING;
	if (e->read_only)
		flags &= ~BLOCK_O_RDWR;
	opening_extent++;
	ret = block_open(&e->bs, path, strcmp(kind, "FLAT") ? "vmdk" : "raw",
			 flags);
	opening_extent--;
	free(path);
	if (ret < 0)
		return ret;
	if (e->bs->size < e->offset || e->bs->size - e->offset < e->len)
		return desc_error(bs, -EINVAL, "extent file shorter than the "
				  "descriptor says:", name);
	return 0;
}

/* Parse one extent line into e; 0 if the line is not an extent. */
static int parse_extent(struct block_dev *bs, const char *line,
			struct vmdk_extent *e, unsigned flags, uint64_t start)
{
	char access[16], kind[16], name[1024];
	uint64_t sectors, offset = 0;
	int n;

	name[0] = 0;
	n = sscanf(line, "%15s %" SCNu64 " %15s \"%1023[^\"]\" %" SCNu64,
		   access, &sectors, kind, name, &offset);
	/* ZERO extents name no file. */
	if (n < 3 || (n < 4 && strcmp(kind, "ZERO")) ||
	    (strcmp(access, "RW") && strcmp(access, "RDONLY") &&
	     strcmp(access, "NOACCESS")))
		return desc_error(bs, -EINVAL, "bad extent line:", line);
	if (strcmp(kind, "FLAT") && strcmp(kind, "SPARSE") &&
	    strcmp(kind, "ZERO"))
		return desc_error(bs, -ENOTSUP, "unsupported vmdk extent type",
				  kind);
	if (!strcmp(access, "NOACCESS"))
		return desc_error(bs, -ENOTSUP, "NOACCESS extents are not "
				  "supported:", name);
	if (sectors > (1ULL << 40) || offset > (1ULL << 40) || !sectors)
		return desc_error(bs, -EINVAL, "bad extent size or offset:",
				  line);
	e->start = start;
	e->len = sectors * SECTOR;
	e->offset = strcmp(kind, "FLAT") ? 0 : offset * SECTOR;
	e->read_only = strcmp(access, "RW") != 0;
	return open_extent(bs, e, kind, name, flags);
}

static bool is_extent_line(const char *line)
{
	return !strncmp(line, "RW ", 3) || !strncmp(line, "RDONLY ", 7) ||
	       !strncmp(line, "NOACCESS ", 9);
}

static int parse_extents(struct block_dev *bs, char *desc, unsigned flags)
{
	struct vmdk *s = bs->opaque;
	char *line, *save = NULL;
	uint64_t start = 0;
	int ret;

	s->ext = calloc(EXTENTS_MAX, sizeof(*s->ext));
	if (!s->ext)
		return -ENOMEM;
	for (line = strtok_r(desc, "\r\n", &save); line;
	     line = strtok_r(NULL, "\r\n", &save)) {
		if (!is_extent_line(line))
			continue;
		if (s->nr_ext == EXTENTS_MAX)
			return desc_error(bs, -EFBIG, "too many extents", NULL);
		ret = parse_extent(bs, line, &s->ext[s->nr_ext], flags, start);
		if (s->ext[s->nr_ext].bs || !ret)
			s->nr_ext++;	/* so close() releases it */
		if (ret < 0)
			return ret;
		start += s->ext[s->nr_ext - 1].len;
	}
	if (!s->nr_ext)
		return desc_error(bs, -EINVAL, "vmdk descriptor names no "
				  "extents", NULL);
	bs->size = start;
	return 0;
}

int vmdk_desc_open(struct block_dev *bs, unsigned flags, uint64_t fsize)
{
	struct vmdk *s = bs->opaque;
	char *desc;
	int ret;

	if (fsize > DESC_MAX)
		return desc_error(bs, -EINVAL, "vmdk descriptor file too large",
				  NULL);
	desc = calloc(1, fsize + 1);
	if (!desc)
		return -ENOMEM;
	ret = file_pread_exact(bs->fd, desc, fsize, 0);
	if (ret < 0)
		goto out;
	strcpy(s->create_type, "?");
	vmdk_desc_value(desc, "createType", s->create_type,
			sizeof(s->create_type));
	ret = -ENOTSUP;
	if (strcmp(s->create_type, "monolithicFlat") &&
	    strcmp(s->create_type, "twoGbMaxExtentFlat") &&
	    strcmp(s->create_type, "twoGbMaxExtentSparse") &&
	    strcmp(s->create_type, "monolithicSparse")) {
		desc_error(bs, ret, "unsupported vmdk create type",
			   s->create_type);
		goto out;
	}
	if (vmdk_desc_value(desc, "parentFileNameHint", s->parent,
			    sizeof(s->parent))) {
		desc_error(bs, ret, "vmdk descriptor files with a parent image "
			   "are not supported", NULL);
		goto out;
	}
	ret = parse_extents(bs, desc, flags);
out:
	free(desc);
	return ret;
}

void vmdk_desc_close(struct vmdk *s)
{
	unsigned i;

	for (i = 0; i < s->nr_ext; i++)
		block_close(s->ext[i].bs);
	free(s->ext);
	s->ext = NULL;
	s->nr_ext = 0;
}

/* The extent holding guest offset off, and how much of it lies ahead. */
static struct vmdk_extent *find(struct vmdk *s, uint64_t off, uint64_t *left)
{
	unsigned lo = 0, hi = s->nr_ext, mid;

	while (hi - lo > 1) {
		mid = (lo + hi) / 2;
		if (s->ext[mid].start <= off)
			lo = mid;
		else
			hi = mid;
	}
	*left = s->ext[lo].start + s->ext[lo].len - off;
	return &s->ext[lo];
}

int vmdk_desc_read(struct block_dev *bs, uint64_t off, void *buf, size_t len)
{
	struct vmdk_extent *e;
	uint8_t *p = buf;
	uint64_t n;
	int ret;

	while (len) {
		e = find(bs->opaque, off, &n);
		if (n > len)
			n = len;
		if (!e->bs)
			memset(p, 0, n);
		else if ((ret = block_read(e->bs, off - e->start + e->offset, p,
					   n)) < 0)
			return ret;
		off += n;
		p += n;
		len -= n;
	}
	return 0;
}

int vmdk_desc_write(struct block_dev *bs, uint64_t off, const void *buf,
		    size_t len)
{
	struct vmdk_extent *e;
	const uint8_t *p = buf;
	uint64_t n;
	int ret;

	while (len) {
		e = find(bs->opaque, off, &n);
		if (n > len)
			n = len;
		if (!e->bs || e->read_only)
			return desc_error(bs, -EROFS, "write to a read-only vmdk "
					  "extent", NULL);
		ret = block_write(e->bs, off - e->start + e->offset, p, n);
		if (ret < 0)
			return ret;
		off += n;
		p += n;
		len -= n;
	}
	return 0;
}

int vmdk_desc_flush(struct block_dev *bs)
{
	struct vmdk *s = bs->opaque;
	unsigned i;
	int ret;

	for (i = 0; i < s->nr_ext; i++)
		if (s->ext[i].bs && (ret = block_flush(s->ext[i].bs)) < 0)
			return ret;
	return 0;
}

int vmdk_desc_status(struct block_dev *bs, uint64_t off, uint64_t len,
		     uint64_t *pnum)
{
	struct vmdk_extent *e = find(bs->opaque, off, pnum);

	if (*pnum > len)
		*pnum = len;
	if (!e->bs)
		return BLOCK_STATUS_ZERO;
	return block_status(e->bs, off - e->start + e->offset, *pnum, pnum);
}

int vmdk_desc_map(struct block_dev *bs, uint64_t off, uint64_t len,
		  struct block_mapping *m)
{
	struct vmdk_extent *e = find(bs->opaque, off, &m->len);
	int ret;

	if (m->len > len)
		m->len = len;
	if (!e->bs) {
		m->flags = BLOCK_MAP_ALLOCATED | BLOCK_MAP_ZERO;
		return 0;
	}
	ret = block_map(e->bs, off - e->start + e->offset, m->len, m);
	if (e->read_only)
		m->flags &= ~BLOCK_MAP_WRITABLE;
	return ret;
}

int vmdk_desc_check(struct block_dev *bs, struct block_check *res,
		    bool repair)
{
	struct vmdk *s = bs->opaque;
	struct block_check r;
	unsigned i;
	int ret;

	for (i = 0; i < s->nr_ext; i++) {
		if (!s->ext[i].bs || !s->ext[i].bs->drv->check)
			continue;
		ret = block_check(s->ext[i].bs, &r, repair);
		if (ret < 0)
			return ret;
		res->corruptions += r.corruptions;
		res->leaks += r.leaks;
		res->checked_clusters += r.checked_clusters;
		res->allocated_clusters += r.allocated_clusters;
	}
	return 0;
}

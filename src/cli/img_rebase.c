/*
 * `wirt img rebase`: give an image a different backing file (-b, or
 * -b '' for none).  Safe mode first copies into the image every range it
 * does not define itself where the old and the new backing file differ,
 * so the guest sees the same bytes afterwards; -u (unsafe) only rewrites
 * the header, for when the backing file was merely moved or renamed.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "block/file_io.h"
#include "cli/img.h"
#include "util/log.h"

#define CHUNK	(1u << 20)

struct rebase_args {
	struct img_opts opt;		/* -f, -t, -T, -p, -q */
	const char *backing, *backing_fmt, *file;
	bool unsafe;
};

/* Read the new backing file's view: zeros past its end or without one. */
static int read_new(struct block_dev *nb, uint64_t off, uint8_t *buf,
		    size_t n)
{
	size_t part;

	if (!nb || off >= block_size(nb)) {
		memset(buf, 0, n);
		return 0;
	}
	part = block_size(nb) - off < n ? block_size(nb) - off : n;
	memset(buf + part, 0, n - part);
	return block_read(nb, off, buf, part);
}

/* Write old-view grains that differ from the new backing into bs. */
static int keep_view(struct block_dev *bs, uint64_t off, const uint8_t *old,
		     const uint8_t *new, uint64_t n, uint64_t grain)
{
	uint64_t pos = 0, len;
	int ret;

	while (pos < n) {
		len = grain - (off + pos) % grain;
		if (len > n - pos)
			len = n - pos;
		if (memcmp(old + pos, new + pos, len)) {
			ret = block_write(bs, off + pos, old + pos, len);
			if (ret < 0)
				return ret;
		}
		pos += len;
	}
	return 0;
}

static int copy_differences(struct block_dev *bs, struct block_dev *nb,
			    struct img_progress *prog)
{
	uint8_t *old = aligned_alloc(FILE_DIRECT_ALIGN, CHUNK);
	uint8_t *new = aligned_alloc(FILE_DIRECT_ALIGN, CHUNK);
	struct block_mapping m;
	struct block_info info;
	uint64_t off = 0, n, grain = 65536;
	int ret = 0;

	if (!old || !new) {
		ret = -ENOMEM;
		goto out;
	}
	if (!block_get_info(bs, &info) && info.cluster_size &&
	    info.cluster_size <= CHUNK)
		grain = info.cluster_size;
	while (off < block_size(bs) && !ret) {
		n = block_size(bs) - off < CHUNK ? block_size(bs) - off : CHUNK;
		ret = block_map(bs, off, n, &m);
		if (ret < 0)
			break;
		n = m.len;
		/* What the image defines itself does not depend on backing. */
		if (!(m.flags & BLOCK_MAP_ALLOCATED)) {
			ret = block_read(bs, off, old, n);
			if (!ret)
				ret = read_new(nb, off, new, n);
			if (!ret)
				ret = keep_view(bs, off, old, new, n, grain);
		}
		off += n;
		img_progress_update(prog, off, block_size(bs));
	}
out:
	free(old);
	free(new);
	return ret;
}

/* Open the new backing file the way the image will name it. */
static int open_new_backing(struct rebase_args *a, struct block_dev **nb)
{
	char *path;
	int ret;

	*nb = NULL;
	if (!a->backing[0])
		return 0;
	path = block_backing_path(a->file, a->backing);
	if (!path)
		return -ENOMEM;
	ret = block_open(nb, path, a->backing_fmt, a->opt.src_flags);
	free(path);
	return ret;
}

static int rebase(struct rebase_args *a)
{
	struct block_dev *bs, *nb = NULL;
	const char *fmt = a->backing_fmt;
	unsigned flags = BLOCK_O_RDWR | a->opt.flags;
	int ret;

	if (a->unsafe)
		flags |= BLOCK_O_NO_BACKING;
	ret = block_open(&bs, a->file, a->opt.fmt, flags);
	if (ret < 0)
		return ret;
	if (!block_has(bs, BLOCK_CAN_SET_BACKING)) {
		ret = block_set_backing(bs, a->backing, fmt);	/* says why */
		goto out;
	}
	if (!a->unsafe) {
		ret = open_new_backing(a, &nb);
		if (!ret)
			ret = copy_differences(bs, nb, &a->opt.prog);
		if (!ret && nb && !fmt)
			fmt = block_format(nb);
	}
	if (!ret)
		ret = block_set_backing(bs, a->backing, fmt);
out:
	img_progress_end(&a->opt.prog);
	if (nb)
		block_close(nb);
	block_close(bs);
	return ret;
}

int img_rebase(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct rebase_args a = { 0 };
	int c, ret;

	while ((c = img_next_option("rebase", argc, argv, ":f:b:F:t:T:upqh",
				    longopts, &a.opt, &ret)) != -1) {
		switch (c) {
		case IMG_OPT_EXIT:
			return ret;
		case 'b':
			a.backing = optarg;
			break;
		case 'F':
			a.backing_fmt = optarg;
			break;
		case 'u':
			a.unsafe = true;
			break;
		}
	}
	if (argc - optind != 1 || !a.backing) {
		log_error("img rebase: expected -b BACKING FILE (-b '' removes "
			  "the backing file)");
		return 2;
	}
	if (a.backing_fmt && !block_format_known(a.backing_fmt)) {
		log_error("img rebase: unknown backing format '%s' (known: %s)",
			  a.backing_fmt, block_driver_names());
		return 2;
	}
	a.file = argv[optind];
	a.opt.prog.on = a.opt.prog.on && !a.opt.quiet;
	ret = rebase(&a);
	if (ret < 0 && ret != -EIO && ret != -ENOTSUP && ret != -EINVAL &&
	    ret != -ENOENT)
		log_error("img rebase: %s", strerror(-ret));
	return ret < 0 ? 1 : 0;
}

/*
 * `wirt img commit`: write what an overlay (and any images between it
 * and the base) defines into a backing file, so the base alone shows the
 * guest what the overlay showed.  Afterwards the overlay is emptied (its
 * data now lies in the base) unless -d is given; with -b BASE deeper in
 * the chain the images in between are left as they are and the overlay
 * keeps its data, as with qemu-img.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/block.h"
#include "block/file_io.h"
#include "cli/img.h"
#include "util/log.h"

#define CHUNK	(2u << 20)

/* Is [off, off + *len) defined by one of the images above base? */
static int allocated_above(struct block_dev *top, struct block_dev *base,
			   uint64_t off, uint64_t *len, bool *alloc)
{
	struct block_mapping m;
	struct block_dev *bs;
	int ret;

	*alloc = false;
	for (bs = top; bs && bs != base; bs = block_backing(bs)) {
		if (off >= block_size(bs))
			continue;
		if (*len > block_size(bs) - off)
			*len = block_size(bs) - off;
		ret = block_map(bs, off, *len, &m);
		if (ret < 0)
			return ret;
		*len = m.len;
		if (m.flags & BLOCK_MAP_ALLOCATED) {
			*alloc = true;
			return 0;
		}
	}
	return 0;
}

/* Copy the guest view of top into out wherever the upper images define it. */
static int copy_down(struct block_dev *top, struct block_dev *base,
		     struct block_dev *out, struct img_progress *prog)
{
	uint64_t off = 0, n, pnum;
	uint8_t *buf = aligned_alloc(FILE_DIRECT_ALIGN, CHUNK);
	bool alloc;
	int st, ret = 0;

	if (!buf)
		return -ENOMEM;
	while (off < block_size(top) && !ret) {
		n = block_size(top) - off < CHUNK ? block_size(top) - off : CHUNK;
		ret = allocated_above(top, base, off, &n, &alloc);
		if (ret < 0 || !alloc)
			goto next;
		st = block_status(top, off, n, &pnum);
		if (st < 0) {
			ret = st;
			break;
		}
		n = pnum;
		if (st == BLOCK_STATUS_ZERO) {
			/* Skip if the base already reads zeros there. */
			st = off < block_size(out) ? block_status(out, off, n, &pnum) :
			     BLOCK_STATUS_ZERO;
			if (st < 0) {
				ret = st;
				break;
			}
			n = pnum;
			if (st == BLOCK_STATUS_ZERO)
				goto next;
			memset(buf, 0, n);
		} else {
			ret = block_read(top, off, buf, n);
		}
		if (!ret)
			ret = block_write(out, off, buf, n);
next:
		off += n;
		img_progress_update(prog, off, block_size(top));
	}
	free(buf);
	return ret;
}

/* The image in top's chain that is the file base names, or NULL. */
static struct block_dev *find_base(struct block_dev *top, const char *base)
{
	char want[PATH_MAX], have[PATH_MAX];
	struct block_dev *bs;

	if (!realpath(base, want))
		return NULL;
	for (bs = block_backing(top); bs; bs = block_backing(bs))
		if (realpath(block_filename(bs), have) && !strcmp(want, have))
			return bs;
	return NULL;
}

/*
 * Empty the overlay: a fresh qcow2 image with the same layout and backing
 * file replaces it.  Images with internal snapshots keep their data.
 */
static int make_empty(const char *path)
{
	struct block_create_opts o = { 0 };
	struct block_snapshot *sn = NULL;
	struct block_info info;
	struct block_dev *bs;
	char *tmp;
	int ret, nsn = 0;

	ret = block_open(&bs, path, NULL, BLOCK_O_NO_BACKING);
	if (ret < 0)
		return ret;
	ret = block_get_info(bs, &info);
	if (!ret && block_has(bs, BLOCK_CAN_SNAPSHOT))
		ret = block_snapshot_list(bs, &sn, &nsn);
	block_close(bs);
	free(sn);
	if (ret < 0 || strcmp(info.format, "qcow2") || nsn)
		return ret;
	o.backing_file = info.backing_file;
	o.backing_format = info.backing_format[0] ? info.backing_format : NULL;
	o.cluster_size = info.cluster_size;
	o.version = info.format_version;
	o.refcount_bits = info.refcount_bits;
	o.zstd = !strcmp(info.compression, "zstd");
	if (asprintf(&tmp, "%s.wirt-empty", path) < 0)
		return -ENOMEM;
	ret = block_create("qcow2", tmp, info.virtual_size, &o);
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

struct commit_args {
	struct img_opts opt;		/* -f, -t, -p, -q */
	const char *base, *file;
	bool keep;
};

static int commit(struct commit_args *a)
{
	struct block_dev *top, *base, *out;
	int ret;

	if (block_open(&top, a->file, a->opt.fmt, (a->opt.flags & BLOCK_O_NOCACHE) |
		       BLOCK_O_BACKING_SHARE_WRITE) < 0)
		return -EINVAL;
	ret = -EINVAL;
	base = a->base ? find_base(top, a->base) : block_backing(top);
	if (!base) {
		if (a->base)
			log_error("img commit: '%s' is not in the backing chain "
				  "of '%s'", a->base, a->file);
		else
			log_error("img commit: '%s' has no backing file",
				  a->file);
		goto out_top;
	}
	/* With its backing chain: "reads as zeros" must mean the whole view. */
	ret = block_open(&out, block_filename(base), block_format(base),
			 BLOCK_O_RDWR | a->opt.flags);
	if (ret < 0)
		goto out_top;
	if (block_size(out) < block_size(top))
		ret = block_resize(out, block_size(top), false);
	if (!ret)
		ret = copy_down(top, base, out, &a->opt.prog);
	if (!ret)
		ret = block_flush(out);
	block_close(out);
out_top:
	block_close(top);
	img_progress_end(&a->opt.prog);
	if (!ret && !a->keep && !a->base)
		ret = make_empty(a->file);
	if (ret < 0 && ret != -EINVAL && ret != -EIO)
		log_error("img commit: %s", strerror(-ret));
	return ret;
}

int img_commit(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct commit_args a = { 0 };
	int c, ret;

	while ((c = img_next_option("commit", argc, argv, ":f:b:t:dpqh",
				    longopts, &a.opt, &ret)) != -1) {
		switch (c) {
		case IMG_OPT_EXIT:
			return ret;
		case 'b':
			a.base = optarg;
			break;
		case 'd':
			a.keep = true;
			break;
		}
	}
	if (img_operands("commit", argc, 1, "exactly one FILE") < 0)
		return 2;
	a.file = argv[optind];
	a.opt.prog.on = a.opt.prog.on && !a.opt.quiet;
	if (commit(&a) < 0)
		return 1;
	if (!a.opt.quiet)
		printf("Image committed.\n");
	return 0;
}

/*
 * `wirt img compare`: do two images show the guest the same bytes?
 * Exit status as qemu-img's: 0 identical, 1 different (the first
 * differing 512-byte sector is named), 2 error.  Ranges both images
 * report as zeros are not read.
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

struct cmp {
	struct block_dev *a, *b;
	struct img_opts opt;		/* -f, -T, -p, -q */
	bool strict;
	uint8_t *ba, *bb;
};

/* Read a range known to be zero cheaply, else from the image. */
static int fetch(struct block_dev *bs, int st, uint64_t off, uint8_t *buf,
		 size_t n)
{
	if (st == BLOCK_STATUS_ZERO) {
		memset(buf, 0, n);
		return 0;
	}
	return block_read(bs, off, buf, n);
}

static uint64_t first_diff(const uint8_t *x, const uint8_t *y, size_t n)
{
	size_t i = 0;

	while (i < n && x[i] == y[i])
		i++;
	return i;
}

/*
 * Strict mode: both images must report the same block status (present,
 * zero, data, host offset known), as qemu-img compare -s requires.
 */
static int same_status(struct cmp *c, uint64_t off, uint64_t *n)
{
	struct img_extent ea, eb;
	int ret;

	ret = img_lookup(c->a, off, n, &ea);
	if (!ret)
		ret = img_lookup(c->b, off, n, &eb);
	if (ret < 0)
		return ret;
	return ea.present == eb.present && ea.zero == eb.zero &&
	       ea.data == eb.data && ea.has_offset == eb.has_offset;
}

/* 1 with *at set at the first difference, 0 if equal, negative errno. */
static int compare_common(struct cmp *c, uint64_t end, uint64_t *at)
{
	uint64_t off = 0, n, pa, pb, i;
	int sa, sb, ret;

	while (off < end) {
		n = end - off < CHUNK ? end - off : CHUNK;
		sa = block_status(c->a, off, n, &pa);
		sb = sa < 0 ? sa : block_status(c->b, off, n, &pb);
		if (sa < 0 || sb < 0)
			return sa < 0 ? sa : sb;
		n = pa < pb ? pa : pb;
		if (c->strict) {
			ret = same_status(c, off, &n);
			if (ret < 0)
				return ret;
			if (!ret) {
				*at = off;
				return 2;
			}
		}
		if (sa != BLOCK_STATUS_ZERO || sb != BLOCK_STATUS_ZERO) {
			ret = fetch(c->a, sa, off, c->ba, n);
			if (!ret)
				ret = fetch(c->b, sb, off, c->bb, n);
			if (ret < 0)
				return ret;
			i = first_diff(c->ba, c->bb, n);
			if (i < n) {
				*at = off + i;
				return 1;
			}
		}
		off += n;
		img_progress_update(&c->opt.prog, off, end);
	}
	return 0;
}

/* The part of the larger image past the smaller one's end must be zeros. */
static int compare_tail(struct cmp *c, struct block_dev *big, uint64_t start,
			uint64_t *at)
{
	uint64_t off = start, n, pnum;
	int st, ret;

	while (off < block_size(big)) {
		n = block_size(big) - off < CHUNK ? block_size(big) - off : CHUNK;
		st = block_status(big, off, n, &pnum);
		if (st < 0)
			return st;
		n = pnum;
		if (st != BLOCK_STATUS_ZERO) {
			ret = block_read(big, off, c->ba, n);
			if (ret < 0)
				return ret;
			if (!buf_is_zero(c->ba, n)) {
				memset(c->bb, 0, n);
				*at = off + first_diff(c->ba, c->bb, n);
				return 1;
			}
		}
		off += n;
	}
	return 0;
}

static int run(struct cmp *c)
{
	uint64_t common = block_size(c->a) < block_size(c->b) ? block_size(c->a) : block_size(c->b);
	uint64_t at = 0;
	int ret;

	if (c->strict && block_size(c->a) != block_size(c->b)) {
		if (!c->opt.quiet)
			printf("Strict mode: Image size mismatch!\n");
		return 1;
	}
	c->ba = aligned_alloc(FILE_DIRECT_ALIGN, CHUNK);
	c->bb = aligned_alloc(FILE_DIRECT_ALIGN, CHUNK);
	if (!c->ba || !c->bb)
		return -ENOMEM;
	ret = compare_common(c, common, &at);
	if (!ret && block_size(c->a) != block_size(c->b) && !c->opt.quiet)
		printf("Warning: Image size mismatch!\n");
	if (!ret)
		ret = compare_tail(c, block_size(c->a) > common ? c->a : c->b, common,
				   &at);
	img_progress_end(&c->opt.prog);
	if (ret < 0)
		return ret;
	if (c->opt.quiet)
		return ret ? 1 : 0;
	if (ret == 2)
		printf("Strict mode: Offset %llu block status mismatch!\n",
		       (unsigned long long)at);
	else if (ret == 1)
		printf("Content mismatch at offset %llu!\n",
		       (unsigned long long)(at & ~511ULL));
	else
		printf("Images are identical.\n");
	return ret ? 1 : 0;
}

int img_compare(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force-share", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *fb = NULL;
	struct cmp c = { 0 };
	unsigned flags;
	int ch, ret;

	while ((ch = img_next_option("compare", argc, argv, ":f:F:T:spqUh",
				     longopts, &c.opt, &ret)) != -1) {
		switch (ch) {
		case IMG_OPT_EXIT:
			return ret;
		case 'F':
			fb = optarg;
			break;
		case 's':
			c.strict = true;
			break;
		}
	}
	if (img_operands("compare", argc, 2, "FILE1 FILE2") < 0)
		return 2;
	c.opt.prog.on = c.opt.prog.on && !c.opt.quiet;
	flags = (c.opt.src_flags & ~BLOCK_O_UNSAFE) | c.opt.share;
	if (block_open(&c.a, argv[optind], c.opt.fmt, flags) < 0)
		return 2;
	if (block_open(&c.b, argv[optind + 1], fb, flags) < 0) {
		block_close(c.a);
		return 2;
	}
	ret = run(&c);
	if (ret < 0) {
		if (ret != -EIO)
			log_error("img compare: %s", strerror(-ret));
		ret = 2;
	}
	free(c.ba);
	free(c.bb);
	block_close(c.a);
	block_close(c.b);
	return ret;
}

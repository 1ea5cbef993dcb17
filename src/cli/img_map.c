/*
 * `wirt img map`: which guest ranges hold data, which read as zeros, and
 * in which image of the backing chain and at which file offset they live.
 * Human output lists the data ranges; --output=json lists every range
 * with start, length, depth, present, zero, data and offset, as
 * qemu-img map does.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "block/block.h"
#include "cli/img.h"
#include "util/log.h"
#include "util/parse.h"

/* Ranges are looked up at most this long at a time. */
#define STEP	(1ULL << 30)

static bool mergeable(const struct img_extent *a, const struct img_extent *b)
{
	return a->depth == b->depth && a->present == b->present &&
	       a->zero == b->zero && a->data == b->data &&
	       a->has_offset == b->has_offset && a->file == b->file &&
	       (!a->has_offset || a->offset + a->len == b->offset);
}

static void print_human(const struct img_extent *e)
{
	if (!e->data || !e->has_offset)
		return;
	printf("%#-16" PRIx64 "%#-16" PRIx64 "%#-16" PRIx64 "%s\n", e->start,
	       e->len, e->offset, e->file);
}

static void print_json(const struct img_extent *e, bool first)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "start", img_json_u64(e->start));
	json_object_object_add(o, "length", img_json_u64(e->len));
	json_object_object_add(o, "depth", json_object_new_int(e->depth));
	json_object_object_add(o, "present", json_object_new_boolean(e->present));
	json_object_object_add(o, "zero", json_object_new_boolean(e->zero));
	json_object_object_add(o, "data", json_object_new_boolean(e->data));
	if (e->has_offset)
		json_object_object_add(o, "offset", img_json_u64(e->offset));
	printf("%s%s", first ? "[" : ",\n",
	       json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED));
	json_object_put(o);
}

static void emit(const struct img_extent *e, bool json, bool *first)
{
	if (json)
		print_json(e, *first);
	else
		print_human(e);
	*first = false;
}

static int map_image(struct block_dev *bs, uint64_t start, uint64_t end,
		     bool json)
{
	struct img_extent cur, next;
	uint64_t off = start, n;
	bool first = true, have = false;
	int ret;

	if (!json)
		printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to",
		       "File");
	while (off < end) {
		n = end - off < STEP ? end - off : STEP;
		ret = img_lookup(bs, off, &n, &next);
		if (ret < 0)
			return ret;
		if (have && mergeable(&cur, &next)) {
			cur.len += next.len;
		} else {
			if (have)
				emit(&cur, json, &first);
			cur = next;
			have = true;
		}
		off += n;
	}
	if (have)
		emit(&cur, json, &first);
	if (json)
		printf("%s]\n", first ? "[" : "");
	return 0;
}

int img_map(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, IMG_OPT_OUTPUT },
		{ "start-offset", required_argument, NULL, 's' },
		{ "max-length", required_argument, NULL, 'l' },
		{ "force-share", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint64_t start = 0, max = UINT64_MAX, end;
	struct img_opts o = { 0 };
	struct block_dev *bs;
	int c, ret;

	while ((c = img_next_option("map", argc, argv, ":f:Uh", longopts, &o,
				    &ret)) != -1) {
		if (c == IMG_OPT_EXIT)
			return ret;
		/* --start-offset (s) or --max-length (l) */
		if (parse_size(optarg, 0, c == 's' ? &start : &max) < 0) {
			log_error("img map: invalid %s '%s'", c == 's' ?
				  "start offset" : "length", optarg);
			return 2;
		}
	}
	if (img_operands("map", argc, 1, "exactly one FILE") < 0)
		return 2;
	if (block_open(&bs, argv[optind], o.fmt, o.share) < 0)
		return 1;
	if (start > block_size(bs))
		start = block_size(bs);
	end = max > block_size(bs) - start ? block_size(bs) : start + max;
	ret = map_image(bs, start, end, o.json);
	if (ret < 0 && ret != -EIO)
		log_error("img map: %s", strerror(-ret));
	block_close(bs);
	return ret < 0 ? 1 : 0;
}

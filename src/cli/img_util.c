/*
 * Helpers shared by the `wirt img` commands: JSON output, progress, and how a range of a backing chain reads (map, compare -s).
 */
#include <stdio.h>
#include <string.h>

#include "cli/img.h"
#include "util/log.h"

void img_print_json(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
}

json_object *img_json_u64(uint64_t v)
{
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

void img_progress_update(struct img_progress *p, uint64_t done,
			 uint64_t total)
{
	int pct = total ? (int)(done * 10000 / total) : 10000;

	/* Redraw at most every 1/100th of a percent. */
	if (!p->on || (pct == p->last && done))
		return;
	p->last = pct;
	fprintf(stderr, "    (%d.%02d/100%%)\r", pct / 100, pct % 100);
	fflush(stderr);
}

void img_progress_end(struct img_progress *p)
{
	if (!p->on)
		return;
	if (p->last != 10000)
		fprintf(stderr, "    (100.00/100%%)\r");
	fputc('\n', stderr);
}

int img_lookup(struct block_dev *top, uint64_t off, uint64_t *len,
	       struct img_extent *e)
{
	struct block_mapping m;
	struct block_dev *bs;
	uint64_t pnum;
	int depth = 0, st, ret;

	memset(e, 0, sizeof(*e));
	e->start = off;
	for (bs = top; bs; bs = block_backing(bs), depth++) {
		e->depth = depth;
		e->file = block_filename(bs);
		if (off >= block_size(bs))
			break;		/* past a shorter backing file: zeros */
		if (*len > block_size(bs) - off)
			*len = block_size(bs) - off;
		ret = block_map(bs, off, *len, &m);
		if (ret < 0)
			return ret;
		*len = m.len;
		if (!(m.flags & BLOCK_MAP_ALLOCATED))
			continue;
		e->present = true;
		e->zero = m.flags & BLOCK_MAP_ZERO;
		if (m.flags & BLOCK_MAP_HOST) {
			e->has_offset = true;
			e->offset = m.host;
			e->file = m.filename;
		}
		if (!e->zero) {
			/* Holes in a raw file are allocated but read as zeros. */
			st = block_status(bs, off, *len, &pnum);
			if (st < 0)
				return st;
			*len = pnum;
			e->zero = st == BLOCK_STATUS_ZERO;
		}
		e->data = !e->zero;
		break;
	}
	if (!e->present)
		e->zero = true;
	e->len = *len;
	return 0;
}


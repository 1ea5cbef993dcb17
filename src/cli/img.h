/* Shared pieces of the `wirt img` commands (src/cli/img*.c). */
#ifndef WIRT_CLI_IMG_H
#define WIRT_CLI_IMG_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "block/block.h"

/* The commands, one per file (img.c dispatches). */
int img_info(int argc, char **argv);
int img_check(int argc, char **argv);
int img_convert(int argc, char **argv);
int img_write(int argc, char **argv);
int img_compare(int argc, char **argv);
int img_map(int argc, char **argv);
int img_commit(int argc, char **argv);
int img_rebase(int argc, char **argv);
int img_bench(int argc, char **argv);

/* img.c */
int img_parse_options(const char *s, struct block_create_opts *o);
int img_bad_option(const char *cmd, int c, int optopt);

/* img_util.c */
/*
 * Parse a cache mode (-t/-T) into block_open() flags: "none" (O_DIRECT),
 * "writeback", "unsafe" (no barriers).  Logs one line and returns -1 if
 * the mode is unknown.
 */
int img_parse_cache(const char *cmd, const char *mode, unsigned *flags);
/* Parse --output's value; -1 with one line logged if not human or json. */
int img_parse_output(const char *cmd, const char *val, bool *json);
/* Print json-c object o on stdout, pretty. */
void img_print_json(json_object *o);
json_object *img_json_u64(uint64_t v);

/* Progress on stderr ("    (12.34/100%)"), shown only if enabled. */
struct img_progress {
	bool on;
	int last;			/* hundredths of a percent shown */
};
void img_progress_update(struct img_progress *p, uint64_t done,
			 uint64_t total);
void img_progress_end(struct img_progress *p);

/* How one range of a backing chain reads, as qemu-img map reports it. */
struct img_extent {
	uint64_t start, len;
	int depth;			/* image of the chain defining it */
	bool present, zero, data, has_offset;
	uint64_t offset;		/* in the file of that image */
	const char *file;
};
/* Look up [off, off + *len) from top down; shortens *len to one answer. */
int img_lookup(struct block_dev *top, uint64_t off, uint64_t *len,
	       struct img_extent *e);

/* img_info.c: the snapshot list as a JSON array. */
json_object *img_snapshots_json(const struct block_snapshot *sn, int n);

#endif

/* Shared pieces of the `wirt img` commands (src/cli/img*.c). */
#ifndef WIRT_CLI_IMG_H
#define WIRT_CLI_IMG_H

#include <getopt.h>
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

/*
 * img.c: the help text: of every command (CMD NULL or not a command), or
 * of CMD alone (`wirt img CMD --help`, `wirt img help CMD`).
 */
void img_print_help(FILE *f, const char *cmd);

/* Progress on stderr ("    (12.34/100%)"), shown only if enabled. */
struct img_progress {
	bool on;
	int last;			/* hundredths of a percent shown */
};

/* img_options.c */
/* The options most commands share, as img_next_option() fills them in. */
struct img_opts {
	const char *fmt;		/* -f: format of the image (probed if NULL) */
	unsigned flags;			/* -t CACHE: block_open() flags */
	unsigned src_flags;		/* -T CACHE: the same for source images */
	bool cache_set;			/* -t was given */
	bool quiet;			/* -q */
	bool json;			/* --output json */
	unsigned share;			/* -U: BLOCK_O_FORCE_SHARE, for
					   images opened read-only */
	struct img_progress prog;	/* -p */
	bool started;			/* img_next_option() was called */
};
/* The value a command's longopts give --output. */
#define IMG_OPT_OUTPUT	0x100
/* img_next_option(): stop parsing and exit with *status. */
#define IMG_OPT_EXIT	(-2)
/*
 * getopt_long for `wirt img CMD`: takes the shared options that shortopts
 * (which must start with ':') and longopts name into o, and returns the
 * command's own option characters, -1 at the end, or IMG_OPT_EXIT with
 * *status 0 after -h (usage printed) or 2 after a bad option or value
 * (said in one line).
 */
int img_next_option(const char *cmd, int argc, char **argv,
		    const char *shortopts, const struct option *longopts,
		    struct img_opts *o, int *status);
/* 0 if exactly n operands follow the options, else -1 and one line
 * saying what was expected ("FILE", "IN OUT", ...). */
int img_operands(const char *cmd, int argc, int n, const char *what);
/*
 * Parse a cache mode (-t/-T) into block_open() flags: "none" (O_DIRECT),
 * "writeback", "unsafe" (no barriers).  Logs one line and returns -1 if
 * the mode is unknown.
 */
int img_parse_cache(const char *cmd, const char *mode, unsigned *flags);
/* Parse --output's value; -1 with one line logged if not human or json. */
int img_parse_output(const char *cmd, const char *val, bool *json);
/* Parse create's -o OPTIONS (key=value,...); -1 with one line logged. */
int img_parse_options(const char *s, struct block_create_opts *o);

/* img_util.c */
/* Print json-c object o on stdout, pretty. */
void img_print_json(json_object *o);
json_object *img_json_u64(uint64_t v);

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

/*
 * Command-line options of the `wirt img` commands: the ones most commands
 * share (-f, -t, -T, -p, -q, --output, -h) taken in one place, cache
 * modes, and the -o OPTIONS of image creation.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/img.h"
#include "util/log.h"
#include "util/parse.h"

int img_parse_cache(const char *cmd, const char *mode, unsigned *flags)
{
	*flags &= ~(BLOCK_O_NOCACHE | BLOCK_O_UNSAFE);
	if (!strcmp(mode, "none") || !strcmp(mode, "directsync"))
		*flags |= BLOCK_O_NOCACHE;
	else if (!strcmp(mode, "unsafe"))
		*flags |= BLOCK_O_UNSAFE;
	else if (strcmp(mode, "writeback") && strcmp(mode, "writethrough")) {
		log_error("img %s: unknown cache mode '%s' (none, writeback, "
			  "unsafe)", cmd, mode);
		return -1;
	}
	return 0;
}

int img_parse_output(const char *cmd, const char *val, bool *json)
{
	if (!strcmp(val, "json")) {
		*json = true;
		return 0;
	}
	if (!strcmp(val, "human")) {
		*json = false;
		return 0;
	}
	log_error("img %s: --output must be human or json", cmd);
	return -1;
}

/* One line for a bad option from getopt; returns the exit status 2. */
static int bad_option(const char *cmd, int c, int optopt)
{
	if (c == ':')
		log_error("img %s: option -%c needs a value", cmd, optopt);
	else if (optopt)
		log_error("img %s: unknown option -%c (see 'wirt img --help')",
			  cmd, optopt);
	else
		log_error("img %s: unknown option (see 'wirt img --help')", cmd);
	return 2;
}

static int set_option(struct block_create_opts *o, const char *key,
		      const char *val)
{
	uint64_t v;

	if (!strcmp(key, "cluster_size")) {
		if (parse_size(val, 0, &v) < 0 || v > (64u << 20))
			return -EINVAL;
		o->cluster_size = v;
	} else if (!strcmp(key, "compat")) {
		if (!strcmp(val, "0.10") || !strcmp(val, "v2"))
			o->version = 2;
		else if (!strcmp(val, "1.1") || !strcmp(val, "v3"))
			o->version = 3;
		else
			return -EINVAL;
	} else if (!strcmp(key, "refcount_bits")) {
		if (parse_uint(val, 1, 64, &v) < 0)
			return -EINVAL;
		o->refcount_bits = v;
	} else if (!strcmp(key, "compression_type")) {
		if (strcmp(val, "zlib") && strcmp(val, "zstd"))
			return -EINVAL;
		o->zstd = !strcmp(val, "zstd");
	} else if (!strcmp(key, "subformat")) {
		if (strcmp(val, "monolithicSparse") &&
		    strcmp(val, "streamOptimized"))
			return -EINVAL;
		/* A literal: val lives only as long as the parsed copy. */
		o->subformat = strcmp(val, "streamOptimized") ?
			       "monolithicSparse" : "streamOptimized";
	} else if (!strcmp(key, "static")) {
		if (strcmp(val, "on") && strcmp(val, "off"))
			return -EINVAL;
		o->fixed = !strcmp(val, "on");
	} else if (!strcmp(key, "lazy_refcounts")) {
		if (strcmp(val, "on") && strcmp(val, "off"))
			return -EINVAL;
		o->lazy_refcounts = !strcmp(val, "on");
	} else {
		return -ENOENT;
	}
	return 0;
}

/* Parse "key=value,key=value" into o; logs one line and fails if bad. */
int img_parse_options(const char *s, struct block_create_opts *o)
{
	char *copy = strdup(s), *item, *save = NULL, *eq;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (item = strtok_r(copy, ",", &save); item && !ret;
	     item = strtok_r(NULL, ",", &save)) {
		eq = strchr(item, '=');
		if (!eq) {
			log_error("option '%s' needs a value (key=value)", item);
			ret = -EINVAL;
			break;
		}
		*eq = 0;
		ret = set_option(o, item, eq + 1);
		if (ret == -ENOENT)
			log_error("unknown image option '%s' (see 'wirt img "
				  "--help')", item);
		else if (ret < 0)
			log_error("invalid value '%s' for option '%s'", eq + 1,
				  item);
	}
	free(copy);
	return ret;
}


int img_next_option(const char *cmd, int argc, char **argv,
		    const char *shortopts, const struct option *longopts,
		    struct img_opts *o, int *status)
{
	int c;

	if (!o->started) {
		optind = 0;
		opterr = 0;
		o->started = true;
	}
	for (;;) {
		c = getopt_long(argc, argv, shortopts, longopts, NULL);
		switch (c) {
		case 'f':
			o->fmt = optarg;
			break;
		case 't':
		case 'T':
			if (img_parse_cache(cmd, optarg, c == 't' ? &o->flags :
					    &o->src_flags) < 0)
				goto bad;
			o->cache_set |= c == 't';
			break;
		case 'p':
			o->prog.on = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'U':
			o->share = BLOCK_O_FORCE_SHARE;
			break;
		case IMG_OPT_OUTPUT:
			if (img_parse_output(cmd, optarg, &o->json) < 0)
				goto bad;
			break;
		case 'h':
			img_print_help(stdout, cmd);
			*status = 0;
			return IMG_OPT_EXIT;
		case ':':
		case '?':
			bad_option(cmd, c, optopt);
			goto bad;
		default:
			return c;	/* -1 at the end, or the command's own */
		}
	}
bad:
	*status = 2;
	return IMG_OPT_EXIT;
}

int img_operands(const char *cmd, int argc, int n, const char *what)
{
	if (argc - optind == n)
		return 0;
	log_error("img %s: expected %s (see 'wirt img --help')", cmd, what);
	return -1;
}

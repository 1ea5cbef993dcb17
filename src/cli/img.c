/*
 * `wirt img`: create, inspect, check, convert, resize and snapshot disk
 * images.  This file holds the dispatcher, the help text and the commands
 * that change an image's shape (create, resize, snapshot); the others
 * have a file each (img_info.c: info and check, img_convert.c: convert
 * and write, img_compare.c, img_map.c, img_commit.c, img_rebase.c,
 * img_bench.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block/block.h"
#include "cli/commands.h"
#include "cli/img.h"
#include "util/log.h"
#include "util/parse.h"

/* What `wirt img --help` says before the commands. */
static const char img_intro[] =
	"usage: wirt img COMMAND [OPTIONS] ...\n"
	"\n"
	"Create, inspect, check, convert, compare, map, commit, rebase, resize,\n"
	"benchmark and snapshot disk images.\n"
	"Formats: raw, qcow2 (versions 2 and 3), vmdk (monolithicSparse), vdi.\n"
	"Without -f the format of an existing image is detected from its contents.\n"
	"Images are locked while in use, compatibly with QEMU: a writer (wirt run,\n"
	"a command that changes the image) has it alone; readers exclude writers.\n"
	"-U (--force-share) reads an image in use anyway (it may look\n"
	"inconsistent while another process writes it).\n"
	"CACHE: none (O_DIRECT, bypassing the host page cache), writeback or\n"
	"unsafe (no ordering barriers).\n";

/*
 * Each command's synopsis (continuation lines indented as printed after
 * "  ") and description (printed indented), for `wirt img --help` and
 * `wirt img COMMAND --help`.
 */
static const struct img_help {
	const char *name, *synopsis, *description;
} img_helps[] = {
	{ "create",
	  "create -f FMT [-b BACKING [-F BACKING_FMT]] [-o OPTIONS] FILE [SIZE]",
	  "Create an image of SIZE bytes (suffixes K, M, G, T; binary).  With\n"
	  "-b (qcow2 only) reads of unwritten clusters fall through to\n"
	  "BACKING, a path relative to FILE's directory unless absolute;\n"
	  "SIZE then defaults to BACKING's size.\n"
	  "OPTIONS, comma-separated:\n"
	  "  cluster_size=SIZE      qcow2 cluster (512..2M, default 64K),\n"
	  "                         vmdk grain (default 64K),\n"
	  "                         vdi block (default 1M)\n"
	  "  compat=0.10|1.1        qcow2 version 2 or 3 (default 1.1)\n"
	  "  refcount_bits=N        qcow2 refcount width 1..64 (default 16)\n"
	  "  compression_type=zlib|zstd  qcow2 compressed-cluster format\n"
	  "  static=on|off          vdi: preallocate every block (fixed)\n"
	  "  lazy_refcounts=on|off  qcow2 v3: mark the image dirty while open\n"
	  "                         (wirt still updates refcounts at once)\n"
	  "  subformat=monolithicSparse|streamOptimized  vmdk file layout" },
	{ "info",
	  "info [-f FMT] [-U] [--output human|json] FILE",
	  "Show format, virtual size, disk usage, backing file, snapshots." },
	{ "check",
	  "check [-f FMT] [-r | -U] [--output human|json] FILE",
	  "qcow2: count every cluster's real references and compare them\n"
	  "with the stored refcounts and copied flags.  -r (--repair)\n"
	  "sets refcounts to the real counts (freeing leaked clusters),\n"
	  "fixes copied flags and clears the dirty bit.\n"
	  "Exit status: 0 clean, 1 check failed, 2 corruption, 3 leaks only." },
	{ "convert",
	  "convert [-f FMT] [-O OUTFMT] [-o OPTIONS] [-c] [-p] [-U] [-t CACHE]\n"
	  "[-T SRC_CACHE] [-l SNAPSHOT | -s NAME] IN OUT",
	  "Copy IN into a new image OUT (default format raw).  Ranges that\n"
	  "read as zeros are not written, so OUT stays sparse.  Backing\n"
	  "chains and compressed clusters of IN are read and flattened.\n"
	  "-c writes compressed qcow2 clusters (zlib, or zstd with\n"
	  "-o compression_type=zstd); -p shows progress on stderr.\n"
	  "-o subformat=streamOptimized writes a compressed vmdk stream.\n"
	  "-l snapshot.name=NAME (or snapshot.id=ID, or an id or name) and\n"
	  "-s ID_OR_NAME copy IN's internal snapshot instead (qcow2)." },
	{ "compare",
	  "compare [-f FMT] [-F FMT2] [-T CACHE] [-s] [-p] [-q] [-U] FILE1 FILE2",
	  "Do both images show the guest the same bytes?  A larger image\n"
	  "must read as zeros past the other's end (-s: sizes and zero\n"
	  "status must match too).  Prints the first differing offset.\n"
	  "Exit status: 0 identical, 1 different, 2 error." },
	{ "map",
	  "map [-f FMT] [-U] [--output human|json] [--start-offset OFF]\n"
	  "[--max-length LEN] FILE",
	  "Which ranges hold data, which read as zeros, and in which image\n"
	  "of the backing chain (depth) and at which file offset they lie." },
	{ "commit",
	  "commit [-f FMT] [-b BASE] [-d] [-p] [-q] [-t CACHE] FILE",
	  "Write what FILE defines into its backing file (or into BASE,\n"
	  "deeper in the chain), then empty FILE (not with -d or -b)." },
	{ "rebase",
	  "rebase [-f FMT] -b BACKING [-F BACKING_FMT] [-u] [-p] [-q]\n"
	  "[-t CACHE] [-T SRC_CACHE] FILE",
	  "Make BACKING (relative to FILE's directory; '' for none) FILE's\n"
	  "backing file.  Safe mode first copies into FILE whatever would\n"
	  "change, so the guest sees the same bytes; -u only rewrites the\n"
	  "header (for a backing file that was moved or renamed)." },
	{ "bench",
	  "bench [-f FMT] [-U] [-c COUNT] [-d DEPTH] [-s SIZE] [-S STEP] [-o OFF]\n"
	  "[-w] [--pattern BYTE] [-t CACHE] [-n | -i threads|native] FILE",
	  "Time COUNT requests (default 75000) of SIZE bytes (4K) with\n"
	  "DEPTH (64) in flight, at random SIZE-aligned offsets (-S STEP:\n"
	  "sequential); -w writes; -n uses Linux native AIO.  Prints the\n"
	  "time, IOPS and throughput." },
	{ "resize",
	  "resize [-f FMT] [--shrink] FILE [+|-]SIZE",
	  "Set the virtual size (or change it by +SIZE/-SIZE).  Growing\n"
	  "works for every format but vmdk; shrinking raw and qcow2 images\n"
	  "needs --shrink (data past the new end is lost; qcow2 frees those\n"
	  "clusters, and refuses while internal snapshots exist)." },
	{ "snapshot",
	  "snapshot [-f FMT] -l [-U] [--output human|json]|-c NAME|-d NAME|-a NAME FILE",
	  "qcow2 internal snapshots: list, create, delete, or apply\n"
	  "(revert the image to) the snapshot NAME (a name or an ID)." },
	{ "write",
	  "write [-f FMT] FILE OFFSET INPUT",
	  "Write the bytes of INPUT (a file, or - for standard input) into\n"
	  "the image FILE at byte OFFSET; the image does not grow." },
	{ "help",
	  "help [COMMAND]",
	  "Show this text, or COMMAND's part of it (as COMMAND --help)." },
};

static const char img_footer[] =
	"\n"
	"Exit status: 0 success, 1 failure, 2 bad command line (check: see above).\n";


/* TEXT's lines, each after INDENT spaces (empty lines stay empty). */
static void put_indented(FILE *f, const char *text, int indent)
{
	const char *line = text, *nl;

	do {
		nl = strchrnul(line, '\n');
		if (nl > line)
			fprintf(f, "%*s%.*s", indent, "", (int)(nl - line), line);
		fputc('\n', f);
		line = nl + 1;
	} while (*nl);
}

/* PREFIX and the synopsis, its continuation lines under the options. */
static void put_synopsis(FILE *f, const char *prefix, const struct img_help *h)
{
	const char *nl = strchrnul(h->synopsis, '\n');

	fprintf(f, "%s%.*s\n", prefix, (int)(nl - h->synopsis), h->synopsis);
	if (*nl)
		put_indented(f, nl + 1, (int)(strlen(prefix) + strlen(h->name) + 1));
}

void img_print_help(FILE *f, const char *cmd)
{
	size_t i;

	for (i = 0; cmd && i < sizeof(img_helps) / sizeof(img_helps[0]); i++) {
		if (strcmp(cmd, img_helps[i].name))
			continue;
		put_synopsis(f, "usage: wirt img ", &img_helps[i]);
		fputc('\n', f);
		put_indented(f, img_helps[i].description, 2);
		fputs("\nImage formats, locking and CACHE values: wirt img --help\n", f);
		return;
	}
	fputs(img_intro, f);
	fputs("\ncommands:\n", f);
	for (i = 0; i < sizeof(img_helps) / sizeof(img_helps[0]); i++) {
		put_synopsis(f, "  ", &img_helps[i]);
		put_indented(f, img_helps[i].description, 6);
	}
	fputs(img_footer, f);
}

static int img_create(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct block_create_opts o = { 0 };
	struct img_opts io = { 0 };
	uint64_t size = 0;
	int c, ret;

	while ((c = img_next_option("create", argc, argv, ":f:b:F:o:h",
				    longopts, &io, &ret)) != -1) {
		switch (c) {
		case IMG_OPT_EXIT:
			return ret;
		case 'b':
			o.backing_file = optarg;
			break;
		case 'F':
			o.backing_format = optarg;
			break;
		case 'o':
			if (img_parse_options(optarg, &o) < 0)
				return 2;
			break;
		}
	}
	if (!io.fmt) {
		log_error("img create: give the format with -f (%s)",
			  block_driver_names());
		return 2;
	}
	if (argc - optind < 1 || argc - optind > 2 ||
	    (argc - optind == 1 && !o.backing_file)) {
		log_error("img create: expected FILE SIZE (see 'wirt img --help')");
		return 2;
	}
	if (argc - optind == 2 && parse_size(argv[optind + 1], 0, &size) < 0) {
		log_error("img create: invalid size '%s' (examples: 10G, 512M, "
			  "4096)", argv[optind + 1]);
		return 2;
	}
	if (!block_format_known(io.fmt)) {
		log_error("img create: unknown format '%s' (known: %s)", io.fmt,
			  block_driver_names());
		return 2;
	}
	ret = block_create(io.fmt, argv[optind], size, &o);
	return ret < 0 ? 1 : 0;
}

/* A size argument: absolute, or relative to cur with a leading + or -. */
static int parse_new_size(const char *s, uint64_t cur, uint64_t *out)
{
	uint64_t v;

	if (parse_size(s + (s[0] == '+' || s[0] == '-'), 0, &v) < 0)
		return -EINVAL;
	if (s[0] == '+') {
		if (v > UINT64_MAX - cur)
			return -ERANGE;
		*out = cur + v;
	} else if (s[0] == '-') {
		if (v > cur)
			return -ERANGE;
		*out = cur - v;
	} else {
		*out = v;
	}
	return 0;
}

static int img_resize(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "shrink", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *size_arg = NULL;
	struct img_opts o = { 0 };
	struct block_dev *bs;
	bool shrink = false;
	uint64_t size;
	int c, ret;

	/* "-1G" is a size, not an option: take it out before getopt. */
	if (argc > 1 && argv[argc - 1][0] == '-' &&
	    argv[argc - 1][1] >= '0' && argv[argc - 1][1] <= '9')
		size_arg = argv[--argc];
	while ((c = img_next_option("resize", argc, argv, ":f:h", longopts,
				    &o, &ret)) != -1) {
		if (c == IMG_OPT_EXIT)
			return ret;
		if (c == 's')
			shrink = true;
	}
	if (img_operands("resize", argc, size_arg ? 1 : 2, "FILE SIZE") < 0)
		return 2;
	if (!size_arg)
		size_arg = argv[optind + 1];
	if (block_open(&bs, argv[optind], o.fmt, BLOCK_O_RDWR | BLOCK_O_NO_BACKING) < 0)
		return 1;
	ret = parse_new_size(size_arg, block_size(bs), &size);
	if (ret < 0) {
		log_error("img resize: invalid size '%s' (examples: 10G, +1G, "
			  "-512M)", size_arg);
		block_close(bs);
		return 2;
	}
	ret = block_resize(bs, size, shrink);
	if (!ret)
		ret = block_flush(bs);
	block_close(bs);
	return ret < 0 ? 1 : 0;
}

static void print_snapshots(const struct block_snapshot *l, int n)
{
	char date[32];
	struct tm tm;
	time_t t;
	uint64_t ns;
	int i;

	printf("Snapshot list:\n");
	printf("%-8s %-20s %12s %19s %15s\n", "ID", "TAG", "VM SIZE", "DATE",
	       "VM CLOCK");
	for (i = 0; i < n; i++) {
		t = l[i].date_sec;
		localtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
		ns = l[i].vm_clock_nsec;
		printf("%-8s %-20s %12llu %19s %04llu:%02llu:%02llu.%03llu\n",
		       l[i].id, l[i].name, (unsigned long long)l[i].vm_state_size,
		       date, (unsigned long long)(ns / 3600000000000ULL),
		       (unsigned long long)(ns / 60000000000ULL % 60),
		       (unsigned long long)(ns / 1000000000ULL % 60),
		       (unsigned long long)(ns / 1000000ULL % 1000));
	}
}

static int snapshot_run(struct block_dev *bs, char op, const char *name,
			bool json)
{
	struct block_snapshot *list;
	json_object *o;
	int n, ret;

	switch (op) {
	case 'l':
		ret = block_snapshot_list(bs, &list, &n);
		if (ret < 0)
			return ret;
		if (json) {
			o = img_snapshots_json(list, n);
			img_print_json(o);
			json_object_put(o);
		} else if (n) {
			print_snapshots(list, n);
		}
		free(list);
		return 0;
	case 'c':
		return block_snapshot_create(bs, name);
	case 'd':
		return block_snapshot_delete(bs, name);
	default:
		return block_snapshot_apply(bs, name);
	}
}

static int img_snapshot(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "output", required_argument, NULL, IMG_OPT_OUTPUT },
		{ "force-share", no_argument, NULL, 'U' },
		{ 0 }
	};
	struct img_opts o = { 0 };
	const char *name = NULL;
	struct block_dev *bs;
	char op = 0;
	int c, ret;

	while ((c = img_next_option("snapshot", argc, argv, ":f:lc:d:a:Uh",
				    longopts, &o, &ret)) != -1) {
		if (c == IMG_OPT_EXIT)
			return ret;
		/* c is one of -l, -c, -d, -a */
		if (op) {
			log_error("img snapshot: give only one of -l, -c, -d, -a");
			return 2;
		}
		op = c;
		name = optarg;
	}
	if (!op || argc - optind != 1) {
		log_error("img snapshot: expected -l|-c NAME|-d NAME|-a NAME FILE");
		return 2;
	}
	if (o.json && op != 'l') {
		log_error("img snapshot: --output applies only to -l");
		return 2;
	}
	if (block_open(&bs, argv[optind], o.fmt,
		       (op == 'l' ? BLOCK_O_NO_BACKING :
			BLOCK_O_RDWR | BLOCK_O_NO_BACKING) | o.share) < 0)
		return 1;
	ret = snapshot_run(bs, op, name, o.json);
	block_close(bs);
	if (ret == -EROFS)
		log_error("img snapshot: image is read-only");
	return ret < 0 ? 1 : 0;
}

int cmd_img(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "create", img_create },
		{ "info", img_info },
		{ "check", img_check },
		{ "convert", img_convert },
		{ "resize", img_resize },
		{ "snapshot", img_snapshot },
		{ "write", img_write },
		{ "compare", img_compare },
		{ "map", img_map },
		{ "commit", img_commit },
		{ "rebase", img_rebase },
		{ "bench", img_bench },
	};
	size_t i;

	if (argc < 2) {
		img_print_help(stderr, NULL);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		img_print_help(stdout, NULL);
		return 0;
	}
	/* wirt img help [COMMAND] */
	if (!strcmp(argv[1], "help")) {
		img_print_help(stdout, argc > 2 ? argv[2] : NULL);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	log_error("img: unknown command '%s' (try 'wirt img --help')", argv[1]);
	return 2;
}

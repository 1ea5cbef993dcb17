/*
 * Commands that move guest data: `wirt img convert` copies an image (and
 * its backing chain) into a new one; `wirt img write` patches bytes from a
 * file into an image at an offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"
#include "block/file_io.h"
#include "cli/img.h"
#include "util/log.h"
#include "util/parse.h"


static bool is_block_device(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISBLK(st.st_mode);
}

struct convert_args {
	struct img_opts opt;		/* -f, -t, -T, -p, -q */
	const char *out_fmt;
	bool compress;
	struct block_create_opts o;
	const char *snap_id, *snap_name;	/* -l, -s: a snapshot of IN */
};

static void show_progress(void *opaque, uint64_t done, uint64_t total)
{
	img_progress_update(opaque, done, total);
}

static int convert(struct block_dev *in, const char *out_path,
		   struct convert_args *a)
{
	struct block_copy_opts co = {
		.out_zeroed = !is_block_device(out_path),
		.compress = a->compress,
		.progress = show_progress,
		.opaque = &a->opt.prog,
		/* Cache mode unsafe (the default, as with qemu-img): no sync. */
		.no_flush = !a->opt.cache_set || (a->opt.flags & BLOCK_O_UNSAFE),
	};
	struct block_dev *out;
	int ret;

	/* Image formats count sectors: other tools round the size up. */
	ret = block_create(a->out_fmt, out_path, strcmp(a->out_fmt, "raw") ?
			   align_up(block_size(in), 512) : block_size(in), &a->o);
	if (ret < 0)
		return ret;
	/*
	 * The output is scratch until convert ends: no ordering barriers;
	 * with -t none or writeback one flush at the end makes it durable.
	 */
	ret = block_open(&out, out_path, a->out_fmt,
			 BLOCK_O_RDWR | BLOCK_O_UNSAFE | a->opt.flags);
	if (ret < 0)
		return ret;
	img_progress_update(&a->opt.prog, 0, block_size(in));
	ret = block_copy_opts(in, out, &co);
	img_progress_end(&a->opt.prog);
	if (ret < 0 && ret != -EIO)
		log_error("converting to '%s' failed: %s", out_path,
			  strerror(-ret));
	block_close(out);
	return ret;
}

/*
 * -l SNAPSHOT: "snapshot.id=ID", "snapshot.name=NAME", both (comma
 * separated), or a bare id or name, as qemu-img takes it.
 */
static int parse_snapshot_param(char *arg, const char **id, const char **name)
{
	char *tok, *save = NULL;

	*id = *name = NULL;
	if (!strchr(arg, '=')) {
		*id = arg;
		return 0;
	}
	for (tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strncmp(tok, "snapshot.id=", 12)) {
			*id = tok + 12;
		} else if (!strncmp(tok, "snapshot.name=", 14)) {
			*name = tok + 14;
		} else {
			log_error("img convert: -l '%s': give snapshot.id=ID and/or snapshot.name=NAME, or an id or name",
				  tok);
			return -1;
		}
	}
	return 0;
}

/* Option combinations that cannot work, with one line each. */
static int check_args(const struct convert_args *a)
{
	if (!block_format_known(a->out_fmt)) {
		log_error("img convert: unknown output format '%s' (known: %s)",
			  a->out_fmt, block_driver_names());
		return -1;
	}
	if (a->compress && strcmp(a->out_fmt, "qcow2")) {
		log_error("img convert: -c needs qcow2 output (for vmdk use "
			  "-o subformat=streamOptimized)");
		return -1;
	}
	if (a->o.subformat && strcmp(a->out_fmt, "vmdk")) {
		log_error("img convert: subformat applies only to vmdk output");
		return -1;
	}
	return 0;
}

int img_convert(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force-share", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct convert_args a = { .out_fmt = "raw" };
	struct block_dev *in;
	int c, ret;

	while ((c = img_next_option("convert", argc, argv, ":f:O:o:t:T:cpqUhl:s:",
				    longopts, &a.opt, &ret)) != -1) {
		switch (c) {
		case IMG_OPT_EXIT:
			return ret;
		case 'l':
			if (parse_snapshot_param(optarg, &a.snap_id, &a.snap_name) < 0)
				return 2;
			break;
		case 's':
			a.snap_id = optarg;
			a.snap_name = NULL;
			break;
		case 'O':
			a.out_fmt = optarg;
			break;
		case 'o':
			if (img_parse_options(optarg, &a.o) < 0)
				return 2;
			break;
		case 'c':
			a.compress = true;
			break;
		}
	}
	if (img_operands("convert", argc, 2, "IN OUT") < 0)
		return 2;
	if (check_args(&a) < 0)
		return 2;
	if (!strcmp(argv[optind], argv[optind + 1])) {
		log_error("img convert: input and output are the same file");
		return 2;
	}
	a.opt.prog.on = a.opt.prog.on && !a.opt.quiet;
	if (block_open(&in, argv[optind], a.opt.fmt,
		       (a.opt.src_flags & BLOCK_O_NOCACHE) | a.opt.share) < 0)
		return 1;
	if ((a.snap_id || a.snap_name) &&
	    block_snapshot_load_tmp(in, a.snap_id, a.snap_name) < 0) {
		block_close(in);
		return 1;
	}
	ret = convert(in, argv[optind + 1], &a);
	block_close(in);
	return ret < 0 ? 1 : 0;
}

/* Copy everything readable from fd into the image from off on. */
static int write_from_fd(struct block_dev *bs, int fd, uint64_t off)
{
	uint8_t *buf = malloc(1 << 20);
	ssize_t n;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		n = read(fd, buf, 1 << 20);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				ret = -errno;
			break;
		}
		if ((uint64_t)n > block_size(bs) || off > block_size(bs) - n) {
			log_error("img write: data runs past the end of the "
				  "image (%llu bytes)",
				  (unsigned long long)block_size(bs));
			ret = -ENOSPC;
			break;
		}
		ret = block_write(bs, off, buf, n);
		if (ret < 0) {
			if (ret != -EIO)
				log_error("img write: writing at %llu failed: %s",
					  (unsigned long long)off,
					  strerror(-ret));
			break;
		}
		off += n;
	}
	free(buf);
	return ret;
}

int img_write(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct img_opts o = { 0 };
	struct block_dev *bs;
	const char *src;
	uint64_t off;
	int c, fd, ret;

	while ((c = img_next_option("write", argc, argv, ":f:h", longopts, &o,
				    &ret)) != -1)
		if (c == IMG_OPT_EXIT)
			return ret;
	if (img_operands("write", argc, 3, "FILE OFFSET INPUT") < 0)
		return 2;
	if (parse_size(argv[optind + 1], 0, &off) < 0) {
		log_error("img write: invalid offset '%s'", argv[optind + 1]);
		return 2;
	}
	src = argv[optind + 2];
	fd = strcmp(src, "-") ? open(src, O_RDONLY | O_CLOEXEC) : 0;
	if (fd < 0) {
		log_error("img write: cannot open '%s': %s", src, strerror(errno));
		return 1;
	}
	ret = block_open(&bs, argv[optind], o.fmt, BLOCK_O_RDWR);
	if (!ret) {
		ret = write_from_fd(bs, fd, off);
		if (!ret)
			ret = block_flush(bs);
		block_close(bs);
	}
	if (fd)
		close(fd);
	return ret < 0 ? 1 : 0;
}

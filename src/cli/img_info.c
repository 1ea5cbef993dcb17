/* `wirt img info` and `wirt img check`: human and JSON (json-c) output. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "block/block.h"
#include "cli/img.h"
#include "util/log.h"

static const struct option longopts[] = {
	{ "output", required_argument, NULL, IMG_OPT_OUTPUT },
	{ "repair", no_argument, NULL, 'r' },
	{ "force-share", no_argument, NULL, 'U' },
	{ "help", no_argument, NULL, 'h' },
	{ 0 }
};

struct img_args {
	struct img_opts o;
	const char *file;
	bool repair;
};

/* Common options of info and check; returns -1 to go on, else exit code. */
static int parse_args(const char *cmd, int argc, char **argv,
		      struct img_args *a, bool allow_repair)
{
	int c, status;

	memset(a, 0, sizeof(*a));
	while ((c = img_next_option(cmd, argc, argv, allow_repair ? ":f:rUh" :
				    ":f:Uh", longopts, &a->o, &status)) != -1) {
		if (c == IMG_OPT_EXIT)
			return status;
		if (c == 'r' && !allow_repair) {	/* --repair */
			log_error("img %s: unknown option --repair (see 'wirt "
				  "img --help')", cmd);
			return 2;
		}
		a->repair = true;
	}
	if (img_operands(cmd, argc, 1, "exactly one FILE") < 0)
		return 2;
	a->file = argv[optind];
	return -1;
}

static void human_size(uint64_t v, char *out, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
					     "PiB", "EiB" };
	double d = v;
	int u = 0;

	while (d >= 1024 && u < 6) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%llu B", (unsigned long long)v);
	else
		snprintf(out, len, "%.3g %s", d, units[u]);
}

static void print_human(const char *file, const struct block_info *i,
			const struct block_snapshot *sn, int nsn)
{
	char a[32], b[32];
	int k;

	human_size(i->virtual_size, a, sizeof(a));
	human_size(i->allocated_size, b, sizeof(b));
	printf("image: %s\n", file);
	printf("file format: %s\n", i->format);
	printf("virtual size: %s (%llu bytes)\n", a,
	       (unsigned long long)i->virtual_size);
	printf("disk size: %s\n", b);
	if (i->cluster_size)
		printf("cluster_size: %u\n", i->cluster_size);
	if (i->backing_file[0])
		printf("backing file: %s\n", i->backing_file);
	if (i->backing_format[0])
		printf("backing file format: %s\n", i->backing_format);
	if (i->dirty)
		printf("dirty: yes (not closed cleanly)\n");
	if (nsn) {
		printf("Snapshot list:\n");
		for (k = 0; k < nsn; k++)
			printf("  %s %s (disk size %llu)\n", sn[k].id,
			       sn[k].name, (unsigned long long)sn[k].disk_size);
	}
	if (i->format_detail[0])
		printf("format details: %s\n", i->format_detail);
}

static json_object *json_u64(uint64_t v)
{
	return json_object_new_int64(v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* "format-specific" shaped as qemu-img's: {"type": FORMAT, "data": {...}}. */
static json_object *specific_json(const struct block_info *i)
{
	json_object *o = json_object_new_object(), *d = json_object_new_object();

	if (!strcmp(i->format, "qcow2")) {
		json_object_object_add(d, "compat", json_object_new_string(
				       i->format_version == 2 ? "0.10" : "1.1"));
		json_object_object_add(d, "refcount-bits",
				       json_object_new_int(i->refcount_bits));
		json_object_object_add(d, "compression-type",
				       json_object_new_string(i->compression));
		if (i->format_version >= 3)	/* v2 has no such bit */
			json_object_object_add(d, "corrupt",
					       json_object_new_boolean(i->corrupt));
	}
	if (!strcmp(i->format, "vmdk") && i->subformat[0])
		json_object_object_add(d, "create-type",
				       json_object_new_string(i->subformat));
	if (i->format_version)
		json_object_object_add(d, "version",
				       json_object_new_int(i->format_version));
	if (i->subformat[0])
		json_object_object_add(d, "subformat",
				       json_object_new_string(i->subformat));
	json_object_object_add(o, "type", json_object_new_string(i->format));
	json_object_object_add(o, "data", d);
	return o;
}

json_object *img_snapshots_json(const struct block_snapshot *sn, int n)
{
	json_object *arr = json_object_new_array(), *o;
	int k;

	for (k = 0; k < n; k++) {
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(sn[k].id));
		json_object_object_add(o, "name",
				       json_object_new_string(sn[k].name));
		json_object_object_add(o, "vm-state-size",
				       json_u64(sn[k].vm_state_size));
		json_object_object_add(o, "disk-size", json_u64(sn[k].disk_size));
		json_object_object_add(o, "date-sec", json_u64(sn[k].date_sec));
		json_object_object_add(o, "date-nsec", json_u64(sn[k].date_nsec));
		json_object_object_add(o, "vm-clock-sec",
				       json_u64(sn[k].vm_clock_nsec / 1000000000));
		json_object_object_add(o, "vm-clock-nsec",
				       json_u64(sn[k].vm_clock_nsec % 1000000000));
		json_object_array_add(arr, o);
	}
	return arr;
}

static void print_json(const char *file, const struct block_info *i,
		       const struct block_snapshot *sn, int nsn)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "filename", json_object_new_string(file));
	json_object_object_add(o, "format", json_object_new_string(i->format));
	json_object_object_add(o, "virtual-size", json_u64(i->virtual_size));
	json_object_object_add(o, "actual-size", json_u64(i->allocated_size));
	if (i->cluster_size)
		json_object_object_add(o, "cluster-size",
				       json_u64(i->cluster_size));
	if (i->backing_file[0])
		json_object_object_add(o, "backing-filename",
				       json_object_new_string(i->backing_file));
	if (i->backing_format[0])
		json_object_object_add(o, "backing-filename-format",
				       json_object_new_string(i->backing_format));
	json_object_object_add(o, "dirty-flag", json_object_new_boolean(i->dirty));
	if (nsn)
		json_object_object_add(o, "snapshots", img_snapshots_json(sn, nsn));
	json_object_object_add(o, "format-specific", specific_json(i));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

int img_info(int argc, char **argv)
{
	struct block_snapshot *sn = NULL;
	struct block_info info;
	struct img_args a;
	struct block_dev *bs;
	int ret, nsn = 0;

	ret = parse_args("info", argc, argv, &a, false);
	if (ret >= 0)
		return ret;
	if (block_open(&bs, a.file, a.o.fmt, BLOCK_O_NO_BACKING | a.o.share) < 0)
		return 1;
	ret = block_get_info(bs, &info);
	if (!ret && block_has(bs, BLOCK_CAN_SNAPSHOT))
		ret = block_snapshot_list(bs, &sn, &nsn);
	if (ret < 0) {
		log_error("%s: cannot read image information: %s", a.file,
			  strerror(-ret));
		block_close(bs);
		return 1;
	}
	if (a.o.json)
		print_json(a.file, &info, sn, nsn);
	else
		print_human(a.file, &info, sn, nsn);
	free(sn);
	block_close(bs);
	return 0;
}

static int check_status(const struct block_check *r)
{
	if (r->corruptions)
		return 2;
	return r->leaks ? 3 : 0;
}

static void check_human(const struct block_check *r)
{
	if (r->repaired)
		printf("Repair done; state after repair:\n");
	if (r->corruptions)
		printf("%llu errors were found on the image.\n"
		       "Data may be corrupted, or further writes to the image "
		       "may corrupt it.\n", (unsigned long long)r->corruptions);
	if (r->leaks)
		printf("%llu leaked clusters were found on the image.\n"
		       "This means waste of disk space, but no harm to data.\n",
		       (unsigned long long)r->leaks);
	if (!r->corruptions && !r->leaks)
		printf("No errors were found on the image.\n");
	if (r->checked_clusters)
		printf("%llu/%llu clusters of the file hold guest data, "
		       "%llu fragmented.\n",
		       (unsigned long long)r->allocated_clusters,
		       (unsigned long long)r->checked_clusters,
		       (unsigned long long)r->fragmented_clusters);
}

/* Guest cluster counts of one image, as qemu-img check reports them. */
struct cluster_stats {
	uint64_t total, allocated, compressed, fragmented;
};

static int cluster_stats(struct block_dev *bs, struct cluster_stats *st)
{
	struct block_mapping m;
	struct block_info info;
	uint64_t off = 0, cs, next = 0;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = block_get_info(bs, &info);
	if (ret < 0 || !info.cluster_size)
		return ret < 0 ? ret : -ENOTSUP;
	cs = info.cluster_size;
	st->total = (block_size(bs) + cs - 1) / cs;
	while (off < block_size(bs)) {
		ret = block_map(bs, off, cs - off % cs < block_size(bs) - off ?
				cs - off % cs : block_size(bs) - off, &m);
		if (ret < 0)
			return ret;
		if ((m.flags & BLOCK_MAP_ALLOCATED) && !(m.flags & BLOCK_MAP_ZERO)) {
			st->allocated++;
			if (!(m.flags & BLOCK_MAP_HOST)) {
				/* Compressed: fragmented by nature. */
				st->compressed++;
				st->fragmented++;
			} else {
				/* Not right after the previous data cluster. */
				if (next && m.host != next)
					st->fragmented++;
				next = m.host + cs;
			}
		}
		off = (off / cs + 1) * cs;
	}
	return 0;
}

static void add_u64_if(json_object *o, const char *key, uint64_t v)
{
	if (v)
		json_object_object_add(o, key, json_u64(v));
}

/* Keys and meanings as qemu-img check --output=json has them. */
static void check_json(const char *file, struct block_dev *bs,
		       const struct block_check *r)
{
	json_object *o = json_object_new_object();
	struct cluster_stats st;

	json_object_object_add(o, "filename", json_object_new_string(file));
	json_object_object_add(o, "format",
			       json_object_new_string(block_format(bs)));
	json_object_object_add(o, "check-errors", json_u64(0));
	if (r->repaired) {
		add_u64_if(o, "leaks-fixed", r->leaks);
	} else {
		add_u64_if(o, "corruptions", r->corruptions);
		add_u64_if(o, "leaks", r->leaks);
	}
	if (!cluster_stats(bs, &st)) {
		json_object_object_add(o, "total-clusters", json_u64(st.total));
		json_object_object_add(o, "allocated-clusters",
				       json_u64(st.allocated));
		add_u64_if(o, "fragmented-clusters", st.fragmented);
		add_u64_if(o, "compressed-clusters", st.compressed);
	}
	img_print_json(o);
	json_object_put(o);
}

int img_check(int argc, char **argv)
{
	struct block_check res;
	struct img_args a;
	struct block_dev *bs;
	unsigned flags = BLOCK_O_NO_BACKING;
	int ret;

	ret = parse_args("check", argc, argv, &a, true);
	if (ret >= 0)
		return ret;
	flags |= a.o.share;
	if (a.repair)
		flags |= BLOCK_O_RDWR | BLOCK_O_REPAIR;
	if (block_open(&bs, a.file, a.o.fmt, flags) < 0)
		return 1;
	if (!block_has(bs, BLOCK_CAN_CHECK)) {
		memset(&res, 0, sizeof(res));
		if (a.o.json)
			check_json(a.file, bs, &res);	/* nothing found */
		else
			printf("%s: %s images carry no metadata to check.\n",
			       a.file, block_format(bs));
		block_close(bs);
		return 0;
	}
	ret = block_check(bs, &res, a.repair);
	if (ret < 0) {
		log_error("%s: check could not complete: %s", a.file,
			  strerror(-ret));
		block_close(bs);
		return 1;
	}
	if (a.o.json)
		check_json(a.file, bs, &res);
	else
		check_human(&res);
	block_close(bs);
	return check_status(&res);
}

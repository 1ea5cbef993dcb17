/* Parsing --disk and --cdrom (hw/disk_spec.h). */
#include "hw/disk_spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "util/log.h"
#include "util/parse.h"

static int set_option(struct disk_spec *ds, const char *opt, const char *key,
		      const char *val)
{
	uint64_t n;

	if (!strcmp(key, "format")) {
		free(ds->format);
		ds->format = strdup(val);
		return ds->format ? 0 : -ENOMEM;
	}
	if (!strcmp(key, "readonly") && (!strcmp(val, "on") || !strcmp(val, "off"))) {
		ds->read_only = !strcmp(val, "on");
		return 0;
	}
	if (!strcmp(key, "serial") && strlen(val) <= DISK_SERIAL_MAX) {
		strcpy(ds->serial, val);
		return 0;
	}
	if (!strcmp(key, "if") && (!strcmp(val, "virtio") || !strcmp(val, "ide"))) {
		ds->iface = !strcmp(val, "ide") ? DISK_IF_IDE : DISK_IF_VIRTIO;
		return 0;
	}
	if (!strcmp(key, "media") && (!strcmp(val, "disk") || !strcmp(val, "cdrom"))) {
		ds->cdrom = !strcmp(val, "cdrom");
		return 0;
	}
	if (!strcmp(key, "bootindex") && !parse_uint(val, 0, DISK_BOOTINDEX_MAX, &n)) {
		ds->bootindex = (int)n;
		return 0;
	}
	log_error("%s: bad option '%s=%s' (known: format=FMT, readonly=on|off, "
		  "serial=ID of up to %d characters, if=virtio|ide, "
		  "media=disk|cdrom, bootindex=0..%d)",
		  opt, key, val, DISK_SERIAL_MAX, DISK_BOOTINDEX_MAX);
	return -EINVAL;
}

int disk_spec_parse(const char *spec, bool cdrom, struct disk_spec *ds)
{
	const char *opt = cdrom ? "--cdrom" : "--disk";
	char label[300];
	char *copy = strdup(spec), *save = NULL, *tok;
	int ret = 0;

	memset(ds, 0, sizeof(*ds));
	ds->bootindex = -1;
	ds->cdrom = cdrom;
	ds->iface = cdrom ? DISK_IF_IDE : DISK_IF_VIRTIO;
	if (!copy)
		return -ENOMEM;
	tok = strtok_r(copy, ",", &save);
	if (!tok || strchr(tok, '=')) {
		log_error("%s %s: the first item must be a file name", opt, spec);
		free(copy);
		return -EINVAL;
	}
	ds->path = strdup(tok);
	if (!ds->path)
		ret = -ENOMEM;
	while (!ret && (tok = strtok_r(NULL, ",", &save))) {
		char *val = strchr(tok, '=');

		if (!val) {
			log_error("%s %s: '%s' is not key=value", opt, spec, tok);
			ret = -EINVAL;
			break;
		}
		*val++ = 0;
		snprintf(label, sizeof(label), "%s %s", opt, spec);
		ret = set_option(ds, label, tok, val);
	}
	free(copy);
	if (!ret && ds->cdrom && ds->iface != DISK_IF_IDE) {
		log_error("%s %s: a CD-ROM drive is on IDE (if=ide)", opt, spec);
		ret = -EINVAL;
	}
	if (ds->cdrom)
		ds->read_only = true;
	if (ret)
		disk_spec_free(ds);
	return ret;
}

void disk_spec_free(struct disk_spec *ds)
{
	free(ds->path);
	free(ds->format);
	ds->path = ds->format = NULL;
}

int disk_open(const struct disk_spec *ds, struct block_dev **bs)
{
	int ret = block_open(bs, ds->path, ds->format,
			     ds->read_only ? 0 : BLOCK_O_RDWR);

	if (!ret && !ds->format && !ds->read_only &&
	    !strcmp(block_format(*bs), "raw"))
		log_warn("--disk %s: no format given, guessed raw; the guest may "
			 "not write an image header into its first sector "
			 "(format=raw lifts this)", ds->path);
	return ret;
}

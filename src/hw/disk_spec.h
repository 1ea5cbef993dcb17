/*
 * What a --disk or --cdrom option asks for, parsed once for every
 * controller that may carry the drive (virtio-blk, IDE):
 *
 *   FILE[,format=FMT][,readonly=on|off][,serial=ID][,if=virtio|ide]
 *       [,media=disk|cdrom][,bootindex=N]
 */
#ifndef WIRT_HW_DISK_SPEC_H
#define WIRT_HW_DISK_SPEC_H

#include <stdbool.h>

#include "vm/boot_order.h"

#define DISK_SERIAL_MAX 20	/* virtio-blk's ID and ATA's serial field */
#define DISK_BOOTINDEX_MAX BOOT_INDEX_MAX

enum disk_interface { DISK_IF_VIRTIO, DISK_IF_IDE };

struct disk_spec {
	char *path;
	char *format;			/* NULL: detected */
	bool read_only;
	bool cdrom;			/* an ATAPI CD-ROM (read-only) */
	enum disk_interface iface;
	int bootindex;			/* -1: none given */
	char serial[DISK_SERIAL_MAX + 1];
};

/*
 * Parse spec (as given to option; cdrom: it came from --cdrom, which means
 * if=ide,media=cdrom).  0, or -EINVAL with one clear line logged.
 */
int disk_spec_parse(const char *spec, bool cdrom, struct disk_spec *out);
void disk_spec_free(struct disk_spec *ds);

struct block_dev;
/* Open the image as the spec says (writable unless read-only); warns of
 * a guessed raw format, which refuses writes that would make it look
 * like another format. */
int disk_open(const struct disk_spec *ds, struct block_dev **bs);

#endif

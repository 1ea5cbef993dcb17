/*
 * A small FAT12 volume written in one go: a label and a few files in its
 * root directory, with long (VFAT) names.  What a cloud-init NoCloud seed
 * (label "cidata", files user-data, meta-data, ...) needs, readable by
 * every OS's FAT driver; not a general file system writer.
 */
#ifndef WIRT_BLOCK_VFAT_WRITER_H
#define WIRT_BLOCK_VFAT_WRITER_H

#include <stddef.h>

struct vfat_file {
	const char *name;	/* ASCII, at most VFAT_NAME_MAX characters */
	const void *data;
	size_t len;
};

#define VFAT_NAME_MAX 64
#define VFAT_MAX_FILES 8
/* FAT12 with 4 KiB clusters holds a little under 16 MiB. */
#define VFAT_MAX_BYTES (15u << 20)

/*
 * Write the volume (label: up to 11 characters) to fd from offset 0 and
 * size the file to it.  0; -EINVAL for names or a label it cannot hold,
 * -EFBIG if the files are larger than VFAT_MAX_BYTES together; a write
 * error's -errno.
 */
int vfat_write(int fd, const char *label, const struct vfat_file *files,
	       unsigned nfiles);

#endif

/*
 * The UEFI variable store behind the pflash (hw/pflash.c).  A user who
 * names a file with --firmware ...,vars=FILE keeps the firmware's
 * variables (boot entries, the guest's efivarfs writes) there across
 * runs, as with QEMU's second -pflash or libvirt's nvram; a missing file
 * is made from the template first.  Without vars= the VM gets a private
 * copy of the template that goes with it.  The file is a raw image
 * opened through the block layer, so wirt and QEMU lock each other out
 * of a store in use.
 */
#include "vm/firmware_vars.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/block.h"
#include "hw/pflash.h"
#include "util/file.h"
#include "util/log.h"
#include "vm/config.h"

#define VARS_MAX (16u << 20)

/* Write the template to path unless it exists, never leaving a partial
 * file under that name: a temporary file, synced, then linked. */
static int create_from_template(const char *path, const void *tmpl,
				size_t size)
{
	char tmp[4096];
	ssize_t n;
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	n = write(fd, tmpl, size);
	if (n != (ssize_t)size)
		ret = n < 0 ? -errno : -EIO;
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && link(tmp, path) && errno != EEXIST)
		ret = -errno;
	unlink(tmp);
	if (!ret)
		log_info("UEFI variable store %s created from the template", path);
	return ret;
}

static int check_size(const char *what, size_t size, size_t want)
{
	if (want && size != want) {
		log_error("UEFI variable store %s has %zu bytes, the firmware's template %zu: "
			  "it belongs to other firmware (remove it to start from the template)",
			  what, size, want);
		return -EINVAL;
	}
	if (!size || size % PFLASH_BLOCK_SIZE || size > VARS_MAX) {
		log_error("UEFI variable store %s has %zu bytes: it must be whole 4 KiB blocks, at most 16 MiB",
			  what, size);
		return -EINVAL;
	}
	return 0;
}

static int open_store(const char *path, size_t want, void **image,
		      size_t *size, struct block_dev **store)
{
	struct block_dev *bs;
	uint64_t len;
	int ret;

	ret = block_open(&bs, path, "raw", BLOCK_O_RDWR);
	if (ret) {
		log_error("cannot open the UEFI variable store %s: %s", path,
			  strerror(-ret));
		return ret;
	}
	len = block_size(bs);
	ret = check_size(path, len > VARS_MAX ? VARS_MAX + 1 : (size_t)len, want);
	if (!ret && !(*image = malloc(len)))
		ret = -ENOMEM;
	if (!ret) {
		ret = block_read(bs, 0, *image, len);
		if (ret) {
			log_error("cannot read the UEFI variable store %s: %s",
				  path, strerror(-ret));
			free(*image);
			*image = NULL;
		}
	}
	if (ret) {
		block_close(bs);
		return ret;
	}
	*size = len;
	*store = bs;
	return 0;
}

int firmware_vars_open(const struct vm_config *cfg, void **image,
		       size_t *size, struct block_dev **store)
{
	const char *tmpl_path = cfg->firmware_vars_template;
	const char *path = cfg->firmware_vars;
	void *tmpl = NULL;
	size_t tmpl_size = 0;
	int ret;

	*image = NULL;
	*store = NULL;
	if (tmpl_path) {
		ret = file_read_all(tmpl_path, VARS_MAX, &tmpl, &tmpl_size);
		if (ret) {
			log_error("cannot read the UEFI variable store template %s: %s",
				  tmpl_path, strerror(-ret));
			return ret;
		}
		ret = check_size(tmpl_path, tmpl_size, 0);
		if (ret)
			goto out;
	}
	if (!path) {
		*image = tmpl;
		*size = tmpl_size;
		return tmpl ? 0 : -EINVAL;
	}
	if (access(path, F_OK)) {
		if (!tmpl) {
			log_error("UEFI variable store %s: %s (vars= makes one from a template only with --firmware uefi)",
				  path, strerror(errno));
			ret = -ENOENT;
			goto out;
		}
		ret = create_from_template(path, tmpl, tmpl_size);
		if (ret) {
			log_error("cannot create the UEFI variable store %s: %s",
				  path, strerror(-ret));
			goto out;
		}
	}
	ret = open_store(path, tmpl_size, image, size, store);
out:
	free(tmpl);
	return ret;
}

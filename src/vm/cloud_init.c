/* --cloud-init: the NoCloud seed volume (vm/cloud_init.h). */
#include "vm/cloud_init.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/vfat_writer.h"
#include "hw/disk_spec.h"
#include "hw/virtio/virtio.h"
#include "util/file.h"
#include "util/log.h"
#include "util/parse.h"

/* FNV-1a: a stable instance-id for the same user-data. */
static uint32_t fnv1a(uint32_t h, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/*
 * The seed in a memory file: the user's files, and when meta-data is not
 * given, one with an instance-id that stays the same as long as the other
 * files do (cloud-init runs its once-per-instance steps again when the
 * instance-id changes).
 */
static int seed_build(const struct cloud_init_config *c, int *out_fd)
{
	struct vfat_file files[CLOUD_INIT_NFILES];
	void *data[CLOUD_INIT_NFILES] = { 0 };
	char meta[64];
	uint32_t id = 2166136261u;
	unsigned n = 0, i;
	int fd = -1, ret = 0;

	for (i = 0; i < CLOUD_INIT_NFILES && !ret; i++) {
		size_t len;

		if (!c->paths[i])
			continue;
		ret = file_read_all(c->paths[i], VFAT_MAX_BYTES, &data[i], &len);
		if (ret) {
			log_error("--cloud-init: %s %s: %s", cloud_init_file_names[i], c->paths[i],
				  ret == -EFBIG ? "larger than a seed can hold (15 MiB)"
						: strerror(-ret));
			break;
		}
		files[n++] = (struct vfat_file){ cloud_init_file_names[i], data[i], len };
		id = fnv1a(id, data[i], len);
	}
	if (!ret && !c->paths[CLOUD_INIT_META_DATA]) {
		snprintf(meta, sizeof(meta), "instance-id: iid-wirt-%08x\n", id);
		files[n++] = (struct vfat_file){ "meta-data", meta, strlen(meta) };
	}
	if (!ret) {
		fd = memfd_create("cidata", MFD_CLOEXEC);
		ret = fd < 0 ? -errno : vfat_write(fd, "cidata", files, n);
		if (ret)
			log_error("--cloud-init: cannot write the seed: %s",
				  ret == -EFBIG ? "the files are larger than 15 MiB together"
						: strerror(-ret));
	}
	for (i = 0; i < CLOUD_INIT_NFILES; i++)
		free(data[i]);
	if (ret && fd >= 0)
		close(fd);
	else
		*out_fd = fd;
	return ret;
}

int cloud_init_attach(struct vm *vm, const struct cloud_init_config *c)
{
	char path[32], format[] = "raw";
	struct disk_spec ds = {
		.path = path, .format = format, .read_only = true,
		.iface = DISK_IF_VIRTIO, .bootindex = -1, .serial = "cidata",
	};
	int fd, ret;

	ret = seed_build(c, &fd);
	if (ret)
		return ret;
	/* The disk layer opens files by name: this one's is in /proc. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ret = virtio_blk_create(vm, &ds);
	close(fd);
	return ret;
}

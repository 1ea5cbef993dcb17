/*
 * --cloud-init: a NoCloud seed for cloud images.  wirt writes the files a
 * user gives (user-data, meta-data, network-config, vendor-data) into a
 * small FAT volume labelled "cidata" in memory and attaches it as a
 * read-only virtio disk, where cloud-init's NoCloud data source finds it.
 */
#ifndef WIRT_VM_CLOUD_INIT_H
#define WIRT_VM_CLOUD_INIT_H

#include <stdbool.h>
#include <stddef.h>

enum cloud_init_file {
	CLOUD_INIT_USER_DATA,
	CLOUD_INIT_META_DATA,
	CLOUD_INIT_NETWORK_CONFIG,
	CLOUD_INIT_VENDOR_DATA,
	CLOUD_INIT_NFILES
};

struct cloud_init_config {
	bool set;
	const char *paths[CLOUD_INIT_NFILES];	/* NULL: not given */
	char storage[4096];			/* the option's text, cut up */
};

/* The names NoCloud reads, in enum cloud_init_file order, NULL-terminated. */
extern char *const cloud_init_file_names[];

/*
 * Parse --cloud-init's argument: user-data=FILE[,meta-data=FILE]
 * [,network-config=FILE][,vendor-data=FILE], or a seed directory holding
 * files of those names.  0, or -EINVAL with the reason in err.
 */
int cloud_init_parse_option(struct cloud_init_config *c, const char *arg,
			    char *err, size_t err_len);

struct vm;
/* Build the seed and attach it to vm as a read-only virtio disk. */
int cloud_init_attach(struct vm *vm, const struct cloud_init_config *c);

#endif

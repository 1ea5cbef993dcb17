/* --cloud-init: a NoCloud seed volume for cloud-init in the guest. */
#ifndef WIRT_VM_CLOUD_INIT_H
#define WIRT_VM_CLOUD_INIT_H

#include <stddef.h>

struct cloud_init_config {
	char spec[4096];            /* the option's text, split in place */
	const char *user_data;      /* NULL: no --cloud-init */
	const char *meta_data;      /* NULL: made up (instance-id) */
	const char *network_config; /* NULL: none */
};

/*
 * Parse "user-data=FILE[,meta-data=FILE][,network-config=FILE]" into c
 * (a copy of spec, split).  0, or -EINVAL with a message in err.
 */
int cloud_init_parse(const char *spec, struct cloud_init_config *c, char *err,
		     size_t err_len);

/*
 * Build the seed: an ISO 9660 volume labelled "cidata" (with Rock Ridge
 * and Joliet names) holding user-data, meta-data and network-config,
 * written by xorriso into an unlinked temporary file.  Returns its
 * descriptor (read-only) or negative errno; errors are logged.
 */
int cloud_init_seed_build(const struct cloud_init_config *c);

#endif

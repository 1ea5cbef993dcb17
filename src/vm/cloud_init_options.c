/* Parsing --cloud-init (the seed itself: vm/cloud_init.c). */
#include "vm/cloud_init.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int cloud_init_parse(const char *spec, struct cloud_init_config *c,
		     char *err, size_t err_len)
{
	char *item, *save = NULL;

	memset(c, 0, sizeof(*c));
	if (strlen(spec) >= sizeof(c->spec)) {
		snprintf(err, err_len, "--cloud-init: too long");
		return -EINVAL;
	}
	strcpy(c->spec, spec);
	for (item = strtok_r(c->spec, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		const char **slot = NULL;
		char *eq = strchr(item, '=');

		if (eq && !strncmp(item, "user-data=", 10))
			slot = &c->user_data;
		else if (eq && !strncmp(item, "meta-data=", 10))
			slot = &c->meta_data;
		else if (eq && !strncmp(item, "network-config=", 15))
			slot = &c->network_config;
		if (!slot || !eq[1]) {
			snprintf(err, err_len, "--cloud-init: '%s': give user-data=FILE[,meta-data=FILE][,network-config=FILE]",
				 item);
			return -EINVAL;
		}
		*slot = eq + 1;
	}
	if (!c->user_data) {
		snprintf(err, err_len, "--cloud-init needs user-data=FILE");
		return -EINVAL;
	}
	return 0;
}

/* --cloud-init's argument (vm/cloud_init.h), apart from the seed writer so
 * that the option parser links without it (the config fuzzer). */
#include "vm/cloud_init.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/parse.h"

/* The names NoCloud reads, in enum cloud_init_file order. */
char *const cloud_init_file_names[] = {
	"user-data", "meta-data", "network-config", "vendor-data", NULL
};

int cloud_init_parse_option(struct cloud_init_config *c, const char *arg,
			    char *err, size_t err_len)
{
	size_t len = strlen(arg) + 1, dir_len;
	char *opts, *value;
	struct stat st;
	int i;

	if (c->set)
		return errorf(err, err_len, -EINVAL, "--cloud-init: give it once");
	if (!*arg)
		return errorf(err, err_len, -EINVAL,
			      "--cloud-init: give user-data=FILE[,meta-data=FILE]... or a directory");
	if (!strchr(arg, '=')) {
		/* A seed directory: the files of the known names it has. */
		if (stat(arg, &st) || !S_ISDIR(st.st_mode))
			return errorf(err, err_len, -EINVAL,
				      "--cloud-init %s: not a directory (or give user-data=FILE,...)",
				      arg);
		dir_len = strlen(arg);
		opts = c->storage;
		for (i = 0; cloud_init_file_names[i]; i++) {
			size_t need = dir_len + strlen(cloud_init_file_names[i]) + 2;

			if (need > sizeof(c->storage) - (size_t)(opts - c->storage))
				return errorf(err, err_len, -EINVAL,
					      "--cloud-init %s: the path is too long", arg);
			snprintf(opts, need, "%s/%s", arg, cloud_init_file_names[i]);
			if (!access(opts, F_OK)) {
				c->paths[i] = opts;
				opts += need;
			}
		}
		if (!c->paths[CLOUD_INIT_USER_DATA])
			return errorf(err, err_len, -EINVAL,
				      "--cloud-init %s: the directory has no user-data file", arg);
		c->set = true;
		return 0;
	}
	if (len > sizeof(c->storage))
		return errorf(err, err_len, -EINVAL, "--cloud-init: the option is too long");
	opts = memcpy(c->storage, arg, len);
	while (*opts) {
		char *start = opts;

		i = getsubopt(&opts, cloud_init_file_names, &value);
		if (i < 0)
			return errorf(err, err_len, -EINVAL,
				      "--cloud-init: unknown key '%s' (known: user-data, "
				      "meta-data, network-config, vendor-data)", start);
		if (!value || !*value)
			return errorf(err, err_len, -EINVAL,
				      "--cloud-init: %s needs a file name", cloud_init_file_names[i]);
		if (access(value, R_OK))
			return errorf(err, err_len, -EINVAL, "--cloud-init: %s=%s: %s",
				      cloud_init_file_names[i], value, strerror(errno));
		c->paths[i] = value;
	}
	if (!c->paths[CLOUD_INIT_USER_DATA])
		return errorf(err, err_len, -EINVAL,
			      "--cloud-init: user-data=FILE is required");
	c->set = true;
	return 0;
}

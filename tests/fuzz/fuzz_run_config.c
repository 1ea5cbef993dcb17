/*
 * libFuzzer target: `wirt run --config FILE` with FILE's contents from
 * the fuzzer (src/cli/run_config.c), then the option parser on what it
 * made of them and --print-config.  Nothing may crash, leak or read out
 * of bounds, whatever the file holds.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli/run_config.h"
#include "cli/run_options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	char path[64], err[256];
	char *argv[] = { "run", "--config", path, NULL };
	struct run_config rc;
	struct vm_config cfg;
	struct run_flags flags;
	int fd;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	fd = memfd_create("config", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		__builtin_trap();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (!run_config_load(&rc, 3, argv, err, sizeof(err)) &&
	    run_options_parse(rc.argc, rc.argv, &cfg, &flags, devnull, err,
			      sizeof(err)) == 0)
		run_config_print(&rc, devnull);
	run_config_free(&rc);
	close(fd);
	return 0;
}

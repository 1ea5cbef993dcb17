/* Parsing `wirt run` options into a vm_config. */
#ifndef WIRT_CLI_RUN_OPTIONS_H
#define WIRT_CLI_RUN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "vm/config.h"

/* Options that control wirt itself rather than the machine. */
struct run_flags {
	int verbose;
	bool quiet;		/* -q: warnings and errors only */
	bool overcommit;	/* --overcommit: no host memory check */
	bool no_sandbox;	/* --sandbox off: no seccomp filter */
	const char *runas;	/* --runas USER, or NULL */
	const char *name;	/* --name NAME, or NULL (one is generated) */
	const char *qmp;	/* --qmp PATH, or NULL (the runtime directory) */
	unsigned shutdown_timeout; /* --shutdown-timeout SECONDS */
	bool daemonize;		/* --daemonize */
	const char *log;	/* --log FILE, or NULL */
	const char *incoming;	/* --incoming URI: restore a saved state */
	const char *loadvm;	/* --loadvm NAME: start from a snapshot */
};

/* wirt's spelling of a QEMU option given to wirt run, or NULL (qemu_hints.c). */
const char *qemu_option_hint(const char *arg);

/*
 * Parse argv (argv[0] is "run").  Returns 0 on success, 1 if --help was
 * printed to help_out, or -EINVAL with one line in err.
 */
int run_options_parse(int argc, char **argv, struct vm_config *cfg,
		      struct run_flags *flags, FILE *help_out,
		      char *err, size_t err_len);

/* For config files (run_config.c): whether the long option NAME takes a
 * value (1) or not (0), -1 if there is no such option; the long name of
 * the short option C, or NULL. */
int run_options_has_arg(const char *name);
const char *run_options_long_name(int c);

#endif

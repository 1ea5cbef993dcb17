/* `wirt run --config FILE` and --print-config (run_config.c). */
#ifndef WIRT_CLI_RUN_CONFIG_H
#define WIRT_CLI_RUN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct run_config {
	const char *file;	/* --config FILE, or NULL */
	bool print;		/* --print-config */
	int argc;		/* the options to parse: the file's, then */
	char **argv;		/* the command line's (argv[0] first) */
	int *lines;		/* per argv entry: its line in the file */
	int first_cmdline;	/* index of the first command-line entry */
};

/*
 * Read --config FILE (if given) and make rc->argv: argv[0], the file's
 * entries as --key=value options, then the rest of argv without
 * --config and --print-config.  0, or a negative errno with one line in
 * err naming FILE:LINE where it can.
 */
int run_config_load(struct run_config *rc, int argc, char **argv, char *err, size_t len);

/* Prefix err with FILE:LINE when rc->argv[index] came from the file. */
void run_config_locate(const struct run_config *rc, int index, char *err, size_t len);

/* Print the options as a configuration file would give them. */
int run_config_print(const struct run_config *rc, FILE *out);

void run_config_free(struct run_config *rc);

#endif

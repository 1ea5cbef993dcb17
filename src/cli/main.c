/* wirt: one binary, subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

/* The Makefile passes the release and the git commit it was built from. */
#ifndef WIRT_VERSION
#define WIRT_VERSION "unknown"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: wirt COMMAND [OPTIONS]\n"
		"\n"
		"commands:\n"
		"  run      run a virtual machine (wirt run --help)\n"
		"  img      create, inspect and convert disk images (wirt img --help)\n"
		"  ls       list the running VMs (wirt ls --help)\n"
		"  ctl      control a running VM: status, pause, powerdown... (wirt ctl --help)\n"
		"  console  attach to a running VM's serial console (wirt console --help)\n"
		"  version  print wirt's version (also --version)\n"
		"\n"
		"wirt runs x86-64 virtual machines with Linux KVM where the host has it\n"
		"and with its own x86-64 emulator where it does not.\n");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} commands[] = {
		{ "run", cmd_run },
		{ "img", cmd_img },
		{ "ls", cmd_ls },
		{ "ctl", cmd_ctl },
		{ "console", cmd_console },
	};
	unsigned i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V") ||
	    !strcmp(argv[1], "version")) {
		printf("wirt %s\n", WIRT_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "wirt: unknown command '%s' (try 'wirt --help')\n", argv[1]);
	return 2;
}

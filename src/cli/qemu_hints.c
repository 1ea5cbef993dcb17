/*
 * QEMU's single-dash options given to `wirt run`: getopt would read
 * -nographic as -n ographic (an unknown network); say instead which wirt
 * option does the job.
 */
#include <stddef.h>
#include <string.h>

#include "cli/run_options.h"

static const struct {
	const char *qemu, *wirt;
} hints[] = {
	{ "-nographic", "no such option: it is always headless, the serial "
			"console on this terminal" },
	{ "-display", "no such option: it is always headless" },
	{ "-kernel", "--kernel FILE (or -k FILE)" },
	{ "-initrd", "--initrd FILE (or -i FILE)" },
	{ "-append", "--append CMDLINE (or -A CMDLINE)" },
	{ "-smp", "--cpus N (or -c N)" },
	{ "-bios", "--firmware FILE" },
	{ "-hda", "--disk FILE" },
	{ "-drive", "--disk FILE[,OPTS]" },
	{ "-netdev", "--net SPEC" },
	{ "-nic", "--net SPEC" },
	{ "-enable-kvm", "--accel kvm" },
	{ "-accel", "--accel kvm|emu|auto" },
	{ "-machine", "no such option: the machine is wirt's PC" },
	{ "-cpu", "no such option: the vCPU model is wirt's" },
	{ "-qmp", "--qmp PATH" },
	{ "-monitor", "--qmp PATH (QMP), or Ctrl-A c on the console" },
	{ "-name", "--name NAME" },
	{ "-no-reboot", "--no-reboot" },
	{ "-serial", "no such option: the first serial port is this terminal" },
	{ "-daemonize", "--daemonize" },
	{ "-smbios", "--smbios type=N,KEY=VALUE,... (the same keys)" },
	{ "-uuid", "--smbios type=1,uuid=UUID" },
};

const char *qemu_option_hint(const char *arg)
{
	size_t i;

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (!strcmp(arg, hints[i].qemu))
			return hints[i].wirt;
	return NULL;
}

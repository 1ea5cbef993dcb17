/* `wirt run`: build a virtual machine from the options and run it. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "accel/accel.h"
#include "block/block.h"
#include "cli/commands.h"
#include "cli/daemonize.h"
#include "cli/run_config.h"
#include "cli/run_control.h"
#include "cli/run_options.h"
#include "migration/migration.h"
#include "migration/precopy.h"
#include "net/net.h"
#include "ui/console.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "vm/vm.h"

/*
 * Choose the accelerator.  auto prefers KVM, but not for a Linux kernel or
 * SeaBIOS or OVMF (--firmware bios|uefi) on KVM-PVM, which runs neither (only PVM
 * guest kernels, and real-mode code through its instruction emulator);
 * it says what it chose.
 */
static const struct accel_ops *choose_accel(const struct vm_config *cfg)
{
	char why[256] = "";
	int unmodified_linux = 1;
	int ret;

	if (cfg->accel == ACCEL_EMU)
		return &accel_emu_ops;
	ret = accel_kvm_ops.probe(why, sizeof(why), &unmodified_linux);
	if (cfg->accel == ACCEL_KVM) {
		if (ret) {
			log_error("--accel kvm: %s; --accel emu runs guests without KVM", why);
			return NULL;
		}
		if (cfg->kernel && !unmodified_linux)
			log_warn("%s", why);
		return &accel_kvm_ops;
	}
	if (!ret && (unmodified_linux || (!cfg->kernel && !cfg->firmware_bios && !cfg->firmware_uefi))) {
		log_notice("using KVM (--accel kvm)");
		return &accel_kvm_ops;
	}
	log_notice("using wirt's emulator (--accel emu): %s", why);
	return &accel_emu_ops;
}

/*
 * What this host can give the guest: RAM it cannot back is refused (the
 * kernel would kill wirt once the guest touches it), more vCPUs than CPUs
 * only warned about.
 */
static int check_host_resources(const struct vm_config *cfg,
				const struct run_flags *flags)
{
	struct sysinfo si;
	uint64_t host;

	if (cfg->cpus > (unsigned)get_nprocs())
		log_warn("--cpus %u: this host has %d CPUs; the vCPUs will share "
			 "them", cfg->cpus, get_nprocs());
	if (flags->overcommit || sysinfo(&si) < 0)
		return 0;
	host = ((uint64_t)si.totalram + si.totalswap) * si.mem_unit;
	if (cfg->memory <= host)
		return 0;
	log_error("--memory %llu MiB is more than this host's RAM and swap "
		  "(%llu MiB): the guest could not use it all; give less, or "
		  "--overcommit to start anyway",
		  (unsigned long long)(cfg->memory >> 20),
		  (unsigned long long)(host >> 20));
	return -ENOMEM;
}

/* --incoming: the machine built from the options takes the saved state. */
static int restore_incoming(struct vm *vm, const char *uri)
{
	char why[256];
	int ret = migrate_incoming(vm, uri, why, sizeof(why));

	if (ret) {
		log_error("--incoming %s: %s", uri, why);
		return ret;
	}
	log_info("restored the machine from %s", uri);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	struct vm_config cfg;
	struct run_flags flags;
	/* cfg points into its strings, which live as long as wirt does. */
	static struct run_config rc;
	const struct accel_ops *accel;
	char err[256];
	struct vm *vm;
	int ret, status;

	ret = run_config_load(&rc, argc, argv, err, sizeof(err));
	if (!ret) {
		ret = run_options_parse(rc.argc, rc.argv, &cfg, &flags, stdout, err,
					sizeof(err));
		if (ret < 0)
			run_config_locate(&rc, optind - 1, err, sizeof(err));
	}
	if (ret == 1 || (!ret && rc.print)) {
		if (ret != 1)
			run_config_print(&rc, stdout);
		run_config_free(&rc);
		return 0;
	}
	if (ret) {
		fprintf(stderr, "wirt run: %s\n", err);
		run_config_free(&rc);
		return 2;
	}
	if (flags.verbose)
		log_threshold = flags.verbose > 1 ? LOG_DEBUG : LOG_INFO;
	else if (flags.quiet)
		log_threshold = LOG_WARN;
	if (check_host_resources(&cfg, &flags) < 0)
		return 1;
	if (flags.runas && sandbox_runas_resolve(flags.runas) < 0)
		return 1;
	accel = choose_accel(&cfg);
	if (!accel)
		return 1;
	/* Detach while wirt is one thread without locks (the runtime
	 * directory's lock belongs to the process that takes it). */
	if (flags.daemonize && daemonize_start() < 0)
		return 1;
	if (run_control_prepare(&flags) < 0)
		return 1;

	/* The VM is large (vCPU and device tables): keep it off the stack. */
	static struct vm the_vm;
	vm = &the_vm;
	/* A live migration's sender still runs the disk images. */
	if (flags.incoming && !strncmp(flags.incoming, "tcp:", 4)) {
		block_defer_activation(true);
		net_defer_host_ports(true);
	}
	ret = vm_create(vm, &cfg, accel);
	if (ret || run_control_start(vm, &flags) < 0) {
		vm_destroy(vm);
		run_control_end();
		return 1;
	}
	ram_state_prepare();
	/* Restored before wirt detaches: a failure is its exit status. */
	if (flags.incoming && flags.loadvm) {
		log_error("--incoming and --loadvm: give one of them");
		ret = -EINVAL;
	} else if (flags.loadvm) {
		char why[256];

		ret = vm_loadvm(vm, flags.loadvm, false, why, sizeof(why));
		if (ret)
			log_error("--loadvm %s: %s", flags.loadvm, why);
	}
	if (ret < 0 || (flags.incoming && restore_incoming(vm, flags.incoming) < 0)) {
		vm_destroy(vm);
		run_control_end();
		return 1;
	}
	if (flags.daemonize) {
		char log[300];

		if (flags.log)
			snprintf(log, sizeof(log), "%s", flags.log);
		else if (run_control_dir())
			snprintf(log, sizeof(log), "%s/log", run_control_dir());
		else
			snprintf(log, sizeof(log), "/dev/null");
		daemonize_ready(log);
	}
	/* Everything is open: leave root, then give up what is left. */
	if (sandbox_runas_drop() < 0 ||
	    (!flags.no_sandbox && sandbox_enter(console_restore) < 0)) {
		vm_destroy(vm);
		run_control_end();
		return 1;
	}
	status = vm_run(vm);
	precopy_end();
	vm_destroy(vm);
	run_control_end();
	return status;
}

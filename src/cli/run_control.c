/* `wirt run`'s control set-up: name, runtime directory, QMP (run_control.h). */
#include "cli/run_control.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/console_socket.h"
#include "control/qmp.h"
#include "control/runtime_dir.h"
#include "control/shutdown_signals.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "vm/vm.h"

static char vm_name[VM_NAME_MAX + 1];
static char run_dir[256];
static bool have_dir;

int run_control_prepare(struct run_flags *flags)
{
	int ret;

	if (flags->name)
		snprintf(vm_name, sizeof(vm_name), "%s", flags->name);
	else
		snprintf(vm_name, sizeof(vm_name), "wirt-%d", (int)getpid());
	ret = runtime_dir_claim(vm_name, run_dir, sizeof(run_dir));
	if (ret == -EEXIST || (ret && flags->name))
		return -1;
	/* An unnamed VM runs without a runtime directory if need be. */
	have_dir = !ret;
	if (ret)
		log_warn("no runtime directory: wirt ls will not list this VM");
	/* SIGTERM/SIGINT go to the event loop unless a terminal is ours. */
	if (!isatty(STDIN_FILENO) && shutdown_signals_block() < 0)
		return -1;
	return 0;
}

static void write_info(struct vm *vm, const char *qmp_path)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(vm_name));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "accel", json_object_new_string(vm->accel->name));
	json_object_object_add(o, "memory", json_object_new_int64(vm->config->memory));
	json_object_object_add(o, "cpus", json_object_new_int(vm->ncpus));
	json_object_object_add(o, "started", json_object_new_int64(vm->start_time));
	json_object_object_add(o, "qmp", json_object_new_string(qmp_path));
	if (runtime_dir_write_info(json_object_to_json_string_ext(o,
				   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)))
		log_warn("cannot write %s/info", run_dir);
	json_object_put(o);
}

int run_control_start(struct vm *vm, const struct run_flags *flags)
{
	struct qmp_vm_info info = { vm_name };
	char path[300];
	uid_t uid;
	gid_t gid;
	int ret;

	qmp_commands_init(vm);
	if (flags->qmp)
		snprintf(path, sizeof(path), "%s", flags->qmp);
	else if (have_dir)
		snprintf(path, sizeof(path), "%s/qmp.sock", run_dir);
	else
		path[0] = 0;
	/* The info first: wirt ls reads it once it finds the VM. */
	if (have_dir)
		write_info(vm, path);
	if (path[0]) {
		ret = qmp_server_create(vm, path, &info);
		if (ret && (flags->qmp || flags->name))
			return -1;
		if (ret)
			log_warn("no QMP monitor (%s)", strerror(-ret));
	}
	if (vm->config->serial == SERIAL_UNIX) {
		/* --serial unix:PATH; wirt console NAME follows a link to it. */
		if (console_socket_create(vm, vm->config->serial_path) < 0)
			return -1;
		if (have_dir) {
			char con[300], *target = realpath(vm->config->serial_path, NULL);

			snprintf(con, sizeof(con), "%s/console.sock", run_dir);
			if (!target || symlink(target, con) < 0)
				log_warn("no console link: wirt console will not reach this VM");
			free(target);
		}
	} else if (have_dir) {
		char con[300];

		snprintf(con, sizeof(con), "%s/console.sock", run_dir);
		if (console_socket_create(vm, con) < 0)
			log_warn("no console socket: wirt console will not reach this VM");
	}
	/* --runas: the user wirt becomes must remove what root made. */
	if (sandbox_runas_ids(&uid, &gid) == 0)
		runtime_dir_chown(uid, gid, path[0] ? path : NULL);
	if (!isatty(STDIN_FILENO) &&
	    shutdown_signals_watch(vm, flags->shutdown_timeout) < 0) {
		log_error("cannot watch SIGTERM and SIGINT");
		return -1;
	}
	return 0;
}

const char *run_control_dir(void)
{
	return have_dir ? run_dir : NULL;
}

void run_control_end(void)
{
	if (have_dir)
		runtime_dir_release();
	have_dir = false;
}

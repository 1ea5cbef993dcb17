/* The human monitor's commands (hmp.h), formatted from the QMP commands. */
#include "control/hmp.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "control/qmp.h"
#include "migration/migration.h"
#include "migration/precopy.h"
#include "vm/vm.h"

static const char help_text[] =
	"cont                 resume the vCPUs\n"
	"delvm NAME           delete the snapshot NAME of every disk\n"
	"help                 this list\n"
	"info block           the disks\n"
	"info cpus            the vCPUs and their host threads\n"
	"info name            the VM's name\n"
	"info network         the network cards\n"
	"info registers       the registers of every vCPU\n"
	"info migrate         the last migration's progress or outcome\n"
	"info migrate_parameters  downtime limit and bandwidth of live migration\n"
	"info snapshots       the snapshots with machine state\n"
	"info status          running or paused\n"
	"info version         wirt's version\n"
	"loadvm NAME          go back to snapshot NAME (disks and machine)\n"
	"migrate URI          save the machine to file:PATH or exec:COMMAND, or\n"
	"                     move it live to tcp:HOST:PORT (wirt run --incoming),\n"
	"                     and leave it paused\n"
	"migrate_cancel       stop a live migration; the machine runs on\n"
	"migrate_set_parameter downtime-limit MS | max-bandwidth BYTES[K|M|G]\n"
	"quit                 end wirt at once (no guest shutdown)\n"
	"screendump [-f png|ppm] FILE  save the screen (default PPM)\n"
	"savevm NAME          snapshot every writable disk and the machine\n"
	"                     (its state in the first qcow2 disk)\n"
	"stop                 pause the vCPUs\n"
	"system_powerdown     press the ACPI power button\n"
	"system_reset         reset the machine\n";

/* Run a QMP command as a negotiated client; the reply object. */
static json_object *qmp(struct vm *vm, const char *name)
{
	json_object *req = json_object_new_object(), *reply;
	bool negotiated = true;

	json_object_object_add(req, "execute", json_object_new_string(name));
	reply = qmp_dispatch(vm, req, &negotiated);
	json_object_put(req);
	return reply;
}

/* Run name; "" on success, or the error's description. */
static void simple(struct vm *vm, const char *name, FILE *out)
{
	json_object *reply = qmp(vm, name), *e, *d;

	if (json_object_object_get_ex(reply, "error", &e) &&
	    json_object_object_get_ex(e, "desc", &d))
		fprintf(out, "Error: %s\n", json_object_get_string(d));
	json_object_put(reply);
}

static json_object *ret_of(json_object *reply)
{
	json_object *r = NULL;

	json_object_object_get_ex(reply, "return", &r);
	return r;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

static void info_block(struct vm *vm, FILE *out)
{
	json_object *reply = qmp(vm, "query-block"), *list = ret_of(reply), *ins;
	size_t i;

	for (i = 0; list && i < json_object_array_length(list); i++) {
		json_object *d = json_object_array_get_idx(list, i);

		json_object_object_get_ex(d, "inserted", &ins);
		fprintf(out, "%s: %s (%s%s)\n", str_of(d, "device"),
			str_of(ins, "file"), str_of(ins, "drv"),
			json_object_get_boolean(json_object_object_get(ins, "ro")) ?
			", read-only" : "");
	}
	if (!list || !json_object_array_length(list))
		fprintf(out, "no disks\n");
	json_object_put(reply);
}

static void info_network(struct vm *vm, FILE *out)
{
	unsigned i;

	for (i = 0; i < vm->config->nnets; i++)
		fprintf(out, "net%u: virtio-net-pci, %s\n", i, vm->config->nets[i].spec);
	if (!vm->config->nnets)
		fprintf(out, "no network cards\n");
}

static void info_registers(struct vm *vm, FILE *out)
{
	struct cpu_state s;
	bool held = vm_hold(vm) == 0;
	unsigned i;

	/* The vCPUs are parked (or stopped): their state holds still. */
	for (i = 0; i < vm->ncpus; i++) {
		fprintf(out, "CPU#%u\n", i);
		if (!held || vm->accel->vcpu_get_state(&vm->vcpus[i], &s))
			fprintf(out, "(registers not available)\n");
		else
			cpu_state_dump(&s, out);
	}
	vm_release(vm);
}

/* The snapshots of the first writable disk, as QEMU's info snapshots. */
static void info_snapshots(struct vm *vm, FILE *out)
{
	struct block_snapshot *l = NULL;
	unsigned i;
	int n = 0, k;

	for (i = 0; i < vm->ndisks && block_read_only(vm->disks[i]); i++)
		;
	if (i == vm->ndisks || block_snapshot_list(vm->disks[i], &l, &n) < 0) {
		fprintf(out, "no writable disk with snapshots\n");
		return;
	}
	fprintf(out, "%-4s %-20s %12s %s\n", "ID", "TAG", "VM SIZE", "VM CLOCK");
	for (k = 0; k < n; k++)
		fprintf(out, "%-4s %-20s %12llu %llu.%03llu\n", l[k].id, l[k].name,
			(unsigned long long)l[k].vm_state_size,
			(unsigned long long)(l[k].vm_clock_nsec / 1000000000),
			(unsigned long long)(l[k].vm_clock_nsec / 1000000 % 1000));
	free(l);
}

/* s without trailing blanks, in buf. */
static const char *trimmed(const char *s, char *buf, size_t len)
{
	size_t n;

	snprintf(buf, len, "%s", s);
	n = strlen(buf);
	while (n && strchr(" \t\r\n", buf[n - 1]))
		buf[--n] = 0;
	return buf;
}

/* As QEMU prints it: the status, then the figures it has. */
static void info_migrate(FILE *out)
{
	struct migrate_info mi;

	migrate_get_info(&mi);
	fprintf(out, "Migration status: %s\n", mi.status);
	if (!strcmp(mi.status, "none"))
		return;
	fprintf(out, "total time: %llu ms\n", (unsigned long long)mi.total_time);
	if (mi.live) {
		if (!strcmp(mi.status, "completed"))
			fprintf(out, "downtime: %llu ms\n", (unsigned long long)mi.downtime);
		else
			fprintf(out, "expected downtime: %llu ms\n",
				(unsigned long long)mi.expected_downtime);
		fprintf(out, "setup: %llu ms\n", (unsigned long long)mi.setup_time);
	}
	fprintf(out, "transferred ram: %llu kbytes\n", (unsigned long long)mi.transferred >> 10);
	if (mi.live) {
		fprintf(out, "remaining ram: %llu kbytes\n", (unsigned long long)mi.remaining >> 10);
		fprintf(out, "duplicate: %llu pages\nnormal: %llu pages\n",
			(unsigned long long)mi.duplicate_pages,
			(unsigned long long)mi.normal_pages);
		fprintf(out, "dirty pages rate: %llu pages\ndirty sync count: %llu\n",
			(unsigned long long)mi.dirty_pages_rate,
			(unsigned long long)mi.dirty_sync_count);
		fprintf(out, "throughput: %.2f mbps\n", mi.mbps);
	}
	if (mi.error[0])
		fprintf(out, "Error: %s\n", mi.error);
}

/* migrate_set_parameter NAME VALUE: downtime-limit in ms, max-bandwidth
 * in bytes/s with an optional K/M/G suffix (QEMU's unit is bytes). */
static void set_parameter(const char *arg, FILE *out)
{
	struct migrate_params p;
	char name[32], unit[4] = "";
	unsigned long long v;
	int n;

	migrate_get_params(&p);
	n = sscanf(arg, "%31s %llu%3s", name, &v, unit);
	if (n < 2 || strlen(unit) > 1) {
		fprintf(out, "Error: migrate_set_parameter needs a name and a value\n");
		return;
	}
	if (!strcmp(name, "downtime-limit") && !unit[0]) {
		if (v > MIGRATE_MAX_DOWNTIME_MS) {
			fprintf(out, "Error: Parameter 'downtime_limit' expects an integer in the range of 0 to %d milliseconds\n",
				MIGRATE_MAX_DOWNTIME_MS);
			return;
		}
		p.downtime_limit_ms = v;
	} else if (!strcmp(name, "max-bandwidth")) {
		const char *units = "BKMGT", *u = unit[0] ? strchr(units, toupper(unit[0])) : units;

		if (!u || !*u) {
			fprintf(out, "Error: max-bandwidth: unknown unit '%s'\n", unit);
			return;
		}
		p.max_bandwidth = v << (10 * (u - units));
	} else {
		fprintf(out, "Error: wirt sets downtime-limit (ms) and max-bandwidth (bytes/s), not '%s'\n",
			name);
		return;
	}
	migrate_set_params(&p);
}

/* savevm, loadvm, delvm NAME and migrate URI; errors as QEMU prints them. */
static bool state_command(struct vm *vm, const char *cmd, const char *arg,
			  FILE *out)
{
	char why[256];
	int ret;

	if (!strcmp(cmd, "migrate_cancel")) {
		precopy_cancel();
		return true;
	}
	if (!strcmp(cmd, "migrate_set_parameter")) {
		set_parameter(arg, out);
		return true;
	}
	if (strcmp(cmd, "savevm") && strcmp(cmd, "loadvm") && strcmp(cmd, "delvm") &&
	    strcmp(cmd, "migrate"))
		return false;
	if (!*arg) {
		fprintf(out, "Error: %s needs an argument\n", cmd);
		return true;
	}
	if (!strcmp(cmd, "savevm"))
		ret = vm_savevm(vm, arg, why, sizeof(why));
	else if (!strcmp(cmd, "loadvm"))
		ret = vm_loadvm(vm, arg, true, why, sizeof(why));
	else if (!strcmp(cmd, "delvm"))
		ret = vm_delvm(vm, arg, why, sizeof(why));
	else
		ret = migrate_save_uri(vm, arg, why, sizeof(why));
	if (ret)
		fprintf(out, "Error: %s\n", why);
	return true;
}

static void info(struct vm *vm, const char *what, FILE *out)
{
	json_object *reply, *r;

	if (!strcmp(what, "status")) {
		reply = qmp(vm, "query-status");
		fprintf(out, "VM status: %s\n", str_of(ret_of(reply), "status"));
		json_object_put(reply);
	} else if (!strcmp(what, "version")) {
		reply = qmp(vm, "query-version");
		r = ret_of(reply);
		fprintf(out, "%s\n", str_of(r, "package"));
		json_object_put(reply);
	} else if (!strcmp(what, "name")) {
		fprintf(out, "%s\n", qmp_vm_name ? qmp_vm_name : "");
	} else if (!strcmp(what, "block")) {
		info_block(vm, out);
	} else if (!strcmp(what, "network")) {
		info_network(vm, out);
	} else if (!strcmp(what, "snapshots")) {
		info_snapshots(vm, out);
	} else if (!strcmp(what, "migrate")) {
		info_migrate(out);
	} else if (!strcmp(what, "migrate_parameters")) {
		struct migrate_params p;

		migrate_get_params(&p);
		fprintf(out, "downtime-limit: %llu ms\nmax-bandwidth: %llu bytes/second\n",
			(unsigned long long)p.downtime_limit_ms,
			(unsigned long long)p.max_bandwidth);
	} else if (!strcmp(what, "registers")) {
		info_registers(vm, out);
	} else if (!strcmp(what, "cpus")) {
		unsigned i;

		for (i = 0; i < vm->ncpus; i++)
			fprintf(out, "%c CPU #%u: thread_id=%d\n", i ? ' ' : '*', i,
				vm->vcpus[i].tid);
	} else {
		fprintf(out, "info %s: unknown (try help)\n", what);
	}
}

/* screendump [-f FORMAT] FILE, through QMP's command. */
static void screendump(struct vm *vm, const char *args, FILE *out)
{
	json_object *req = json_object_new_object(), *a = json_object_new_object();
	json_object *reply, *err;
	bool negotiated = true;
	char fmt[16] = "ppm";
	int n = 0;

	args += strspn(args, " \t");
	if (sscanf(args, "-f %15s %n", fmt, &n) == 1)
		args += n;
	if (!*args) {
		fputs("usage: screendump [-f png|ppm] FILE\n", out);
		json_object_put(req);
		json_object_put(a);
		return;
	}
	json_object_object_add(a, "filename", json_object_new_string(args));
	json_object_object_add(a, "format", json_object_new_string(fmt));
	json_object_object_add(req, "execute", json_object_new_string("screendump"));
	json_object_object_add(req, "arguments", a);
	reply = qmp_dispatch(vm, req, &negotiated);
	if (json_object_object_get_ex(reply, "error", &err) &&
	    json_object_object_get_ex(err, "desc", &err))
		fprintf(out, "%s\n", json_object_get_string(err));
	json_object_put(reply);
	json_object_put(req);
}

char *hmp_run(struct vm *vm, const char *line)
{
	static const char *simple_cmds[] = {
		"stop", "cont", "system_powerdown", "system_reset", "quit",
	};
	char *buf = NULL, cmd[64] = "", arg[64] = "";
	const char *rest;
	char tail[1024];
	size_t len = 0, i;
	FILE *out = open_memstream(&buf, &len);

	if (!out)
		return NULL;
	sscanf(line ? line : "", "%63s %63s", cmd, arg);
	/* The argument of these may be longer and hold spaces: the rest. */
	rest = line ? line + strspn(line, " \t") : "";
	rest += strcspn(rest, " \t");
	rest += strspn(rest, " \t");
	if (!*cmd) {
		/* nothing */
	} else if (state_command(vm, cmd, *arg ? trimmed(rest, tail, sizeof(tail)) : "", out)) {
		/* done */
	} else if (!strcmp(cmd, "help") || !strcmp(cmd, "?")) {
		fputs(help_text, out);
	} else if (!strcmp(cmd, "screendump")) {
		char *rest = strdup(strstr(line, "screendump") + strlen("screendump"));
		size_t l = rest ? strlen(rest) : 0;

		while (l && (rest[l - 1] == ' ' || rest[l - 1] == '\n' ||
			     rest[l - 1] == '\r'))
			rest[--l] = '\0';
		if (rest)
			screendump(vm, rest, out);
		free(rest);
	} else if (!strcmp(cmd, "info")) {
		if (*arg)
			info(vm, arg, out);
		else
			fputs("info block|cpus|migrate|migrate_parameters|name|network|registers|snapshots|status|version\n", out);
	} else {
		for (i = 0; i < sizeof(simple_cmds) / sizeof(simple_cmds[0]); i++)
			if (!strcmp(cmd, simple_cmds[i]))
				break;
		if (!strcmp(cmd, "c"))
			i = 1;
		if (i < sizeof(simple_cmds) / sizeof(simple_cmds[0]))
			simple(vm, simple_cmds[i], out);
		else
			fprintf(out, "unknown command: '%s' (try help)\n", cmd);
	}
	fclose(out);
	return buf;
}

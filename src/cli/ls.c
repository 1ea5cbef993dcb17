/* `wirt ls`: the running VMs (name, pid, accelerator, memory, vCPUs, state, uptime). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/vms.h"
#include "control/qmp_client.h"

#define LS_QMP_TIMEOUT_MS 2000

static const char ls_help[] =
	"usage: wirt ls [--output table|json]\n"
	"\n"
	"List the running VMs of this user (their runtime directories under\n"
	"$XDG_RUNTIME_DIR/wirt, /run/wirt for root, or $WIRT_RUNTIME_DIR):\n"
	"name, pid, accelerator, memory, vCPUs, state (asked over QMP) and\n"
	"uptime.  Directories left by a killed wirt are removed.\n";

/* running / paused / shutdown, or "unreachable" when QMP does not answer. */
static const char *vm_state(const struct vm_entry *e, char *buf, size_t len)
{
	struct qmp_client *c = qmp_client_open(e->qmp, LS_QMP_TIMEOUT_MS);
	json_object *r, *ret, *st;

	snprintf(buf, len, "unreachable");
	if (!c)
		return buf;
	r = qmp_client_execute(c, "query-status", NULL);
	if (r && json_object_object_get_ex(r, "return", &ret) &&
	    json_object_object_get_ex(ret, "status", &st))
		snprintf(buf, len, "%s", json_object_get_string(st));
	json_object_put(r);
	qmp_client_close(c);
	return buf;
}

static int64_t info_int(const struct vm_entry *e, const char *key)
{
	json_object *v;

	return e->info && json_object_object_get_ex(e->info, key, &v) ?
	       json_object_get_int64(v) : -1;
}

static const char *info_str(const struct vm_entry *e, const char *key)
{
	json_object *v;

	return e->info && json_object_object_get_ex(e->info, key, &v) ?
	       json_object_get_string(v) : "?";
}

static void format_uptime(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		snprintf(buf, len, "?");
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", (long long)s / 60, (long long)s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", (long long)s / 3600,
			 (long long)s / 60 % 60);
	else
		snprintf(buf, len, "%lldd%02lldh", (long long)s / 86400,
			 (long long)s / 3600 % 24);
}

int cmd_ls(int argc, char **argv)
{
	struct vm_entry *vms;
	bool json = false;
	size_t n, i;
	int ret, a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
			fputs(ls_help, stdout);
			return 0;
		} else if (!strcmp(argv[a], "--output") && a + 1 < argc &&
			   (!strcmp(argv[a + 1], "json") || !strcmp(argv[a + 1], "table"))) {
			json = !strcmp(argv[++a], "json");
		} else if (!strcmp(argv[a], "--output=json") || !strcmp(argv[a], "--json")) {
			json = true;
		} else {
			fprintf(stderr, "wirt ls: unexpected argument '%s' "
				"(wirt ls [--output table|json])\n", argv[a]);
			return 2;
		}
	}
	ret = vms_list(&vms, &n);
	if (ret) {
		fprintf(stderr, "wirt ls: cannot read the runtime directory: %s\n",
			strerror(-ret));
		return 1;
	}
	json_object *arr = json ? json_object_new_array() : NULL;
	time_t now = time(NULL);

	if (!json)
		printf("%-20s %8s %-5s %8s %4s %-11s %s\n", "NAME", "PID", "ACCEL",
		       "MEMORY", "CPUS", "STATE", "UPTIME");
	for (i = 0; i < n; i++) {
		char state[32], up[32];
		int64_t started, uptime, mem;

		vm_state(&vms[i], state, sizeof(state));
		vms_reload_info(&vms[i]);
		started = info_int(&vms[i], "started");
		uptime = started > 0 ? now - started : -1;
		mem = info_int(&vms[i], "memory");
		if (json) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(vms[i].name));
			json_object_object_add(o, "pid", json_object_new_int(vms[i].pid));
			json_object_object_add(o, "accel",
					       json_object_new_string(info_str(&vms[i], "accel")));
			json_object_object_add(o, "memory", json_object_new_int64(mem));
			json_object_object_add(o, "cpus",
					       json_object_new_int64(info_int(&vms[i], "cpus")));
			json_object_object_add(o, "state", json_object_new_string(state));
			json_object_object_add(o, "uptime", json_object_new_int64(uptime));
			json_object_object_add(o, "qmp", json_object_new_string(vms[i].qmp));
			json_object_array_add(arr, o);
			continue;
		}
		format_uptime(uptime, up, sizeof(up));
		printf("%-20s %8d %-5s %7lldM %4lld %-11s %s\n", vms[i].name,
		       (int)vms[i].pid, info_str(&vms[i], "accel"),
		       mem < 0 ? -1LL : (long long)(mem >> 20),
		       (long long)info_int(&vms[i], "cpus"), state, up);
	}
	if (json) {
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	}
	vms_free(vms, n);
	free(vms);
	return 0;
}

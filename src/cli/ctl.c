/* `wirt ctl NAME COMMAND`: control a running VM over its QMP socket. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/vms.h"
#include "control/qmp_client.h"

#define CTL_TIMEOUT_MS 10000
#define CTL_KILL_WAIT_MS 10000

static const char ctl_help[] =
	"usage: wirt ctl NAME COMMAND\n"
	"\n"
	"Control the running VM NAME (see wirt ls) over its QMP socket:\n"
	"  status       running, paused or shutdown\n"
	"  pause        stop the vCPUs (QMP stop)\n"
	"  resume       let them run again (QMP cont)\n"
	"  powerdown    press the ACPI power button: the guest shuts down\n"
	"  reset        reset the machine\n"
	"  kill         end the VM at once (QMP quit) and wait until it is gone\n"
	"  qmp JSON     send a QMP request ({\"execute\": ...} or just a command\n"
	"               name) and print the reply\n"
	"  hmp 'CMD'    run a human monitor command (help lists them)\n"
	"Exit status: 0, 1 if the VM refused or is unreachable, 2 on usage errors.\n";

/* Print an error reply's description; true if reply was an error. */
static bool report_error(const char *name, json_object *reply)
{
	json_object *e, *d;

	if (!json_object_object_get_ex(reply, "error", &e))
		return false;
	json_object_object_get_ex(e, "desc", &d);
	fprintf(stderr, "wirt ctl %s: %s\n", name, d ? json_object_get_string(d) : "error");
	return true;
}

/* Gone: the process, or its lock on the runtime directory (a zombie
 * whose parent has not reaped it yet still answers kill 0). */
static int wait_gone(const struct vm_entry *e)
{
	struct vm_entry now;
	int waited;

	for (waited = 0; waited < CTL_KILL_WAIT_MS; waited += 20) {
		if (kill(e->pid, 0) < 0 && errno == ESRCH)
			return 0;
		if (vms_find(e->name, &now))
			return 0;
		vms_free(&now, 1);
		usleep(20000);
	}
	return -ETIMEDOUT;
}

static int run_simple(struct qmp_client *c, const char *name, const char *cmd)
{
	json_object *r = qmp_client_execute(c, cmd, NULL);
	int ret;

	if (!r) {
		fprintf(stderr, "wirt ctl %s: no reply: %s\n", name, strerror(errno));
		return 1;
	}
	ret = report_error(name, r) ? 1 : 0;
	json_object_put(r);
	return ret;
}

int cmd_ctl(int argc, char **argv)
{
	static const struct { const char *verb, *qmp; } simple[] = {
		{ "pause", "stop" }, { "stop", "stop" }, { "resume", "cont" },
		{ "cont", "cont" }, { "powerdown", "system_powerdown" },
		{ "reset", "system_reset" },
	};
	struct vm_entry e;
	struct qmp_client *c;
	const char *name, *verb;
	json_object *r = NULL, *v;
	int ret = 0;
	size_t i;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(ctl_help, stdout);
		return 0;
	}
	if (argc < 3) {
		fputs(ctl_help, stderr);
		return 2;
	}
	name = argv[1];
	verb = argv[2];
	if ((!strcmp(verb, "qmp") || !strcmp(verb, "hmp")) ? argc != 4 : argc != 3) {
		fprintf(stderr, "wirt ctl: '%s' takes %s (see wirt ctl --help)\n", verb,
			argc > 3 ? "no more arguments" : "one argument");
		return 2;
	}
	if (vms_find(name, &e)) {
		fprintf(stderr, "wirt ctl: no VM named '%s' is running (wirt ls lists them)\n",
			name);
		return 1;
	}
	c = qmp_client_open(e.qmp, CTL_TIMEOUT_MS);
	if (!c) {
		fprintf(stderr, "wirt ctl %s: cannot reach its QMP socket %s: %s\n", name,
			e.qmp, strerror(errno));
		vms_free(&e, 1);
		return 1;
	}
	for (i = 0; i < sizeof(simple) / sizeof(simple[0]); i++)
		if (!strcmp(verb, simple[i].verb))
			break;
	if (i < sizeof(simple) / sizeof(simple[0])) {
		ret = run_simple(c, name, simple[i].qmp);
	} else if (!strcmp(verb, "status")) {
		r = qmp_client_execute(c, "query-status", NULL);
		if (r && json_object_object_get_ex(r, "return", &v) &&
		    json_object_object_get_ex(v, "status", &v))
			printf("%s\n", json_object_get_string(v));
		else
			ret = 1;
	} else if (!strcmp(verb, "kill")) {
		ret = run_simple(c, name, "quit");
		qmp_client_close(c);
		c = NULL;
		if (!ret && wait_gone(&e)) {
			fprintf(stderr, "wirt ctl %s: pid %d is still there\n", name, (int)e.pid);
			ret = 1;
		}
	} else if (!strcmp(verb, "hmp")) {
		json_object *args = json_object_new_object();

		json_object_object_add(args, "command-line", json_object_new_string(argv[3]));
		r = qmp_client_execute(c, "human-monitor-command", args);
		if (!r || report_error(name, r))
			ret = 1;
		else if (json_object_object_get_ex(r, "return", &v))
			fputs(json_object_get_string(v), stdout);
	} else if (!strcmp(verb, "qmp")) {
		json_object *req = json_tokener_parse(argv[3]);

		if (!req && argv[3][0] != '{' && argv[3][0] != '[') {
			req = json_object_new_object();
			json_object_object_add(req, "execute", json_object_new_string(argv[3]));
		}
		if (!req) {
			fprintf(stderr, "wirt ctl qmp: '%s' is not JSON\n", argv[3]);
			ret = 2;
		} else {
			r = qmp_client_request(c, req);
			json_object_put(req);
			if (!r)
				ret = 1;
			else
				puts(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE));
			if (r && json_object_object_get_ex(r, "error", NULL))
				ret = 1;
		}
	} else {
		fprintf(stderr, "wirt ctl: unknown command '%s' (see wirt ctl --help)\n", verb);
		ret = 2;
	}
	json_object_put(r);
	qmp_client_close(c);
	vms_free(&e, 1);
	return ret;
}

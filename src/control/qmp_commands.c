/*
 * The QMP commands: request checking (QEMU's error classes and messages
 * for malformed requests, unknown commands and bad arguments) and one
 * handler per command.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "block/block_driver.h"
#include "control/hmp.h"
#include "control/qmp.h"
#include "ui/display.h"
#include "migration/migration.h"
#include "migration/precopy.h"
#include "vm/vm.h"

#ifndef WIRT_VERSION
#define WIRT_VERSION "unknown"
#endif
#ifndef WIRT_RELEASE_MAJOR
#define WIRT_RELEASE_MAJOR 0
#define WIRT_RELEASE_MINOR 1
#endif

json_object *qmp_error(const char *cls, const char *fmt, ...)
{
	json_object *r = json_object_new_object(), *e = json_object_new_object();
	char desc[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(r, "error", e);
	return r;
}

json_object *qmp_version_object(void)
{
	json_object *v = json_object_new_object(), *q = json_object_new_object();

	/* The "qemu" member carries wirt's own release: wirt is not QEMU. */
	json_object_object_add(q, "major", json_object_new_int(WIRT_RELEASE_MAJOR));
	json_object_object_add(q, "minor", json_object_new_int(WIRT_RELEASE_MINOR));
	json_object_object_add(q, "micro", json_object_new_int(0));
	json_object_object_add(v, "qemu", q);
	json_object_object_add(v, "package",
			       json_object_new_string("wirt " WIRT_VERSION));
	return v;
}

/* ---- handlers: return the "return" value, or set *err ---- */

typedef json_object *(*qmp_handler)(struct vm *vm, json_object *args,
				    json_object **err);

static json_object *cmd_query_status(struct vm *vm, json_object *args,
				     json_object **err)
{
	json_object *r = json_object_new_object();
	bool paused = vm_is_paused(vm);
	const char *status = paused ? "paused" : "running";

	/* A reset in progress is not the end: the VM goes on running. */
	enum vm_stop_reason why = __atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE);

	if (why != VM_RUNNING && why != VM_STOP_RESET)
		status = "shutdown", paused = true;
	json_object_object_add(r, "running", json_object_new_boolean(!paused));
	json_object_object_add(r, "status", json_object_new_string(status));
	return r;
}

static json_object *cmd_stop(struct vm *vm, json_object *args, json_object **err)
{
	if (vm_pause(vm) < 0)
		*err = qmp_error("GenericError", "the vCPUs did not stop in time");
	return json_object_new_object();
}

/* file: and exec: are written before the reply (QEMU runs them in the
 * background and reports through query-migrate, which then says
 * completed or failed); tcp: runs in the background, as QEMU's. */
static json_object *cmd_migrate(struct vm *vm, json_object *args, json_object **err)
{
	const char *uri = json_object_get_string(json_object_object_get(args, "uri"));
	char why[256];

	if (migrate_save_uri(vm, uri, why, sizeof(why)) < 0)
		*err = qmp_error("GenericError", "%s", why);
	return json_object_new_object();
}

static void add_int(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

static json_object *cmd_query_migrate(struct vm *vm, json_object *args,
				      json_object **err)
{
	json_object *r = json_object_new_object(), *ram;
	struct migrate_info mi;
	bool done;

	migrate_get_info(&mi);
	if (!strcmp(mi.status, "none"))
		return r;
	done = !strcmp(mi.status, "completed");
	json_object_object_add(r, "status", json_object_new_string(mi.status));
	add_int(r, "total-time", mi.total_time);
	if (mi.live) {
		add_int(r, "setup-time", mi.setup_time);
		if (done)
			add_int(r, "downtime", mi.downtime);
		else
			add_int(r, "expected-downtime", mi.expected_downtime);
	}
	if (mi.error[0])
		json_object_object_add(r, "error-desc", json_object_new_string(mi.error));
	ram = json_object_new_object();
	add_int(ram, "total", vm->mem.ram_size);
	add_int(ram, "transferred", mi.transferred);
	add_int(ram, "remaining", mi.remaining);
	if (mi.live) {
		add_int(ram, "duplicate", mi.duplicate_pages);
		add_int(ram, "normal", mi.normal_pages);
		add_int(ram, "normal-bytes", mi.normal_pages * 4096);
		add_int(ram, "dirty-pages-rate", mi.dirty_pages_rate);
		add_int(ram, "dirty-sync-count", mi.dirty_sync_count);
		add_int(ram, "page-size", 4096);
		json_object_object_add(ram, "mbps", json_object_new_double(mi.mbps));
	}
	json_object_object_add(r, "ram", ram);
	return r;
}

static json_object *cmd_migrate_cancel(struct vm *vm, json_object *args,
				       json_object **err)
{
	precopy_cancel();	/* nothing to cancel: QEMU says nothing either */
	return json_object_new_object();
}

static json_object *cmd_query_migrate_parameters(struct vm *vm, json_object *args,
						 json_object **err)
{
	json_object *r = json_object_new_object();
	struct migrate_params p;

	migrate_get_params(&p);
	add_int(r, "downtime-limit", p.downtime_limit_ms);
	add_int(r, "max-bandwidth", p.max_bandwidth);
	return r;
}

static json_object *cmd_migrate_set_parameters(struct vm *vm, json_object *args,
					       json_object **err)
{
	json_object *dl = json_object_object_get(args, "downtime-limit");
	json_object *bw = json_object_object_get(args, "max-bandwidth");
	struct migrate_params p;

	migrate_get_params(&p);
	if (dl && (json_object_get_int64(dl) < 0 ||
		   json_object_get_int64(dl) > MIGRATE_MAX_DOWNTIME_MS)) {
		*err = qmp_error("GenericError", "Parameter 'downtime_limit' expects an integer in the range of 0 to %d milliseconds",
				 MIGRATE_MAX_DOWNTIME_MS);
		return NULL;
	}
	if (bw && json_object_get_int64(bw) < 0) {
		*err = qmp_error("GenericError", "Parameter 'max_bandwidth' expects a size in bytes per second, 0 or more");
		return NULL;
	}
	if (dl)
		p.downtime_limit_ms = json_object_get_int64(dl);
	if (bw)
		p.max_bandwidth = json_object_get_int64(bw);
	migrate_set_params(&p);
	return json_object_new_object();
}

static json_object *cmd_cont(struct vm *vm, json_object *args, json_object **err)
{
	vm_resume(vm);
	return json_object_new_object();
}

static json_object *cmd_system_powerdown(struct vm *vm, json_object *args,
					 json_object **err)
{
	if (vm_power_button(vm) < 0)
		*err = qmp_error("GenericError", "this machine has no power button");
	return json_object_new_object();
}

static json_object *cmd_system_reset(struct vm *vm, json_object *args,
				     json_object **err)
{
	vm_request_stop_host(vm, VM_STOP_RESET, 0, "host-qmp-system-reset");
	return json_object_new_object();
}

static json_object *cmd_quit(struct vm *vm, json_object *args, json_object **err)
{
	vm_request_stop_host(vm, VM_STOP_EXIT, 0, "host-qmp-quit");
	return json_object_new_object();
}

static json_object *cmd_query_version(struct vm *vm, json_object *args,
				      json_object **err)
{
	return qmp_version_object();
}

static json_object *cmd_query_name(struct vm *vm, json_object *args,
				   json_object **err)
{
	json_object *r = json_object_new_object();

	if (qmp_vm_name)
		json_object_object_add(r, "name", json_object_new_string(qmp_vm_name));
	return r;
}

static json_object *cmd_query_cpus_fast(struct vm *vm, json_object *args,
					json_object **err)
{
	json_object *r = json_object_new_array();
	char path[64];
	unsigned i;

	for (i = 0; i < vm->ncpus; i++) {
		json_object *c = json_object_new_object(), *p = json_object_new_object();

		json_object_object_add(c, "cpu-index", json_object_new_int(i));
		snprintf(path, sizeof(path), "/machine/unattached/device[%u]", i);
		json_object_object_add(c, "qom-path", json_object_new_string(path));
		json_object_object_add(c, "thread-id",
				       json_object_new_int(vm->vcpus[i].tid));
		json_object_object_add(p, "socket-id", json_object_new_int(i));
		json_object_object_add(p, "core-id", json_object_new_int(0));
		json_object_object_add(p, "thread-id", json_object_new_int(0));
		json_object_object_add(c, "props", p);
		json_object_object_add(c, "target", json_object_new_string("x86_64"));
		json_object_array_add(r, c);
	}
	return r;
}

/* query-block: the disks as the command line gave them, probed at start
 * (the sandbox allows no open() later). */
static json_object *block_list;

static void block_list_build(struct vm *vm)
{
	unsigned i;

	block_list = json_object_new_array();
	for (i = 0; i < vm->config->ndisks; i++) {
		const char *spec = vm->config->disks[i].spec;
		const char *comma = strchr(spec, ',');
		size_t flen = comma ? (size_t)(comma - spec) : strlen(spec);
		char *file = strndup(spec, flen), *opts = strdup(comma ? comma + 1 : "");
		const char *fmt = NULL;
		const struct block_driver *drv;
		bool ro = false;
		char *tok, *save, dev[32];
		json_object *d = json_object_new_object(), *ins = json_object_new_object();

		for (tok = strtok_r(opts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (!strncmp(tok, "format=", 7))
				fmt = spec + (comma - spec) + 1 + (tok - opts) + 7;
			else if (!strcmp(tok, "readonly=on"))
				ro = true;
		}
		snprintf(dev, sizeof(dev), "virtio%u", i);
		json_object_object_add(d, "device", json_object_new_string(dev));
		json_object_object_add(d, "locked", json_object_new_boolean(false));
		json_object_object_add(d, "removable", json_object_new_boolean(false));
		json_object_object_add(d, "type", json_object_new_string("unknown"));
		json_object_object_add(ins, "file", json_object_new_string(file));
		json_object_object_add(ins, "ro", json_object_new_boolean(ro));
		if (fmt) {
			const char *end = strchr(fmt, ',');

			json_object_object_add(ins, "drv", json_object_new_string_len(
				fmt, end ? (int)(end - fmt) : (int)strlen(fmt)));
		} else {
			json_object_object_add(ins, "drv", json_object_new_string(
				block_probe(file, &drv) == 0 && drv ? drv->name : "raw"));
		}
		json_object_object_add(d, "inserted", ins);
		json_object_object_add(d, "io-status", json_object_new_string("ok"));
		json_object_array_add(block_list, d);
		free(file);
		free(opts);
	}
}

void qmp_commands_init(struct vm *vm)
{
	if (!block_list)
		block_list_build(vm);
}

static json_object *cmd_query_block(struct vm *vm, json_object *args,
				    json_object **err)
{
	return json_object_get(block_list);
}

static json_object *cmd_query_commands(struct vm *vm, json_object *args,
				       json_object **err);

static json_object *cmd_hmp(struct vm *vm, json_object *args, json_object **err)
{
	json_object *line;
	char *out;

	json_object_object_get_ex(args, "command-line", &line);
	out = hmp_run(vm, json_object_get_string(line));
	line = json_object_new_string(out ? out : "");
	free(out);
	return line;
}

/* screendump filename=F [format=png|ppm] (QEMU's default format: ppm). */
static json_object *cmd_screendump(struct vm *vm, json_object *args,
				   json_object **err)
{
	json_object *file, *fmt = NULL;
	int ret;

	json_object_object_get_ex(args, "filename", &file);
	json_object_object_get_ex(args, "format", &fmt);
	if (!vm->display) {
		*err = qmp_error("GenericError", "no display device (--vga std)");
		return NULL;
	}
	ret = display_screendump(vm->display, json_object_get_string(file),
				 fmt ? json_object_get_string(fmt) : "ppm");
	if (ret == -EINVAL)
		*err = qmp_error("GenericError",
				 "Parameter 'format' does not accept value '%s'",
				 json_object_get_string(fmt));
	else if (ret)
		*err = qmp_error("GenericError", "cannot write %s: %s",
				 json_object_get_string(file), strerror(-ret));
	return ret ? NULL : json_object_new_object();
}

/* x-screen-text: the text of a text-mode screen (wirt's own command). */
static json_object *cmd_screen_text(struct vm *vm, json_object *args,
				    json_object **err)
{
	size_t len = 256 * 133;
	char *buf = malloc(len);
	json_object *text;
	int ret = buf ? -ENODEV : -ENOMEM;

	if (buf && vm->display && vm->display->dev->text)
		ret = vm->display->dev->text(vm->display->dev_opaque, buf, len);
	if (ret) {
		free(buf);
		*err = qmp_error("GenericError", "%s", ret == -ENODEV ?
				 "no display device (--vga std)" :
				 "the screen is not in a text mode");
		return NULL;
	}
	text = json_object_new_string(buf);
	free(buf);
	return text;
}

static json_object *cmd_qmp_capabilities(struct vm *vm, json_object *args,
					 json_object **err)
{
	return json_object_new_object();
}

/* ---- the table ---- */

struct qmp_arg {
	const char *name;
	enum json_type type;
	bool optional;
};

#define QMP_MAX_ARGS 3

static const struct qmp_command {
	const char *name;
	qmp_handler fn;
	struct qmp_arg args[QMP_MAX_ARGS];
} commands[] = {
	{ .name = "qmp_capabilities", .fn = cmd_qmp_capabilities,
	  .args = { { "enable", json_type_array, true } } },
	{ .name = "query-status", .fn = cmd_query_status },
	{ .name = "stop", .fn = cmd_stop },
	{ .name = "cont", .fn = cmd_cont },
	{ .name = "system_powerdown", .fn = cmd_system_powerdown },
	{ .name = "system_reset", .fn = cmd_system_reset },
	{ .name = "quit", .fn = cmd_quit },
	{ .name = "query-version", .fn = cmd_query_version },
	{ .name = "query-name", .fn = cmd_query_name },
	{ .name = "query-cpus-fast", .fn = cmd_query_cpus_fast },
	{ .name = "query-block", .fn = cmd_query_block },
	{ .name = "query-commands", .fn = cmd_query_commands },
	{ .name = "screendump", .fn = cmd_screendump,
	  .args = { { "filename", json_type_string, false },
		    { "format", json_type_string, true },
		    { "device", json_type_string, true } } },
	{ .name = "x-screen-text", .fn = cmd_screen_text },
	{ .name = "migrate", .fn = cmd_migrate,
	  .args = { { "uri", json_type_string, false },
		    { "detach", json_type_boolean, true } } },
	{ .name = "query-migrate", .fn = cmd_query_migrate },
	{ .name = "migrate_cancel", .fn = cmd_migrate_cancel },
	{ .name = "query-migrate-parameters", .fn = cmd_query_migrate_parameters },
	{ .name = "migrate-set-parameters", .fn = cmd_migrate_set_parameters,
	  .args = { { "downtime-limit", json_type_int, true },
		    { "max-bandwidth", json_type_int, true } } },
	{ .name = "human-monitor-command", .fn = cmd_hmp,
	  .args = { { "command-line", json_type_string, false },
		    { "cpu-index", json_type_int, true } } },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static json_object *cmd_query_commands(struct vm *vm, json_object *args,
				       json_object **err)
{
	json_object *r = json_object_new_array();
	size_t i;

	for (i = 0; i < NCOMMANDS; i++) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "name", json_object_new_string(commands[i].name));
		json_object_array_add(r, c);
	}
	return r;
}

static const char *type_name(enum json_type t)
{
	switch (t) {
	case json_type_string: return "string";
	case json_type_int: return "int";
	case json_type_boolean: return "bool";
	case json_type_array: return "array";
	case json_type_object: return "object";
	default: return "value";
	}
}

/* QEMU's messages for arguments that do not fit the command. */
static json_object *check_args(const struct qmp_command *cmd, json_object *args)
{
	const struct qmp_arg *a;
	json_object *v;

	json_object_object_foreach(args, key, val) {
		(void)val;
		for (a = cmd->args; a < cmd->args + QMP_MAX_ARGS && a->name; a++)
			if (!strcmp(a->name, key))
				break;
		if (a == cmd->args + QMP_MAX_ARGS || !a->name)
			return qmp_error("GenericError", "Parameter '%s' is unexpected", key);
	}
	for (a = cmd->args; a < cmd->args + QMP_MAX_ARGS && a->name; a++) {
		if (!json_object_object_get_ex(args, a->name, &v)) {
			if (!a->optional)
				return qmp_error("GenericError", "Parameter '%s' is missing",
						 a->name);
			continue;
		}
		if (!json_object_is_type(v, a->type))
			return qmp_error("GenericError",
					 "Invalid parameter type for '%s', expected: %s",
					 a->name, type_name(a->type));
	}
	return NULL;
}

json_object *qmp_dispatch(struct vm *vm, json_object *req, bool *negotiated)
{
	json_object *exec = NULL, *args = NULL, *err = NULL, *ret, *reply;
	const struct qmp_command *cmd = NULL;
	const char *name;
	size_t i;

	if (!json_object_is_type(req, json_type_object))
		return qmp_error("GenericError", "QMP input must be a JSON object");
	json_object_object_foreach(req, key, val) {
		if (!strcmp(key, "execute")) {
			exec = val;
		} else if (!strcmp(key, "arguments")) {
			args = val;
		} else if (strcmp(key, "id")) {
			return qmp_error("GenericError",
					 "QMP input member '%s' is unexpected", key);
		}
	}
	if (!exec)
		return qmp_error("GenericError", "QMP input lacks member 'execute'");
	if (!json_object_is_type(exec, json_type_string))
		return qmp_error("GenericError",
				 "QMP input member 'execute' must be a string");
	if (args && !json_object_is_type(args, json_type_object))
		return qmp_error("GenericError",
				 "QMP input member 'arguments' must be an object");
	name = json_object_get_string(exec);
	if (!*negotiated && strcmp(name, "qmp_capabilities"))
		return qmp_error("CommandNotFound",
				 "Expecting capabilities negotiation with 'qmp_capabilities'");
	if (*negotiated && !strcmp(name, "qmp_capabilities"))
		return qmp_error("CommandNotFound",
				 "Capabilities negotiation is already complete, command ignored");
	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			cmd = &commands[i];
	if (!cmd)
		return qmp_error("CommandNotFound", "The command %s has not been found",
				 name);
	if (args && (err = check_args(cmd, args)))
		return err;
	if (!args && cmd->args[0].name && !cmd->args[0].optional)
		return qmp_error("GenericError", "Parameter '%s' is missing",
				 cmd->args[0].name);
	if (cmd->fn == cmd_qmp_capabilities) {
		json_object *caps;

		/* No optional capabilities are offered (no "oob"). */
		if (args && json_object_object_get_ex(args, "enable", &caps) &&
		    json_object_array_length(caps))
			return qmp_error("GenericError",
					 "Capability '%s' not available",
					 json_object_get_string(json_object_array_get_idx(caps, 0)));
		*negotiated = true;
	}
	ret = cmd->fn(vm, args, &err);
	if (err) {
		json_object_put(ret);
		return err;
	}
	reply = json_object_new_object();
	json_object_object_add(reply, "return", ret);
	return reply;
}

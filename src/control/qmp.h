/*
 * The QMP monitor: QEMU's machine protocol (JSON over a unix socket) so
 * that tools which speak QMP can drive wirt.  Wire protocol as QEMU
 * documents it (docs/interop/qmp-spec): a greeting, capabilities
 * negotiation, {"execute", "arguments", "id"} requests answered with
 * {"return"} or {"error": {"class", "desc"}}, and asynchronous events with
 * a timestamp.  Runs on the VMM's event loop; several clients at once.
 */
#ifndef WIRT_CONTROL_QMP_H
#define WIRT_CONTROL_QMP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

struct vm;

/* What the monitor tells clients about this VM. */
struct qmp_vm_info {
	const char *name;	/* --name or the generated one; may be NULL */
};

/*
 * Listen on the unix socket path (replacing a stale socket file) and
 * answer clients on vm's event loop.  Must run before the sandbox.
 * 0 or a negative errno (logged).
 */
int qmp_server_create(struct vm *vm, const char *path,
		      const struct qmp_vm_info *info);

/* The longest request a client may send, in bytes; longer: dropped. */
#define QMP_MAX_REQUEST (64 * 1024)

/*
 * Protocol core, without sockets (also for the fuzzer): a session feeds
 * client bytes in and gets reply bytes out through its write function.
 */
struct qmp_session;
typedef void (*qmp_write_fn)(void *opaque, const char *buf, size_t len);

struct qmp_session *qmp_session_new(struct vm *vm, qmp_write_fn write,
				    void *opaque);
void qmp_session_free(struct qmp_session *s);
/* Send the greeting. */
void qmp_session_greet(struct qmp_session *s);
/* Feed bytes; returns 0, or -EMSGSIZE / -EPROTO when the client must be
 * dropped (a reply saying why was written). */
int qmp_session_input(struct qmp_session *s, const char *buf, size_t len);
/* True once qmp_capabilities was accepted (events go only to those). */
bool qmp_session_ready(const struct qmp_session *s);

/*
 * Commands (qmp_commands.c): run one request and return the reply object
 * ({"return": ...} or {"error": ...}) without the id.  negotiated says
 * whether the session is past qmp_capabilities (set on success).
 */
json_object *qmp_dispatch(struct vm *vm, json_object *req, bool *negotiated);

/* Gather what the commands must read before the sandbox (disk formats). */
void qmp_commands_init(struct vm *vm);

/* {"error": {"class": cls, "desc": desc}} */
json_object *qmp_error(const char *cls, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The greeting's and query-version's version object. */
json_object *qmp_version_object(void);

/* The VM's name for query-name (NULL: none). */
extern const char *qmp_vm_name;

#endif

/*
 * A QMP client for wirt's own tools (wirt ls, wirt ctl): connect to a
 * VM's socket, negotiate, run commands; events on the way are skipped.
 */
#ifndef WIRT_CONTROL_QMP_CLIENT_H
#define WIRT_CONTROL_QMP_CLIENT_H

#include <json-c/json.h>

struct qmp_client;

/* Connect and negotiate within timeout_ms; NULL with errno set. */
struct qmp_client *qmp_client_open(const char *path, int timeout_ms);
void qmp_client_close(struct qmp_client *c);

/* Send req (a request object); the reply, or NULL (errno set). */
json_object *qmp_client_request(struct qmp_client *c, json_object *req);

/* Execute a command with optional arguments (reference taken). */
json_object *qmp_client_execute(struct qmp_client *c, const char *name,
				json_object *args);

#endif

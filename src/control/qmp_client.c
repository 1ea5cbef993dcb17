/* A QMP client for wirt ls and wirt ctl (qmp_client.h). */
#include "control/qmp_client.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct qmp_client {
	int fd;
	int timeout_ms;
	json_tokener *tok;
	char buf[4096];
	size_t off, len;  /* unparsed bytes in buf */
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* The next message from the VM, or NULL (errno set). */
static json_object *client_recv(struct qmp_client *c)
{
	long long deadline = now_ms() + c->timeout_ms;

	for (;;) {
		while (c->off < c->len) {
			json_object *o;
			enum json_tokener_error e;
			size_t used;

			while (c->off < c->len && strchr(" \t\r\n", c->buf[c->off]))
				c->off++;
			if (c->off == c->len)
				break;
			o = json_tokener_parse_ex(c->tok, c->buf + c->off,
						  (int)(c->len - c->off));
			e = json_tokener_get_error(c->tok);
			if (e == json_tokener_continue) {
				c->off = c->len;
				break;
			}
			used = json_tokener_get_parse_end(c->tok);
			c->off += used ? used : 1;
			json_tokener_reset(c->tok);
			if (e != json_tokener_success) {
				errno = EPROTO;
				return NULL;
			}
			return o;
		}
		c->off = c->len = 0;
		long long left = deadline - now_ms();
		struct pollfd p = { c->fd, POLLIN, 0 };

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			errno = ETIMEDOUT;
			return NULL;
		}
		ssize_t n = recv(c->fd, c->buf, sizeof(c->buf), 0);

		if (n <= 0) {
			errno = n ? errno : ECONNRESET;
			return NULL;
		}
		c->len = n;
	}
}

json_object *qmp_client_request(struct qmp_client *c, json_object *req)
{
	const char *txt = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(txt);
	char *line = malloc(len + 1);
	json_object *o;
	ssize_t n;

	/* One send: the VM may act on the object (quit) before a newline. */
	if (!line)
		return NULL;
	memcpy(line, txt, len);
	line[len] = '\n';
	n = send(c->fd, line, len + 1, MSG_NOSIGNAL);
	free(line);
	if (n != (ssize_t)len + 1)
		return NULL;
	for (;;) {
		o = client_recv(c);
		if (!o || !json_object_object_get_ex(o, "event", NULL))
			return o;
		json_object_put(o); /* an event: not what we wait for */
	}
}

json_object *qmp_client_execute(struct qmp_client *c, const char *name,
				json_object *args)
{
	json_object *req = json_object_new_object(), *r;

	json_object_object_add(req, "execute", json_object_new_string(name));
	if (args)
		json_object_object_add(req, "arguments", args);
	r = qmp_client_request(c, req);
	json_object_put(req);
	return r;
}

void qmp_client_close(struct qmp_client *c)
{
	if (!c)
		return;
	close(c->fd);
	json_tokener_free(c->tok);
	free(c);
}

struct qmp_client *qmp_client_open(const char *path, int timeout_ms)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct qmp_client *c;
	json_object *g, *r;
	int err;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(addr.sun_path, path);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = -1;
	c->timeout_ms = timeout_ms;
	c->tok = json_tokener_new();
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!c->tok || c->fd < 0 ||
	    connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto fail;
	g = client_recv(c);
	if (!g)
		goto fail;
	if (!json_object_object_get_ex(g, "QMP", NULL)) {
		json_object_put(g);
		errno = EPROTO;
		goto fail;
	}
	json_object_put(g);
	r = qmp_client_execute(c, "qmp_capabilities", NULL);
	if (!r)
		goto fail;
	if (!json_object_object_get_ex(r, "return", NULL)) {
		json_object_put(r);
		errno = EPROTO;
		goto fail;
	}
	json_object_put(r);
	return c;
fail:
	err = errno;
	if (c->fd >= 0)
		close(c->fd);
	if (c->tok)
		json_tokener_free(c->tok);
	free(c);
	errno = err;
	return NULL;
}

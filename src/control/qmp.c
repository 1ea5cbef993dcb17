/*
 * The QMP monitor's wire protocol and its unix-socket server (qmp.h).
 *
 * Requests are a stream of JSON objects, not lines: json-c's incremental
 * tokener splits them, so an object may arrive in pieces or several in one
 * read.  A request that grows past QMP_MAX_REQUEST ends its client; a
 * syntax error is answered and the rest of that line is skipped.
 *
 * Threads: client sockets are served on the event loop thread; events come
 * from any thread (vCPUs powering off, the monitor's own stop).  srv.lock
 * guards the client list and every client's output buffer; commands run
 * without it, so a command that emits an event does not deadlock.  Only
 * the loop thread touches the sockets (the sandbox gives vCPU threads no
 * socket calls): elsewhere output is queued and an eventfd wakes the loop.
 */
#include "control/qmp.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "util/log.h"
#include "vm/vm.h"

#define QMP_MAX_CLIENTS 32
#define QMP_MAX_OUTPUT (4 << 20)  /* a client that reads nothing is dropped */

struct qmp_session {
	struct vm *vm;
	qmp_write_fn write;
	void *opaque;
	json_tokener *tok;
	size_t pending;   /* bytes of the request being read */
	bool skip_line;   /* after a syntax error: drop input up to '\n' */
	bool negotiated;
};

struct qmp_session *qmp_session_new(struct vm *vm, qmp_write_fn write,
				    void *opaque)
{
	struct qmp_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->tok = json_tokener_new_ex(64);
	if (!s->tok) {
		free(s);
		return NULL;
	}
	s->vm = vm;
	s->write = write;
	s->opaque = opaque;
	return s;
}

void qmp_session_free(struct qmp_session *s)
{
	if (!s)
		return;
	json_tokener_free(s->tok);
	free(s);
}

bool qmp_session_ready(const struct qmp_session *s)
{
	return __atomic_load_n(&s->negotiated, __ATOMIC_ACQUIRE);
}

/* Serialise obj as one line ending in CRLF, as QEMU does. */
static void session_send(struct qmp_session *s, json_object *obj)
{
	size_t len;
	const char *txt = json_object_to_json_string_length(obj,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	char *line = malloc(len + 2);

	if (!line)
		return;
	memcpy(line, txt, len);
	memcpy(line + len, "\r\n", 2);
	s->write(s->opaque, line, len + 2);
	free(line);
}

void qmp_session_greet(struct qmp_session *s)
{
	json_object *g = json_object_new_object(), *q = json_object_new_object();

	json_object_object_add(q, "version", qmp_version_object());
	json_object_object_add(q, "capabilities", json_object_new_array());
	json_object_object_add(g, "QMP", q);
	session_send(s, g);
	json_object_put(g);
}

static void session_request(struct qmp_session *s, json_object *req)
{
	json_object *reply, *id = NULL;
	bool negotiated = s->negotiated;

	if (json_object_is_type(req, json_type_object) &&
	    json_object_object_get_ex(req, "id", &id))
		json_object_get(id);
	reply = qmp_dispatch(s->vm, req, &negotiated);
	if (negotiated != s->negotiated)
		__atomic_store_n(&s->negotiated, negotiated, __ATOMIC_RELEASE);
	if (id)
		json_object_object_add(reply, "id", id);
	session_send(s, reply);
	json_object_put(reply);
}

static void session_parse_error(struct qmp_session *s, enum json_tokener_error e)
{
	json_object *err = qmp_error("GenericError", "JSON parse error, %s",
				     json_tokener_error_desc(e));

	session_send(s, err);
	json_object_put(err);
}

int qmp_session_input(struct qmp_session *s, const char *buf, size_t len)
{
	while (len) {
		json_object *obj;
		enum json_tokener_error e;
		size_t used;

		if (s->skip_line) {
			const char *nl = memchr(buf, '\n', len);

			if (!nl)
				return 0;
			s->skip_line = false;
			len -= nl + 1 - buf;
			buf = nl + 1;
			continue;
		}
		if (!s->pending) {
			while (len && isspace((unsigned char)*buf)) {
				buf++;
				len--;
			}
			if (!len)
				return 0;
		}
		obj = json_tokener_parse_ex(s->tok, buf,
					    len > INT32_MAX ? INT32_MAX : (int)len);
		e = json_tokener_get_error(s->tok);
		if (e == json_tokener_continue) {
			s->pending += len;
			if (s->pending > QMP_MAX_REQUEST)
				goto too_long;
			return 0;
		}
		used = json_tokener_get_parse_end(s->tok);
		if (used > len)
			used = len;
		if (!used)
			used = 1; /* an error at the first byte: the skip finds '\n' */
		json_tokener_reset(s->tok);
		if (s->pending + used > QMP_MAX_REQUEST) {
			json_object_put(obj);
			goto too_long;
		}
		s->pending = 0;
		if (e != json_tokener_success) {
			session_parse_error(s, e);
			s->skip_line = true;
		} else {
			session_request(s, obj);
			json_object_put(obj);
		}
		buf += used;
		len -= used;
	}
	return 0;

too_long: {
		json_object *err = qmp_error("GenericError",
			"JSON request longer than %d bytes; closing the connection",
			QMP_MAX_REQUEST);

		session_send(s, err);
		json_object_put(err);
		return -EMSGSIZE;
	}
}

/* ---- the server ---- */

struct qmp_client {
	struct qmp_client *next;
	int fd;
	struct qmp_session *session;
	char *out;
	size_t out_len, out_cap;
	bool want_out;  /* EPOLLOUT is on */
	bool broken;    /* write failed or too much queued: drop it */
};

static struct {
	struct vm *vm;
	int listen_fd;
	int kick_fd;		/* eventfd: output queued off the loop thread */
	bool kicked;		/* written and not yet read; under lock */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_mutex_t lock;
	struct qmp_client *clients;
	unsigned nclients;
} srv = { .listen_fd = -1, .kick_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

/* Set in this file's event loop callbacks: the thread may use sockets. */
static __thread bool on_loop_thread;

/* Off the loop thread: have it flush; called with srv.lock held. */
static void kick_loop(void)
{
	uint64_t one = 1;

	if (srv.kicked || srv.kick_fd < 0)
		return;
	srv.kicked = true;
	if (write(srv.kick_fd, &one, sizeof(one)) < 0)
		srv.kicked = false;
}

const char *qmp_vm_name;

/* Write what is queued; called with srv.lock held. */
static void client_flush(struct qmp_client *c)
{
	size_t done = 0;
	bool want;

	while (done < c->out_len && !c->broken) {
		ssize_t n = send(c->fd, c->out + done, c->out_len - done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0)
			done += n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		else
			c->broken = true;
	}
	memmove(c->out, c->out + done, c->out_len - done);
	c->out_len -= done;
	if (c->broken) {
		/* Wake the loop thread, which frees the client. */
		shutdown(c->fd, SHUT_RDWR);
		return;
	}
	want = c->out_len > 0;
	if (want != c->want_out) {
		c->want_out = want;
		event_loop_mod_fd(srv.vm->loop, c->fd,
				  EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0));
	}
}

/* Mark a client for dropping; called with srv.lock held. */
static void client_break(struct qmp_client *c)
{
	c->broken = true;
	if (on_loop_thread)
		shutdown(c->fd, SHUT_RDWR); /* the loop then drops it */
	else
		kick_loop();
}

/* Queue and send; called with srv.lock held. */
static void client_queue(struct qmp_client *c, const char *buf, size_t len)
{
	if (c->broken)
		return;
	if (c->out_len + len > QMP_MAX_OUTPUT) {
		log_warn("QMP: a client reads nothing; dropping it");
		client_break(c);
		return;
	}
	if (c->out_len + len > c->out_cap) {
		size_t cap = (c->out_len + len) * 2;
		char *p = realloc(c->out, cap);

		if (!p) {
			client_break(c);
			return;
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	if (on_loop_thread)
		client_flush(c);
	else
		kick_loop();
}

/* The kick eventfd: flush what other threads queued. */
static void server_on_kick(void *opaque, uint32_t events)
{
	struct qmp_client *c;
	uint64_t n;

	on_loop_thread = true;
	pthread_mutex_lock(&srv.lock);
	if (read(srv.kick_fd, &n, sizeof(n)) < 0)
		n = 0;
	srv.kicked = false;
	for (c = srv.clients; c; c = c->next) {
		if (c->broken)
			shutdown(c->fd, SHUT_RDWR);
		else
			client_flush(c);
	}
	pthread_mutex_unlock(&srv.lock);
}

static void client_write(void *opaque, const char *buf, size_t len)
{
	pthread_mutex_lock(&srv.lock);
	client_queue(opaque, buf, len);
	pthread_mutex_unlock(&srv.lock);
}

/* Loop thread only: unlink and free. */
static void client_drop(struct qmp_client *c)
{
	struct qmp_client **pp;

	event_loop_remove_fd(srv.vm->loop, c->fd);
	pthread_mutex_lock(&srv.lock);
	for (pp = &srv.clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			srv.nclients--;
			break;
		}
	pthread_mutex_unlock(&srv.lock);
	close(c->fd);
	qmp_session_free(c->session);
	free(c->out);
	free(c);
}

static void client_on_event(void *opaque, uint32_t events)
{
	struct qmp_client *c = opaque;
	char buf[4096];
	ssize_t n;

	on_loop_thread = true;
	if (events & EPOLLOUT) {
		pthread_mutex_lock(&srv.lock);
		client_flush(c);
		pthread_mutex_unlock(&srv.lock);
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0 || c->broken) {
			client_drop(c);
			return;
		}
		if (qmp_session_input(c->session, buf, n) < 0 || c->broken)
			client_drop(c);
	}
}

static void server_on_accept(void *opaque, uint32_t events)
{
	struct qmp_client *c;
	int fd;

	on_loop_thread = true;
	fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (srv.nclients >= QMP_MAX_CLIENTS) {
		log_warn("QMP: more than %d clients; refusing one", QMP_MAX_CLIENTS);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c || !(c->session = qmp_session_new(srv.vm, client_write, c))) {
		free(c);
		close(fd);
		return;
	}
	c->fd = fd;
	pthread_mutex_lock(&srv.lock);
	c->next = srv.clients;
	srv.clients = c;
	srv.nclients++;
	pthread_mutex_unlock(&srv.lock);
	if (event_loop_add_fd(srv.vm->loop, fd, EPOLLIN | EPOLLRDHUP,
			      client_on_event, c) < 0) {
		client_drop(c);
		return;
	}
	qmp_session_greet(c->session);
}

static const char *event_names[] = {
	[VM_EVENT_STOP] = "STOP",
	[VM_EVENT_RESUME] = "RESUME",
	[VM_EVENT_SHUTDOWN] = "SHUTDOWN",
	[VM_EVENT_POWERDOWN] = "POWERDOWN",
	[VM_EVENT_RESET] = "RESET",
};

/* vm->event_fn: send the event to every negotiated client. */
static void qmp_on_vm_event(void *opaque, enum vm_event ev, bool guest,
			    const char *why)
{
	json_object *e = json_object_new_object(), *ts = json_object_new_object();
	struct qmp_client *c;
	struct timeval tv;
	const char *txt;
	size_t len;
	char *line;

	gettimeofday(&tv, NULL);
	json_object_object_add(ts, "seconds", json_object_new_int64(tv.tv_sec));
	json_object_object_add(ts, "microseconds", json_object_new_int64(tv.tv_usec));
	json_object_object_add(e, "timestamp", ts);
	json_object_object_add(e, "event", json_object_new_string(event_names[ev]));
	if (ev == VM_EVENT_SHUTDOWN || ev == VM_EVENT_RESET) {
		json_object *d = json_object_new_object();

		json_object_object_add(d, "guest", json_object_new_boolean(guest));
		json_object_object_add(d, "reason", json_object_new_string(why));
		json_object_object_add(e, "data", d);
	}
	txt = json_object_to_json_string_length(e, JSON_C_TO_STRING_PLAIN |
		JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	line = malloc(len + 2);
	if (line) {
		memcpy(line, txt, len);
		memcpy(line + len, "\r\n", 2);
		pthread_mutex_lock(&srv.lock);
		for (c = srv.clients; c; c = c->next)
			if (qmp_session_ready(c->session))
				client_queue(c, line, len + 2);
		pthread_mutex_unlock(&srv.lock);
		free(line);
	}
	json_object_put(e);
}

/* At exit (the loop is stopped): send what is queued, briefly, and close. */
static void qmp_server_destroy(void *opaque)
{
	struct qmp_client *c, *next;
	int tries;

	srv.vm->event_fn = NULL;
	/* The loop has stopped: this (main) thread sends what is left. */
	on_loop_thread = true;
	for (c = srv.clients; c; c = next) {
		next = c->next;
		for (tries = 0; c->out_len && !c->broken && tries < 10; tries++) {
			struct pollfd p = { c->fd, POLLOUT, 0 };

			poll(&p, 1, 50);
			client_flush(c);
		}
		close(c->fd);
		qmp_session_free(c->session);
		free(c->out);
		free(c);
	}
	srv.clients = NULL;
	if (srv.listen_fd >= 0) {
		close(srv.listen_fd);
		unlink(srv.path);
		srv.listen_fd = -1;
	}
	if (srv.kick_fd >= 0) {
		close(srv.kick_fd);
		srv.kick_fd = -1;
	}
}

int qmp_server_create(struct vm *vm, const char *path,
		      const struct qmp_vm_info *info)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("--qmp %s: a unix socket path has at most %zu characters",
			  path, sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A socket file left by a wirt that was killed is replaced; one that
	 * a live process listens on is not taken from it. */
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode)) {
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 ||
		    errno == EAGAIN) {
			log_error("--qmp %s: another process listens on that socket",
				  path);
			close(fd);
			return -EADDRINUSE;
		}
		close(fd);
		unlink(path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, 16) < 0) {
		ret = -errno;
		log_error("--qmp %s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	srv.vm = vm;
	srv.listen_fd = fd;
	strcpy(srv.path, path);
	qmp_vm_name = info ? info->name : NULL;
	srv.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ret = srv.kick_fd < 0 ? -errno : 0;
	if (!ret)
		ret = event_loop_add_fd(vm->loop, fd, EPOLLIN, server_on_accept, NULL);
	if (!ret)
		ret = event_loop_add_fd(vm->loop, srv.kick_fd, EPOLLIN, server_on_kick, NULL);
	if (ret) {
		event_loop_remove_fd(vm->loop, fd);
		close(fd);
		unlink(path);
		srv.listen_fd = -1;
		if (srv.kick_fd >= 0)
			close(srv.kick_fd);
		srv.kick_fd = -1;
		return ret;
	}
	vm_add_device(vm, &(struct device_hooks){ .destroy = qmp_server_destroy });
	vm->event_opaque = NULL;
	__atomic_store_n(&vm->event_fn, qmp_on_vm_event, __ATOMIC_RELEASE);
	log_info("QMP monitor on %s", path);
	return 0;
}

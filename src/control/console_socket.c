/*
 * The console socket (console_socket.h).  The guest writes on vCPU
 * threads, which the sandbox gives no socket calls: output is queued per
 * client and an eventfd has the loop thread send it.  A client that does
 * not keep up loses output rather than slowing the guest.
 */
#include "control/console_socket.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ui/console.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "vm/vm.h"

#define MAX_CLIENTS 8
#define CLIENT_BUF 65536	/* output queued for one client */

static struct {
	struct vm *vm;
	int listen_fd;
	int kick_fd;		/* eventfd: output queued */
	bool kicked;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_mutex_t lock;
	int fds[MAX_CLIENTS];	/* -1: free */
	char *out[MAX_CLIENTS];
	size_t out_len[MAX_CLIENTS];
} cs = { .listen_fd = -1, .kick_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

/* Guest output, on any thread: queue it and wake the loop. */
static void tap(const void *buf, size_t len)
{
	uint64_t one = 1;
	size_t n;
	int i;

	pthread_mutex_lock(&cs.lock);
	for (i = 0; i < MAX_CLIENTS; i++) {
		if (cs.fds[i] < 0)
			continue;
		n = CLIENT_BUF - cs.out_len[i];
		if (n > len)
			n = len;
		memcpy(cs.out[i] + cs.out_len[i], buf, n);
		cs.out_len[i] += n;
		if (n && !cs.kicked) {
			cs.kicked = true;
			if (write(cs.kick_fd, &one, sizeof(one)) < 0)
				cs.kicked = false;
		}
	}
	pthread_mutex_unlock(&cs.lock);
}

/* The loop thread: send what is queued. */
static void on_kick(void *opaque, uint32_t events)
{
	uint64_t n;
	ssize_t sent;
	int i;

	pthread_mutex_lock(&cs.lock);
	if (read(cs.kick_fd, &n, sizeof(n)) < 0)
		n = 0;
	cs.kicked = false;
	for (i = 0; i < MAX_CLIENTS; i++) {
		if (cs.fds[i] < 0 || !cs.out_len[i])
			continue;
		sent = send(cs.fds[i], cs.out[i], cs.out_len[i],
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			shutdown(cs.fds[i], SHUT_RDWR); /* its callback drops it */
		/* Whatever did not go is lost: the guest does not wait. */
		cs.out_len[i] = 0;
	}
	pthread_mutex_unlock(&cs.lock);
}

static void drop(int slot)
{
	int fd;

	pthread_mutex_lock(&cs.lock);
	fd = cs.fds[slot];
	cs.fds[slot] = -1;
	pthread_mutex_unlock(&cs.lock);
	event_loop_remove_fd(cs.vm->loop, fd);
	close(fd);
}

static void on_client(void *opaque, uint32_t events)
{
	int slot = (int)(intptr_t)opaque;
	uint8_t buf[1024];
	ssize_t n = recv(cs.fds[slot], buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop(slot);
		return;
	}
	console_inject(buf, n);
}

static void on_accept(void *opaque, uint32_t events)
{
	int fd = accept4(cs.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int i;

	if (fd < 0)
		return;
	pthread_mutex_lock(&cs.lock);
	for (i = 0; i < MAX_CLIENTS && cs.fds[i] >= 0; i++)
		;
	if (i < MAX_CLIENTS) {
		cs.fds[i] = fd;
		cs.out_len[i] = 0;
	}
	pthread_mutex_unlock(&cs.lock);
	if (i == MAX_CLIENTS) {
		close(fd);
		return;
	}
	if (event_loop_add_fd(cs.vm->loop, fd, EPOLLIN | EPOLLRDHUP, on_client,
			      (void *)(intptr_t)i) < 0)
		drop(i);
}

static void console_socket_destroy(void *opaque)
{
	int i;

	console_set_output_tap(NULL);
	for (i = 0; i < MAX_CLIENTS; i++)
		if (cs.fds[i] >= 0) {
			close(cs.fds[i]);
			cs.fds[i] = -1;
		}
	if (cs.listen_fd >= 0) {
		event_loop_remove_fd(cs.vm->loop, cs.listen_fd);
		close(cs.listen_fd);
		unlink(cs.path);
		cs.listen_fd = -1;
	}
	if (cs.kick_fd >= 0) {
		event_loop_remove_fd(cs.vm->loop, cs.kick_fd);
		close(cs.kick_fd);
		cs.kick_fd = -1;
	}
	for (i = 0; i < MAX_CLIENTS; i++) {
		free(cs.out[i]);
		cs.out[i] = NULL;
	}
}

int console_socket_create(struct vm *vm, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret = 0, i;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, path);
	/* A socket file nobody listens on is stale (a killed wirt's); one
	 * that answers belongs to a running program, which keeps it. */
	if (!lstat(path, &st) && S_ISSOCK(st.st_mode)) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			close(fd);
			log_error("console socket %s: another program listens there", path);
			return -EADDRINUSE;
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 4) < 0) {
		ret = -errno;
		log_error("console socket %s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	for (i = 0; i < MAX_CLIENTS; i++) {
		cs.fds[i] = -1;
		cs.out[i] = malloc(CLIENT_BUF);
		if (!cs.out[i])
			ret = -ENOMEM;
	}
	cs.vm = vm;
	cs.listen_fd = fd;
	strcpy(cs.path, path);
	cs.kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (cs.kick_fd < 0)
		ret = -errno;
	if (!ret)
		ret = event_loop_add_fd(vm->loop, fd, EPOLLIN, on_accept, NULL);
	if (!ret)
		ret = event_loop_add_fd(vm->loop, cs.kick_fd, EPOLLIN, on_kick, NULL);
	if (ret) {
		console_socket_destroy(NULL);
		return ret;
	}
	vm_add_device(vm, &(struct device_hooks){ .destroy = console_socket_destroy });
	console_set_output_tap(tap);
	return 0;
}

/* The event loop thread: epoll over registered file descriptors. */
#include "util/event_loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sandbox.h"

#define MAX_WATCHES 256

struct watch {
	int fd;
	event_fn fn;
	void *opaque;
};

struct event_loop {
	int epfd;
	int wake_fd; /* tells the thread to stop */
	pthread_t thread;
	int started;
	pthread_mutex_t lock;
	struct watch *watches[MAX_WATCHES];
};

struct event_loop *event_loop_create(void)
{
	struct event_loop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!loop)
		return NULL;
	pthread_mutex_init(&loop->lock, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->epfd < 0 || loop->wake_fd < 0)
		goto fail;
	ev.data.ptr = NULL; /* NULL marks the wake-up fd */
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wake_fd, &ev) < 0)
		goto fail;
	return loop;
fail:
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	free(loop);
	return NULL;
}

void event_loop_destroy(struct event_loop *loop)
{
	int i;

	if (!loop)
		return;
	event_loop_stop(loop);
	for (i = 0; i < MAX_WATCHES; i++)
		free(loop->watches[i]);
	close(loop->epfd);
	close(loop->wake_fd);
	free(loop);
}

static int find_watch(struct event_loop *loop, int fd)
{
	int i;

	for (i = 0; i < MAX_WATCHES; i++)
		if (loop->watches[i] && loop->watches[i]->fd == fd)
			return i;
	return -1;
}

int event_loop_add_fd(struct event_loop *loop, int fd, uint32_t events,
		      event_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = events };
	struct watch *w;
	int i, ret = 0;

	pthread_mutex_lock(&loop->lock);
	if (find_watch(loop, fd) >= 0) {
		ret = -EEXIST;
		goto out;
	}
	for (i = 0; i < MAX_WATCHES && loop->watches[i]; i++)
		;
	w = i < MAX_WATCHES ? malloc(sizeof(*w)) : NULL;
	if (!w) {
		ret = -ENOSPC;
		goto out;
	}
	*w = (struct watch){ fd, fn, opaque };
	ev.data.ptr = w;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		free(w);
		goto out;
	}
	loop->watches[i] = w;
out:
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

int event_loop_mod_fd(struct event_loop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };
	int i, ret = 0;

	pthread_mutex_lock(&loop->lock);
	i = find_watch(loop, fd);
	if (i < 0) {
		ret = -ENOENT;
	} else {
		ev.data.ptr = loop->watches[i];
		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			ret = -errno;
	}
	pthread_mutex_unlock(&loop->lock);
	return ret;
}

/*
 * Only call from the loop thread or while the loop is stopped: the watch is
 * freed at once, and another thread could be about to call it.
 */
void event_loop_remove_fd(struct event_loop *loop, int fd)
{
	int i;

	pthread_mutex_lock(&loop->lock);
	i = find_watch(loop, fd);
	if (i >= 0) {
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		free(loop->watches[i]);
		loop->watches[i] = NULL;
	}
	pthread_mutex_unlock(&loop->lock);
}

static void *event_loop_thread(void *arg)
{
	struct event_loop *loop = arg;
	struct epoll_event evs[32];

	pthread_setname_np(pthread_self(), "event loop");
	sandbox_selftest();
	for (;;) {
		int i, n = epoll_wait(loop->epfd, evs, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("event loop: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (i = 0; i < n; i++) {
			struct watch *w = evs[i].data.ptr;

			if (!w)
				return NULL; /* stop requested */
			w->fn(w->opaque, evs[i].events);
		}
	}
}

int event_loop_start(struct event_loop *loop)
{
	int ret = pthread_create(&loop->thread, NULL, event_loop_thread, loop);

	if (ret)
		return -ret;
	loop->started = 1;
	return 0;
}

void event_loop_stop(struct event_loop *loop)
{
	uint64_t one = 1;

	if (!loop->started)
		return;
	if (write(loop->wake_fd, &one, sizeof(one)) < 0)
		log_error("event loop: cannot wake: %s", strerror(errno));
	pthread_join(loop->thread, NULL);
	loop->started = 0;
}

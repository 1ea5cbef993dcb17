/*
 * The event loop: one thread waiting on file descriptors with epoll, for
 * device back ends, the console and (later) the monitor.  Callbacks run on
 * the loop thread.
 */
#ifndef WIRT_UTIL_EVENT_LOOP_H
#define WIRT_UTIL_EVENT_LOOP_H

#include <stdint.h>

struct event_loop;

/* events is a mask of EPOLLIN/EPOLLOUT/...; called on the loop thread. */
typedef void (*event_fn)(void *opaque, uint32_t events);

struct event_loop *event_loop_create(void);
void event_loop_destroy(struct event_loop *loop);

/* Watch fd; -EEXIST if already watched. Safe from any thread. */
int event_loop_add_fd(struct event_loop *loop, int fd, uint32_t events,
		      event_fn fn, void *opaque);
int event_loop_mod_fd(struct event_loop *loop, int fd, uint32_t events);
void event_loop_remove_fd(struct event_loop *loop, int fd);

/* Start/stop the loop thread. */
int event_loop_start(struct event_loop *loop);
void event_loop_stop(struct event_loop *loop);

#endif

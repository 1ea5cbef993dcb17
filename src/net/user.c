/*
 * The user back end: NAT to the host's networks without privileges, by
 * libslirp (DHCP, DNS, TCP/UDP NAT, port forwarding).
 *
 *   user[,net=10.0.2.0/24][,host=IP][,dns=IP][,dhcpstart=IP][,restrict=on]
 *       [,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
 *
 * libslirp is not thread-safe: one lock guards every call into it, and
 * one thread polls its sockets and runs its timers.  Frames libslirp
 * sends to the guest are queued and delivered after that lock is
 * dropped, because the front end's lock is taken in the other order when
 * the guest transmits.
 */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <slirp/libslirp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sandbox.h"

#define MAX_POLLFDS 1024
#define RXQ_MAX 1024

struct user_timer {
	struct user_timer *next;
	SlirpTimerCb cb;
	void *cb_opaque;
	int64_t expire_ms;           /* -1: not armed */
};

#define MAX_HOSTFWDS 16

struct rx_frame {
	struct rx_frame *next;
	size_t len;
	uint8_t data[];
};

struct net_user {
	struct net_backend *nb;
	Slirp *slirp;
	pthread_mutex_t lock;        /* libslirp and timers */
	pthread_t thread;
	bool thread_started;
	int wake_fd;
	bool stop;
	struct user_timer *timers;
	struct pollfd pfds[MAX_POLLFDS];
	unsigned npfds;
	/* Frames for the guest, delivered outside the lock. */
	pthread_mutex_t rx_lock;
	struct rx_frame *rx_head, **rx_tail;
	unsigned rx_count;
	struct in_addr guest_addr;   /* default target of hostfwd */
	/* hostfwd= forwards; listening unless handed to a migration's
	 * other side (user_host_ports). */
	struct user_fwd {
		int udp, host_port, guest_port;
		struct in_addr host, guest;
	} fwds[MAX_HOSTFWDS];
	unsigned nfwds;
	bool fwds_listening;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

static void wake(struct net_user *u)
{
	uint64_t one = 1;

	if (write(u->wake_fd, &one, sizeof(one)) < 0)
		log_warn_once("net user: cannot wake the slirp thread: %m");
}

/* libslirp callbacks (called with u->lock held). */
static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_user *u = opaque;
	struct rx_frame *f;

	pthread_mutex_lock(&u->rx_lock);
	if (u->rx_count == RXQ_MAX || !(f = malloc(sizeof(*f) + len))) {
		pthread_mutex_unlock(&u->rx_lock);
		__atomic_add_fetch(&u->nb->stats.rx_dropped, 1, __ATOMIC_RELAXED);
		return len;
	}
	f->next = NULL;
	f->len = len;
	memcpy(f->data, buf, len);
	*u->rx_tail = f;
	u->rx_tail = &f->next;
	u->rx_count++;
	pthread_mutex_unlock(&u->rx_lock);
	wake(u);
	return len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	log_warn_once("net user: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return now_ns();
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct net_user *u = opaque;
	struct user_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->cb = cb;
	t->cb_opaque = cb_opaque;
	t->expire_ms = -1;
	t->next = u->timers;
	u->timers = t;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct net_user *u = opaque;
	struct user_timer **p;

	for (p = &u->timers; *p; p = &(*p)->next) {
		if (*p == timer) {
			*p = ((struct user_timer *)timer)->next;
			free(timer);
			return;
		}
	}
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	((struct user_timer *)timer)->expire_ms = expire_ms;
	wake(opaque);
}

static void cb_register_poll_fd(int fd, void *opaque) { }
static void cb_unregister_poll_fd(int fd, void *opaque) { }

static void cb_notify(void *opaque)
{
	wake(opaque);
}

static const SlirpCb callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
};

static int add_poll(int fd, int events, void *opaque)
{
	struct net_user *u = opaque;
	short ev = 0;

	if (u->npfds == MAX_POLLFDS)
		return -1;
	if (events & SLIRP_POLL_IN)
		ev |= POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= POLLPRI;
	u->pfds[u->npfds] = (struct pollfd){ .fd = fd, .events = ev };
	return u->npfds++;
}

static int get_revents(int idx, void *opaque)
{
	struct net_user *u = opaque;
	short r;
	int ev = 0;

	if (idx < 0 || (unsigned)idx >= u->npfds)
		return 0;
	r = u->pfds[idx].revents;
	if (r & POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & POLLERR)
		ev |= SLIRP_POLL_ERR;
	if (r & POLLHUP)
		ev |= SLIRP_POLL_HUP;
	return ev;
}

/* Run expired timers; returns ms until the next one (or max). */
static uint32_t run_timers(struct net_user *u, uint32_t max)
{
	int64_t now = now_ns() / 1000000;
	struct user_timer *t;
	bool fired;

	do {
		fired = false;
		for (t = u->timers; t; t = t->next) {
			if (t->expire_ms >= 0 && t->expire_ms <= now) {
				t->expire_ms = -1;
				t->cb(t->cb_opaque);
				fired = true;
				break;  /* the callback may have changed the list */
			}
		}
	} while (fired);
	for (t = u->timers; t; t = t->next)
		if (t->expire_ms >= 0 && (uint64_t)(t->expire_ms - now) < max)
			max = t->expire_ms - now;
	return max;
}

/* Hand queued frames to the guest; a frame it has no room for waits at
 * the head of the queue until the next wake-up (rx_ready wakes us). */
static void deliver_queued(struct net_user *u)
{
	struct rx_frame *f;

	for (;;) {
		pthread_mutex_lock(&u->rx_lock);
		f = u->rx_head;
		if (f) {
			u->rx_head = f->next;
			if (!u->rx_head)
				u->rx_tail = &u->rx_head;
			u->rx_count--;
		}
		pthread_mutex_unlock(&u->rx_lock);
		if (!f)
			return;
		if (net_deliver(u->nb, NULL, f->data, f->len) == NET_RX_NO_ROOM) {
			pthread_mutex_lock(&u->rx_lock);
			f->next = u->rx_head;
			if (!u->rx_head)
				u->rx_tail = &f->next;
			u->rx_head = f;
			u->rx_count++;
			pthread_mutex_unlock(&u->rx_lock);
			return;
		}
		free(f);
	}
}

static void user_rx_ready(struct net_backend *nb)
{
	wake(nb->priv);
}

static void *slirp_thread(void *opaque)
{
	struct net_user *u = opaque;

	pthread_setname_np(pthread_self(), "slirp");
	for (;;) {
		uint32_t timeout = 1000;
		int ret;

		/* Started before the sandbox: narrow once it is on. */
		sandbox_thread_enter(SANDBOX_THREAD_NETWORK);
		pthread_mutex_lock(&u->lock);
		if (u->stop) {
			pthread_mutex_unlock(&u->lock);
			return NULL;
		}
		u->npfds = 0;
		add_poll(u->wake_fd, SLIRP_POLL_IN, u);
		slirp_pollfds_fill(u->slirp, &timeout, add_poll, u);
		timeout = run_timers(u, timeout);
		pthread_mutex_unlock(&u->lock);
		deliver_queued(u);

		ret = poll(u->pfds, u->npfds, timeout);

		pthread_mutex_lock(&u->lock);
		if (ret > 0 && (u->pfds[0].revents & POLLIN)) {
			uint64_t count;

			if (read(u->wake_fd, &count, sizeof(count)) < 0)
				count = 0;
		}
		slirp_pollfds_poll(u->slirp, ret < 0, get_revents, u);
		run_timers(u, 0);
		pthread_mutex_unlock(&u->lock);
		deliver_queued(u);
	}
}

static int user_send(struct net_backend *nb, const struct net_hdr *hdr,
		     const struct iovec *iov, int iovcnt, size_t len)
{
	struct net_user *u = nb->priv;
	uint8_t *frame = malloc(len);
	size_t off = 0;
	int i;

	if (!frame)
		return -ENOMEM;
	for (i = 0; i < iovcnt; i++) {
		memcpy(frame + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	pthread_mutex_lock(&u->lock);
	slirp_input(u->slirp, frame, len);
	pthread_mutex_unlock(&u->lock);
	free(frame);
	/* New connections may need polling; replies may be queued. */
	wake(u);
	return 0;
}

static void user_destroy(struct net_backend *nb)
{
	struct net_user *u = nb->priv;
	struct user_timer *t;

	if (!u)
		return;
	if (u->thread_started) {
		pthread_mutex_lock(&u->lock);
		u->stop = true;
		pthread_mutex_unlock(&u->lock);
		wake(u);
		pthread_join(u->thread, NULL);
	}
	if (u->slirp)
		slirp_cleanup(u->slirp);
	while ((t = u->timers)) {
		u->timers = t->next;
		free(t);
	}
	while (u->rx_head) {
		struct rx_frame *f = u->rx_head;

		u->rx_head = f->next;
		free(f);
	}
	if (u->wake_fd >= 0)
		close(u->wake_fd);
	free(u);
	nb->priv = NULL;
}

static int user_host_ports(struct net_backend *nb, bool take);

static const struct net_backend_ops user_ops = {
	.type = "user",
	.send = user_send,
	.destroy = user_destroy,
	.rx_ready = user_rx_ready,
	.host_ports = user_host_ports,
};

/* ADDR/PREFIX, e.g. 10.0.2.0/24. */
static int parse_subnet(const char *s, struct in_addr *net, struct in_addr *mask)
{
	char buf[32];
	const char *slash = strchr(s, '/');
	char *end;
	unsigned long prefix;

	if (!slash || (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, slash - s);
	buf[slash - s] = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (*end || !slash[1] || prefix < 8 || prefix > 28 ||
	    inet_pton(AF_INET, buf, net) != 1)
		return -EINVAL;
	mask->s_addr = htonl(~0u << (32 - prefix));
	if (net->s_addr & ~mask->s_addr)
		return -EINVAL;
	return 0;
}

static int parse_ip(const char *key, const char *v, struct in_addr *out)
{
	if (inet_pton(AF_INET, v, out) != 1) {
		log_error("--net user: %s=%s is not an IPv4 address", key, v);
		return -EINVAL;
	}
	return 0;
}

/* "[ADDR]:PORT" with ADDR optional. */
static int parse_endpoint(const char *s, size_t len, struct in_addr *addr,
			  int *port)
{
	char buf[64], *colon, *end;
	unsigned long p;

	if (len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = 0;
	colon = strrchr(buf, ':');
	if (!colon)
		return -EINVAL;
	*colon = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || !p || p > 65535)
		return -EINVAL;
	*port = p;
	if (buf[0] && inet_pton(AF_INET, buf, addr) != 1)
		return -EINVAL;
	return 0;
}

/* Listen on f's host port, trying for up to patience_ms while it is in
 * use: a migration's sender lets go of its ports just before the switch-
 * over, but its network thread holds a closed listening socket until
 * its poll returns, which on a busy host can take a moment. */
static int listen_fwd(struct net_user *u, const struct user_fwd *f, unsigned patience_ms)
{
	const struct timespec pause = { 0, 10 * 1000 * 1000 };
	unsigned waited = 0;

	while (slirp_add_hostfwd(u->slirp, f->udp, f->host, f->host_port, f->guest,
				 f->guest_port) < 0) {
		if (waited < patience_ms) {
			nanosleep(&pause, NULL);
			waited += 10;
			continue;
		}
		log_error("--net user,hostfwd=%s:%s:%d-...: cannot listen on host port %d (in use?)",
			  f->udp ? "udp" : "tcp", inet_ntoa(f->host), f->host_port,
			  f->host_port);
		return -EADDRINUSE;
	}
	return 0;
}

/* hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT, listening
 * now unless a migration's sender still has the port. */
static int add_hostfwd(struct net_user *u, const char *spec)
{
	struct user_fwd f = { .host = { htonl(INADDR_ANY) }, .guest = u->guest_addr };
	const char *rest, *dash;

	if (!strncmp(spec, "tcp:", 4))
		f.udp = 0;
	else if (!strncmp(spec, "udp:", 4))
		f.udp = 1;
	else
		goto bad;
	rest = spec + 4;
	dash = strchr(rest, '-');
	if (!dash || parse_endpoint(rest, dash - rest, &f.host, &f.host_port) ||
	    parse_endpoint(dash + 1, strlen(dash + 1), &f.guest, &f.guest_port))
		goto bad;
	if (u->nfwds == MAX_HOSTFWDS) {
		log_error("--net user: at most %d hostfwd= forwards", MAX_HOSTFWDS);
		return -EINVAL;
	}
	u->fwds[u->nfwds++] = f;
	return u->fwds_listening ? listen_fwd(u, &f, 0) : 0;
bad:
	log_error("--net user,hostfwd=%s: give tcp|udp:[HOSTADDR]:HOSTPORT-"
		  "[GUESTADDR]:GUESTPORT, e.g. tcp::2222-:22", spec);
	return -EINVAL;
}

/* Live migration: the forwards' listening sockets go to the machine's
 * next host, or come (back) here.  Connections made through them stay
 * with this process's libslirp. */
static int user_host_ports(struct net_backend *nb, bool take)
{
	struct net_user *u = nb->priv;
	unsigned i;
	int ret = 0;

	pthread_mutex_lock(&u->lock);
	if (take != u->fwds_listening) {
		for (i = 0; i < u->nfwds; i++) {
			const struct user_fwd *f = &u->fwds[i];

			if (!take) {
				slirp_remove_hostfwd(u->slirp, f->udp, f->host, f->host_port);
				continue;
			}
			ret = listen_fwd(u, f, 2000);
			if (ret) {      /* all or none: let go of those taken */
				while (i--)
					slirp_remove_hostfwd(u->slirp, u->fwds[i].udp,
							     u->fwds[i].host, u->fwds[i].host_port);
				break;
			}
		}
		u->fwds_listening = take && !ret;
	}
	pthread_mutex_unlock(&u->lock);
	wake(u);
	return ret;
}

int net_user_create(struct net_backend *nb, struct net_options *o)
{
	SlirpConfig cfg = { .version = 1, .in_enabled = true };
	struct net_user *u;
	const char *v;
	unsigned i;
	int ret = 0;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->nb = nb;
	u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&u->lock, NULL);
	pthread_mutex_init(&u->rx_lock, NULL);
	u->rx_tail = &u->rx_head;
	nb->priv = u;
	nb->ops = &user_ops;
	if (u->wake_fd < 0)
		return -errno;

	/* QEMU's defaults, so guides written for it apply. */
	inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
	v = net_option(o, "net");
	if (v && parse_subnet(v, &cfg.vnetwork, &cfg.vnetmask)) {
		log_error("--net user: net=%s: give ADDR/PREFIX with a prefix of "
			  "8 to 28, e.g. 10.0.2.0/24", v);
		return -EINVAL;
	}
	cfg.vhost.s_addr = cfg.vnetwork.s_addr | htonl(2);
	cfg.vnameserver.s_addr = cfg.vnetwork.s_addr | htonl(3);
	cfg.vdhcp_start.s_addr = cfg.vnetwork.s_addr | htonl(15);
	if ((v = net_option(o, "host")) && (ret = parse_ip("host", v, &cfg.vhost)))
		return ret;
	if ((v = net_option(o, "dns")) && (ret = parse_ip("dns", v, &cfg.vnameserver)))
		return ret;
	if ((v = net_option(o, "dhcpstart")) &&
	    (ret = parse_ip("dhcpstart", v, &cfg.vdhcp_start)))
		return ret;
	v = net_option(o, "restrict");
	if (v) {
		if (strcmp(v, "on") && strcmp(v, "off")) {
			log_error("--net user: restrict=%s: give on or off", v);
			return -EINVAL;
		}
		cfg.restricted = !strcmp(v, "on");
	}
	cfg.vhostname = "wirt";
	u->guest_addr = cfg.vdhcp_start;
	u->fwds_listening = !net_host_ports_deferred();
	u->slirp = slirp_new(&cfg, &callbacks, u);
	if (!u->slirp) {
		log_error("--net user: libslirp refused the configuration");
		return -EINVAL;
	}
	for (i = 0; i < o->nopts && !ret; i++) {
		if (strcmp(o->keys[i], "hostfwd"))
			continue;
		o->used[i] = true;
		ret = add_hostfwd(u, o->values[i]);
	}
	if (ret)
		return ret;
	if (pthread_create(&u->thread, NULL, slirp_thread, u))
		return -EAGAIN;
	u->thread_started = true;
	return 0;
}

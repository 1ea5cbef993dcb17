/*
 * The socket back end: VMs connected to each other directly.
 *
 *   socket,mcast=ADDR:PORT[,localaddr=IP]  a segment every VM that joins
 *        the multicast group shares, like a switch (one frame a datagram)
 *   socket,listen=[HOST]:PORT            wait for one peer over TCP
 *   socket,connect=HOST:PORT             connect to such a listener
 *
 * Over TCP each frame goes as a 4-byte big-endian length and the frame,
 * the format QEMU's socket netdev uses, so wirt and QEMU VMs can meet.
 */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/event_loop.h"
#include "util/log.h"
#include "vm/vm.h"

#define SEND_WAIT_MS 100   /* how long a half-sent TCP frame may wait */

enum socket_mode { MODE_MCAST, MODE_LISTEN, MODE_CONNECT };

struct net_socket {
	struct net_backend *nb;
	enum socket_mode mode;
	pthread_mutex_t lock;        /* peer_fd */
	int fd;                      /* mcast socket, or listening socket */
	int peer_fd;                 /* TCP stream, -1 while none */
	struct sockaddr_in group;
	/* TCP receive reassembly. */
	uint8_t *rx;
	size_t rx_len;
};

static void drop_peer(struct net_socket *s, const char *why)
{
	int fd;

	pthread_mutex_lock(&s->lock);
	fd = s->peer_fd;
	s->peer_fd = -1;
	pthread_mutex_unlock(&s->lock);
	if (fd < 0)
		return;
	log_warn("net socket: peer %s; frames are dropped until %s", why,
		 s->mode == MODE_LISTEN ? "another peer connects" : "restart");
	event_loop_remove_fd(s->nb->vm->loop, fd);
	close(fd);
	s->rx_len = 0;
}

/* Datagrams from the multicast group; our own come back too: skip them. */
static void on_mcast(void *opaque, uint32_t events)
{
	struct net_socket *s = opaque;
	ssize_t n;

	while ((n = recv(s->fd, s->rx, NET_MAX_FRAME, MSG_DONTWAIT)) >= 0) {
		if (n >= NET_MIN_FRAME && !memcmp(s->rx + 6, s->nb->mac, 6))
			continue;
		if (net_deliver(s->nb, NULL, s->rx, n) == NET_RX_NO_ROOM)
			net_count_rx_drop(s->nb);
	}
}

/* TCP: reassemble length-prefixed frames. */
static void on_stream(void *opaque, uint32_t events)
{
	struct net_socket *s = opaque;
	int fd = s->peer_fd;
	ssize_t n;

	if (fd < 0)
		return;
	for (;;) {
		size_t room = 4 + NET_MAX_FRAME - s->rx_len;
		uint32_t len;

		n = recv(fd, s->rx + s->rx_len, room, MSG_DONTWAIT);
		if (n == 0) {
			drop_peer(s, "closed the connection");
			return;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				drop_peer(s, "connection failed");
			return;
		}
		s->rx_len += n;
		while (s->rx_len >= 4) {
			memcpy(&len, s->rx, 4);
			len = ntohl(len);
			if (len > NET_MAX_FRAME) {
				__atomic_add_fetch(&s->nb->stats.rx_dropped, 1,
						   __ATOMIC_RELAXED);
				drop_peer(s, "sent a frame longer than 64 KiB");
				return;
			}
			if (s->rx_len < 4 + len)
				break;
			if (net_deliver(s->nb, NULL, s->rx + 4, len) ==
			    NET_RX_NO_ROOM)
				net_count_rx_drop(s->nb);
			memmove(s->rx, s->rx + 4 + len, s->rx_len - 4 - len);
			s->rx_len -= 4 + len;
		}
	}
}

static int attach_peer(struct net_socket *s, int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_mutex_lock(&s->lock);
	s->peer_fd = fd;
	pthread_mutex_unlock(&s->lock);
	s->rx_len = 0;
	return event_loop_add_fd(s->nb->vm->loop, fd, EPOLLIN, on_stream, s);
}

static void on_accept(void *opaque, uint32_t events)
{
	struct net_socket *s = opaque;
	int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (s->peer_fd >= 0) {
		log_warn("net socket: a second peer tried to connect; refused");
		close(fd);
		return;
	}
	log_info("net socket: peer connected");
	attach_peer(s, fd);
}

/* Write all of iov to a non-blocking stream, waiting briefly if full. */
static int write_all(int fd, struct iovec *iov, int iovcnt)
{
	while (iovcnt) {
		struct msghdr msg = { .msg_iov = iov, .msg_iovlen = iovcnt };
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (errno != EAGAIN || poll(&p, 1, SEND_WAIT_MS) <= 0)
				return -EIO;
			continue;
		}
		while (iovcnt && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

static int socket_send(struct net_backend *nb, const struct net_hdr *hdr,
		       const struct iovec *iov, int iovcnt, size_t len)
{
	struct net_socket *s = nb->priv;
	struct iovec v[65];
	uint32_t be_len = htonl(len);
	int ret;

	if (iovcnt > 64)
		return -EINVAL;
	if (s->mode == MODE_MCAST) {
		struct msghdr msg = {
			.msg_name = &s->group, .msg_namelen = sizeof(s->group),
			.msg_iov = (struct iovec *)iov, .msg_iovlen = iovcnt,
		};

		return sendmsg(s->fd, &msg, MSG_DONTWAIT) < 0 ? -errno : 0;
	}
	v[0] = (struct iovec){ &be_len, 4 };
	memcpy(v + 1, iov, iovcnt * sizeof(*iov));
	pthread_mutex_lock(&s->lock);
	ret = s->peer_fd < 0 ? -ENOTCONN : write_all(s->peer_fd, v, iovcnt + 1);
	pthread_mutex_unlock(&s->lock);
	if (ret == -EIO)
		log_warn_once("net socket: the peer does not take frames; dropping");
	return ret;
}

static void socket_destroy(struct net_backend *nb)
{
	struct net_socket *s = nb->priv;

	if (!s)
		return;
	if (s->peer_fd >= 0) {
		event_loop_remove_fd(nb->vm->loop, s->peer_fd);
		close(s->peer_fd);
	}
	if (s->fd >= 0) {
		event_loop_remove_fd(nb->vm->loop, s->fd);
		close(s->fd);
	}
	free(s->rx);
	free(s);
	nb->priv = NULL;
}

static const struct net_backend_ops socket_ops = {
	.type = "socket",
	.send = socket_send,
	.destroy = socket_destroy,
};

static int open_mcast(struct net_socket *s, const char *addr,
		      const char *localaddr)
{
	struct sockaddr_in bind_addr;
	struct ip_mreq mreq;
	int one = 1, ttl = 1;

	if (net_parse_inet(addr, &s->group, true) ||
	    !IN_MULTICAST(ntohl(s->group.sin_addr.s_addr))) {
		log_error("--net socket,mcast=%s: give a multicast group and port, "
			  "e.g. 239.1.2.3:5000", addr);
		return -EINVAL;
	}
	memset(&mreq, 0, sizeof(mreq));
	mreq.imr_multiaddr = s->group.sin_addr;
	if (localaddr && inet_pton(AF_INET, localaddr, &mreq.imr_interface) != 1) {
		log_error("--net socket: localaddr '%s' is not an IPv4 address",
			  localaddr);
		return -EINVAL;
	}
	s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bind_addr = s->group;
	if (bind(s->fd, (struct sockaddr *)&bind_addr, sizeof(bind_addr)) ||
	    setsockopt(s->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq))) {
		/* No route for multicast (a host without a default route):
		 * the segment can still join VMs on this host over loopback. */
		if (!localaddr && errno == ENODEV) {
			inet_pton(AF_INET, "127.0.0.1", &mreq.imr_interface);
			if (!setsockopt(s->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq,
					sizeof(mreq)))
				goto joined;
		}
		log_error("--net socket,mcast=%s: cannot join the group: %s", addr,
			  strerror(errno));
		return -errno;
	}
joined:
	setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &one, sizeof(one));
	setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
	if (mreq.imr_interface.s_addr != htonl(INADDR_ANY))
		setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq.imr_interface,
			   sizeof(mreq.imr_interface));
	return event_loop_add_fd(s->nb->vm->loop, s->fd, EPOLLIN, on_mcast, s);
}

static int open_listen(struct net_socket *s, const char *addr)
{
	struct sockaddr_in sa;
	int one = 1;

	if (net_parse_inet(addr, &sa, false)) {
		log_error("--net socket,listen=%s: give [HOST]:PORT, e.g. :5555", addr);
		return -EINVAL;
	}
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(s->fd, 1)) {
		log_error("--net socket,listen=%s: %s", addr, strerror(errno));
		return -errno;
	}
	return event_loop_add_fd(s->nb->vm->loop, s->fd, EPOLLIN, on_accept, s);
}

static int open_connect(struct net_socket *s, const char *addr)
{
	struct sockaddr_in sa;
	int fd;

	if (net_parse_inet(addr, &sa, true)) {
		log_error("--net socket,connect=%s: give HOST:PORT", addr);
		return -EINVAL;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		log_error("--net socket,connect=%s: %s (start the listening VM "
			  "first)", addr, strerror(errno));
		close(fd);
		return -ECONNREFUSED;
	}
	/* Non-blocking from now on: the event loop reads it. */
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return attach_peer(s, fd);
}

int net_socket_create(struct net_backend *nb, struct net_options *o)
{
	const char *mcast = net_option(o, "mcast");
	const char *listen_addr = net_option(o, "listen");
	const char *connect_addr = net_option(o, "connect");
	const char *localaddr = net_option(o, "localaddr");
	struct net_socket *s;

	if (!!mcast + !!listen_addr + !!connect_addr != 1) {
		log_error("--net socket: give exactly one of mcast=, listen=, connect=");
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->nb = nb;
	s->fd = s->peer_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->rx = malloc(4 + NET_MAX_FRAME);
	nb->priv = s;
	nb->ops = &socket_ops;
	if (!s->rx)
		return -ENOMEM;
	if (mcast) {
		s->mode = MODE_MCAST;
		return open_mcast(s, mcast, localaddr);
	}
	if (localaddr) {
		log_error("--net socket: localaddr= goes with mcast= only");
		return -EINVAL;
	}
	if (listen_addr) {
		s->mode = MODE_LISTEN;
		return open_listen(s, listen_addr);
	}
	s->mode = MODE_CONNECT;
	return open_connect(s, connect_addr);
}

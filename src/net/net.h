/*
 * Network back ends behind one interface: a front end (virtio-net) sends
 * Ethernet frames with net_send and receives them through the callback it
 * registered, on the event-loop thread.  Frames that cannot be delivered
 * (malformed, oversized, no room in the guest, peer gone) are dropped and
 * counted; the VM keeps running.
 *
 * --net SPEC: TYPE[,key=value]..., with keys every back end understands
 * (mac=52:54:00:12:34:56) and its own (see each back end).
 */
#ifndef WIRT_NET_NET_H
#define WIRT_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct vm;
struct net_backend;

#define NET_MAX_FRAME 65536   /* largest frame any back end passes on */
#define NET_MIN_FRAME 14      /* an Ethernet header */

/* What became of a frame handed to the front end. */
enum net_rx {
	NET_RX_OK,
	NET_RX_NO_ROOM,     /* the guest has no buffers now: try again later */
	NET_RX_DROPPED,     /* not deliverable (too big, NIC not ready) */
};

/* The front end's side: called on the back end's thread. */
typedef enum net_rx (*net_receive_fn)(void *opaque, const uint8_t *frame,
				      size_t len);

struct net_backend_ops {
	const char *type;
	/* Send one frame (gathered from iov); 0, or -errno when dropped. */
	int (*send)(struct net_backend *nb, const struct iovec *iov, int iovcnt,
		    size_t len);
	void (*destroy)(struct net_backend *nb);
	/* Optional: the guest has room for frames again (any thread). */
	void (*rx_ready)(struct net_backend *nb);
};

struct net_stats {
	uint64_t tx_frames, tx_dropped;
	uint64_t rx_frames, rx_dropped;
};

struct net_backend {
	const struct net_backend_ops *ops;
	struct vm *vm;
	void *priv;                 /* the back end's state */
	uint8_t mac[6];             /* the guest NIC's address */
	net_receive_fn receive;     /* set by the front end */
	void *receive_opaque;
	struct net_stats stats;     /* updated with atomics */
};

/* Parsed --net options shared by all back ends. */
struct net_options {
	char *type;
	uint8_t mac[6];
	bool mac_given;
	/* key=value pairs the back end reads with net_option(). */
	char *keys[16], *values[16];
	unsigned nopts;
	bool used[16];              /* which options a back end consumed */
};

/*
 * Create the back end described by spec for NIC number index (which picks
 * a default MAC).  Returns 0 or -errno with one clear line logged.
 */
int net_backend_create(struct vm *vm, const char *spec, unsigned index,
		       struct net_backend **out);
void net_backend_destroy(struct net_backend *nb);

/* Hand a frame to the back end; counts drops. */
int net_send(struct net_backend *nb, const struct iovec *iov, int iovcnt);
/*
 * Deliver a frame from the back end to the front end.  NET_RX_NO_ROOM is
 * not counted: a back end that can hold the frame retries after rx_ready;
 * one that cannot counts it with net_count_rx_drop.
 */
enum net_rx net_deliver(struct net_backend *nb, const uint8_t *frame,
			size_t len);
void net_count_rx_drop(struct net_backend *nb);
/* The front end has room again: tell the back end. */
void net_rx_ready(struct net_backend *nb);

/* A back end's option, or NULL; marks it consumed. */
const char *net_option(struct net_options *o, const char *key);

/* Parse "host:port" (host may be empty: any/loopback) into a sockaddr_in. */
struct sockaddr_in;
int net_parse_inet(const char *s, struct sockaddr_in *sa, bool host_required);

/* The back ends. */
int net_socket_create(struct net_backend *nb, struct net_options *o);
int net_user_create(struct net_backend *nb, struct net_options *o);
int net_tap_create(struct net_backend *nb, struct net_options *o);

#endif

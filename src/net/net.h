/*
 * Network back ends behind one interface: a front end (virtio-net) sends
 * Ethernet frames with net_send and receives them through the callback it
 * registered, on the event-loop thread.  Frames that cannot be delivered
 * (malformed, oversized, no room in the guest, peer gone) are dropped and
 * counted; the VM keeps running.
 *
 * Frames may carry offload information (struct net_hdr: a partial
 * checksum, a large TCP frame to be segmented).  A back end that takes
 * such headers (a tap with vnet headers) sets vnet_hdr and gets them as
 * they are; for the others net_send finishes checksums and segments in
 * software.  Likewise net_deliver does the work for a front end that did
 * not say (net_set_offloads) it takes what the back end delivers.
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

/* Largest frame: the largest IPv6 packet (64 KiB of payload after its
 * 40-byte header) behind Ethernet and a VLAN tag. */
#define NET_MAX_FRAME (18 + 40 + 65535)
#define NET_MIN_FRAME 14      /* an Ethernet header */

/*
 * Offload information going with a frame: virtio-net's header (virtio
 * 1.x, 5.1.6) in host byte order, without num_buffers; the values are the
 * spec's, which the Linux tap driver uses too.
 */
struct net_hdr {
	uint8_t flags;               /* NET_HDR_F_* */
	uint8_t gso_type;            /* NET_GSO_*, maybe | NET_GSO_ECN */
	uint16_t hdr_len;            /* a hint: bytes of headers */
	uint16_t gso_size;           /* payload bytes per segment (the MSS) */
	uint16_t csum_start, csum_offset;
};

#define NET_HDR_F_NEEDS_CSUM 1   /* checksum from csum_start still to do */
#define NET_HDR_F_DATA_VALID 2   /* checksums were checked */
#define NET_GSO_NONE  0
#define NET_GSO_TCPV4 1
#define NET_GSO_UDP   3
#define NET_GSO_TCPV6 4
#define NET_GSO_ECN   0x80

/* What a front end takes in frames it receives (net_set_offloads). */
#define NET_OFF_CSUM 1           /* partial checksums */
#define NET_OFF_TSO4 2           /* large TCP/IPv4 frames */
#define NET_OFF_TSO6 4           /* large TCP/IPv6 frames */
#define NET_OFF_ECN  8           /* large frames with CWR set */

/* What became of a frame handed to the front end. */
enum net_rx {
	NET_RX_OK,
	NET_RX_NO_ROOM,     /* the guest has no buffers now: try again later */
	NET_RX_DROPPED,     /* not deliverable (too big, NIC not ready) */
};

/*
 * The front end's side: called on the back end's thread.  hdr is NULL for
 * a frame with complete checksums, else it holds only offloads the front
 * end said it takes.
 */
typedef enum net_rx (*net_receive_fn)(void *opaque, const struct net_hdr *hdr,
				      const uint8_t *frame, size_t len);

struct net_backend_ops {
	const char *type;
	/*
	 * Send one frame (gathered from iov); 0, or -errno when dropped.
	 * hdr is non-NULL exactly when the back end set vnet_hdr.
	 */
	int (*send)(struct net_backend *nb, const struct net_hdr *hdr,
		    const struct iovec *iov, int iovcnt, size_t len);
	void (*destroy)(struct net_backend *nb);
	/* Optional: the guest has room for frames again (any thread). */
	void (*rx_ready)(struct net_backend *nb);
	/* Optional: the front end now takes these NET_OFF_* offloads. */
	void (*set_offloads)(struct net_backend *nb, unsigned offloads);
	/*
	 * Optional, live migration: listen on the host ports the back end
	 * forwards to the guest (take), or let them go for the machine's
	 * next host.  0, or negative errno with the reason logged.
	 */
	int (*host_ports)(struct net_backend *nb, bool take);
};

/* The card in front of a back end (--net ...,model=). */
enum net_model {
	NET_MODEL_VIRTIO,           /* virtio-net (default) */
	NET_MODEL_E1000,            /* Intel 82540EM, hw/e1000.c */
};

struct net_stats {
	uint64_t tx_frames, tx_dropped;
	uint64_t rx_frames, rx_dropped;
};

struct net_backend {
	const struct net_backend_ops *ops;
	struct vm *vm;
	void *priv;                 /* the back end's state */
	unsigned index;             /* NIC number: net0, net1... */
	uint8_t mac[6];             /* the guest NIC's address */
	bool vnet_hdr;              /* send and net_deliver carry a net_hdr */
	enum net_model model;       /* which card the board puts in front */
	net_receive_fn receive;     /* set by the front end */
	void *receive_opaque;
	unsigned rx_offloads;       /* NET_OFF_* the front end takes (atomic) */
	struct net_stats stats;     /* updated with atomics */
	/* Software offloads: frames gathered and segments built, one pair
	 * for sending (front end's thread), one for delivering (back end's). */
	uint8_t *tx_frame, *tx_seg, *rx_frame, *rx_seg;
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

/*
 * Hand a frame to the back end, with its offloads (hdr may be NULL);
 * counts what was sent and dropped.  A frame the back end cannot take with
 * its header is checksummed or segmented here first.
 */
int net_send(struct net_backend *nb, const struct net_hdr *hdr,
	     const struct iovec *iov, int iovcnt);
/*
 * Deliver a frame from the back end to the front end; hdr only from a
 * back end with vnet_hdr (else NULL).  NET_RX_NO_ROOM is not counted: a
 * back end that can hold the frame retries after rx_ready; one that
 * cannot counts it with net_count_rx_drop.  A large frame the front end
 * did not ask for is segmented here, each segment counted on its own, and
 * never answers NET_RX_NO_ROOM.
 */
enum net_rx net_deliver(struct net_backend *nb, const struct net_hdr *hdr,
			const uint8_t *frame, size_t len);
void net_count_rx_drop(struct net_backend *nb);
/* A frame the front end dropped before sending (malformed by the guest). */
void net_count_tx_drop(struct net_backend *nb);
/* The front end has room again: tell the back end. */
void net_rx_ready(struct net_backend *nb);
/* The front end takes these NET_OFF_* offloads from now on. */
void net_set_offloads(struct net_backend *nb, unsigned offloads);

/* A back end's option, or NULL; marks it consumed. */
const char *net_option(struct net_options *o, const char *key);

/* Parse "host:port" (host may be empty: any/loopback) into a sockaddr_in. */
struct sockaddr_in;
int net_parse_inet(const char *s, struct sockaddr_in *sa, bool host_required);

/*
 * Live migration: the receiving side opens its back ends without the
 * host ports the sending side still listens on (defer before they are
 * made), and takes them at the switch-over; the sending side lets them
 * go then, and takes them back if the migration fails.  0, or negative
 * errno with the reason logged.
 */
void net_defer_host_ports(bool defer);
bool net_host_ports_deferred(void);
int net_host_ports(struct vm *vm, bool take);

/* The back ends. */
int net_socket_create(struct net_backend *nb, struct net_options *o);
int net_user_create(struct net_backend *nb, struct net_options *o);
int net_tap_create(struct net_backend *nb, struct net_options *o);

#endif

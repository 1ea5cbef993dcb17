/*
 * virtio-net (virtio 1.x, 5.1): the front end of a network back end
 * (net/net.h).  One receive and one transmit queue; MAC address, link
 * status and mergeable receive buffers.  Transmit runs on the device's
 * worker thread; frames from the back end arrive on the event-loop
 * thread and are dropped (and counted) when the guest has no buffers.
 * Offloads: the guest may leave checksums partial and hand over large
 * TCP frames (HOST_TSO4/6, ECN); the generic layer finishes or segments
 * them for back ends that cannot take them.  Frames from a back end
 * carry complete checksums, or, from a tap with virtio-net headers,
 * whatever offloads the guest accepted (GUEST_CSUM, GUEST_TSO4/6).
 */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "util/log.h"

#define NET_F_CSUM       0   /* we complete checksums the guest leaves */
#define NET_F_GUEST_CSUM 1   /* the guest may skip checking ours */
#define NET_F_GUEST_TSO4 7
#define NET_F_GUEST_TSO6 8
#define NET_F_GUEST_ECN  9
#define NET_F_MAC        5
#define NET_F_HOST_TSO4  11
#define NET_F_HOST_TSO6  12
#define NET_F_HOST_ECN   13
#define NET_F_MRG_RXBUF  15
#define NET_F_STATUS     16
#define NET_S_LINK_UP    1

#define RX_QUEUE 0
#define TX_QUEUE 1
#define HDR_LEN  12      /* virtio_net_hdr with num_buffers (VERSION_1) */
#define CFG_SIZE 10      /* mac, status, max_virtqueue_pairs */
/* A frame that is not a large TCP frame fits the guest's MTU. */
#define MAX_RX_FRAME (1500 + 14 + 4)
#define MAX_TX_SEGS 64

#define BIT(n) (1ull << (n))

struct virtio_net {
	struct virtio_device *vdev;
	struct net_backend *nb;
	struct virtq_elem *rx_elem;
	struct virtio_device_ops ops;   /* features depend on the back end */
};

static void hdr_decode(struct net_hdr *h, const uint8_t *p)
{
	h->flags = p[0];
	h->gso_type = p[1];
	h->hdr_len = p[2] | p[3] << 8;
	h->gso_size = p[4] | p[5] << 8;
	h->csum_start = p[6] | p[7] << 8;
	h->csum_offset = p[8] | p[9] << 8;
}

static void hdr_encode(uint8_t *p, const struct net_hdr *h)
{
	p[0] = h->flags;
	p[1] = h->gso_type;
	p[2] = h->hdr_len;
	p[3] = h->hdr_len >> 8;
	p[4] = h->gso_size;
	p[5] = h->gso_size >> 8;
	p[6] = h->csum_start;
	p[7] = h->csum_start >> 8;
	p[8] = h->csum_offset;
	p[9] = h->csum_offset >> 8;
}

/*
 * The header of a request from the guest, holding only offloads it
 * negotiated.  False when it asks for one it did not (the frame is
 * dropped): a checksum request alone is ignored, as it always was.
 */
static bool tx_header(struct virtio_device *vdev, const struct virtq_elem *elem,
		      struct net_hdr *h)
{
	uint8_t raw[HDR_LEN];
	unsigned type;

	if (elem->out_len < HDR_LEN ||
	    virtq_copy_from_out(elem, 0, raw, HDR_LEN) != HDR_LEN)
		return false;
	hdr_decode(h, raw);
	h->flags &= NET_HDR_F_NEEDS_CSUM;
	if (!virtio_has_feature(vdev, NET_F_CSUM))
		h->flags = 0;
	type = h->gso_type & ~NET_GSO_ECN;
	if ((h->gso_type & NET_GSO_ECN) && !virtio_has_feature(vdev, NET_F_HOST_ECN))
		return false;
	if (type == NET_GSO_NONE)
		return !(h->gso_type & NET_GSO_ECN);
	if (type == NET_GSO_TCPV4)
		return virtio_has_feature(vdev, NET_F_HOST_TSO4);
	if (type == NET_GSO_TCPV6)
		return virtio_has_feature(vdev, NET_F_HOST_TSO6);
	return false;
}

static void net_tx(struct virtio_device *vdev)
{
	struct virtio_net *n = vdev->opaque;
	struct virtq *vq = &vdev->vq[TX_QUEUE];
	struct virtq_elem *elem = vdev->elem;
	struct iovec iov[MAX_TX_SEGS];
	bool pushed = false;

	while (virtq_pop(vq, elem) == 1) {
		size_t skip = HDR_LEN;
		struct net_hdr hdr;
		int cnt = 0;
		unsigned i;

		for (i = 0; i < elem->nout && cnt < MAX_TX_SEGS; i++) {
			struct virtq_seg *s = &elem->seg[i];

			if (skip >= s->len) {
				skip -= s->len;
				continue;
			}
			iov[cnt++] = (struct iovec){ s->hva + skip, s->len - skip };
			skip = 0;
		}
		if (!tx_header(vdev, elem, &hdr) || i < elem->nout)
			__atomic_add_fetch(&n->nb->stats.tx_dropped, 1, __ATOMIC_RELAXED);
		else
			net_send(n->nb, &hdr, iov, cnt);
		virtq_push(vq, elem, 0);
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(vdev, TX_QUEUE);
}

static void net_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_net *n = vdev->opaque;

	if (q == TX_QUEUE)
		net_tx(vdev);
	else
		net_rx_ready(n->nb);  /* new receive buffers */
}

/* Host address of byte off of a request's writable part (NULL if none). */
static uint8_t *in_byte(const struct virtq_elem *elem, size_t off)
{
	unsigned i;

	for (i = elem->nout; i < elem->nout + elem->nin; i++) {
		if (off < elem->seg[i].len)
			return elem->seg[i].hva + off;
		off -= elem->seg[i].len;
	}
	return NULL;
}

/*
 * A frame from the back end (event-loop thread).  Without a header it
 * carries complete checksums; a header holds only offloads the guest
 * took (net_set_offloads), so it goes to the guest as it is.
 */
static enum net_rx net_receive(void *opaque, const struct net_hdr *h,
			       const uint8_t *frame, size_t len)
{
	struct virtio_net *n = opaque;
	struct virtio_device *vdev = n->vdev;
	struct virtq *vq = &vdev->vq[RX_QUEUE];
	struct virtq_elem *elem = n->rx_elem;
	bool mergeable = virtio_has_feature(vdev, NET_F_MRG_RXBUF);
	uint8_t hdr[HDR_LEN] = {
		virtio_has_feature(vdev, NET_F_GUEST_CSUM) ? NET_HDR_F_DATA_VALID : 0
	};
	uint8_t *num_buffers[2] = { NULL, NULL };
	size_t done = 0;
	unsigned used = 0;
	enum net_rx result = NET_RX_DROPPED;

	if (h) {
		hdr_encode(hdr, h);
		if (!virtio_has_feature(vdev, NET_F_GUEST_CSUM))
			hdr[0] = 0;
	}
	if (len > MAX_RX_FRAME && (!h || h->gso_type == NET_GSO_NONE))
		return NET_RX_DROPPED;
	pthread_mutex_lock(&vdev->lock);
	if (!(vdev->status & VIRTIO_STATUS_DRIVER_OK) || !vq->ready || vq->broken)
		goto out;
	while (done < len) {
		size_t skip = used ? 0 : HDR_LEN, room;

		if (virtq_pop(vq, elem) != 1)
			break;
		used++;
		room = elem->in_len > skip ? elem->in_len - skip : 0;
		if (!room) {
			/* Every receive buffer must hold at least the header. */
			log_warn_once("virtio-net: guest error: receive buffer of %zu "
				      "bytes; the device needs a reset", elem->in_len);
			vq->broken = true;
			break;
		}
		if (!mergeable && room < len)
			break;
		if (!done) {
			virtq_copy_to_in(elem, 0, hdr, HDR_LEN);
			num_buffers[0] = in_byte(elem, 10);
			num_buffers[1] = in_byte(elem, 11);
		}
		if (room > len - done)
			room = len - done;
		virtq_copy_to_in(elem, skip, frame + done, room);
		done += room;
		virtq_fill(vq, elem, skip + room, used - 1);
	}
	if (done < len) {
		/* No room: give the buffers back; the back end may retry. */
		if (!vq->broken) {
			virtq_unpop(vq, used);
			result = NET_RX_NO_ROOM;
		}
		goto out;
	}
	/* Only now is it known how many buffers the frame took. */
	*num_buffers[0] = used;
	*num_buffers[1] = used >> 8;
	virtq_flush(vq, used);
	virtio_notify_queue(vdev, RX_QUEUE);
	result = NET_RX_OK;
out:
	if (vq->broken)
		virtio_set_needs_reset(vdev);
	pthread_mutex_unlock(&vdev->lock);
	return result;
}

/* The offloads the guest takes in received frames. */
static void net_driver_ok(struct virtio_device *vdev)
{
	struct virtio_net *n = vdev->opaque;
	unsigned off = 0;

	if (virtio_has_feature(vdev, NET_F_GUEST_CSUM)) {
		off |= NET_OFF_CSUM;
		if (virtio_has_feature(vdev, NET_F_GUEST_TSO4))
			off |= NET_OFF_TSO4;
		if (virtio_has_feature(vdev, NET_F_GUEST_TSO6))
			off |= NET_OFF_TSO6;
		if (virtio_has_feature(vdev, NET_F_GUEST_ECN))
			off |= NET_OFF_ECN;
	}
	net_set_offloads(n->nb, off);
}

static void net_reset(struct virtio_device *vdev)
{
	struct virtio_net *n = vdev->opaque;

	net_set_offloads(n->nb, 0);
}

static void net_destroy(struct virtio_device *vdev)
{
	struct virtio_net *n = vdev->opaque;

	net_backend_destroy(n->nb);
	free(n->rx_elem);
	free(n);
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/* What we offer: large frames from the guest always (segmented in
 * software where the back end cannot take them); large frames to the
 * guest only from back ends that make them. */
static void net_ops_init(struct virtio_device_ops *ops, bool vnet_hdr)
{
	*ops = (struct virtio_device_ops){
		.name = "virtio-net",
		.device_id = VIRTIO_ID_NET,
		.class_code = 0x020000,
		.nqueues = 2,
		.network = true,
		.queue_size = 256,
		.features = BIT(NET_F_CSUM) | BIT(NET_F_GUEST_CSUM) |
			    BIT(NET_F_HOST_TSO4) | BIT(NET_F_HOST_TSO6) |
			    BIT(NET_F_HOST_ECN) | BIT(NET_F_MAC) |
			    BIT(NET_F_MRG_RXBUF) | BIT(NET_F_STATUS),
		.config_size = CFG_SIZE,
		.queue_notify = net_queue_notify,
		.driver_ok = net_driver_ok,
		.reset = net_reset,
		.destroy = net_destroy,
	};
	if (vnet_hdr)
		ops->features |= BIT(NET_F_GUEST_TSO4) | BIT(NET_F_GUEST_TSO6) |
				 BIT(NET_F_GUEST_ECN);
}

int virtio_net_create(struct vm *vm, struct net_backend *nb)
{
	struct virtio_net *n = calloc(1, sizeof(*n));

	if (n)
		n->rx_elem = malloc(sizeof(*n->rx_elem));
	if (!n || !n->rx_elem) {
		free(n);
		net_backend_destroy(nb);
		return -ENOMEM;
	}
	n->nb = nb;
	net_ops_init(&n->ops, n->nb->vnet_hdr);
	n->vdev = virtio_pci_create(vm, &n->ops, n);
	if (!n->vdev)
		return -EIO;
	memcpy(n->vdev->config, n->nb->mac, 6);
	put16(n->vdev->config + 6, NET_S_LINK_UP);
	put16(n->vdev->config + 8, 1);
	/* Frames may flow from now on: the worker and device exist. */
	n->nb->receive_opaque = n;
	__atomic_store_n(&n->nb->receive, net_receive, __ATOMIC_RELEASE);
	return 0;
}

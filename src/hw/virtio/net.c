/*
 * virtio-net (virtio 1.x, 5.1): the front end of a network back end
 * (net/net.h).  One receive and one transmit queue; MAC address, link
 * status and mergeable receive buffers.  Transmit runs on the device's
 * worker thread; frames from the back end arrive on the event-loop
 * thread and are dropped (and counted) when the guest has no buffers.
 * Checksum offload both ways: we finish the checksums the guest leaves
 * partial, and tell it that frames from the back ends are valid.
 */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "util/log.h"

#define NET_F_CSUM       0   /* we complete checksums the guest leaves */
#define NET_F_GUEST_CSUM 1   /* the guest may skip checking ours */
#define NET_F_MAC        5
#define NET_F_MRG_RXBUF  15
#define NET_F_STATUS     16
#define NET_S_LINK_UP    1
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2

#define RX_QUEUE 0
#define TX_QUEUE 1
#define HDR_LEN  12      /* virtio_net_hdr with num_buffers (VERSION_1) */
#define CFG_SIZE 10      /* mac, status, max_virtqueue_pairs */
/* Without segmentation offload the guest takes frames up to its MTU. */
#define MAX_RX_FRAME (1500 + 14 + 4)
#define MAX_TX_SEGS 64

struct virtio_net {
	struct virtio_device *vdev;
	struct net_backend *nb;
	struct virtq_elem *rx_elem;
	uint8_t tx_buf[NET_MAX_FRAME];  /* frames whose checksum we finish */
};

/* The Internet checksum (RFC 1071) of buf, folded, not inverted. */
static uint16_t csum_add(const uint8_t *buf, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)buf[i] << 8 | buf[i + 1];
	if (len & 1)
		sum += (uint32_t)buf[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/*
 * VIRTIO_NET_HDR_F_NEEDS_CSUM: the guest put the pseudo-header sum at
 * csum_start + csum_offset; the checksum of everything from csum_start
 * goes there.  Returns false for offsets outside the frame.
 */
static bool finish_checksum(uint8_t *frame, size_t len, const uint8_t *hdr)
{
	uint16_t start = hdr[6] | hdr[7] << 8, off = hdr[8] | hdr[9] << 8;
	uint16_t sum;

	if ((size_t)start + off + 2 > len)
		return false;
	sum = ~csum_add(frame + start, len - start, 0);
	frame[start + off] = sum >> 8;
	frame[start + off + 1] = sum;
	return true;
}

/* Copy a request's frame (after the header) into buf; its length. */
static size_t gather_frame(const struct virtq_elem *elem, uint8_t *buf)
{
	size_t len = elem->out_len - HDR_LEN;

	if (len > NET_MAX_FRAME)
		return 0;
	return virtq_copy_from_out(elem, HDR_LEN, buf, len);
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
		uint8_t hdr[HDR_LEN];

		if (elem->out_len < HDR_LEN ||
		    virtq_copy_from_out(elem, 0, hdr, HDR_LEN) != HDR_LEN) {
			__atomic_add_fetch(&n->nb->stats.tx_dropped, 1, __ATOMIC_RELAXED);
		} else if ((hdr[0] & HDR_F_NEEDS_CSUM) &&
			   virtio_has_feature(vdev, NET_F_CSUM)) {
			size_t len = gather_frame(elem, n->tx_buf);
			struct iovec one = { n->tx_buf, len };

			if (len && finish_checksum(n->tx_buf, len, hdr))
				net_send(n->nb, &one, 1);
			else
				__atomic_add_fetch(&n->nb->stats.tx_dropped, 1,
						   __ATOMIC_RELAXED);
		} else if (i < elem->nout) {
			__atomic_add_fetch(&n->nb->stats.tx_dropped, 1, __ATOMIC_RELAXED);
		} else {
			net_send(n->nb, iov, cnt);
		}
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

/* A frame from the back end (event-loop thread). */
static enum net_rx net_receive(void *opaque, const uint8_t *frame, size_t len)
{
	struct virtio_net *n = opaque;
	struct virtio_device *vdev = n->vdev;
	struct virtq *vq = &vdev->vq[RX_QUEUE];
	struct virtq_elem *elem = n->rx_elem;
	bool mergeable = virtio_has_feature(vdev, NET_F_MRG_RXBUF);
	/* Every frame a back end hands us carries complete checksums. */
	uint8_t hdr[HDR_LEN] = {
		virtio_has_feature(vdev, NET_F_GUEST_CSUM) ? HDR_F_DATA_VALID : 0
	};
	uint8_t *num_buffers[2] = { NULL, NULL };
	size_t done = 0;
	unsigned used = 0;
	enum net_rx result = NET_RX_DROPPED;

	if (len > MAX_RX_FRAME)
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

static void net_destroy(struct virtio_device *vdev)
{
	struct virtio_net *n = vdev->opaque;

	net_backend_destroy(n->nb);
	free(n->rx_elem);
	free(n);
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

int virtio_net_create(struct vm *vm, const char *spec, unsigned index)
{
	static const struct virtio_device_ops ops = {
		.name = "virtio-net",
		.device_id = VIRTIO_ID_NET,
		.class_code = 0x020000,
		.nqueues = 2,
		.queue_size = 256,
		.features = (1ull << NET_F_CSUM) | (1ull << NET_F_GUEST_CSUM) |
			    (1ull << NET_F_MAC) | (1ull << NET_F_MRG_RXBUF) |
			    (1ull << NET_F_STATUS),
		.config_size = CFG_SIZE,
		.queue_notify = net_queue_notify,
		.destroy = net_destroy,
	};
	struct virtio_net *n = calloc(1, sizeof(*n));
	int ret;

	if (!n)
		return -ENOMEM;
	n->rx_elem = malloc(sizeof(*n->rx_elem));
	if (!n->rx_elem) {
		free(n);
		return -ENOMEM;
	}
	ret = net_backend_create(vm, spec, index, &n->nb);
	if (ret) {
		free(n->rx_elem);
		free(n);
		return ret;
	}
	n->vdev = virtio_pci_create(vm, &ops, n);
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

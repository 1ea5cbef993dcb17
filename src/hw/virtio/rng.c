/*
 * virtio-rng (virtio 1.x, 5.4): the guest's /dev/hwrng, fed from the
 * host's getrandom().
 */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "util/log.h"

/* At most this much per request, so one guest cannot drain the host. */
#define RNG_MAX_REQUEST 4096

static void rng_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtq *vq = &vdev->vq[q];
	struct virtq_elem *elem = vdev->elem;
	uint8_t buf[RNG_MAX_REQUEST];
	bool pushed = false;

	while (virtq_pop(vq, elem) == 1) {
		size_t want = elem->in_len < sizeof(buf) ? elem->in_len : sizeof(buf);
		ssize_t got = want ? getrandom(buf, want, 0) : 0;

		if (got < 0) {
			log_warn_once("virtio-rng: getrandom: %m");
			got = 0;
		}
		virtq_push(vq, elem, virtq_copy_to_in(elem, 0, buf, got));
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(vdev, q);
}

int virtio_rng_create(struct vm *vm)
{
	static const struct virtio_device_ops ops = {
		.name = "virtio-rng",
		.device_id = VIRTIO_ID_RNG,
		.class_code = 0x00ff00,
		.nqueues = 1,
		.queue_size = 64,
		.queue_notify = rng_queue_notify,
	};

	return virtio_pci_create(vm, &ops, NULL) ? 0 : -EIO;
}

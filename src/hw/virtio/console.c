/*
 * virtio-console (virtio 1.x, 5.3), single port: hvc0 on this terminal.
 * Guest output goes to the console as it comes; terminal input fills the
 * guest's receive buffers.  Input arrives on the event-loop thread; when
 * the guest adds receive buffers, the worker wakes the event loop (an
 * eventfd) rather than calling into the console itself, so the console
 * lock and the device lock are never taken in the opposite order.
 */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ui/console.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "vm/vm.h"

#define RX_QUEUE 0
#define TX_QUEUE 1
#define CFG_SIZE 12     /* cols, rows, max_nr_ports, emerg_wr */

struct virtio_console {
	struct virtio_device *vdev;
	int rx_room_fd;      /* worker -> event loop: receive buffers added */
	struct virtq_elem *rx_elem;
};

static void console_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_console *c = vdev->opaque;
	struct virtq *vq = &vdev->vq[q];
	struct virtq_elem *elem = vdev->elem;
	uint8_t buf[4096];
	bool pushed = false;
	uint64_t one = 1;

	if (q == RX_QUEUE) {
		if (write(c->rx_room_fd, &one, sizeof(one)) < 0)
			log_warn_once("virtio-console: cannot wake the console: %m");
		return;
	}
	while (virtq_pop(vq, elem) == 1) {
		size_t off = 0, n;

		while ((n = virtq_copy_from_out(elem, off, buf, sizeof(buf)))) {
			console_write(buf, n);
			off += n;
		}
		virtq_push(vq, elem, 0);
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(vdev, q);
}

/* Terminal input for the guest (event-loop thread, console lock held). */
static size_t console_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct virtio_console *c = opaque;
	struct virtio_device *vdev = c->vdev;
	struct virtq *vq = &vdev->vq[RX_QUEUE];
	size_t done = 0;
	bool pushed = false;

	pthread_mutex_lock(&vdev->lock);
	while (done < len && (vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
	       virtq_pop(vq, c->rx_elem) == 1) {
		size_t n = virtq_copy_to_in(c->rx_elem, 0, buf + done, len - done);

		virtq_push(vq, c->rx_elem, n);
		done += n;
		pushed = true;
	}
	if (vq->broken)
		virtio_set_needs_reset(vdev);
	if (pushed)
		virtio_notify_queue(vdev, RX_QUEUE);
	pthread_mutex_unlock(&vdev->lock);
	return done;
}

static void console_on_rx_room(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;
	uint64_t count;

	if (read(c->rx_room_fd, &count, sizeof(count)) < 0)
		return;
	console_rx_ready();
}

static void console_driver_ok(struct virtio_device *vdev)
{
	struct virtio_console *c = vdev->opaque;
	uint64_t one = 1;

	/* Input typed before the driver came up can go in now. */
	if (write(c->rx_room_fd, &one, sizeof(one)) < 0)
		log_warn_once("virtio-console: cannot wake the console: %m");
}

static void console_destroy(struct virtio_device *vdev)
{
	struct virtio_console *c = vdev->opaque;

	close(c->rx_room_fd);
	free(c->rx_elem);
	free(c);
}

int virtio_console_create(struct vm *vm)
{
	static const struct virtio_device_ops ops = {
		.name = "virtio-console",
		.device_id = VIRTIO_ID_CONSOLE,
		.class_code = 0x078000,
		.nqueues = 2,
		.queue_size = 128,
		.config_size = CFG_SIZE,
		.queue_notify = console_queue_notify,
		.driver_ok = console_driver_ok,
		.destroy = console_destroy,
	};
	struct virtio_console *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->rx_elem = malloc(sizeof(*c->rx_elem));
	c->rx_room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!c->rx_elem || c->rx_room_fd < 0) {
		free(c->rx_elem);
		free(c);
		return -ENOMEM;
	}
	c->vdev = virtio_pci_create(vm, &ops, c);
	if (!c->vdev)
		return -EIO;
	ret = event_loop_add_fd(vm->loop, c->rx_room_fd, EPOLLIN,
				console_on_rx_room, c);
	if (!ret)
		ret = console_attach(vm, console_receive, c);
	return ret;
}

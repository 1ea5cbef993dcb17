/*
 * virtio-console (virtio 1.x, 5.3) with multiple ports.
 *
 * Port 0 is the console, hvc0, on this terminal (with --console virtio).
 * Ports 1..n are named channels (--channel NAME,path=SOCKET): the guest
 * sees /sys/class/virtio-ports/vportNpM/name, the host end is a unix
 * socket wirt listens on, one client at a time.
 *
 * Threads: queue work runs on the device worker; terminal and socket input
 * arrive on the event-loop thread.  When the guest adds receive buffers
 * the worker wakes the event loop (an eventfd) rather than calling into
 * the console, so the console lock and the device lock are never taken in
 * the opposite order.
 */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "migration/vmstate.h"
#include "ui/console.h"
#include "util/event_loop.h"
#include "util/log.h"
#include "vm/vm.h"

#define CONSOLE_F_MULTIPORT 1
#define CFG_SIZE 12          /* cols, rows, max_nr_ports, emerg_wr */
#define CTRL_RX 2            /* device -> driver control messages */
#define CTRL_TX 3            /* driver -> device */
#define MAX_PORTS (1 + VM_MAX_CHANNELS)
#define PENDING_MAX 4096
#define CTRL_QUEUE_MAX 64
#define NAME_MAX_LEN 64

/* Control events (5.3.6.2). */
enum {
	CTL_DEVICE_READY = 0, CTL_DEVICE_ADD = 1, CTL_PORT_READY = 3,
	CTL_CONSOLE_PORT = 4, CTL_PORT_OPEN = 6, CTL_PORT_NAME = 7,
};

struct virtio_console;

struct port {
	struct virtio_console *owner;
	unsigned index;
	const char *name;            /* NULL for port 0 */
	bool is_console;
	int listen_fd, client_fd;
	bool guest_open;
	uint8_t pending[PENDING_MAX];  /* socket input the guest has no room for */
	size_t pending_len;
};

struct ctrl_msg {
	uint32_t id;
	uint16_t event, value;
	const char *name;            /* PORT_NAME payload */
};

struct virtio_console {
	struct virtio_device *vdev;
	struct virtio_device_ops ops;
	struct vm *vm;
	int rx_room_fd;              /* worker -> event loop: buffers added */
	struct virtq_elem *rx_elem;  /* for the event-loop thread */
	unsigned nports;
	struct port ports[MAX_PORTS];
	struct ctrl_msg ctrl[CTRL_QUEUE_MAX];
	unsigned ctrl_head, ctrl_len;
};

static unsigned rx_queue(unsigned port)
{
	return port ? 2 + 2 * port : 0;
}

static bool multiport(struct virtio_console *c)
{
	return virtio_has_feature(c->vdev, CONSOLE_F_MULTIPORT);
}

static void wake_event_loop(struct virtio_console *c)
{
	uint64_t one = 1;

	if (write(c->rx_room_fd, &one, sizeof(one)) < 0)
		log_warn_once("virtio-console: cannot wake the event loop: %m");
}

/* Send queued control messages while the driver has buffers; lock held. */
static void ctrl_flush(struct virtio_console *c)
{
	struct virtq *vq = &c->vdev->vq[CTRL_RX];
	struct virtq_elem *elem = c->rx_elem;
	bool pushed = false;

	while (c->ctrl_len && virtq_pop(vq, elem) == 1) {
		struct ctrl_msg *m = &c->ctrl[c->ctrl_head];
		uint8_t buf[8 + NAME_MAX_LEN];
		size_t len = 8;

		memcpy(buf, &m->id, 4);
		memcpy(buf + 4, &m->event, 2);
		memcpy(buf + 6, &m->value, 2);
		if (m->name) {
			memcpy(buf + 8, m->name, strlen(m->name));
			len += strlen(m->name);
		}
		virtq_push(vq, elem, virtq_copy_to_in(elem, 0, buf, len));
		pushed = true;
		c->ctrl_head = (c->ctrl_head + 1) % CTRL_QUEUE_MAX;
		c->ctrl_len--;
	}
	if (pushed)
		virtio_notify_queue(c->vdev, CTRL_RX);
}

static void ctrl_send(struct virtio_console *c, uint32_t id, uint16_t event,
		      uint16_t value, const char *name)
{
	if (c->ctrl_len == CTRL_QUEUE_MAX) {
		log_warn_once("virtio-console: the driver takes no control messages");
		return;
	}
	c->ctrl[(c->ctrl_head + c->ctrl_len++) % CTRL_QUEUE_MAX] =
		(struct ctrl_msg){ id, event, value, name };
	ctrl_flush(c);
}

/* A control message from the driver; lock held. */
static void ctrl_receive(struct virtio_console *c, const uint8_t *buf)
{
	uint32_t id;
	uint16_t event, value;
	struct port *p;
	unsigned i;

	memcpy(&id, buf, 4);
	memcpy(&event, buf + 4, 2);
	memcpy(&value, buf + 6, 2);
	if (event == CTL_DEVICE_READY) {
		if (value == 1)
			for (i = 0; i < c->nports; i++)
				ctrl_send(c, i, CTL_DEVICE_ADD, 0, NULL);
		return;
	}
	if (id >= c->nports) {
		log_warn_once("virtio-console: control message for port %u, which "
			      "does not exist", id);
		return;
	}
	p = &c->ports[id];
	if (event == CTL_PORT_READY && value == 1) {
		if (p->is_console) {
			ctrl_send(c, id, CTL_CONSOLE_PORT, 1, NULL);
			ctrl_send(c, id, CTL_PORT_OPEN, 1, NULL);
		} else if (p->name) {
			ctrl_send(c, id, CTL_PORT_NAME, 1, p->name);
			ctrl_send(c, id, CTL_PORT_OPEN, p->client_fd >= 0, NULL);
		}
	} else if (event == CTL_PORT_OPEN) {
		p->guest_open = value;
	}
}

/* Guest output on port p: the terminal, or the channel's client. */
static void port_output(struct port *p, const uint8_t *buf, size_t len)
{
	if (p->is_console) {
		console_write(buf, len);
		return;
	}
	while (p->client_fd >= 0 && len) {
		ssize_t n = send(p->client_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		struct pollfd pfd = { .fd = p->client_fd, .events = POLLOUT };

		if (n > 0) {
			buf += n;
			len -= n;
		} else if (n < 0 && errno == EAGAIN && poll(&pfd, 1, 100) > 0) {
			continue;
		} else {
			log_warn_once("virtio-console: channel %s: the client does "
				      "not read; output dropped", p->name);
			return;
		}
	}
}

static void console_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_console *c = vdev->opaque;
	struct virtq *vq = &vdev->vq[q];
	struct virtq_elem *elem = vdev->elem;
	uint8_t buf[4096];
	bool pushed = false;
	unsigned port = q < 2 ? 0 : (q - 2) / 2;

	if (q == CTRL_RX || (q != CTRL_TX && !(q & 1))) {
		/* New receive buffers: control messages, or input may go in. */
		if (q == CTRL_RX)
			ctrl_flush(c);
		else
			wake_event_loop(c);
		return;
	}
	while (virtq_pop(vq, elem) == 1) {
		if (q == CTRL_TX) {
			if (virtq_copy_from_out(elem, 0, buf, 8) == 8)
				ctrl_receive(c, buf);
		} else if (port < c->nports) {
			size_t off = 0, n;

			while ((n = virtq_copy_from_out(elem, off, buf, sizeof(buf)))) {
				port_output(&c->ports[port], buf, n);
				off += n;
			}
		}
		virtq_push(vq, elem, 0);
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(vdev, q);
}

/* Put input for port p into the guest's buffers; lock held. */
static size_t port_input(struct virtio_console *c, unsigned p,
			 const uint8_t *buf, size_t len)
{
	struct virtio_device *vdev = c->vdev;
	struct virtq *vq = &vdev->vq[rx_queue(p)];
	size_t done = 0;
	bool pushed = false;

	if (!(vdev->status & VIRTIO_STATUS_DRIVER_OK) || (p && !multiport(c)))
		return 0;
	while (done < len && virtq_pop(vq, c->rx_elem) == 1) {
		size_t n = virtq_copy_to_in(c->rx_elem, 0, buf + done, len - done);

		virtq_push(vq, c->rx_elem, n);
		done += n;
		pushed = true;
	}
	if (vq->broken)
		virtio_set_needs_reset(vdev);
	if (pushed)
		virtio_notify_queue(vdev, rx_queue(p));
	return done;
}

/* Terminal input (event-loop thread, console lock held). */
static size_t console_receive(void *opaque, const uint8_t *buf, size_t len)
{
	struct virtio_console *c = opaque;
	size_t n;

	pthread_mutex_lock(&c->vdev->lock);
	n = port_input(c, 0, buf, len);
	pthread_mutex_unlock(&c->vdev->lock);
	return n;
}

/* Move held socket input into the guest; event-loop thread. */
static void channel_flush(struct virtio_console *c, unsigned i)
{
	struct port *p = &c->ports[i];
	size_t n;

	if (!p->pending_len)
		return;
	pthread_mutex_lock(&c->vdev->lock);
	n = port_input(c, i, p->pending, p->pending_len);
	pthread_mutex_unlock(&c->vdev->lock);
	memmove(p->pending, p->pending + n, p->pending_len - n);
	p->pending_len -= n;
	if (!p->pending_len && p->client_fd >= 0)
		event_loop_mod_fd(c->vm->loop, p->client_fd, EPOLLIN);
}

static void channel_disconnect(struct virtio_console *c, unsigned i)
{
	struct port *p = &c->ports[i];

	event_loop_remove_fd(c->vm->loop, p->client_fd);
	close(p->client_fd);
	p->pending_len = 0;
	pthread_mutex_lock(&c->vdev->lock);
	p->client_fd = -1;
	if (multiport(c))
		ctrl_send(c, i, CTL_PORT_OPEN, 0, NULL);
	pthread_mutex_unlock(&c->vdev->lock);
}

static void on_client(void *opaque, uint32_t events)
{
	struct port *p = opaque;
	struct virtio_console *c = p->owner;
	ssize_t n;

	if (p->client_fd < 0 || p->pending_len)
		return;
	n = recv(p->client_fd, p->pending, sizeof(p->pending), MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		channel_disconnect(c, p->index);
		return;
	}
	if (n < 0)
		return;
	p->pending_len = n;
	/* Stop reading until the guest took this. */
	event_loop_mod_fd(c->vm->loop, p->client_fd, 0);
	channel_flush(c, p->index);
}

static void on_accept(void *opaque, uint32_t events)
{
	struct port *p = opaque;
	struct virtio_console *c = p->owner;
	int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (p->client_fd >= 0) {
		close(fd);  /* one client at a time */
		return;
	}
	pthread_mutex_lock(&c->vdev->lock);
	p->client_fd = fd;
	if (multiport(c))
		ctrl_send(c, p->index, CTL_PORT_OPEN, 1, NULL);
	pthread_mutex_unlock(&c->vdev->lock);
	event_loop_add_fd(c->vm->loop, fd, EPOLLIN, on_client, p);
}

static void on_rx_room(void *opaque, uint32_t events)
{
	struct virtio_console *c = opaque;
	uint64_t count;
	unsigned i;

	if (read(c->rx_room_fd, &count, sizeof(count)) < 0)
		return;
	if (c->ports[0].is_console)
		console_rx_ready();
	for (i = 1; i < c->nports; i++)
		channel_flush(c, i);
}

static void console_driver_ok(struct virtio_device *vdev)
{
	/* Input that arrived before the driver came up can go in now. */
	wake_event_loop(vdev->opaque);
}

static void console_reset(struct virtio_device *vdev)
{
	struct virtio_console *c = vdev->opaque;
	unsigned i;

	c->ctrl_len = 0;
	for (i = 0; i < c->nports; i++)
		c->ports[i].guest_open = false;
}

/* Which ports the guest opened and the control messages not sent yet;
 * a channel's client connection is the host's and does not move. */
static void console_save(struct virtio_device *vdev, struct vmstate_out *o)
{
	struct virtio_console *c = vdev->opaque;
	unsigned i;

	vmstate_put_u32(o, c->nports);
	for (i = 0; i < c->nports; i++)
		vmstate_put_bool(o, c->ports[i].guest_open);
	vmstate_put_u32(o, c->ctrl_len);
	for (i = 0; i < c->ctrl_len; i++) {
		const struct ctrl_msg *m = &c->ctrl[(c->ctrl_head + i) % CTRL_QUEUE_MAX];

		vmstate_put_u32(o, m->id);
		vmstate_put_u16(o, m->event);
		vmstate_put_u16(o, m->value);
		vmstate_put_bool(o, m->name != NULL);
	}
}

static int console_load(struct virtio_device *vdev, struct vmstate_in *in)
{
	struct virtio_console *c = vdev->opaque;
	unsigned i, n = vmstate_get_u32(in);

	if (!in->error && n != c->nports)
		return vmstate_fail(in, -EINVAL, "virtio-console: the saved machine has %u ports, this one %u: start with the same --channel options",
				    n, c->nports);
	for (i = 0; i < c->nports; i++)
		c->ports[i].guest_open = vmstate_get_bool(in);
	n = vmstate_get_u32(in);
	if (!in->error && n > CTRL_QUEUE_MAX)
		return vmstate_fail(in, -EINVAL, "virtio-console: %u control messages queued", n);
	c->ctrl_head = 0;
	c->ctrl_len = 0;
	for (i = 0; i < n && !in->error; i++) {
		struct ctrl_msg *m = &c->ctrl[i];

		m->id = vmstate_get_u32(in);
		m->event = vmstate_get_u16(in);
		m->value = vmstate_get_u16(in);
		m->name = vmstate_get_bool(in) && m->id < c->nports ? c->ports[m->id].name : NULL;
		if (m->id >= c->nports)
			vmstate_fail(in, -EINVAL, "virtio-console: a control message for port %u", m->id);
	}
	if (in->error)
		return in->error;
	c->ctrl_len = n;
	ctrl_flush(c);
	return 0;
}

static void console_destroy(struct virtio_device *vdev)
{
	struct virtio_console *c = vdev->opaque;
	unsigned i;

	for (i = 1; i < c->nports; i++) {
		if (c->ports[i].client_fd >= 0)
			close(c->ports[i].client_fd);
		if (c->ports[i].listen_fd >= 0)
			close(c->ports[i].listen_fd);
	}
	close(c->rx_room_fd);
	free(c->rx_elem);
	free(c);
}

/* Listen on the channel's unix socket (replacing a stale socket file). */
static int channel_listen(struct virtio_console *c, unsigned i,
			  const struct channel_config *ch)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct port *p = &c->ports[i];
	struct stat st;
	int fd;

	if (strlen(ch->path) >= sizeof(sa.sun_path)) {
		log_error("--channel %s: socket path too long", ch->name);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, ch->path);
	if (!stat(ch->path, &st) && S_ISSOCK(st.st_mode))
		unlink(ch->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
		int err = errno;

		log_error("--channel %s: cannot listen on %s: %s", ch->name,
			  ch->path, strerror(err));
		if (fd >= 0)
			close(fd);
		return -err;
	}
	p->listen_fd = fd;
	return event_loop_add_fd(c->vm->loop, fd, EPOLLIN, on_accept, p);
}

int virtio_console_create(struct vm *vm)
{
	static const struct virtio_device_ops base_ops = {
		.name = "virtio-console",
		.device_id = VIRTIO_ID_CONSOLE,
		.class_code = 0x078000,
		.queue_size = 128,
		.features = 1ull << CONSOLE_F_MULTIPORT,
		.config_size = CFG_SIZE,
		.queue_notify = console_queue_notify,
		.driver_ok = console_driver_ok,
		.reset = console_reset,
		.destroy = console_destroy,
		.save = console_save,
		.load = console_load,
	};
	const struct vm_config *cfg = vm->config;
	struct virtio_console *c = calloc(1, sizeof(*c));
	uint32_t max_ports;
	unsigned i;
	int ret;

	if (!c)
		return -ENOMEM;
	c->vm = vm;
	c->ops = base_ops;
	c->nports = 1 + cfg->nchannels;
	c->ops.nqueues = 2 + 2 * c->nports;
	c->ports[0].is_console = cfg->virtio_console;
	for (i = 0; i < c->nports; i++) {
		c->ports[i].owner = c;
		c->ports[i].index = i;
		c->ports[i].listen_fd = c->ports[i].client_fd = -1;
	}
	c->rx_elem = malloc(sizeof(*c->rx_elem));
	c->rx_room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!c->rx_elem || c->rx_room_fd < 0) {
		free(c->rx_elem);
		free(c);
		return -ENOMEM;
	}
	c->vdev = virtio_pci_create(vm, &c->ops, c);
	if (!c->vdev)
		return -EIO;
	max_ports = c->nports;
	memcpy(c->vdev->config + 4, &max_ports, 4);
	ret = event_loop_add_fd(vm->loop, c->rx_room_fd, EPOLLIN, on_rx_room, c);
	for (i = 1; i < c->nports && !ret; i++) {
		c->ports[i].name = cfg->channels[i - 1].name;
		ret = channel_listen(c, i, &cfg->channels[i - 1]);
	}
	if (!ret && cfg->virtio_console)
		ret = console_attach(vm, console_receive, c);
	return ret;
}

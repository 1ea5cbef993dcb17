/*
 * virtio-input (virtio 1.x, 5.8) as an absolute pointer: the tablet a
 * viewer's pointer drives (--tablet), as QEMU's virtio-tablet-pci.
 *
 * The driver learns what the device is through the configuration
 * (select/subsel: name, ids, event types and codes, axis ranges) and
 * receives Linux input events (type, code, value) in the buffers of its
 * event queue; the status queue carries its own events (LEDs), taken
 * and ignored.  Pointer events arrive on the display's thread (the VNC
 * server), take the device lock and are written into the event queue;
 * what the driver has no buffers for waits in a backlog (a report that
 * does not fit in it is dropped whole), sent when buffers come.
 */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "migration/vmstate.h"
#include "ui/display.h"
#include "util/log.h"
#include "vm/vm.h"

#define EVENTQ  0
#define STATUSQ 1

/* Configuration selectors (5.8.5). */
#define CFG_UNSET     0x00
#define CFG_ID_NAME   0x01
#define CFG_ID_SERIAL 0x02
#define CFG_ID_DEVIDS 0x03
#define CFG_PROP_BITS 0x10
#define CFG_EV_BITS   0x11
#define CFG_ABS_INFO  0x12
#define CFG_SIZE      136   /* select, subsel, size, 5 reserved, 128 data */
#define CFG_DATA      8

/* Linux input event types and codes (linux/input-event-codes.h). */
#define EV_SYN 0x00
#define EV_KEY 0x01
#define EV_REL 0x02
#define EV_ABS 0x03
#define SYN_REPORT 0
#define REL_WHEEL 0x08
#define ABS_X 0x00
#define ABS_Y 0x01
#define BTN_LEFT   0x110
#define BTN_RIGHT  0x111
#define BTN_MIDDLE 0x112
#define BUS_VIRTUAL 0x06

#define TABLET_ABS_MAX 32767   /* axis range, as QEMU's tablets */
#define BACKLOG 64              /* events waiting for buffers */

struct input_event_le {
	uint16_t type, code;
	uint32_t value;
};

struct virtio_tablet {
	struct virtio_device *vdev;
	struct display *display;
	unsigned buttons;           /* held: bit 0 left, 1 right, 2 middle */
	struct input_event_le backlog[BACKLOG];
	unsigned nbacklog;
	bool attached;              /* the display sends us its pointer */
};

static const char tablet_name[] = "wirt Virtio Tablet";

static void set_bit_in(uint8_t *bits, unsigned n)
{
	bits[n / 8] |= 1u << (n % 8);
}

/* Fill the configuration's data for the driver's select/subsel; lock held. */
static void tablet_config_select(struct virtio_device *vdev)
{
	uint8_t select = vdev->config[0], subsel = vdev->config[1];
	uint8_t *data = vdev->config + CFG_DATA;
	unsigned size = 0;

	memset(data, 0, CFG_SIZE - CFG_DATA);
	switch (select) {
	case CFG_ID_NAME:
		if (!subsel) {
			size = strlen(tablet_name);
			memcpy(data, tablet_name, size);
		}
		break;
	case CFG_ID_DEVIDS:
		if (!subsel) {
			/* bustype, vendor, product, version (QEMU's tablet ids) */
			uint16_t ids[4] = { BUS_VIRTUAL, 0x0627, 0x0003, 1 };

			memcpy(data, ids, sizeof(ids));
			size = sizeof(ids);
		}
		break;
	case CFG_EV_BITS:
		if (subsel == EV_KEY) {
			set_bit_in(data, BTN_LEFT);
			set_bit_in(data, BTN_RIGHT);
			set_bit_in(data, BTN_MIDDLE);
			size = BTN_MIDDLE / 8 + 1;
		} else if (subsel == EV_ABS) {
			set_bit_in(data, ABS_X);
			set_bit_in(data, ABS_Y);
			size = 1;
		} else if (subsel == EV_REL) {
			set_bit_in(data, REL_WHEEL);
			size = 2;
		}
		break;
	case CFG_ABS_INFO:
		if (subsel == ABS_X || subsel == ABS_Y) {
			/* min, max, fuzz, flat, res */
			uint32_t info[5] = { 0, TABLET_ABS_MAX, 0, 0, 0 };

			memcpy(data, info, sizeof(info));
			size = sizeof(info);
		}
		break;
	}
	/* ID_SERIAL, PROP_BITS and anything unknown: size 0, no data. */
	vdev->config[2] = size;
}

static void tablet_config_write(struct virtio_device *vdev, unsigned off,
				unsigned size)
{
	/* Only select and subsel are the driver's: size and data are made
	 * again from them, whatever was written there. */
	tablet_config_select(vdev);
}

/* Write the backlog into the driver's buffers, whole reports only. */
static void tablet_flush(struct virtio_tablet *t)
{
	struct virtio_device *vdev = t->vdev;
	struct virtq *vq = &vdev->vq[EVENTQ];
	struct virtq_elem *elem = vdev->elem;
	unsigned sent = 0, popped = 0;

	if (!vq->ready || vq->broken || !(vdev->status & VIRTIO_STATUS_DRIVER_OK))
		return;
	while (sent + popped < t->nbacklog) {
		int ret = virtq_pop(vq, elem);

		if (ret != 1)
			break;
		popped++;
		virtq_push(vq, elem, virtq_copy_to_in(elem, 0,
						      &t->backlog[sent + popped - 1],
						      sizeof(t->backlog[0])));
		/* A report is complete at its SYN_REPORT. */
		if (t->backlog[sent + popped - 1].type == EV_SYN) {
			sent += popped;
			popped = 0;
		}
	}
	/* A partial report is pushed already: finish it with the next
	 * buffers rather than send it twice. */
	sent += popped;
	if (sent) {
		memmove(t->backlog, t->backlog + sent,
			(t->nbacklog - sent) * sizeof(t->backlog[0]));
		t->nbacklog -= sent;
		virtio_notify_queue(vdev, EVENTQ);
	}
}

static void tablet_event(struct virtio_tablet *t, uint16_t type, uint16_t code,
			 uint32_t value)
{
	if (t->nbacklog < BACKLOG)
		t->backlog[t->nbacklog++] = (struct input_event_le){ type, code, value };
}

/* Scale a pixel position to the axis: the last pixel is TABLET_ABS_MAX. */
static uint32_t scale_axis(unsigned pos, unsigned size)
{
	if (size < 2)
		return 0;
	if (pos >= size)
		pos = size - 1;
	return (uint64_t)pos * TABLET_ABS_MAX / (size - 1);
}

static void tablet_pointer(void *opaque, unsigned x, unsigned y,
			   unsigned width, unsigned height, unsigned buttons)
{
	static const uint16_t codes[3] = { BTN_LEFT, BTN_RIGHT, BTN_MIDDLE };
	struct virtio_tablet *t = opaque;
	struct virtio_device *vdev = t->vdev;

	pthread_mutex_lock(&vdev->lock);
	/* Room for a whole report (2 axes, 3 buttons, wheel, SYN), or drop
	 * it: the driver does not take events. */
	if (t->nbacklog + 7 > BACKLOG) {
		log_warn_once("virtio-tablet: the driver takes no events; pointer "
			      "events dropped");
		pthread_mutex_unlock(&vdev->lock);
		return;
	}
	tablet_event(t, EV_ABS, ABS_X, scale_axis(x, width));
	tablet_event(t, EV_ABS, ABS_Y, scale_axis(y, height));
	for (unsigned i = 0; i < 3; i++)
		if ((buttons ^ t->buttons) & (1u << i))
			tablet_event(t, EV_KEY, codes[i], !!(buttons & (1u << i)));
	t->buttons = buttons & 7;
	if (buttons & 0x08)
		tablet_event(t, EV_REL, REL_WHEEL, 1);
	if (buttons & 0x10)
		tablet_event(t, EV_REL, REL_WHEEL, (uint32_t)-1);
	tablet_event(t, EV_SYN, SYN_REPORT, 0);
	tablet_flush(t);
	pthread_mutex_unlock(&vdev->lock);
}

static const struct display_tablet_ops tablet_display_ops = {
	.pointer = tablet_pointer,
};

static void tablet_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_tablet *t = vdev->opaque;
	struct virtq *vq = &vdev->vq[q];
	bool pushed = false;

	if (q == EVENTQ) {
		tablet_flush(t);
		return;
	}
	/* The driver's own events (LEDs): a tablet has none to show. */
	while (virtq_pop(vq, vdev->elem) == 1) {
		virtq_push(vq, vdev->elem, 0);
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(vdev, q);
}

/* Lock held: the display sends pointer events here from now on. */
static void tablet_driver_ok(struct virtio_device *vdev)
{
	struct virtio_tablet *t = vdev->opaque;

	if (t->display && !t->attached) {
		display_set_tablet(t->display, &tablet_display_ops, t);
		t->attached = true;
	}
}

/* Lock held: back to the PS/2 mouse until a driver is ready again. */
static void tablet_reset(struct virtio_device *vdev)
{
	struct virtio_tablet *t = vdev->opaque;

	if (t->attached) {
		display_set_tablet(t->display, NULL, NULL);
		t->attached = false;
	}
	t->nbacklog = 0;
	t->buttons = 0;
	memset(vdev->config, 0, CFG_SIZE);
}

/* The driver's select and subsel, the held buttons and the events
 * waiting for buffers (lock held, after the transport's state). */
static void tablet_save(struct virtio_device *vdev, struct vmstate_out *o)
{
	struct virtio_tablet *t = vdev->opaque;

	vmstate_put_u8(o, vdev->config[0]);
	vmstate_put_u8(o, vdev->config[1]);
	vmstate_put_u8(o, t->buttons);
	vmstate_put_u32(o, t->nbacklog);
	for (unsigned i = 0; i < t->nbacklog; i++) {
		vmstate_put_u16(o, t->backlog[i].type);
		vmstate_put_u16(o, t->backlog[i].code);
		vmstate_put_u32(o, t->backlog[i].value);
	}
}

static int tablet_load(struct virtio_device *vdev, struct vmstate_in *in)
{
	struct virtio_tablet *t = vdev->opaque;
	unsigned n;

	vdev->config[0] = vmstate_get_u8(in);
	vdev->config[1] = vmstate_get_u8(in);
	t->buttons = vmstate_get_u8(in) & 7;
	n = vmstate_get_u32(in);
	if (!in->error && n > BACKLOG)
		return vmstate_fail(in, -EINVAL, "virtio-tablet: %u queued events "
				    "(at most %u)", n, BACKLOG);
	for (unsigned i = 0; i < n && !in->error; i++) {
		t->backlog[i].type = vmstate_get_u16(in);
		t->backlog[i].code = vmstate_get_u16(in);
		t->backlog[i].value = vmstate_get_u32(in);
	}
	t->nbacklog = in->error ? 0 : n;
	/* What the driver selected, answered again. */
	tablet_config_select(vdev);
	return in->error;
}

static void tablet_destroy(struct virtio_device *vdev)
{
	free(vdev->opaque);
}

int virtio_tablet_create(struct vm *vm)
{
	static const struct virtio_device_ops ops = {
		.name = "virtio-tablet",
		.device_id = VIRTIO_ID_INPUT,
		.class_code = 0x098000,     /* input device, other */
		.nqueues = 2,
		.queue_size = 64,
		.config_size = CFG_SIZE,
		.queue_notify = tablet_queue_notify,
		.config_write = tablet_config_write,
		.driver_ok = tablet_driver_ok,
		.reset = tablet_reset,
		.save = tablet_save,
		.load = tablet_load,
		.destroy = tablet_destroy,
	};
	struct virtio_tablet *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->display = vm->display;
	t->vdev = virtio_pci_create(vm, &ops, t);
	if (!t->vdev) {
		/* Freed by the transport's teardown if it got that far. */
		return -EIO;
	}
	return 0;
}

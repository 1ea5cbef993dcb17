/*
 * virtio-gpu, 2D (virtio 1.x, 5.7): the paravirtual display of
 * `--vga virtio` (QEMU's virtio-gpu-pci), driven by Linux's virtio-gpu
 * DRM driver.
 *
 * The driver creates resources (images of a pixel format held on the
 * host), attaches guest pages to them as backing, copies rectangles from
 * the backing into the resource (TRANSFER_TO_HOST_2D), shows a resource
 * on the scanout (SET_SCANOUT) and says what changed (RESOURCE_FLUSH);
 * the display renders the scanout's flushed rectangles into its surface
 * when a front end asks.  Display info offers the size the viewer wants:
 * a VNC client's SetDesktopSize changes it and raises
 * VIRTIO_GPU_EVENT_DISPLAY, and the driver probes again and sets a mode
 * of that size.
 *
 * Everything the driver writes is checked: resources are bounded in size
 * and count (GPU_HOSTMEM_MAX bytes of host memory in all), rectangles
 * must lie inside their resource, backing pages inside guest RAM, and a
 * transfer inside the backing; a bad command gets an error response
 * (VIRTIO_GPU_RESP_ERR_*), logged once, and the device goes on.
 * Commands run on the device worker with vdev->lock held, the rendering
 * on a front end's thread under the same lock.
 */
#include "hw/virtio/virtio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hw/devices.h"
#include "ui/display.h"
#include "util/log.h"
#include "vm/vm.h"

#define CONTROLQ 0
#define CURSORQ  1

/* Commands and responses (5.7.6.7). */
enum {
	CMD_GET_DISPLAY_INFO = 0x0100,
	CMD_RESOURCE_CREATE_2D,
	CMD_RESOURCE_UNREF,
	CMD_SET_SCANOUT,
	CMD_RESOURCE_FLUSH,
	CMD_TRANSFER_TO_HOST_2D,
	CMD_RESOURCE_ATTACH_BACKING,
	CMD_RESOURCE_DETACH_BACKING,
	CMD_UPDATE_CURSOR = 0x0300,
	CMD_MOVE_CURSOR,
	RESP_OK_NODATA = 0x1100,
	RESP_OK_DISPLAY_INFO,
	RESP_ERR_UNSPEC = 0x1200,
	RESP_ERR_OUT_OF_MEMORY,
	RESP_ERR_INVALID_SCANOUT_ID,
	RESP_ERR_INVALID_RESOURCE_ID,
	RESP_ERR_INVALID_CONTEXT_ID,
	RESP_ERR_INVALID_PARAMETER,
};

#define FLAG_FENCE 1
#define EVENT_DISPLAY 1
#define MAX_SCANOUTS 16          /* entries in the display info response */

/* Pixel formats (5.7.6.8): byte order in memory. */
enum {
	FMT_B8G8R8A8 = 1, FMT_B8G8R8X8 = 2, FMT_A8R8G8B8 = 3, FMT_X8R8G8B8 = 4,
	FMT_R8G8B8A8 = 67, FMT_X8B8G8R8 = 68, FMT_A8B8G8R8 = 121,
	FMT_R8G8B8X8 = 134,
};

/* Limits on what the driver may make the host hold. */
#define GPU_HOSTMEM_MAX   (256u << 20)   /* all resources' pixels (QEMU's default) */
#define GPU_MAX_RESOURCES 4096
#define GPU_MAX_DIM       16384
#define GPU_MAX_ENTRIES   16384          /* backing pieces of one resource */

#define DEFAULT_WIDTH  1280              /* QEMU's default display info */
#define DEFAULT_HEIGHT 800

/* Device configuration (5.7.4). */
#define CFG_EVENTS_READ  0
#define CFG_EVENTS_CLEAR 4
#define CFG_NUM_SCANOUTS 8
#define CFG_NUM_CAPSETS  12
#define CFG_SIZE         16

struct gpu_hdr {
	uint32_t type, flags;
	uint64_t fence_id;
	uint32_t ctx_id;
	uint8_t ring_idx, padding[3];
};

struct gpu_rect {
	uint32_t x, y, width, height;
};

struct gpu_backing {
	uint8_t *hva;
	uint64_t len;
	uint64_t end;                 /* offset after it in the backing */
};

struct gpu_resource {
	uint32_t id, format, width, height;
	uint8_t *pixels;              /* width * 4 bytes per line, its format */
	struct gpu_backing *backing;
	unsigned nbacking;
	struct gpu_resource *next;
};

struct virtio_gpu {
	struct virtio_device *vdev;
	struct vm *vm;
	struct display *display;
	struct gpu_resource *resources;
	unsigned nresources;
	uint64_t hostmem;             /* bytes of pixels held */
	/* Scanout 0, the display's screen. */
	uint32_t scanout_id;          /* resource shown (0: none) */
	struct gpu_rect scanout;      /* its part of the resource */
	struct display_rect pending;  /* flushed, not yet rendered */
	bool redraw;                  /* render the whole screen again */
	unsigned want_width, want_height;  /* offered in the display info */
	uint32_t events;              /* events_read */
};

/* ---- resources ---- */

static struct gpu_resource *resource_find(struct virtio_gpu *g, uint32_t id)
{
	struct gpu_resource *r;

	for (r = g->resources; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

static void backing_free(struct gpu_resource *r)
{
	free(r->backing);
	r->backing = NULL;
	r->nbacking = 0;
}

static void resource_free(struct virtio_gpu *g, struct gpu_resource *r)
{
	struct gpu_resource **p;

	for (p = &g->resources; *p; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	if (g->scanout_id == r->id) {
		g->scanout_id = 0;
		g->redraw = true;
	}
	g->hostmem -= (uint64_t)r->width * r->height * 4;
	g->nresources--;
	backing_free(r);
	free(r->pixels);
	free(r);
}

static void resources_free_all(struct virtio_gpu *g)
{
	while (g->resources)
		resource_free(g, g->resources);
}

static bool format_known(uint32_t f)
{
	switch (f) {
	case FMT_B8G8R8A8: case FMT_B8G8R8X8: case FMT_A8R8G8B8:
	case FMT_X8R8G8B8: case FMT_R8G8B8A8: case FMT_X8B8G8R8:
	case FMT_A8B8G8R8: case FMT_R8G8B8X8:
		return true;
	}
	return false;
}

/* A pixel of format f (its 4 bytes read little-endian) as XRGB. */
static inline uint32_t to_xrgb(uint32_t f, uint32_t p)
{
	switch (f) {
	case FMT_B8G8R8A8: case FMT_B8G8R8X8:     /* bytes B G R x */
		return p & 0xffffff;
	case FMT_A8R8G8B8: case FMT_X8R8G8B8:     /* bytes x R G B */
		return __builtin_bswap32(p) & 0xffffff;
	case FMT_R8G8B8A8: case FMT_R8G8B8X8:     /* bytes R G B x */
		return (p & 0xff) << 16 | (p & 0xff00) | (p >> 16 & 0xff);
	default:                                  /* bytes x B G R */
		return p >> 8;
	}
}

/* Does rect lie inside r (no overflow)? */
static bool rect_inside(const struct gpu_rect *rect, const struct gpu_resource *r)
{
	return rect->x <= r->width && rect->width <= r->width - rect->x &&
	       rect->y <= r->height && rect->height <= r->height - rect->y;
}

/* Copy len backing bytes from offset off (inside the backing). */
static void backing_read(const struct gpu_resource *r, uint64_t off,
			 uint8_t *dst, uint64_t len)
{
	unsigned lo = 0, hi = r->nbacking;

	/* The first piece that ends after off. */
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (r->backing[mid].end <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (unsigned i = lo; len && i < r->nbacking; i++) {
		const struct gpu_backing *b = &r->backing[i];
		uint64_t start = b->end - b->len;
		uint64_t n = b->end - off < len ? b->end - off : len;

		if (!n)
			continue;
		memcpy(dst, b->hva + (off - start), n);
		dst += n;
		off += n;
		len -= n;
	}
}

/* ---- commands ---- */

static void log_bad(const char *what)
{
	log_warn_once("virtio-gpu: the driver sent %s (answered with an error; "
		      "logged once)", what);
}

static uint32_t cmd_create_2d(struct virtio_gpu *g, const uint8_t *req, size_t len)
{
	struct { struct gpu_hdr h; uint32_t id, format, width, height; } c;
	struct gpu_resource *r;
	uint64_t bytes;

	if (len < sizeof(c))
		return RESP_ERR_UNSPEC;
	memcpy(&c, req, sizeof(c));
	if (!c.id || resource_find(g, c.id)) {
		log_bad("a resource id 0 or in use");
		return RESP_ERR_INVALID_RESOURCE_ID;
	}
	if (!format_known(c.format) || !c.width || !c.height ||
	    c.width > GPU_MAX_DIM || c.height > GPU_MAX_DIM) {
		log_bad("an unknown format or a size out of range");
		return RESP_ERR_INVALID_PARAMETER;
	}
	bytes = (uint64_t)c.width * c.height * 4;
	if (g->nresources >= GPU_MAX_RESOURCES || bytes > GPU_HOSTMEM_MAX - g->hostmem) {
		log_bad("resources beyond the host memory limit");
		return RESP_ERR_OUT_OF_MEMORY;
	}
	r = calloc(1, sizeof(*r));
	if (r)
		r->pixels = calloc(bytes, 1);
	if (!r || !r->pixels) {
		free(r);
		return RESP_ERR_OUT_OF_MEMORY;
	}
	r->id = c.id;
	r->format = c.format;
	r->width = c.width;
	r->height = c.height;
	r->next = g->resources;
	g->resources = r;
	g->nresources++;
	g->hostmem += bytes;
	return RESP_OK_NODATA;
}

/* UNREF and DETACH_BACKING: a resource id and padding. */
static struct gpu_resource *cmd_resource(struct virtio_gpu *g, const uint8_t *req,
					 size_t len, uint32_t *resp)
{
	struct { struct gpu_hdr h; uint32_t id, padding; } c;
	struct gpu_resource *r;

	if (len < sizeof(c)) {
		*resp = RESP_ERR_UNSPEC;
		return NULL;
	}
	memcpy(&c, req, sizeof(c));
	r = resource_find(g, c.id);
	if (!r) {
		log_bad("an unknown resource id");
		*resp = RESP_ERR_INVALID_RESOURCE_ID;
	}
	return r;
}

static uint32_t cmd_set_scanout(struct virtio_gpu *g, const uint8_t *req, size_t len)
{
	struct { struct gpu_hdr h; struct gpu_rect r; uint32_t scanout, id; } c;
	struct gpu_resource *r;

	if (len < sizeof(c))
		return RESP_ERR_UNSPEC;
	memcpy(&c, req, sizeof(c));
	if (c.scanout != 0) {
		log_bad("a scanout that does not exist");
		return RESP_ERR_INVALID_SCANOUT_ID;
	}
	if (!c.id) {                      /* the scanout is switched off */
		g->scanout_id = 0;
		g->redraw = true;
		return RESP_OK_NODATA;
	}
	r = resource_find(g, c.id);
	if (!r) {
		log_bad("an unknown resource id");
		return RESP_ERR_INVALID_RESOURCE_ID;
	}
	if (!rect_inside(&c.r, r) || !c.r.width || !c.r.height ||
	    c.r.width > DISPLAY_MAX_WIDTH || c.r.height > DISPLAY_MAX_HEIGHT) {
		log_bad("a scanout rectangle outside its resource");
		return RESP_ERR_INVALID_PARAMETER;
	}
	g->scanout_id = c.id;
	g->scanout = c.r;
	g->redraw = true;
	return RESP_OK_NODATA;
}

static uint32_t cmd_flush(struct virtio_gpu *g, const uint8_t *req, size_t len)
{
	struct { struct gpu_hdr h; struct gpu_rect r; uint32_t id, padding; } c;
	struct gpu_resource *r;
	struct gpu_rect *s = &g->scanout;
	uint32_t x1, y1, x2, y2;

	if (len < sizeof(c))
		return RESP_ERR_UNSPEC;
	memcpy(&c, req, sizeof(c));
	r = resource_find(g, c.id);
	if (!r) {
		log_bad("an unknown resource id");
		return RESP_ERR_INVALID_RESOURCE_ID;
	}
	if (!rect_inside(&c.r, r)) {
		log_bad("a flush rectangle outside its resource");
		return RESP_ERR_INVALID_PARAMETER;
	}
	if (c.id != g->scanout_id)
		return RESP_OK_NODATA;
	/* The part of the rectangle on the screen, in screen coordinates. */
	x1 = c.r.x > s->x ? c.r.x : s->x;
	y1 = c.r.y > s->y ? c.r.y : s->y;
	x2 = c.r.x + c.r.width < s->x + s->width ? c.r.x + c.r.width : s->x + s->width;
	y2 = c.r.y + c.r.height < s->y + s->height ? c.r.y + c.r.height : s->y + s->height;
	if (x1 < x2 && y1 < y2)
		display_rect_add(&g->pending, x1 - s->x, y1 - s->y, x2 - x1, y2 - y1);
	return RESP_OK_NODATA;
}

static uint32_t cmd_transfer(struct virtio_gpu *g, const uint8_t *req, size_t len)
{
	struct { struct gpu_hdr h; struct gpu_rect r; uint64_t offset;
		 uint32_t id, padding; } c;
	struct gpu_resource *r;
	uint64_t stride, span;

	if (len < sizeof(c))
		return RESP_ERR_UNSPEC;
	memcpy(&c, req, sizeof(c));
	r = resource_find(g, c.id);
	if (!r) {
		log_bad("an unknown resource id");
		return RESP_ERR_INVALID_RESOURCE_ID;
	}
	if (!r->nbacking) {
		log_bad("a transfer to a resource without backing");
		return RESP_ERR_UNSPEC;
	}
	if (!rect_inside(&c.r, r)) {
		log_bad("a transfer rectangle outside its resource");
		return RESP_ERR_INVALID_PARAMETER;
	}
	/* The backing holds the image with the resource's stride; the
	 * rectangle's first pixel is at offset.  All of it must be there
	 * before anything is copied. */
	stride = (uint64_t)r->width * 4;
	if (!c.r.width || !c.r.height)
		return RESP_OK_NODATA;
	span = stride * (c.r.height - 1) + (uint64_t)c.r.width * 4;
	if (c.offset > r->backing[r->nbacking - 1].end ||
	    span > r->backing[r->nbacking - 1].end - c.offset) {
		log_bad("a transfer beyond the resource's backing");
		return RESP_ERR_INVALID_PARAMETER;
	}
	for (uint32_t y = 0; y < c.r.height; y++)
		backing_read(r, c.offset + stride * y,
			     r->pixels + (c.r.y + y) * stride + (uint64_t)c.r.x * 4,
			     (uint64_t)c.r.width * 4);
	return RESP_OK_NODATA;
}

static uint32_t cmd_attach_backing(struct virtio_gpu *g, const struct virtq_elem *elem,
				   const uint8_t *req, size_t len)
{
	struct { struct gpu_hdr h; uint32_t id, nr_entries; } c;
	struct { uint64_t addr; uint32_t length, padding; } e;
	struct gpu_resource *r;
	struct gpu_backing *b;
	uint64_t end = 0;

	if (len < sizeof(c))
		return RESP_ERR_UNSPEC;
	memcpy(&c, req, sizeof(c));
	r = resource_find(g, c.id);
	if (!r) {
		log_bad("an unknown resource id");
		return RESP_ERR_INVALID_RESOURCE_ID;
	}
	if (r->nbacking) {
		log_bad("backing for a resource that has one");
		return RESP_ERR_UNSPEC;
	}
	if (!c.nr_entries || c.nr_entries > GPU_MAX_ENTRIES ||
	    elem->out_len < sizeof(c) + (uint64_t)c.nr_entries * sizeof(e)) {
		log_bad("a backing list too long or cut short");
		return RESP_ERR_INVALID_PARAMETER;
	}
	b = calloc(c.nr_entries, sizeof(*b));
	if (!b)
		return RESP_ERR_OUT_OF_MEMORY;
	for (unsigned i = 0; i < c.nr_entries; i++) {
		virtq_copy_from_out(elem, sizeof(c) + i * sizeof(e), &e, sizeof(e));
		b[i].hva = e.length ? gmem_ptr_rw(&g->vm->mem, e.addr, e.length) : NULL;
		if (e.length && (!b[i].hva ||
				 !gmem_is_ram(&g->vm->mem, e.addr, e.length))) {
			free(b);
			log_bad("backing pages outside guest RAM");
			return RESP_ERR_INVALID_PARAMETER;
		}
		b[i].len = e.length;
		end += e.length;
		b[i].end = end;
	}
	r->backing = b;
	r->nbacking = c.nr_entries;
	return RESP_OK_NODATA;
}

static size_t display_info(struct virtio_gpu *g, uint8_t *resp)
{
	struct { struct gpu_rect r; uint32_t enabled, flags; } one = {
		{ 0, 0, g->want_width, g->want_height }, 1, 0 };

	memset(resp + sizeof(struct gpu_hdr), 0, MAX_SCANOUTS * sizeof(one));
	memcpy(resp + sizeof(struct gpu_hdr), &one, sizeof(one));
	return sizeof(struct gpu_hdr) + MAX_SCANOUTS * sizeof(one);
}

/* One control command; the response's length (its header filled). */
static size_t gpu_command(struct virtio_gpu *g, const struct virtq_elem *elem,
			  const uint8_t *req, size_t len, uint8_t *resp)
{
	struct gpu_hdr h = { 0 }, out = { 0 };
	struct gpu_resource *r;
	uint32_t type = RESP_OK_NODATA;
	size_t resp_len = sizeof(out);

	memcpy(&h, req, len < sizeof(h) ? len : sizeof(h));
	if (len < sizeof(h)) {
		type = RESP_ERR_UNSPEC;
	} else switch (h.type) {
	case CMD_GET_DISPLAY_INFO:
		type = RESP_OK_DISPLAY_INFO;
		resp_len = display_info(g, resp);
		break;
	case CMD_RESOURCE_CREATE_2D:
		type = cmd_create_2d(g, req, len);
		break;
	case CMD_RESOURCE_UNREF:
		r = cmd_resource(g, req, len, &type);
		if (r)
			resource_free(g, r);
		break;
	case CMD_SET_SCANOUT:
		type = cmd_set_scanout(g, req, len);
		break;
	case CMD_RESOURCE_FLUSH:
		type = cmd_flush(g, req, len);
		break;
	case CMD_TRANSFER_TO_HOST_2D:
		type = cmd_transfer(g, req, len);
		break;
	case CMD_RESOURCE_ATTACH_BACKING:
		type = cmd_attach_backing(g, elem, req, len);
		break;
	case CMD_RESOURCE_DETACH_BACKING:
		r = cmd_resource(g, req, len, &type);
		if (r)
			backing_free(r);
		break;
	default:
		/* 3D, blobs, EDID, capsets: features not offered. */
		log_bad("a command this 2D device does not offer");
		type = RESP_ERR_UNSPEC;
		break;
	}
	out.type = type;
	/* A fenced command is complete when answered: say so. */
	out.flags = h.flags & FLAG_FENCE;
	out.fence_id = h.fence_id;
	out.ctx_id = h.ctx_id;
	out.ring_idx = h.ring_idx;
	memcpy(resp, &out, sizeof(out));
	return resp_len;
}

/* The largest fixed part of a request (attach backing's entries are
 * read from the request itself). */
#define REQ_MAX 64
#define RESP_MAX (sizeof(struct gpu_hdr) + MAX_SCANOUTS * 24)

static void gpu_queue_notify(struct virtio_device *vdev, unsigned q)
{
	struct virtio_gpu *g = vdev->opaque;
	struct virtq *vq = &vdev->vq[q];
	struct virtq_elem *elem = vdev->elem;
	bool pushed = false;

	while (virtq_pop(vq, elem) == 1) {
		uint8_t req[REQ_MAX], resp[RESP_MAX];
		size_t len = virtq_copy_from_out(elem, 0, req, sizeof(req));
		size_t written = 0;

		if (q == CONTROLQ)
			written = virtq_copy_to_in(elem, 0, resp,
						   gpu_command(g, elem, req, len, resp));
		/* The cursor queue: taken, the pointer is the viewer's own
		 * (no cursor is drawn into the screen). */
		virtq_push(vq, elem, written);
		pushed = true;
	}
	if (pushed)
		virtio_notify_queue(vdev, q);
}

/* events_read, events_clear, num_scanouts, num_capsets. */
static void gpu_config_update(struct virtio_device *vdev)
{
	struct virtio_gpu *g = vdev->opaque;
	uint32_t cfg[4] = { g->events, 0, 1, 0 };

	memcpy(vdev->config, cfg, sizeof(cfg));
}

static void gpu_config_write(struct virtio_device *vdev, unsigned off,
			     unsigned size)
{
	struct virtio_gpu *g = vdev->opaque;
	uint32_t clear;

	/* Only events_clear is the driver's to write. */
	memcpy(&clear, vdev->config + CFG_EVENTS_CLEAR, 4);
	g->events &= ~clear;
	gpu_config_update(vdev);
}

static void gpu_reset(struct virtio_device *vdev)
{
	struct virtio_gpu *g = vdev->opaque;

	resources_free_all(g);
	g->scanout_id = 0;
	g->redraw = true;
	g->events = 0;
	gpu_config_update(vdev);
}

/* ---- the display ---- */

static int gpu_render(void *opaque, struct display_surface *s,
		      struct display_rect *dirty)
{
	struct virtio_gpu *g = opaque;
	struct gpu_resource *r;
	struct display_rect p;
	int ret = 0;

	pthread_mutex_lock(&g->vdev->lock);
	r = g->scanout_id ? resource_find(g, g->scanout_id) : NULL;
	if (!r) {
		/* No scanout: a black screen of the offered size. */
		if (g->redraw) {
			ret = display_surface_ensure(s, g->want_width, g->want_height, dirty);
			memset(s->pixels, 0, (size_t)s->width * s->height * 4);
			display_rect_add(dirty, 0, 0, s->width, s->height);
			g->redraw = false;
		}
		goto out;
	}
	ret = display_surface_ensure(s, g->scanout.width, g->scanout.height, dirty);
	if (ret)
		goto out;
	p = g->pending;
	if (g->redraw)
		p = (struct display_rect){ 0, 0, s->width, s->height };
	for (unsigned y = p.y; y < p.y + p.h; y++) {
		const uint8_t *src = r->pixels +
			((size_t)(g->scanout.y + y) * r->width + g->scanout.x + p.x) * 4;
		uint32_t *dst = s->pixels + (size_t)y * s->stride + p.x;

		for (unsigned x = 0; x < p.w; x++) {
			uint32_t v;

			memcpy(&v, src + 4 * x, 4);
			dst[x] = to_xrgb(r->format, v);
		}
	}
	display_rect_add(dirty, p.x, p.y, p.w, p.h);
	g->pending = (struct display_rect){ 0 };
	g->redraw = false;
out:
	pthread_mutex_unlock(&g->vdev->lock);
	return ret;
}

/* A viewer's window size: offered to the driver as the display's size. */
static int gpu_request_size(void *opaque, unsigned width, unsigned height)
{
	struct virtio_gpu *g = opaque;
	struct virtio_device *vdev = g->vdev;

	pthread_mutex_lock(&vdev->lock);
	if (width != g->want_width || height != g->want_height) {
		g->want_width = width;
		g->want_height = height;
		g->events |= EVENT_DISPLAY;
		gpu_config_update(vdev);
		virtio_notify_config(vdev);
		if (!g->scanout_id)
			g->redraw = true;
	}
	pthread_mutex_unlock(&vdev->lock);
	return 0;
}

static const struct display_device_ops gpu_display_ops = {
	.render = gpu_render,
};

static const struct display_resize_ops gpu_resize_ops = {
	.request_size = gpu_request_size,
};

static void gpu_destroy(struct virtio_device *vdev)
{
	struct virtio_gpu *g = vdev->opaque;

	resources_free_all(g);
	display_destroy(g->vm->display);
	g->vm->display = NULL;
	free(g);
}

int virtio_gpu_create(struct vm *vm)
{
	static const struct virtio_device_ops ops = {
		.name = "virtio-gpu",
		.device_id = VIRTIO_ID_GPU,
		.class_code = 0x038000,     /* display controller, other */
		.nqueues = 2,
		.queue_size = 256,
		.config_size = CFG_SIZE,
		.queue_notify = gpu_queue_notify,
		.config_write = gpu_config_write,
		.reset = gpu_reset,
		.destroy = gpu_destroy,
	};
	struct virtio_gpu *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->vm = vm;
	g->want_width = DEFAULT_WIDTH;
	g->want_height = DEFAULT_HEIGHT;
	g->redraw = true;
	g->display = display_create(&gpu_display_ops, g);
	/* Viewers start with the size the display info offers. */
	if (!g->display || display_surface_resize(&g->display->surface,
						  g->want_width, g->want_height)) {
		display_destroy(g->display);
		free(g);
		return -ENOMEM;
	}
	vm->display = g->display;
	g->vdev = virtio_pci_create(vm, &ops, g);
	if (!g->vdev)
		return -EIO;    /* g is freed with the device */
	display_set_resize(g->display, &gpu_resize_ops, g);
	/* Named without save/load: migration refuses a VM with virtio-gpu
	 * (its resources live on the host) instead of losing the screen. */
	vm_add_device(vm, &(struct device_hooks){ .opaque = g, .name = "virtio-gpu" });
	i8042_connect_display(vm);
	return 0;
}

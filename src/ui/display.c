/* The display: a device's rendered screen shared with the front ends. */
#include "ui/display.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct display *display_create(const struct display_device_ops *ops,
			       void *opaque)
{
	struct display *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	pthread_mutex_init(&d->lock, NULL);
	d->dev = ops;
	d->dev_opaque = opaque;
	d->pointer_x = d->pointer_y = -1;
	/* Until the device renders anything: a small black screen. */
	if (display_surface_resize(&d->surface, 640, 480)) {
		free(d);
		return NULL;
	}
	return d;
}

void display_destroy(struct display *d)
{
	if (!d)
		return;
	free(d->surface.pixels);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void display_set_input(struct display *d, const struct display_input_ops *ops,
		       void *opaque)
{
	pthread_mutex_lock(&d->lock);
	d->input = ops;
	d->input_opaque = opaque;
	pthread_mutex_unlock(&d->lock);
}

int display_surface_resize(struct display_surface *s, unsigned width,
			   unsigned height)
{
	size_t need;

	if (!width || !height || width > DISPLAY_MAX_WIDTH ||
	    height > DISPLAY_MAX_HEIGHT)
		return -EINVAL;
	need = (size_t)width * height;
	if (need > s->capacity) {
		uint32_t *p = realloc(s->pixels, need * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->pixels = p;
		s->capacity = need;
	}
	s->width = width;
	s->height = height;
	s->stride = width;
	memset(s->pixels, 0, need * sizeof(*s->pixels));
	return 0;
}

int display_surface_ensure(struct display_surface *s, unsigned width,
			   unsigned height, struct display_rect *dirty)
{
	int ret;

	if (s->width == width && s->height == height)
		return 0;
	ret = display_surface_resize(s, width, height);
	if (!ret)
		display_rect_add(dirty, 0, 0, width, height);
	return ret;
}

void display_rect_add(struct display_rect *r, unsigned x, unsigned y,
		      unsigned w, unsigned h)
{
	unsigned x2, y2;

	if (!w || !h)
		return;
	if (!r->w) {
		*r = (struct display_rect){ x, y, w, h };
		return;
	}
	x2 = r->x + r->w > x + w ? r->x + r->w : x + w;
	y2 = r->y + r->h > y + h ? r->y + r->h : y + h;
	r->x = r->x < x ? r->x : x;
	r->y = r->y < y ? r->y : y;
	r->w = x2 - r->x;
	r->h = y2 - r->y;
}

int display_refresh_locked(struct display *d, struct display_rect *dirty)
{
	struct display_rect r = { 0 };
	int ret = d->dev->render(d->dev_opaque, &d->surface, &r);

	if (dirty)
		*dirty = r;
	return ret;
}

void display_key(struct display *d, unsigned scancode, bool down)
{
	const struct display_input_ops *in;
	void *opaque;

	pthread_mutex_lock(&d->lock);
	in = d->input;
	opaque = d->input_opaque;
	pthread_mutex_unlock(&d->lock);
	if (in && in->key)
		in->key(opaque, scancode, down);
}

void display_set_tablet(struct display *d, const struct display_tablet_ops *ops,
			void *opaque)
{
	pthread_mutex_lock(&d->lock);
	d->tablet = ops;
	d->tablet_opaque = opaque;
	pthread_mutex_unlock(&d->lock);
}

void display_set_resize(struct display *d, const struct display_resize_ops *ops,
			void *opaque)
{
	pthread_mutex_lock(&d->lock);
	d->resize = ops;
	d->resize_opaque = opaque;
	pthread_mutex_unlock(&d->lock);
}

/*
 * The sinks are called without d->lock: they take their device's lock,
 * and devices take d->lock (attaching, rendering) with theirs held.
 */
void display_pointer(struct display *d, unsigned x, unsigned y,
		     unsigned buttons)
{
	const struct display_tablet_ops *tablet;
	const struct display_input_ops *in;
	void *tablet_opaque, *in_opaque;
	unsigned width, height;
	int dx, dy;

	pthread_mutex_lock(&d->lock);
	tablet = d->tablet;
	tablet_opaque = d->tablet_opaque;
	in = d->input;
	in_opaque = d->input_opaque;
	width = d->surface.width;
	height = d->surface.height;
	dx = d->pointer_x < 0 ? 0 : (int)x - d->pointer_x;
	dy = d->pointer_y < 0 ? 0 : (int)y - d->pointer_y;
	d->pointer_x = x;
	d->pointer_y = y;
	pthread_mutex_unlock(&d->lock);
	if (tablet)
		tablet->pointer(tablet_opaque, x, y, width, height, buttons);
	else if (in && in->pointer)
		in->pointer(in_opaque, dx, dy, buttons & 7);
}

int display_request_size(struct display *d, unsigned width, unsigned height)
{
	const struct display_resize_ops *resize;
	void *opaque;

	if (!width || !height || width > DISPLAY_MAX_WIDTH ||
	    height > DISPLAY_MAX_HEIGHT)
		return -EINVAL;
	pthread_mutex_lock(&d->lock);
	resize = d->resize;
	opaque = d->resize_opaque;
	pthread_mutex_unlock(&d->lock);
	return resize ? resize->request_size(opaque, width, height) : -ENOTSUP;
}

/*
 * The display: what connects a display device (the VGA adapter) with the
 * front ends that show its screen (screendump, VNC).
 *
 * The device renders into a surface of XRGB8888 pixels (0x00RRGGBB, one
 * uint32_t each) and says which rectangle changed; a front end asks for
 * a refresh (display_refresh) and reads the surface under the display's
 * lock.  Nothing is rendered while nobody looks: an idle VM without a
 * viewer costs nothing.
 */
#ifndef WIRT_UI_DISPLAY_H
#define WIRT_UI_DISPLAY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISPLAY_MAX_WIDTH  4096
#define DISPLAY_MAX_HEIGHT 4096

struct display_surface {
	uint32_t *pixels;      /* width x height, stride pixels per line */
	unsigned width, height, stride;
	size_t capacity;       /* pixels allocated */
};

struct display_rect {
	unsigned x, y, w, h;   /* w == 0: nothing changed */
};

/* What a display device provides. */
struct display_device_ops {
	/*
	 * Bring s up to date with the guest's screen.  The device may
	 * resize s (display_surface_resize, which marks everything dirty)
	 * and sets *dirty to the bounding box of what it changed.
	 * 0 or negative errno.
	 */
	int (*render)(void *opaque, struct display_surface *s,
		      struct display_rect *dirty);
	/* The screen's text in a text mode (one '\n'-ended line per row);
	 * -ENOTSUP in graphics modes.  May be NULL. */
	int (*text)(void *opaque, char *buf, size_t len);
};

/* A key or pointer event from a viewer, to the guest's input devices. */
struct display_input_ops {
	/* PC scancode set 1 (0xE0-prefixed codes as 0xE0xx), down or up. */
	void (*key)(void *opaque, unsigned scancode, bool down);
	/* Relative pointer motion (y grows downwards) and the buttons now
	 * held: bit 0 left, 1 right, 2 middle. */
	void (*pointer)(void *opaque, int dx, int dy, unsigned buttons);
};

struct display {
	pthread_mutex_t lock;  /* the surface and the device's rendering */
	struct display_surface surface;
	const struct display_device_ops *dev;
	void *dev_opaque;
	const struct display_input_ops *input;
	void *input_opaque;
};

/* One display per VM (vm->display), made when the board has a display
 * device; its input sink (the keyboard) is attached later. */
struct display *display_create(const struct display_device_ops *ops,
			       void *opaque);
void display_destroy(struct display *d);
void display_set_input(struct display *d, const struct display_input_ops *ops,
		       void *opaque);

/*
 * Render what changed; *dirty (may be NULL) gets the changed rectangle.
 * Call with d->lock held (the caller then reads d->surface).
 */
int display_refresh_locked(struct display *d, struct display_rect *dirty);

/* Make s width x height (pixels cleared); -EINVAL beyond the limits. */
int display_surface_resize(struct display_surface *s, unsigned width,
			   unsigned height);
/* Grow *r to cover x, y, w, h. */
void display_rect_add(struct display_rect *r, unsigned x, unsigned y,
		      unsigned w, unsigned h);

/* screendump.c: write the current screen as PNG or PPM ("png"/"ppm"). */
int display_screendump(struct display *d, const char *path, const char *format);

/* Send a key to the guest (a viewer's keyboard); ignored without one. */
void display_key(struct display *d, unsigned scancode, bool down);
/* Move the guest's pointer (a viewer's mouse); ignored without one. */
void display_pointer(struct display *d, int dx, int dy, unsigned buttons);

#endif

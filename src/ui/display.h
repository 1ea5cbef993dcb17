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

/*
 * An absolute pointer (a tablet): the viewer's position x, y on a
 * screen width x height pixels, the buttons held (as above, plus bit 3
 * wheel up and bit 4 wheel down, pressed for one event).  Attached
 * while its guest driver is ready for events; until then the relative
 * pointer gets them.
 */
struct display_tablet_ops {
	void (*pointer)(void *opaque, unsigned x, unsigned y, unsigned width,
			unsigned height, unsigned buttons);
};

/*
 * What a display device may offer the viewers besides its screen: the
 * display size a viewer wants (a VNC client's SetDesktopSize).  0, or
 * negative errno if the device cannot take it (its screen keeps its
 * size).
 */
struct display_resize_ops {
	int (*request_size)(void *opaque, unsigned width, unsigned height);
};

struct display {
	pthread_mutex_t lock;  /* the surface and the device's rendering */
	struct display_surface surface;
	const struct display_device_ops *dev;
	void *dev_opaque;
	const struct display_input_ops *input;
	void *input_opaque;
	const struct display_tablet_ops *tablet;
	void *tablet_opaque;
	const struct display_resize_ops *resize;
	void *resize_opaque;
	int pointer_x, pointer_y;  /* the last absolute position (-1: none) */
};

/* One display per VM (vm->display), made when the board has a display
 * device; its input sink (the keyboard) is attached later. */
struct display *display_create(const struct display_device_ops *ops,
			       void *opaque);
void display_destroy(struct display *d);
void display_set_input(struct display *d, const struct display_input_ops *ops,
		       void *opaque);
/* Attach (ops non-NULL) or detach the absolute pointer. */
void display_set_tablet(struct display *d, const struct display_tablet_ops *ops,
			void *opaque);
/* A device whose screen size viewers may choose (virtio-gpu). */
void display_set_resize(struct display *d, const struct display_resize_ops *ops,
			void *opaque);

/*
 * Render what changed; *dirty (may be NULL) gets the changed rectangle.
 * Call with d->lock held (the caller then reads d->surface).
 */
int display_refresh_locked(struct display *d, struct display_rect *dirty);

/* Make s width x height (pixels cleared); -EINVAL beyond the limits. */
int display_surface_resize(struct display_surface *s, unsigned width,
			   unsigned height);
/* Resize s unless it is width x height already; a resize adds the whole
 * screen to *dirty.  0 or negative errno. */
int display_surface_ensure(struct display_surface *s, unsigned width,
			   unsigned height, struct display_rect *dirty);
/* Grow *r to cover x, y, w, h. */
void display_rect_add(struct display_rect *r, unsigned x, unsigned y,
		      unsigned w, unsigned h);

/* screendump.c: write the current screen as PNG or PPM ("png"/"ppm"). */
int display_screendump(struct display *d, const char *path, const char *format);

/* Send a key to the guest (a viewer's keyboard); ignored without one. */
void display_key(struct display *d, unsigned scancode, bool down);
/*
 * A viewer's pointer at x, y (screen pixels) with buttons held (bits as
 * in display_tablet_ops): to the tablet when its driver takes events,
 * else as motion since the last position to the relative pointer.
 */
void display_pointer(struct display *d, unsigned x, unsigned y,
		     unsigned buttons);
/* A viewer asks for a screen of width x height: 0, or -ENOTSUP when the
 * display device cannot change its size for viewers (VGA), -EINVAL. */
int display_request_size(struct display *d, unsigned width, unsigned height);

#endif

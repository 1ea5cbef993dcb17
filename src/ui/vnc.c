/*
 * The VNC server (--display vnc=...): libvncserver speaks RFB to any
 * number of viewers; this file feeds it the display's screen and hands
 * their keys to the guest's keyboard.
 *
 * One thread of its own runs libvncserver's event processing (select on
 * the listening and client sockets).  With viewers connected it wakes
 * every VNC_FRAME_US to ask the display for what changed (only changed
 * pixels are copied and marked, so an idle screen sends nothing); with
 * none, it only waits for connections, waking VNC_IDLE_US to notice the
 * end of the VM.  A mode change resizes the framebuffer, which viewers
 * that support it learn through the DesktopSize pseudo-encoding.
 */
#include "ui/vnc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <rfb/rfb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ui/display.h"
#include "ui/keymap.h"
#include "util/file.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "vm/vm.h"

#define VNC_FRAME_US 30000   /* about 33 frames a second at most */
#define VNC_IDLE_US  250000
#define VNC_PORT_BASE 5900

struct vnc {
	struct vm *vm;
	struct display *display;
	rfbScreenInfoPtr server;
	uint32_t *fb;              /* what viewers see, in libvncserver's format */
	unsigned width, height;
	pthread_t thread;
	bool thread_started;
	volatile bool stop;
	char *passwords[2];        /* for rfbCheckPasswordByList */
};

/* libvncserver's messages, one line each: its log (connections) is worth
 * a debug line, its errors a warning. */
static void vnc_message(bool warn, const char *fmt, va_list ap)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	if (warn)
		log_warn("vnc: %s", buf);
	else
		log_debug("vnc: %s", buf);
}

static void vnc_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnc_message(false, fmt, ap);
	va_end(ap);
}

static void vnc_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnc_message(true, fmt, ap);
	va_end(ap);
}

/* XRGB (0x00RRGGBB) to libvncserver's default 32-bit format: red in
 * the lowest byte. */
static inline uint32_t to_rfb(uint32_t p)
{
	return (p >> 16 & 0xff) | (p & 0xff00) | (p & 0xff) << 16;
}

static void copy_rect(struct vnc *v, const struct display_surface *s,
		      const struct display_rect *r)
{
	for (unsigned y = r->y; y < r->y + r->h; y++) {
		const uint32_t *src = s->pixels + (size_t)y * s->stride;
		uint32_t *dst = v->fb + (size_t)y * v->width;

		for (unsigned x = r->x; x < r->x + r->w; x++)
			dst[x] = to_rfb(src[x]);
	}
}

/* The display's changes into the framebuffer; resize it with the mode. */
static void vnc_update(struct vnc *v)
{
	struct display_surface *s = &v->display->surface;
	struct display_rect r;
	uint32_t *old = NULL;

	pthread_mutex_lock(&v->display->lock);
	if (display_refresh_locked(v->display, &r) < 0)
		r.w = 0;
	if (s->width != v->width || s->height != v->height) {
		uint32_t *fb = calloc((size_t)s->width * s->height, sizeof(*fb));

		if (!fb) {
			pthread_mutex_unlock(&v->display->lock);
			return;
		}
		old = v->fb;
		v->fb = fb;
		v->width = s->width;
		v->height = s->height;
		r = (struct display_rect){ 0, 0, s->width, s->height };
		copy_rect(v, s, &r);
		pthread_mutex_unlock(&v->display->lock);
		rfbNewFramebuffer(v->server, (char *)v->fb, v->width, v->height,
				  8, 3, 4);
		free(old);
		return;
	}
	if (r.w)
		copy_rect(v, s, &r);
	pthread_mutex_unlock(&v->display->lock);
	if (r.w)
		rfbMarkRectAsModified(v->server, r.x, r.y, r.x + r.w, r.y + r.h);
}

static void vnc_key(rfbBool down, rfbKeySym keysym, rfbClientPtr cl)
{
	struct vnc *v = cl->screen->screenData;
	unsigned code = keysym_to_scancode(keysym);

	if (code)
		display_key(v->display, code, down);
}

/*
 * The viewer's pointer is absolute: the display hands it to the tablet,
 * or as motion to the PS/2 mouse.  RFB's buttons are left, middle, right
 * in bits 0-2, wheel up and down in 3-4; the display's left, right,
 * middle, wheel up, wheel down.
 */
static void vnc_pointer(int mask, int x, int y, rfbClientPtr cl)
{
	struct vnc *v = cl->screen->screenData;
	unsigned buttons = (mask & 1) | (mask & 4 ? 2 : 0) | (mask & 2 ? 4 : 0) |
			   (mask & 0x18);

	display_pointer(v->display, x, y, buttons);
}

/*
 * A viewer's SetDesktopSize (ExtendedDesktopSize; noVNC's remote
 * resizing): the display device offers the size to the guest, whose
 * driver sets the mode; the new framebuffer reaches the viewers as the
 * guest's screen changes.  One screen only, at 0,0.
 */
static int vnc_set_desktop_size(int width, int height, int nscreens,
				struct rfbExtDesktopScreen *screens,
				rfbClientPtr cl)
{
	struct vnc *v = cl->screen->screenData;
	int ret;

	if (nscreens != 1 || screens[0].x || screens[0].y ||
	    screens[0].width != width || screens[0].height != height)
		return rfbExtDesktopSize_InvalidScreenLayout;
	ret = display_request_size(v->display, width, height);
	if (ret == -ENOTSUP)
		return rfbExtDesktopSize_ResizeProhibited;
	return ret ? rfbExtDesktopSize_InvalidScreenLayout : rfbExtDesktopSize_Success;
}

/* Cut text from a viewer: nothing in the guest takes it. */
static void vnc_cut_text(char *text, int len, rfbClientPtr cl)
{
}

static void *vnc_thread(void *arg)
{
	struct vnc *v = arg;

	pthread_setname_np(pthread_self(), "vnc");
	while (!v->stop) {
		bool viewers = v->server->clientHead != NULL;

		/* The sandbox comes on after the thread starts: narrow the
		 * filter at the first wake after that. */
		sandbox_thread_enter(SANDBOX_THREAD_DISPLAY);
		rfbProcessEvents(v->server, viewers ? VNC_FRAME_US : VNC_IDLE_US);
		if (viewers)
			vnc_update(v);
	}
	return NULL;
}

static void vnc_destroy(void *opaque)
{
	struct vnc *v = opaque;

	if (v->thread_started) {
		v->stop = true;
		pthread_join(v->thread, NULL);
	}
	if (v->server) {
		rfbShutdownServer(v->server, TRUE);
		rfbScreenCleanup(v->server);
	}
	free(v->fb);
	free(v->passwords[0]);
	free(v);
}

/*
 * libvncserver's screen with wirt's framebuffer and handlers, not yet
 * listening (vnc_start adds the address; tests/fuzz/fuzz_vnc.c feeds it
 * viewers on socket pairs).  0 or -ENOMEM.
 */
static int vnc_server_create(struct vnc *v)
{
	int argc = 0;

	rfbLog = vnc_log;
	rfbErr = vnc_err;
	v->width = v->display->surface.width;
	v->height = v->display->surface.height;
	v->fb = calloc((size_t)v->width * v->height, sizeof(*v->fb));
	v->server = rfbGetScreen(&argc, NULL, v->width, v->height, 8, 3, 4);
	if (!v->fb || !v->server)
		return -ENOMEM;
	v->server->screenData = v;
	v->server->frameBuffer = (char *)v->fb;
	v->server->desktopName = "wirt";
	v->server->alwaysShared = TRUE;	/* several viewers at once */
	v->server->kbdAddEvent = vnc_key;
	v->server->ptrAddEvent = vnc_pointer;
	v->server->setXCutText = vnc_cut_text;
	v->server->setDesktopSizeHook = vnc_set_desktop_size;
	v->server->cursor = NULL;
	return 0;
}

/*
 * ADDR:N as QEMU's -vnc (display N: port 5900 + N) or ADDR:PORT (a
 * number of 5900 and up); ADDR empty or "localhost" is 127.0.0.1.
 * IPv4 only.  0 or -EINVAL.
 */
static int parse_listen(const char *spec, struct in_addr *addr, int *port)
{
	const char *colon = strrchr(spec, ':');
	char host[64];
	char *end;
	long n;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, colon - spec);
	host[colon - spec] = '\0';
	n = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || n < 0 || n > 65535 ||
	    (n >= 100 && n < VNC_PORT_BASE))
		return -EINVAL;
	*port = n < 100 ? VNC_PORT_BASE + n : n;
	if (!*host || !strcmp(host, "localhost"))
		strcpy(host, "127.0.0.1");
	return inet_pton(AF_INET, host, addr) == 1 ? 0 : -EINVAL;
}

static int read_password(const char *path, char **out)
{
	void *data;
	size_t size;
	char *pw;
	int ret = file_read_all(path, 4096, &data, &size);

	if (ret) {
		log_error("vnc: cannot read the password file %s: %s", path,
			  strerror(-ret));
		return ret;
	}
	pw = strndup(data, size);
	free(data);
	if (!pw)
		return -ENOMEM;
	pw[strcspn(pw, "\r\n")] = '\0';
	if (!*pw) {
		log_error("vnc: the password file %s is empty", path);
		free(pw);
		return -EINVAL;
	}
	/* VNC authentication uses at most 8 characters of it. */
	if (strlen(pw) > 8)
		log_warn("vnc: only the first 8 characters of the password count "
			 "(VNC authentication)");
	*out = pw;
	return 0;
}

/* The first port from 5900 free on addr (0 if none up to 5999). */
static int free_vnc_port(struct in_addr addr)
{
	for (int port = VNC_PORT_BASE; port < VNC_PORT_BASE + 100; port++) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = addr,
					  .sin_port = htons(port) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;

		if (fd >= 0)
			close(fd);
		if (ok)
			return port;
	}
	return 0;
}

static bool loopback(struct in_addr a)
{
	return (ntohl(a.s_addr) >> 24) == 127;
}

int vnc_start(struct vm *vm, const char *listen, const char *web,
	      const char *password_file)
{
	struct in_addr addr = { 0 }, web_addr = { 0 };
	struct vnc *v;
	int port = 0, web_port = 0, ret;
	char host[INET_ADDRSTRLEN];

	if (!vm->display) {
		log_error("vnc: no display device");
		return -ENODEV;
	}
	if (listen && parse_listen(listen, &addr, &port)) {
		log_error("vnc: '%s' is not ADDRESS:DISPLAY or ADDRESS:PORT "
			  "(e.g. 127.0.0.1:1 or :5901)", listen);
		return -EINVAL;
	}
	if (web && (parse_listen(web, &web_addr, &web_port) || web_port < 100)) {
		log_error("web console: '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:6080)",
			  web);
		return -EINVAL;
	}
	if (!listen)
		addr = web_addr;
	if ((!loopback(addr) || (web && !loopback(web_addr))) && !password_file) {
		log_error("vnc: refusing to listen on %s without a password: anyone "
			  "who reaches it controls the VM (add ,password-file=FILE, "
			  "or listen on 127.0.0.1 and tunnel with ssh -L)",
			  !loopback(addr) && listen ? listen : web);
		return -EPERM;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->display = vm->display;
	vm_add_device(vm, &(struct device_hooks){ .destroy = vnc_destroy, .opaque = v });
	if (password_file && (ret = read_password(password_file, &v->passwords[0])))
		return ret;

	ret = vnc_server_create(v);
	if (ret)
		return ret;
	/* Without vnc=, the first free port from 5900 (for the web console). */
	v->server->port = listen ? port : free_vnc_port(addr);
	v->server->ipv6port = 0;
	v->server->listenInterface = addr.s_addr;
	v->server->httpPort = 0;
	if (v->passwords[0]) {
		unsigned char challenge[16] = { 0 };

		v->server->authPasswdData = v->passwords;
		v->server->passwordCheck = rfbCheckPasswordByList;
		/* The cipher library sets itself up on first use (reading
		 * files, logging): have that happen now, before the sandbox. */
		rfbEncryptBytes(challenge, v->passwords[0]);
	}
	rfbInitServer(v->server);
	if (v->server->listenSock == RFB_INVALID_SOCKET) {
		log_error("vnc: cannot listen on %s (port %d): in use or not an "
			  "address of this host", listen ? listen : web, port);
		return -EADDRINUSE;
	}
	inet_ntop(AF_INET, &addr, host, sizeof(host));
	if (web) {
		char web_host[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &web_addr, web_host, sizeof(web_host));
		/* A server listening on every address is reached on loopback. */
		ret = web_console_start(web_host, web_port,
					addr.s_addr == INADDR_ANY ? "127.0.0.1" : host,
					v->server->port);
		if (ret)
			return ret;
	}
	ret = pthread_create(&v->thread, NULL, vnc_thread, v);
	if (ret)
		return -ret;
	v->thread_started = true;
	if (listen)
		log_notice("VNC server on %s port %d", host, v->server->port);
	return 0;
}

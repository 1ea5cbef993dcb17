/*
 * libFuzzer target: the VNC server (src/ui/vnc.c on libvncserver) as a
 * viewer sees it.  Each input is one viewer's byte stream on a socket
 * pair: the server's handshake answers, then client messages (pixel
 * formats, encodings, update requests, keys, pointer, cut text,
 * SetDesktopSize).  An input whose first byte is odd gets a valid
 * handshake (RFB 003.008, security "none", shared) put in front, so that
 * most runs reach the messages; an even one is fed as it is.  Updates
 * the viewer asks for are encoded from a 64x48 screen that changes
 * every round.  The display and the machine behind it are stubs.
 *
 * vnc.c is included, not linked: its server set-up is static, and the
 * fuzzer runs that set-up without listening on a port or starting the
 * VNC thread.
 */
#include "../../src/ui/vnc.c"

#include <sys/socket.h>

#define FUZZ_W 64
#define FUZZ_H 48
#define MAX_ROUNDS 256

/* ---- stubs: a display with no device behind it ---- */
static unsigned frame;

int display_refresh_locked(struct display *d, struct display_rect *dirty)
{
	struct display_surface *s = &d->surface;

	/* A different picture each round, so that every update has pixels. */
	frame++;
	for (unsigned i = 0; i < s->width * s->height; i++)
		s->pixels[i] = i * 0x010203u + frame * 0x00100f01u;
	*dirty = (struct display_rect){ 0, 0, s->width, s->height };
	return 1;
}

void display_key(struct display *d, unsigned code, bool down) { }
void display_pointer(struct display *d, unsigned x, unsigned y, unsigned buttons) { }

int display_request_size(struct display *d, unsigned width, unsigned height)
{
	return width > 4096 || height > 4096 ? -EINVAL : 0;
}

void vm_add_device(struct vm *vm, const struct device_hooks *hooks) { }
void sandbox_thread_enter(enum sandbox_thread kind) { }
int web_console_start(const char *host, int port, const char *vnc_host,
		      int vnc_port) { return -ENOTSUP; }

static void quiet(const char *fmt, ...) { }

/* libvncserver 0.9.14 does not release the client iterator it takes for
 * a SetDesktopSize (24 bytes a request, its bug, not ours). */
const char *__lsan_default_suppressions(void)
{
	return "leak:rfbGetClientIterator\n";
}

static struct display fuzz_display;
static struct vnc fuzz_vnc;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static uint32_t pixels[FUZZ_W * FUZZ_H];

	log_threshold = LOG_ERROR;
	pthread_mutex_init(&fuzz_display.lock, NULL);
	fuzz_display.surface = (struct display_surface){
		.pixels = pixels, .width = FUZZ_W, .height = FUZZ_H, .stride = FUZZ_W,
	};
	fuzz_vnc.display = &fuzz_display;
	if (vnc_server_create(&fuzz_vnc))
		abort();
	rfbLog = quiet;	/* every connection would print a line */
	rfbErr = quiet;
	/* A viewer that stops reading must not stall a run for long. */
	rfbMaxClientWait = 100;
	return 0;
}

/* Throw away what the server sent (the viewer never reads it). */
static void drain(int fd)
{
	char buf[65536];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char handshake[] = "RFB 003.008\n\x01\x01";
	rfbScreenInfoPtr server = fuzz_vnc.server;
	int fds[2], big = 1 << 20;
	unsigned rounds;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds))
		return 0;
	setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	/* The whole stream first: libvncserver peeks at a new client's first
	 * bytes (a WebSocket handshake?) and would wait for them. */
	if (size && (data[0] & 1))
		(void)!write(fds[1], handshake, sizeof(handshake) - 1);
	if (size > 1)
		(void)!write(fds[1], data + 1, size - 1);
	shutdown(fds[1], SHUT_WR);	/* the end of input closes the viewer */
	if (!rfbNewClient(server, fds[0])) {
		close(fds[1]);
		return 0;
	}
	for (rounds = 0; server->clientHead && rounds < MAX_ROUNDS; rounds++) {
		rfbProcessEvents(server, 0);
		drain(fds[1]);
		vnc_update(&fuzz_vnc);
	}
	/* A viewer still connected after MAX_ROUNDS is sent away. */
	while (server->clientHead) {
		rfbCloseClient(server->clientHead);
		rfbProcessEvents(server, 0);
	}
	close(fds[1]);
	return 0;
}

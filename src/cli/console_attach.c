/*
 * `wirt console NAME`: attach this terminal to a running VM's serial
 * console through its console socket; Ctrl-] detaches (the VM runs on).
 * Other clients, and wirt's own stdout, see the same output.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/vms.h"

#define DETACH_KEY 0x1d /* Ctrl-] */
#define LINGER_MS 500

static const char console_help[] =
	"usage: wirt console NAME\n"
	"\n"
	"Attach to the serial console of the running VM NAME (see wirt ls):\n"
	"what the guest prints shows here, what you type goes to it.  Ctrl-]\n"
	"detaches; the VM runs on.  Several may attach at once.  Without a\n"
	"terminal, input is sent as it is and wirt console ends once it has\n"
	"ended and the guest has been quiet for half a second.\n";

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

/* Relay until the VM goes, stdin ends or the detach key; 0 or 1. */
static int relay(int sock, bool tty)
{
	struct pollfd p[2] = { { STDIN_FILENO, POLLIN, 0 }, { sock, POLLIN, 0 } };
	bool stdin_open = true;
	char buf[4096];
	ssize_t n, i;

	for (;;) {
		int n_ready;

		p[0].fd = stdin_open ? STDIN_FILENO : -1;
		/* Input ended (a script): the replies still on their way,
		 * until the guest is quiet for a moment. */
		n_ready = poll(p, 2, stdin_open ? -1 : LINGER_MS);
		if (n_ready < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (n_ready == 0)
			return 0;
		if (p[1].revents) {
			n = recv(sock, buf, sizeof(buf), 0);
			if (n <= 0) {
				fprintf(stderr, "%swirt console: the VM is gone\n",
					tty ? "\r\n" : "");
				return 0;
			}
			if (write_all(STDOUT_FILENO, buf, n))
				return 1;
		}
		if (p[0].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0) {
				stdin_open = false; /* keep watching the output */
				continue;
			}
			for (i = 0; tty && i < n; i++)
				if (buf[i] == DETACH_KEY) {
					send(sock, buf, i, MSG_NOSIGNAL);
					fprintf(stderr, "\r\nwirt console: detached\r\n");
					return 0;
				}
			if (send(sock, buf, n, MSG_NOSIGNAL) != n)
				return 1;
		}
	}
}

int cmd_console(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct termios saved, raw;
	struct vm_entry e;
	bool tty;
	int sock, ret;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(console_help, stdout);
		return 0;
	}
	if (argc != 2) {
		fputs(console_help, stderr);
		return 2;
	}
	if (vms_find(argv[1], &e)) {
		fprintf(stderr, "wirt console: no VM named '%s' is running (wirt ls lists them)\n",
			argv[1]);
		return 1;
	}
	ret = snprintf(addr.sun_path, sizeof(addr.sun_path), "%.*s/console.sock",
		       (int)(sizeof(addr.sun_path) - 14), e.dir);
	vms_free(&e, 1);
	if (ret < 0 || (size_t)ret >= sizeof(addr.sun_path)) {
		fprintf(stderr, "wirt console: the runtime directory's path is too long\n");
		return 1;
	}
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		fprintf(stderr, "wirt console: cannot reach %s: %s\n", addr.sun_path,
			strerror(errno));
		return 1;
	}
	tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		fprintf(stderr, "wirt console: attached to %s; Ctrl-] detaches\n", argv[1]);
		raw = saved;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	ret = relay(sock, tty);
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(sock);
	return ret;
}

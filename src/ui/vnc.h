/* The VNC server of --display vnc=... (ui/vnc.c). */
#ifndef WIRT_UI_VNC_H
#define WIRT_UI_VNC_H

struct vm;

/*
 * Serve vm->display over VNC on listen ("ADDR:N", display N at port
 * 5900 + N, or "ADDR:PORT"; NULL: a free port from 5900 on web's
 * address) and, with web ("ADDR:PORT", or NULL), the browser console
 * there; with VNC authentication when password_file is given (its first
 * line).  A non-loopback address needs a password.  Stops with the VM
 * (a device hook).  0 or negative errno, logged.
 */
int vnc_start(struct vm *vm, const char *listen, const char *web,
	      const char *password_file);

/* web_console.c: websockify serving noVNC on host:port, bridging to
 * the VNC server at vnc_host:vnc_port. */
int web_console_start(const char *host, int port, const char *vnc_host,
		      int vnc_port);

#endif

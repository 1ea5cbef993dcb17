/* The VNC server of --display vnc=... (ui/vnc.c). */
#ifndef WIRT_UI_VNC_H
#define WIRT_UI_VNC_H

struct vm;

/*
 * Serve vm->display over VNC on listen ("ADDR:N", display N at port
 * 5900 + N, or "ADDR:PORT"), with VNC authentication when password_file
 * is given (its first line).  A non-loopback address needs a password.
 * Stops with the VM (a device hook).  0 or negative errno, logged.
 */
int vnc_start(struct vm *vm, const char *listen, const char *password_file);

#endif

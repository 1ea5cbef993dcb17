/*
 * The serial console on a unix socket (console.sock in the VM's runtime
 * directory), for `wirt console NAME`: every client sees the guest's
 * output (as does wirt's own stdout) and may type to it.
 */
#ifndef WIRT_CONTROL_CONSOLE_SOCKET_H
#define WIRT_CONTROL_CONSOLE_SOCKET_H

struct vm;

/* Listen on path; before the sandbox.  0 or negative errno (logged). */
int console_socket_create(struct vm *vm, const char *path);

#endif

/*
 * The console: wirt's standard input and output connected to the guest's
 * console device.  On a terminal, raw mode with the escape key Ctrl-A
 * (Ctrl-A x quits, Ctrl-A h helps); on pipes, bytes pass through unchanged
 * so tests can script a guest.
 */
#ifndef WIRT_UI_CONSOLE_H
#define WIRT_UI_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct serial;

/* Hand input bytes to the guest's device; returns how many it took. */
typedef size_t (*console_receive_fn)(void *opaque, const uint8_t *buf,
				     size_t len);

/* Connect stdin to a device of vm (one console per process). */
int console_attach(struct vm *vm, console_receive_fn receive, void *opaque);
/* ... to a serial port. */
int console_attach_serial(struct vm *vm, struct serial *s);

/* Guest output for the user; any thread.  Gathered into lines once the
 * console is attached (a partial line follows within a millisecond). */
void console_write(const void *buf, size_t len);
/* Write out what console_write holds back. */
void console_flush_output(void);

/* The guest device has room for more input; any thread. */
void console_rx_ready(void);

/* Another place guest output goes besides stdout (a console socket's
 * clients, control/console_socket.c); called from any thread. */
typedef void (*console_tap_fn)(const void *buf, size_t len);
void console_set_output_tap(console_tap_fn fn);

/* Input for the guest from elsewhere (a console socket's client), as if
 * typed on stdin without a terminal: no escape key.  Loop thread. */
void console_inject(const uint8_t *buf, size_t len);

/* Put the terminal back as it was (also done at exit). */
void console_restore(void);

#endif

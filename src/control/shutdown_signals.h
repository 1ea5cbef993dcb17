/*
 * SIGTERM and SIGINT on a non-interactive `wirt run`: press the ACPI power
 * button so the guest shuts down cleanly, and end wirt anyway after a
 * grace period (or at a second signal).
 */
#ifndef WIRT_CONTROL_SHUTDOWN_SIGNALS_H
#define WIRT_CONTROL_SHUTDOWN_SIGNALS_H

struct vm;

/* Block the signals in the calling thread, before any thread starts
 * (threads inherit the mask); 0 or negative errno. */
int shutdown_signals_block(void);

/* Watch them on vm's event loop (a signalfd); before the sandbox. */
int shutdown_signals_watch(struct vm *vm, unsigned grace_seconds);

#endif

/*
 * The human monitor on the console: Ctrl-A c switches the terminal between
 * the guest's serial console and a "(wirt) " prompt, as in QEMU.
 */
#ifndef WIRT_CONTROL_HMP_CONSOLE_H
#define WIRT_CONTROL_HMP_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

typedef void (*hmp_console_write_fn)(const void *buf, size_t len);

/* Show the prompt; keys go to hmp_console_key until the switch back. */
void hmp_console_enter(struct vm *vm, hmp_console_write_fn write);
/* One key typed at the monitor prompt; true when a line is complete:
 * then call hmp_console_run, without holding locks a vCPU may take (a
 * command may wait for the vCPUs to stop). */
bool hmp_console_key(uint8_t b);
void hmp_console_run(void);

#endif

/*
 * What `wirt run` sets up around the machine so it can be controlled: its
 * name and runtime directory, the QMP monitor, graceful SIGTERM.
 */
#ifndef WIRT_CLI_RUN_CONTROL_H
#define WIRT_CLI_RUN_CONTROL_H

#include "cli/run_options.h"

struct vm;
struct accel_ops;

/* Before the machine is built: claim the name; 0 or -1 (logged). */
int run_control_prepare(struct run_flags *flags);

/* Once it is built, before the sandbox: monitor, signals, info file. */
int run_control_start(struct vm *vm, const struct run_flags *flags);

/* The runtime directory, or NULL without one. */
const char *run_control_dir(void);

/* At exit: remove the runtime directory. */
void run_control_end(void);

#endif

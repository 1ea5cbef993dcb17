/*
 * The human monitor: QEMU's HMP commands in readable form (info status,
 * info block, stop, cont, ...), built on the QMP commands.  Reached through
 * QMP's human-monitor-command, `wirt ctl NAME hmp`, and the console's
 * monitor (Ctrl-A c).
 */
#ifndef WIRT_CONTROL_HMP_H
#define WIRT_CONTROL_HMP_H

struct vm;

/* Run one command line; returns its output (malloc'd, "" for none). */
char *hmp_run(struct vm *vm, const char *line);

#endif

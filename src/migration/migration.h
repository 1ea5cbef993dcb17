/*
 * Saving and restoring a whole machine (vm_state.c, ram_state.c) and
 * moving it through a URI (migrate.c), in the stream of vmstate.h.
 *
 * A state holds, in this order: "machine" (what must match: RAM size,
 * vCPUs, firmware), "clock" (the guest's clock), one "cpu" per vCPU in
 * the common form of accel/cpu_state.h, "ram", then every device's
 * section in the order the devices were registered (vm_add_device).
 */
#ifndef WIRT_MIGRATION_MIGRATION_H
#define WIRT_MIGRATION_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vmstate_out;
struct vmstate_in;

/*
 * Write the machine's state to fd.  The vCPUs must be parked (vm_pause or
 * vm_hold).  0, or negative errno with the reason in why.
 */
int vm_state_save(struct vm *vm, int fd, char *why, size_t why_len);

/*
 * Make the machine the one saved in fd: vCPUs parked or not started yet.
 * 0, or negative errno with the reason in why (the machine is then in no
 * state to run: the caller ends it or resets it).
 */
int vm_state_load(struct vm *vm, int fd, char *why, size_t why_len);

/* The same through a stream set up by the caller (vmstate_out_init_fn;
 * finished and freed here, o->bytes tells the size) or a read function
 * (NULL: opaque points to a file descriptor). */
int vm_state_save_to(struct vm *vm, struct vmstate_out *o, char *why, size_t why_len);
int vm_state_load_from(struct vm *vm, int (*read)(void *opaque, void *p, size_t n),
		       void *opaque, char *why, size_t why_len);

/*
 * snapshot.c: savevm/loadvm/delvm (the human monitor's commands and
 * --loadvm): the machine's state in the first writable disk's qcow2
 * VM state area, an internal snapshot NAME of every writable disk.
 * pause: the machine runs (pause it meanwhile; at start-up it does not
 * yet).  0, or negative errno with the reason in why.
 */
int vm_savevm(struct vm *vm, const char *name, char *why, size_t why_len);
int vm_loadvm(struct vm *vm, const char *name, bool pause, char *why, size_t why_len);
int vm_delvm(struct vm *vm, const char *name, char *why, size_t why_len);

/* ram_state.c: guest RAM as runs of non-zero pages; prepare opens what
 * it needs before the sandbox (call once the RAM is mapped). */
void ram_state_prepare(void);
void ram_state_save(struct vm *vm, struct vmstate_out *o);
int ram_state_load(struct vm *vm, struct vmstate_in *in);
#define RAM_STATE_VERSION 1

/*
 * migrate.c: save the running machine to uri ("file:PATH" or
 * "exec:COMMAND", whose standard input gets the state), as the QMP
 * migrate command does: paused while the state is written, then left
 * paused (QEMU's postmigrate) if it was written, running again if not.
 * 0, or negative errno with the reason in why.
 */
int migrate_save_uri(struct vm *vm, const char *uri, char *why, size_t why_len);

/* Open uri for reading a state (--incoming): file:PATH or exec:COMMAND
 * (its standard output).  A descriptor, or negative errno with why. */
int migrate_open_incoming(const char *uri, char *why, size_t why_len);

/* The status query-migrate reports: "none", "completed", "failed". */
const char *migrate_status(void);
uint64_t migrate_total_bytes(void);
uint64_t migrate_total_time_ms(void);
const char *migrate_error(void);

#endif

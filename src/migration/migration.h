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
/*
 * One vCPU's "cpu" section in the common form (accel/cpu_state.h).
 * Version 1 lacks the event being delivered and the XSAVE components
 * past SSE; get reads both versions (0 or -errno, message in in->msg).
 */
#define VM_STATE_CPU_VERSION 2
struct cpu_full_state;
void vm_state_cpu_put(struct vmstate_out *o, unsigned index,
		      const struct cpu_full_state *st);
int vm_state_cpu_get(struct vmstate_in *in, struct cpu_full_state *st);

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
 * "tcp:HOST:PORT" starts a live migration (precopy.h) and returns at
 * once.  0, or negative errno with the reason in why.
 */
int migrate_save_uri(struct vm *vm, const char *uri, char *why, size_t why_len);

/*
 * What query-migrate reports of the last outgoing migration, as QEMU
 * does.  status: "none", "setup", "active", "device" (stopped for the
 * last copy), "completed", "failed", "cancelling", "cancelled".  Times
 * in ms, rates in pages or bytes per second.
 */
struct migrate_info {
	const char *status;
	bool live;			/* tcp: pre-copy figures below */
	uint64_t total_time, setup_time, downtime, expected_downtime;
	uint64_t transferred, remaining, total;
	uint64_t normal_pages, duplicate_pages, dirty_pages_rate;
	uint64_t dirty_sync_count;
	double mbps;
	uint64_t start_ms;		/* CLOCK_MONOTONIC when it started */
	char error[256];
};
void migrate_get_info(struct migrate_info *mi);
/* The writer's side (migrate.c, precopy.c): the info, locked. */
struct migrate_info *migrate_info_lock(void);
void migrate_info_unlock(void);
uint64_t migrate_now_ms(void);

/* migrate-set-parameters: the longest stop the last copy may take, and
 * the bandwidth pre-copy may use (bytes/s; 0: unlimited). */
struct migrate_params {
	uint64_t downtime_limit_ms;
	uint64_t max_bandwidth;
};
#define MIGRATE_DEFAULT_DOWNTIME_MS 300
#define MIGRATE_DEFAULT_BANDWIDTH (128ULL << 20)
#define MIGRATE_MAX_DOWNTIME_MS 2000000
void migrate_get_params(struct migrate_params *p);
void migrate_set_params(const struct migrate_params *p);

/*
 * Receive a machine for --incoming uri: file:PATH, exec:COMMAND or
 * tcp:HOST:PORT (listen there for the sender of a live migration, then
 * take its disk images over).  0, or negative errno with why.
 */
int migrate_incoming(struct vm *vm, const char *uri, char *why, size_t why_len);

#endif

/*
 * Live migration: the machine's RAM copied while it runs (pre-copy),
 * round after round of the pages written meanwhile, then a short stop
 * for the last pages and the device state.
 *
 * The stream is the one of vmstate.h: "machine", any number of
 * "ram-pages" sections (ram_state.c), then, with the machine stopped,
 * the last "ram-pages", "clock", the vCPUs and the devices, and "end".
 * The receiver answers with one byte once it has loaded the state and
 * taken the disk images over: MIGRATE_ACK_OK, or anything else (or
 * nothing) if it failed, and the sender runs on.
 */
#ifndef WIRT_MIGRATION_PRECOPY_H
#define WIRT_MIGRATION_PRECOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct vmstate_out;
struct vmstate_in;

#define MIGRATE_ACK_OK 'Y'

/* ---- RAM pages (ram_state.c) ---- */

#define RAM_PAGES_VERSION 1

struct ram_pages_stats {
	uint64_t data_pages;	/* sent with their bytes */
	uint64_t zero_pages;	/* sent as zero */
};

/* The pages set in bitmap (one bit per page of the RAM mapping), or
 * with bitmap NULL every page holding data; 0 or the stream's error. */
int ram_pages_save(struct vm *vm, struct vmstate_out *o, const uint64_t *bitmap,
		   struct ram_pages_stats *st);
/* One section; the first makes all RAM zero before it is written. */
int ram_pages_load(struct vm *vm, struct vmstate_in *in, bool first_section);
/* After the last section: the emulator drops code decoded before. */
void ram_pages_loaded(struct vm *vm);

/* ---- dirty pages (dirty_ram.c) ---- */

/* Bits a dirty bitmap of this machine holds (pages of the RAM mapping). */
uint64_t ram_dirty_pages(const struct vm *vm);
/* Start and stop tracking (KVM logs its RAM slots meanwhile). */
int ram_dirty_start(struct vm *vm);
void ram_dirty_stop(struct vm *vm);
/* OR into bitmap the pages written since the last fetch (every page at
 * the first) and start over: 0 or negative errno. */
int ram_dirty_fetch(struct vm *vm, uint64_t *bitmap);

/* ---- the machine's sections (vm_state.c) ---- */

/* 0 if every vCPU and device can be saved, else why not. */
int vm_state_check_savable(struct vm *vm, char *why, size_t why_len);
void vm_state_save_machine(struct vm *vm, struct vmstate_out *o);
/* "clock" and every "cpu": the vCPUs parked. */
int vm_state_save_cpus(struct vm *vm, struct vmstate_out *o, char *why, size_t why_len);
void vm_state_save_devices(struct vm *vm, struct vmstate_out *o);

/* ---- the migration (precopy.c) ---- */

/*
 * Start moving the machine to the receiver listening at tcp:HOST:PORT
 * (addr is "HOST:PORT") on a thread of its own, and return at once:
 * query-migrate follows it.  -EBUSY if a migration runs already.
 */
int precopy_start(struct vm *vm, const char *addr, char *why, size_t why_len);
/* Stop the running migration (the machine runs on): -ENOENT if none. */
int precopy_cancel(void);
/* Before the machine goes: cancel a migration and wait for its thread. */
void precopy_end(void);

#endif

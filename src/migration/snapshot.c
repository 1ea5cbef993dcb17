/*
 * savevm, loadvm, delvm: the machine's state inside the disks, as QEMU
 * keeps it.  Every writable disk gets an internal snapshot NAME; the
 * first of them (qcow2) also holds the machine's state in its VM state
 * area, which its snapshot takes along (vm_state_size in the snapshot
 * table, shown by wirt img snapshot -l).
 */
#include "migration/migration.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/vm.h"
#include "vm/vm_clock.h"

/* A stream in a disk's VM state area: pos moves on, limit bounds reads. */
struct area {
	struct block_dev *bs;
	uint64_t pos, limit;
};

static int area_write(void *opaque, void *p, size_t n)
{
	struct area *a = opaque;
	int ret = block_vmstate_io(a->bs, a->pos, p, n, true);

	if (!ret)
		a->pos += n;
	return ret;
}

static int area_read(void *opaque, void *p, size_t n)
{
	struct area *a = opaque;
	int ret;

	if (n > a->limit - a->pos)
		return -EPIPE;
	ret = block_vmstate_io(a->bs, a->pos, p, n, false);
	if (!ret)
		a->pos += n;
	return ret;
}

static bool writable(struct block_dev *bs)
{
	return !block_read_only(bs);
}

/* The disk that holds the machine's state, or NULL with why. */
static struct block_dev *state_disk(struct vm *vm, char *why, size_t why_len)
{
	unsigned i;

	for (i = 0; i < vm->ndisks; i++) {
		struct block_dev *bs = vm->disks[i];

		if (!writable(bs))
			continue;
		if (!block_has(bs, BLOCK_CAN_SNAPSHOT)) {
			snprintf(why, why_len, "disk %s (%s) cannot hold snapshots: savevm needs every writable disk in qcow2",
				 block_filename(bs), block_format(bs));
			return NULL;
		}
		return bs;
	}
	snprintf(why, why_len, "no writable qcow2 disk to hold the snapshot");
	return NULL;
}

/* The snapshot NAME of bs (by name or ID) into *out; false if none. */
static bool find_snapshot(struct block_dev *bs, const char *name,
			  struct block_snapshot *out)
{
	struct block_snapshot *l = NULL;
	bool found = false;
	int n = 0, i;

	if (block_snapshot_list(bs, &l, &n) < 0)
		return false;
	for (i = 0; i < n && !found; i++)
		if (!strcmp(l[i].name, name) || !strcmp(l[i].id, name)) {
			*out = l[i];
			found = true;
		}
	free(l);
	return found;
}

/* Every other writable disk must take snapshots too. */
static int check_disks(struct vm *vm, char *why, size_t why_len)
{
	for (unsigned i = 0; i < vm->ndisks; i++)
		if (writable(vm->disks[i]) && !block_has(vm->disks[i], BLOCK_CAN_SNAPSHOT)) {
			snprintf(why, why_len, "disk %s (%s) cannot hold snapshots: savevm needs every writable disk in qcow2",
				 block_filename(vm->disks[i]), block_format(vm->disks[i]));
			return -ENOTSUP;
		}
	return 0;
}

static int delete_everywhere(struct vm *vm, const char *name, bool *any)
{
	struct block_snapshot sn;
	int ret = 0;

	*any = false;
	for (unsigned i = 0; i < vm->ndisks && !ret; i++) {
		if (!writable(vm->disks[i]) || !find_snapshot(vm->disks[i], name, &sn))
			continue;
		*any = true;
		ret = block_snapshot_delete(vm->disks[i], name);
	}
	return ret;
}

static int save_locked(struct vm *vm, struct block_dev *state, const char *name,
		       char *why, size_t why_len)
{
	struct area a = { state, 0, 0 };
	struct vmstate_out o;
	uint64_t clock = vm_clock_ns();
	bool any;
	int ret;

	/* QEMU's rule: a snapshot of the same name is replaced. */
	ret = delete_everywhere(vm, name, &any);
	if (ret) {
		snprintf(why, why_len, "cannot delete the old snapshot '%s': %s", name,
			 strerror(-ret));
		return ret;
	}
	vmstate_out_init_fn(&o, area_write, &a);
	ret = vm_state_save_to(vm, &o, why, why_len);
	if (!ret)
		ret = block_flush(state);
	for (unsigned i = 0; i < vm->ndisks && !ret; i++) {
		struct block_dev *bs = vm->disks[i];

		if (!writable(bs))
			continue;
		ret = block_snapshot_create_vm(bs, name, bs == state ? a.pos : 0, clock);
		if (ret)
			snprintf(why, why_len, "cannot create the snapshot on %s: %s",
				 block_filename(bs), strerror(-ret));
	}
	return ret;
}

int vm_savevm(struct vm *vm, const char *name, char *why, size_t why_len)
{
	struct block_dev *state = state_disk(vm, why, why_len);
	bool was_paused = vm_is_paused(vm);
	int ret;

	if (!state)
		return -ENOTSUP;
	ret = check_disks(vm, why, why_len);
	if (ret)
		return ret;
	ret = vm_pause(vm);
	if (ret)
		snprintf(why, why_len, "the vCPUs did not stop in time");
	else
		ret = save_locked(vm, state, name, why, why_len);
	if (!was_paused)
		vm_resume(vm);
	if (!ret)
		log_info("saved the machine as snapshot '%s'", name);
	return ret;
}

int vm_loadvm(struct vm *vm, const char *name, bool pause, char *why, size_t why_len)
{
	struct block_dev *state = state_disk(vm, why, why_len);
	bool was_paused = vm_is_paused(vm);
	struct block_snapshot sn;
	struct area a;
	int ret;

	if (!state)
		return -ENOTSUP;
	if (!find_snapshot(state, name, &sn)) {
		snprintf(why, why_len, "no snapshot '%s' on %s", name, block_filename(state));
		return -ENOENT;
	}
	if (!sn.vm_state_size) {
		snprintf(why, why_len, "snapshot '%s' holds no machine state (a disk-only snapshot)",
			 name);
		return -EINVAL;
	}
	for (unsigned i = 0; i < vm->ndisks; i++)
		if (writable(vm->disks[i]) && !find_snapshot(vm->disks[i], name, &sn)) {
			snprintf(why, why_len, "disk %s has no snapshot '%s'",
				 block_filename(vm->disks[i]), name);
			return -ENOENT;
		}
	find_snapshot(state, name, &sn);
	if (pause && vm_pause(vm)) {
		snprintf(why, why_len, "the vCPUs did not stop in time");
		if (!was_paused)
			vm_resume(vm);
		return -ETIMEDOUT;
	}
	ret = 0;
	for (unsigned i = 0; i < vm->ndisks && !ret; i++)
		if (writable(vm->disks[i])) {
			ret = block_snapshot_apply(vm->disks[i], name);
			if (ret)
				snprintf(why, why_len, "cannot go back to snapshot '%s' on %s: %s",
					 name, block_filename(vm->disks[i]), strerror(-ret));
		}
	a = (struct area){ state, 0, sn.vm_state_size };
	if (!ret)
		ret = vm_state_load_from(vm, area_read, &a, why, why_len);
	/* A failed load leaves no machine to run: it stays paused. */
	if (pause && !ret && !was_paused)
		vm_resume(vm);
	if (!ret)
		log_info("loaded snapshot '%s'", name);
	return ret;
}

int vm_delvm(struct vm *vm, const char *name, char *why, size_t why_len)
{
	bool any;
	int ret = delete_everywhere(vm, name, &any);

	if (ret)
		snprintf(why, why_len, "cannot delete snapshot '%s': %s", name, strerror(-ret));
	else if (!any) {
		snprintf(why, why_len, "no snapshot '%s'", name);
		ret = -ENOENT;
	}
	return ret;
}

/*
 * libFuzzer target: the QMP monitor's request parser and command checking
 * (control/qmp.c, qmp_commands.c, hmp.c) on a machine without vCPUs or
 * devices.  The input is a client's byte stream, fed in two pieces split
 * where its first byte says, so that requests also arrive cut in half.
 * Machine functions the commands reach that need a real VM are stubs.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "block/block.h"
#include "control/qmp.h"
#include "migration/migration.h"
#include "migration/precopy.h"
#include "util/event_loop.h"
#include "vm/vm.h"

/* ---- stubs for what a VM without vCPUs would do ---- */
void vm_request_stop_host(struct vm *vm, enum vm_stop_reason reason,
			  int status, const char *why)
{
	if (vm->stop_reason == VM_RUNNING)
		vm->stop_reason = reason;
}

bool vm_stop_requested(struct vm *vm)
{
	return vm->stop_reason != VM_RUNNING;
}

void vm_add_device(struct vm *vm, const struct device_hooks *hooks) { }
void cpu_state_dump(const struct cpu_state *s, FILE *out) { }
int block_probe(const char *path, const struct block_driver **drv) { return -1; }
int event_loop_add_fd(struct event_loop *loop, int fd, uint32_t events,
		      event_fn fn, void *opaque) { return 0; }
int event_loop_mod_fd(struct event_loop *loop, int fd, uint32_t events) { return 0; }
void event_loop_remove_fd(struct event_loop *loop, int fd) { }

/* migrate, savevm and friends would write files the input names: they
 * fail here, as they do without a disk. */
static int refuse(char *why, size_t len)
{
	snprintf(why, len, "not in the fuzzer");
	return -1;
}
int migrate_save_uri(struct vm *vm, const char *uri, char *why, size_t len) { return refuse(why, len); }
void migrate_get_info(struct migrate_info *mi) { memset(mi, 0, sizeof(*mi)); mi->status = "none"; }
static struct migrate_params fuzz_params;
void migrate_get_params(struct migrate_params *p) { *p = fuzz_params; }
void migrate_set_params(const struct migrate_params *p) { fuzz_params = *p; }
int precopy_cancel(void) { return -1; }
int vm_savevm(struct vm *vm, const char *name, char *why, size_t len) { return refuse(why, len); }
int vm_loadvm(struct vm *vm, const char *name, bool pause, char *why, size_t len) { return refuse(why, len); }
int vm_delvm(struct vm *vm, const char *name, char *why, size_t len) { return refuse(why, len); }
bool block_read_only(const struct block_dev *bs) { return true; }
int block_snapshot_list(struct block_dev *bs, struct block_snapshot **list, int *count) { return -1; }
/* No screen in the fuzzer's VM (vm->display is NULL). */
struct display;
int display_screendump(struct display *d, const char *path, const char *format) { return -ENODEV; }

static void kick(struct vcpu *vcpu) { }
static const struct accel_ops stub_accel = { .name = "stub", .vcpu_kick = kick };

static size_t out_bytes;

static void sink(void *opaque, const char *buf, size_t len)
{
	/* Every reply is one line of JSON ending in CRLF. */
	if (len < 2 || buf[len - 2] != '\r' || buf[len - 1] != '\n')
		__builtin_trap();
	out_bytes += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm vm;
	static struct vm_config cfg;
	static bool ready;
	struct qmp_session *s;
	size_t cut;

	if (!ready) {
		pthread_mutex_init(&vm.stop_lock, NULL);
		pthread_cond_init(&vm.stop_cond, NULL);
		vm.config = &cfg;
		vm.accel = &stub_accel;
		qmp_commands_init(&vm);
		ready = true;
	}
	vm.stop_reason = VM_RUNNING;
	vm.user_paused = false;
	vm.pause_count = 0;
	s = qmp_session_new(&vm, sink, NULL);
	if (!s)
		return 0;
	qmp_session_greet(s);
	cut = size ? data[0] % (size + 1) : 0;
	if (qmp_session_input(s, (const char *)data, cut) == 0)
		qmp_session_input(s, (const char *)data + cut, size - cut);
	qmp_session_free(s);
	return 0;
}

/*
 * The firmware debug console at port 0x402 (what QEMU calls debugcon):
 * every byte written to it is appended to a host file.  SeaBIOS and OVMF
 * write their debug log there once a read of the port returns 0xE9, so
 * the device is only present when the user asks for the log
 * (--debugcon FILE); without it the port reads all ones, firmware skips
 * its logging, and its probe is not reported as an unassigned access.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/devices.h"
#include "util/log.h"
#include "vm/vm.h"

#define DEBUGCON_PORT     0x402
#define DEBUGCON_READBACK 0xe9	/* "present" to firmware that probes */

struct debugcon {
	int fd;
};

static void debugcon_write(void *opaque, uint64_t offset, uint64_t value,
			   unsigned size)
{
	struct debugcon *d = opaque;
	uint8_t buf[8];
	unsigned i;

	for (i = 0; i < size; i++)
		buf[i] = value >> (8 * i);
	/* A full disk or a closed pipe loses log bytes, nothing else. */
	if (write(d->fd, buf, size) < 0)
		log_warn_once("debugcon: cannot write the log: %s",
			      strerror(errno));
}

static uint64_t debugcon_read(void *opaque, uint64_t offset, unsigned size)
{
	return DEBUGCON_READBACK;
}

static const struct io_ops debugcon_ops = {
	.read = debugcon_read,
	.write = debugcon_write,
};

static uint64_t absent_read(void *opaque, uint64_t offset, unsigned size)
{
	return ~0ULL;
}

static void absent_write(void *opaque, uint64_t offset, uint64_t value,
			 unsigned size)
{
}

static const struct io_ops absent_ops = {
	.read = absent_read,
	.write = absent_write,
};

static void debugcon_destroy(void *opaque)
{
	struct debugcon *d = opaque;

	close(d->fd);
	free(d);
}

int debugcon_create(struct vm *vm, const char *path)
{
	struct device_hooks hooks = { .destroy = debugcon_destroy };
	struct debugcon *d = calloc(1, sizeof(*d));
	int ret;

	if (!path) {
		free(d);
		return bus_register(&vm->pio, DEBUGCON_PORT, 1, &absent_ops,
				    NULL, "debugcon (absent)");
	}
	if (!d)
		return -ENOMEM;
	d->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
		     0644);
	if (d->fd < 0) {
		ret = -errno;
		log_error("--debugcon: cannot open '%s': %s", path, strerror(-ret));
		free(d);
		return ret;
	}
	ret = bus_register(&vm->pio, DEBUGCON_PORT, 1, &debugcon_ops, d,
			   "debugcon");
	if (ret) {
		debugcon_destroy(d);
		return ret;
	}
	hooks.opaque = d;
	vm_add_device(vm, &hooks);
	return 0;
}

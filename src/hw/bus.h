/*
 * The device bus: port I/O (16-bit address space) and MMIO (64-bit).
 *
 * Devices register address ranges with read/write callbacks.  Accelerators
 * call bus_read/bus_write for every guest access that is not RAM; accesses
 * that hit no device read as all ones and are ignored on write (logged once
 * per bus), so a guest poking at random addresses never stops the VMM.
 *
 * Callbacks may run on any vCPU thread at the same time: devices protect
 * their own state.  Ranges can be added or removed while vCPUs run (PCI BAR
 * programming); lookups take a read lock.
 */
#ifndef WIRT_HW_BUS_H
#define WIRT_HW_BUS_H

#include <pthread.h>
#include <stdint.h>

struct io_ops {
	/* offset is relative to the range base; size is 1, 2, 4 or 8 */
	uint64_t (*read)(void *opaque, uint64_t offset, unsigned size);
	void (*write)(void *opaque, uint64_t offset, uint64_t value,
		      unsigned size);
};

struct io_range {
	uint64_t base;
	uint64_t len;
	const struct io_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name; /* "port I/O" or "MMIO" */
	pthread_rwlock_t lock;
	struct io_range *ranges; /* sorted by base, non-overlapping */
	unsigned nranges, cap;
	int unassigned_logged;
};

void bus_init(struct bus *bus, const char *name);
void bus_destroy(struct bus *bus);

/* Register a range; -EEXIST if it overlaps an existing one. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct io_ops *ops, void *opaque, const char *name);
/* Remove the range registered at base for opaque; -ENOENT if none. */
int bus_unregister(struct bus *bus, uint64_t base, void *opaque);

/*
 * Perform an access of size 1, 2, 4 or 8 bytes.  The value is little-endian
 * in *data as the guest sees it.  Returns 1 if a device handled it, 0 if the
 * address was unassigned.
 */
int bus_read(struct bus *bus, uint64_t addr, void *data, unsigned size);
int bus_write(struct bus *bus, uint64_t addr, const void *data, unsigned size);

#endif

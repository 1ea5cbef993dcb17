/* The device bus: sorted address ranges, looked up under a read lock. */
#include "hw/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	pthread_rwlock_init(&bus->lock, NULL);
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	pthread_rwlock_destroy(&bus->lock);
	memset(bus, 0, sizeof(*bus));
}

/* Index of the first range whose end is above addr. */
static unsigned bus_lower_bound(const struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nranges;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct io_range *r = &bus->ranges[mid];

		if (r->base + r->len - 1 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct io_ops *ops, void *opaque, const char *name)
{
	unsigned i;
	int ret = 0;

	if (!len || base + len - 1 < base)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	i = bus_lower_bound(bus, base);
	if (i < bus->nranges && bus->ranges[i].base <= base + len - 1) {
		ret = -EEXIST;
		goto out;
	}
	if (bus->nranges == bus->cap) {
		unsigned cap = bus->cap ? bus->cap * 2 : 16;
		struct io_range *n = realloc(bus->ranges, cap * sizeof(*n));

		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		bus->ranges = n;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i],
		(bus->nranges - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct io_range){ base, len, ops, opaque, name };
	bus->nranges++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

int bus_unregister(struct bus *bus, uint64_t base, void *opaque)
{
	unsigned i;
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = bus_lower_bound(bus, base);
	if (i < bus->nranges && bus->ranges[i].base == base &&
	    bus->ranges[i].opaque == opaque) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nranges - i - 1) * sizeof(bus->ranges[0]));
		bus->nranges--;
		ret = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return ret;
}

static const struct io_range *bus_lookup(struct bus *bus, uint64_t addr,
					 unsigned size)
{
	unsigned i = bus_lower_bound(bus, addr);
	const struct io_range *r;

	if (i == bus->nranges)
		return NULL;
	r = &bus->ranges[i];
	if (addr < r->base || addr - r->base > r->len - size)
		return NULL;
	return r;
}

static void log_unassigned(struct bus *bus, const char *what, uint64_t addr,
			   unsigned size)
{
	/* Once per bus: a guest probing hardware should not flood the log. */
	if (__atomic_exchange_n(&bus->unassigned_logged, 1, __ATOMIC_RELAXED))
		return;
	log_warn("guest %s %u byte(s) at unassigned %s address 0x%llx "
		 "(reads give all ones, writes are ignored; logged once)",
		 what, size, bus->name, (unsigned long long)addr);
}

/*
 * Find the range for an access and copy it out, so the device callback runs
 * without the bus lock held: a device may then re-map its own ranges (PCI
 * BARs) from inside an access.  Devices live as long as the VM, so the copy
 * stays valid after the lock is dropped.
 */
static int bus_find(struct bus *bus, uint64_t addr, unsigned size,
		    struct io_range *out)
{
	const struct io_range *r;

	pthread_rwlock_rdlock(&bus->lock);
	r = bus_lookup(bus, addr, size);
	if (r)
		*out = *r;
	pthread_rwlock_unlock(&bus->lock);
	return r != NULL;
}

int bus_read(struct bus *bus, uint64_t addr, void *data, unsigned size)
{
	struct io_range r;
	uint64_t v = ~0ULL;

	if (!bus_find(bus, addr, size, &r)) {
		log_unassigned(bus, "read", addr, size);
		memcpy(data, &v, size);
		return 0;
	}
	if (r.ops->read)
		v = r.ops->read(r.opaque, addr - r.base, size);
	memcpy(data, &v, size); /* little-endian host */
	return 1;
}

int bus_write(struct bus *bus, uint64_t addr, const void *data, unsigned size)
{
	struct io_range r;
	uint64_t v = 0;

	if (!bus_find(bus, addr, size, &r)) {
		log_unassigned(bus, "wrote", addr, size);
		return 0;
	}
	memcpy(&v, data, size);
	if (r.ops->write)
		r.ops->write(r.opaque, addr - r.base, v, size);
	return 1;
}

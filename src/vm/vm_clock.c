/* The guest's clock, which stands still while the VM is paused (vm_clock.h). */
#include "vm/vm_clock.h"

#include <time.h>

/* offset: ns paused so far; frozen: the guest time while paused, else 0. */
static uint64_t offset, frozen;

static uint64_t host_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t vm_clock_ns(void)
{
	uint64_t f = __atomic_load_n(&frozen, __ATOMIC_ACQUIRE);

	if (f)
		return f;
	return host_ns() - __atomic_load_n(&offset, __ATOMIC_RELAXED);
}

uint64_t vm_clock_to_host(uint64_t vm_ns)
{
	uint64_t f = __atomic_load_n(&frozen, __ATOMIC_ACQUIRE);

	/* Paused: the guest gets there that long after it resumes. */
	if (f)
		return host_ns() + (vm_ns > f ? vm_ns - f : 0);
	return vm_ns + __atomic_load_n(&offset, __ATOMIC_RELAXED);
}

void vm_clock_set(uint64_t vm_ns)
{
	if (!vm_ns)
		vm_ns = 1;
	if (__atomic_load_n(&frozen, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&frozen, vm_ns, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&offset, host_ns() - vm_ns, __ATOMIC_RELAXED);
}

void vm_clock_stop(void)
{
	uint64_t now = vm_clock_ns();

	if (!__atomic_load_n(&frozen, __ATOMIC_ACQUIRE))
		__atomic_store_n(&frozen, now ? now : 1, __ATOMIC_RELEASE);
}

void vm_clock_start(void)
{
	uint64_t f = __atomic_load_n(&frozen, __ATOMIC_ACQUIRE);

	if (!f)
		return;
	__atomic_store_n(&offset, host_ns() - f, __ATOMIC_RELAXED);
	__atomic_store_n(&frozen, 0, __ATOMIC_RELEASE);
}

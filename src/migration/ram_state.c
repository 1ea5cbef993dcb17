/*
 * Guest RAM in the VM state: the whole RAM mapping (every region's
 * bytes, including what PAM hides) as runs of pages that are not all
 * zero, so an idle guest's state is about as big as what it uses.
 *
 *   u64 RAM bytes, u32 page size, then runs: u64 first page, u32 pages,
 *   the pages' bytes; a run of 0 pages ends the list.
 *
 * The section is streamed (not buffered): its length is counted first.
 */
#include "migration/migration.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "migration/vmstate.h"
#include "vm/vm.h"

#define PAGE 4096ULL
#define RUN_HEADER 12

/*
 * /proc/self/pagemap says which pages of the RAM mapping were never
 * touched (neither present nor swapped): those read as zero without
 * being looked at, which would fault each one in.  Opened before the
 * sandbox (ram_state_prepare); without it every page is read.
 */
static int pagemap_fd = -1;
#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_CHUNK 512

void ram_state_prepare(void)
{
	if (pagemap_fd < 0)
		pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

/* Whether page i may hold data; entries are read PM_CHUNK at a time. */
struct touched {
	uint64_t first, n;
	uint64_t e[PM_CHUNK];
};

static bool page_touched(const struct guest_memory *gm, struct touched *t, uint64_t i)
{
	if (pagemap_fd < 0)
		return true;
	if (i < t->first || i >= t->first + t->n) {
		uint64_t vpage = (uintptr_t)gm->ram_base / PAGE + i;
		ssize_t r = pread(pagemap_fd, t->e, sizeof(t->e), vpage * 8);

		if (r < 8) {
			t->n = 0;
			return true;
		}
		t->first = i;
		t->n = r / 8;
	}
	return t->e[i - t->first] & (PM_PRESENT | PM_SWAPPED);
}

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (unsigned i = 0; i < PAGE / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* Calls fn for each run [first, first + n) of non-zero pages. */
static void for_each_run(const struct guest_memory *gm,
			 void (*fn)(void *ctx, uint64_t first, uint64_t n), void *ctx)
{
	uint64_t pages = gm->ram_map_size / PAGE, i = 0, start;
	struct touched *t = calloc(1, sizeof(*t));
#define HAS_DATA(i) ((!t || page_touched(gm, t, i)) && \
		     !page_is_zero(gm->ram_base + (i) * PAGE))

	while (i < pages) {
		while (i < pages && !HAS_DATA(i))
			i++;
		start = i;
		/* Runs up to 4 GiB: the count is 32 bits. */
		while (i < pages && i - start < UINT32_MAX && HAS_DATA(i))
			i++;
		if (i > start)
			fn(ctx, start, i - start);
	}
#undef HAS_DATA
	free(t);
}

static void count_run(void *ctx, uint64_t first, uint64_t n)
{
	(void)first;
	*(uint64_t *)ctx += RUN_HEADER + n * PAGE;
}

struct write_ctx {
	struct vmstate_out *o;
	const struct guest_memory *gm;
};

static void write_run(void *ctx, uint64_t first, uint64_t n)
{
	struct write_ctx *w = ctx;

	vmstate_put_u64(w->o, first);
	vmstate_put_u32(w->o, n);
	vmstate_put_bytes(w->o, w->gm->ram_base + first * PAGE, n * PAGE);
}

void ram_state_save(struct vm *vm, struct vmstate_out *o)
{
	struct write_ctx w = { o, &vm->mem };
	uint64_t len = 8 + 4 + RUN_HEADER;

	/* The vCPUs are parked and devices idle: two walks see the same. */
	for_each_run(&vm->mem, count_run, &len);
	vmstate_begin_sized(o, "ram", 0, RAM_STATE_VERSION, len);
	vmstate_put_u64(o, vm->mem.ram_map_size);
	vmstate_put_u32(o, PAGE);
	for_each_run(&vm->mem, write_run, &w);
	vmstate_put_u64(o, 0);
	vmstate_put_u32(o, 0);
	vmstate_end(o);
}

static int get_u64(struct vmstate_in *in, uint64_t *v)
{
	return vmstate_get_stream(in, v, 8);
}

/* The emulator drops code it decoded from the old contents. */
static void notify_written(struct vm *vm)
{
	for (unsigned i = 0; i < vm->mem.nregions; i++)
		if (vm->mem.regions[i].kind == GMEM_RAM)
			gmem_notify_write(&vm->mem, vm->mem.regions[i].gpa,
					  vm->mem.regions[i].size);
}

int ram_state_load(struct vm *vm, struct vmstate_in *in)
{
	struct guest_memory *gm = &vm->mem;
	uint64_t size, first, pages = gm->ram_map_size / PAGE;
	uint32_t page_size, n;

	if (get_u64(in, &size) || vmstate_get_stream(in, &page_size, 4))
		return in->error;
	if (size != gm->ram_map_size || page_size != PAGE)
		return vmstate_fail(in, -EINVAL, "the saved RAM is %llu bytes in pages of %u, this machine's %llu in pages of %llu",
				    (unsigned long long)size, page_size,
				    (unsigned long long)gm->ram_map_size, PAGE);
	/* Pages the state leaves out are zero: drop what is there now. */
	if (madvise(gm->ram_base, gm->ram_map_size, MADV_DONTNEED))
		memset(gm->ram_base, 0, gm->ram_map_size);
	for (;;) {
		if (get_u64(in, &first) || vmstate_get_stream(in, &n, 4))
			break;
		if (!n)
			break;
		if (first >= pages || n > pages - first) {
			vmstate_fail(in, -EINVAL, "the state is damaged: RAM pages %llu+%u lie outside the machine's %llu",
				     (unsigned long long)first, n, (unsigned long long)pages);
			break;
		}
		if (vmstate_get_stream(in, gm->ram_base + first * PAGE, (uint64_t)n * PAGE))
			break;
	}
	if (!in->error)
		vmstate_stream_done(in);
	notify_written(vm);
	return in->error;
}

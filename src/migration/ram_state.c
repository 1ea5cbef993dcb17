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
#include "migration/precopy.h"

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

/*
 * Live migration's RAM: pages sent round after round while the guest
 * runs, each round's as "ram-pages" sections of at most RAM_PAGES_CHUNK
 * bytes (buffered and CRC-checked like small sections):
 *
 *   u32 page size, then runs: u64 first page, u32 pages, u8 kind
 *   (0: the pages are zero now, 1: their bytes follow); 0 pages ends.
 *
 * The first such section makes the receiver's RAM all zero, so the
 * first round leaves out the zero pages.
 */
#define RAM_PAGES_CHUNK (4u << 20)
#define RAM_PAGES_RUN 256

struct pages_out {
	struct vmstate_out *o;
	const struct guest_memory *gm;
	struct ram_pages_stats *st;
	bool open;
	uint64_t in_section;
};

static void pages_close(struct pages_out *p)
{
	if (!p->open)
		return;
	vmstate_put_u64(p->o, 0);
	vmstate_put_u32(p->o, 0);
	vmstate_put_u8(p->o, 0);
	vmstate_end(p->o);
	p->open = false;
}

static void pages_run(struct pages_out *p, uint64_t first, uint64_t n, bool zero)
{
	if (!p->open) {
		vmstate_begin(p->o, "ram-pages", 0, RAM_PAGES_VERSION);
		vmstate_put_u32(p->o, PAGE);
		p->open = true;
		p->in_section = 0;
	}
	vmstate_put_u64(p->o, first);
	vmstate_put_u32(p->o, n);
	vmstate_put_u8(p->o, !zero);
	if (zero) {
		p->st->zero_pages += n;
	} else {
		vmstate_put_bytes(p->o, p->gm->ram_base + first * PAGE, n * PAGE);
		p->st->data_pages += n;
		p->in_section += n * PAGE;
	}
	if (p->in_section >= RAM_PAGES_CHUNK)
		pages_close(p);
}

int ram_pages_save(struct vm *vm, struct vmstate_out *o, const uint64_t *bitmap,
		   struct ram_pages_stats *st)
{
	const struct guest_memory *gm = &vm->mem;
	uint64_t pages = gm->ram_map_size / PAGE, i = 0, start;
	struct pages_out p = { .o = o, .gm = gm, .st = st };
	struct touched *t = bitmap ? NULL : calloc(1, sizeof(*t));
	bool zero;

#define WANTED(i) (bitmap ? (bitmap[(i) / 64] >> ((i) % 64)) & 1 : \
		   (!t || page_touched(gm, t, i)) && !page_is_zero(gm->ram_base + (i) * PAGE))
	while (i < pages && !o->error) {
		while (i < pages && !WANTED(i))
			i++;
		if (i == pages)
			break;
		/* A run of pages alike: all zero, or all holding data. */
		start = i;
		zero = bitmap && page_is_zero(gm->ram_base + i * PAGE);
		while (i < pages && i - start < RAM_PAGES_RUN && WANTED(i) &&
		       (!bitmap || page_is_zero(gm->ram_base + i * PAGE) == zero))
			i++;
		pages_run(&p, start, i - start, zero);
	}
#undef WANTED
	pages_close(&p);
	free(t);
	return o->error;
}

int ram_pages_load(struct vm *vm, struct vmstate_in *in, bool first_section)
{
	struct guest_memory *gm = &vm->mem;
	uint64_t pages = gm->ram_map_size / PAGE, first;
	uint32_t page_size = vmstate_get_u32(in), n;
	uint8_t kind;

	if (!in->error && page_size != PAGE)
		return vmstate_fail(in, -EINVAL, "the state's RAM has pages of %u bytes, this machine's %llu",
				    page_size, PAGE);
	/* RAM the boot loaded here meanwhile is not the guest's. */
	if (first_section && madvise(gm->ram_base, gm->ram_map_size, MADV_DONTNEED))
		memset(gm->ram_base, 0, gm->ram_map_size);
	while (!in->error) {
		first = vmstate_get_u64(in);
		n = vmstate_get_u32(in);
		kind = vmstate_get_u8(in);
		if (in->error || !n)
			break;
		if (first >= pages || n > pages - first || kind > 1)
			return vmstate_fail(in, -EINVAL, "the state is damaged: RAM pages %llu+%u (kind %u) for a machine of %llu pages",
					    (unsigned long long)first, n, kind,
					    (unsigned long long)pages);
		if (kind)
			vmstate_get_bytes(in, gm->ram_base + first * PAGE, (uint64_t)n * PAGE);
		else
			memset(gm->ram_base + first * PAGE, 0, (uint64_t)n * PAGE);
	}
	return in->error;
}

void ram_pages_loaded(struct vm *vm)
{
	notify_written(vm);
}

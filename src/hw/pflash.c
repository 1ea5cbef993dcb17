/*
 * CFI parallel flash, one byte wide, with the Intel/Sharp command set
 * (Intel's "Common Flash Interface" and 28F-series datasheets) as OVMF's
 * QemuFlashFvbServicesRuntimeDxe drives it: read array (FFh), read status
 * (70h), clear status (50h), byte program (10h/40h, then the data), block
 * erase (20h, then D0h), read identifier (90h) and CFI query (98h).
 *
 * In read-array mode the flash is ROM in guest memory (reads at memory
 * speed under both accelerators) and only writes reach this device, on
 * the MMIO bus; in every other mode the memory goes away
 * (gmem_rom_device_set_array) and reads come here too, answering status,
 * identifier or query data.
 *
 * Programming clears bits only (AND), erase sets a whole block to FFh, as
 * on NOR flash.  Bytes changed since the last flush are written to the
 * store and flushed to disk when the guest puts the flash back into
 * read-array mode, which is how OVMF ends every write and erase: what
 * OVMF considers written is on disk.  Any other command sequence gives
 * the status errors a real part gives, or is ignored (logged once).
 */
#include "hw/pflash.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "block/block.h"
#include "hw/bus.h"
#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/vm.h"

#define CMD_READ_ARRAY		0xff
#define CMD_READ_ARRAY_AMD	0xf0	/* reset, accepted as read array */
#define CMD_READ_ARRAY_ZERO	0x00	/* accepted as read array, as QEMU */
#define CMD_PROGRAM		0x10
#define CMD_PROGRAM_ALT		0x40
#define CMD_ERASE_SETUP		0x20
#define CMD_ERASE_CONFIRM	0xd0
#define CMD_CLEAR_STATUS	0x50
#define CMD_READ_STATUS		0x70
#define CMD_READ_ID		0x90
#define CMD_CFI_QUERY		0x98

#define SR_READY		0x80
#define SR_ERASE_ERROR		0x20
#define SR_PROGRAM_ERROR	0x10

#define INTEL_MANUFACTURER	0x89
#define DEVICE_ID		0x18

enum pflash_mode {
	MODE_READ_ARRAY,
	MODE_READ_STATUS,
	MODE_READ_ID,
	MODE_CFI_QUERY,
	MODE_PROGRAM,		/* the next write is the data */
	MODE_ERASE_SETUP,	/* the next write must confirm */
};

struct pflash {
	struct vm *vm;
	pthread_mutex_t lock;
	uint8_t *mem;		/* the flash array, what the guest reads */
	uint64_t gpa, size;
	unsigned region;	/* in vm->mem */
	struct block_dev *store;/* NULL: a private copy */
	const char *name;
	enum pflash_mode mode;
	uint8_t status;
	uint64_t dirty_lo, dirty_hi; /* bytes not yet in the store */
	uint8_t cfi[0x40];	/* CFI query table, by byte address */
};

static void set_mode(struct pflash *f, enum pflash_mode mode)
{
	f->mode = mode;
	gmem_rom_device_set_array(&f->vm->mem, f->region,
				  mode == MODE_READ_ARRAY);
}

static void mark_dirty(struct pflash *f, uint64_t off, uint64_t len)
{
	if (f->dirty_lo >= f->dirty_hi) {
		f->dirty_lo = off;
		f->dirty_hi = off + len;
		return;
	}
	if (off < f->dirty_lo)
		f->dirty_lo = off;
	if (off + len > f->dirty_hi)
		f->dirty_hi = off + len;
}

/* Write what changed to the store and flush it; a failure shows in the
 * status register as a program error (and in the log). */
static void write_back(struct pflash *f)
{
	uint64_t lo = f->dirty_lo, hi = f->dirty_hi;
	int ret;

	if (lo >= hi)
		return;
	f->dirty_lo = f->dirty_hi = 0;
	if (!f->store)
		return;
	ret = block_write(f->store, lo, f->mem + lo, hi - lo);
	if (!ret)
		ret = block_flush(f->store);
	if (ret) {
		log_warn_once("%s: cannot write the variable store: %s; the guest's changes are kept in memory only",
			      f->name, strerror(-ret));
		f->status |= SR_PROGRAM_ERROR;
	}
}

/* One byte of the identifier space (90h): manufacturer, device, lock. */
static uint8_t read_id(uint64_t off)
{
	switch (off & 0xff) {
	case 0:
		return INTEL_MANUFACTURER;
	case 1:
		return DEVICE_ID;
	default:
		return 0; /* block lock status: unlocked */
	}
}

static uint8_t read_byte(struct pflash *f, uint64_t off)
{
	switch (f->mode) {
	case MODE_READ_ARRAY:
		return f->mem[off];
	case MODE_READ_ID:
		return read_id(off);
	case MODE_CFI_QUERY:
		return (off & 0xff) < sizeof(f->cfi) ? f->cfi[off & 0xff] : 0;
	default:
		return f->status;
	}
}

static uint64_t pflash_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pflash *f = opaque;
	uint64_t v = 0;
	unsigned i;

	pthread_mutex_lock(&f->lock);
	for (i = 0; i < size; i++)
		v |= (uint64_t)read_byte(f, offset + i) << (8 * i);
	pthread_mutex_unlock(&f->lock);
	return v;
}

/* Program: bits can only go from 1 to 0. */
static void program(struct pflash *f, uint64_t off, uint64_t value,
		    unsigned size)
{
	unsigned i;

	for (i = 0; i < size; i++)
		f->mem[off + i] &= (uint8_t)(value >> (8 * i));
	mark_dirty(f, off, size);
	f->status |= SR_READY;
}

static void erase_block(struct pflash *f, uint64_t off)
{
	uint64_t start = off & ~(uint64_t)(PFLASH_BLOCK_SIZE - 1);

	memset(f->mem + start, 0xff, PFLASH_BLOCK_SIZE);
	mark_dirty(f, start, PFLASH_BLOCK_SIZE);
	f->status |= SR_READY;
}

static void command(struct pflash *f, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_ARRAY:
	case CMD_READ_ARRAY_AMD:
	case CMD_READ_ARRAY_ZERO:
		write_back(f);
		set_mode(f, MODE_READ_ARRAY);
		break;
	case CMD_PROGRAM:
	case CMD_PROGRAM_ALT:
		set_mode(f, MODE_PROGRAM);
		break;
	case CMD_ERASE_SETUP:
		set_mode(f, MODE_ERASE_SETUP);
		break;
	case CMD_CLEAR_STATUS:
		/* As QEMU's flash: back to read array, which OVMF's probe
		 * for flash, RAM or ROM relies on. */
		f->status = 0;
		write_back(f);
		set_mode(f, MODE_READ_ARRAY);
		break;
	case CMD_READ_STATUS:
		set_mode(f, MODE_READ_STATUS);
		break;
	case CMD_READ_ID:
		set_mode(f, MODE_READ_ID);
		break;
	case CMD_CFI_QUERY:
		set_mode(f, MODE_CFI_QUERY);
		break;
	default:
		/* Buffered program, lock bits, suspend: not in this part. */
		log_warn_once("%s: flash command %#x not supported; back to read-array mode",
			      f->name, cmd);
		write_back(f);
		set_mode(f, MODE_READ_ARRAY);
		break;
	}
}

static void pflash_write(void *opaque, uint64_t offset, uint64_t value,
			 unsigned size)
{
	struct pflash *f = opaque;

	pthread_mutex_lock(&f->lock);
	switch (f->mode) {
	case MODE_PROGRAM:
		program(f, offset, value, size);
		set_mode(f, MODE_READ_STATUS);
		break;
	case MODE_ERASE_SETUP:
		if ((uint8_t)value == CMD_ERASE_CONFIRM)
			erase_block(f, offset);
		else	/* a command sequence error */
			f->status |= SR_READY | SR_ERASE_ERROR | SR_PROGRAM_ERROR;
		set_mode(f, MODE_READ_STATUS);
		break;
	default:
		command(f, (uint8_t)value);
		break;
	}
	pthread_mutex_unlock(&f->lock);
}

static const struct io_ops pflash_ops = {
	.read = pflash_read,
	.write = pflash_write,
};

static void put_le16(uint8_t *p, unsigned v)
{
	p[0] = v;
	p[1] = v >> 8;
}

/* The CFI query table (CFI specification 2.0, x8 device, one erase block
 * region of 4 KiB blocks, no extended query table). */
static void build_cfi(struct pflash *f)
{
	unsigned log2_size = 0;

	while ((1ULL << log2_size) < f->size)
		log2_size++;
	memcpy(f->cfi + 0x10, "QRY", 3);
	put_le16(f->cfi + 0x13, 0x0001);	/* Intel/Sharp command set */
	f->cfi[0x1b] = 0x45;			/* Vcc min 4.5 V */
	f->cfi[0x1c] = 0x55;			/* Vcc max 5.5 V */
	f->cfi[0x1f] = 0x07;			/* byte program 128 us */
	f->cfi[0x21] = 0x0a;			/* block erase 1 s */
	f->cfi[0x23] = 0x04;			/* maxima: 16 times typical */
	f->cfi[0x25] = 0x04;
	f->cfi[0x27] = log2_size;
	put_le16(f->cfi + 0x28, 0x0000);	/* x8 interface */
	f->cfi[0x2c] = 1;			/* one erase block region */
	put_le16(f->cfi + 0x2d, f->size / PFLASH_BLOCK_SIZE - 1);
	put_le16(f->cfi + 0x2f, PFLASH_BLOCK_SIZE / 256);
}

/* Power-on: read-array mode, status ready; anything unwritten is saved. */
static void pflash_reset(void *opaque)
{
	struct pflash *f = opaque;

	pthread_mutex_lock(&f->lock);
	write_back(f);
	f->status = SR_READY;
	set_mode(f, MODE_READ_ARRAY);
	pthread_mutex_unlock(&f->lock);
}

/*
 * Migration and snapshots: the mode, the status and the whole array (a
 * private copy exists nowhere else).  Loaded contents count as written:
 * they reach the store at the guest's next read-array command or exit.
 */
static void pflash_save(void *opaque, struct vmstate_out *o)
{
	struct pflash *f = opaque;

	pthread_mutex_lock(&f->lock);
	vmstate_put_u8(o, f->mode);
	vmstate_put_u8(o, f->status);
	vmstate_put_u64(o, f->size);
	vmstate_put_bytes(o, f->mem, f->size);
	pthread_mutex_unlock(&f->lock);
}

static int pflash_load(void *opaque, struct vmstate_in *in)
{
	struct pflash *f = opaque;
	uint8_t mode = vmstate_get_u8(in);
	uint8_t status = vmstate_get_u8(in);
	uint64_t size = vmstate_get_u64(in);

	if (in->error)
		return in->error;
	if (size != f->size || mode > MODE_ERASE_SETUP)
		return vmstate_fail(in, -EINVAL,
				    "the saved UEFI variable store has %llu bytes, this one %llu: start with the same --firmware",
				    (unsigned long long)size, (unsigned long long)f->size);
	pthread_mutex_lock(&f->lock);
	vmstate_get_bytes(in, f->mem, f->size);
	if (!in->error) {
		f->status = status;
		mark_dirty(f, 0, f->size);
		set_mode(f, mode);
	}
	pthread_mutex_unlock(&f->lock);
	return in->error;
}

static void pflash_destroy(void *opaque)
{
	struct pflash *f = opaque;

	write_back(f);
	if (f->store)
		block_close(f->store);
	/* The vCPUs are gone: nothing reads the region any more. */
	munmap(f->mem, f->size);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int pflash_create(struct vm *vm, uint64_t gpa, const void *image,
		  uint64_t size, struct block_dev *store, const char *name)
{
	struct pflash *f;
	int ret;

	if (!size || size % PFLASH_BLOCK_SIZE ||
	    size / PFLASH_BLOCK_SIZE > 0x10000)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->mem == MAP_FAILED) {
		free(f);
		return -ENOMEM;
	}
	memcpy(f->mem, image, size);
	f->vm = vm;
	f->gpa = gpa;
	f->size = size;
	f->name = name;
	f->status = SR_READY;
	pthread_mutex_init(&f->lock, NULL);
	build_cfi(f);
	ret = gmem_add_rom_device(&vm->mem, name, gpa, f->mem, size);
	if (ret < 0) {
		munmap(f->mem, size);
		free(f);
		return ret;
	}
	f->region = ret;
	/* On failure the region (and so f->mem) stays: the VM will not
	 * start, and its memory map goes with it. */
	ret = bus_register(&vm->mmio, gpa, size, &pflash_ops, f, name);
	if (ret)
		return ret;
	f->store = store;
	vm_add_device(vm, &(struct device_hooks){
		.reset = pflash_reset,
		.destroy = pflash_destroy,
		.opaque = f,
		.name = "pflash",
		.version = 1,
		.save = pflash_save,
		.load = pflash_load,
	});
	return 0;
}

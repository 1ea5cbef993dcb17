/* fw_cfg: the item store, the port and DMA interfaces (see fw_cfg.h). */
#include "hw/fw_cfg.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "migration/vmstate.h"
#include "util/log.h"
#include "vm/memory.h"
#include "vm/vm.h"

#define FW_CFG_PORT_SEL  0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_PORT_DMA  0x514	/* high half; the low half at 0x518 */
#define FW_CFG_MAX_ITEMS (FW_CFG_FILE_FIRST + FW_CFG_MAX_FILES)
/* Keys above this select nothing (bit 14: write, bit 15: arch-local;
 * wirt has no items there). */
#define FW_CFG_KEY_MASK  0x3fff

struct fw_cfg_item {
	uint8_t *data;
	uint32_t len;
	fw_cfg_refresh_fn refresh;
	void *opaque;
};

struct fw_cfg {
	pthread_mutex_t lock;
	struct fw_cfg_item items[FW_CFG_MAX_ITEMS];
	char names[FW_CFG_MAX_FILES][FW_CFG_NAME_LEN];
	unsigned nfiles;
	uint8_t *dir;		/* key 0x19, rebuilt as files are added */
	uint16_t key;		/* selected item */
	bool valid;		/* the selection names an item */
	uint32_t offset;	/* read position in it */
	uint8_t dma_addr[8];	/* as the guest wrote it: big-endian */
	struct vm *vm;
};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | p[2] << 8 | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

struct fw_cfg *fw_cfg_new(void)
{
	struct fw_cfg *cfg = calloc(1, sizeof(*cfg));
	uint8_t id[4] = { FW_CFG_VERSION | FW_CFG_VERSION_DMA };

	if (!cfg)
		return NULL;
	pthread_mutex_init(&cfg->lock, NULL);
	if (fw_cfg_add_item(cfg, FW_CFG_SIGNATURE, "QEMU", 4) ||
	    fw_cfg_add_item(cfg, FW_CFG_ID, id, 4) ||
	    fw_cfg_add_item(cfg, FW_CFG_FILE_DIR, "\0\0\0\0", 4)) {
		fw_cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

void fw_cfg_free(struct fw_cfg *cfg)
{
	unsigned i;

	if (!cfg)
		return;
	for (i = 0; i < FW_CFG_MAX_ITEMS; i++)
		free(cfg->items[i].data);
	pthread_mutex_destroy(&cfg->lock);
	free(cfg);
}

static int set_item(struct fw_cfg *cfg, uint16_t key, const void *data,
		    size_t len)
{
	struct fw_cfg_item *it = &cfg->items[key];
	uint8_t *copy;

	if (len > UINT32_MAX)
		return -EFBIG;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	free(it->data);
	it->data = copy;
	it->len = len;
	return 0;
}

int fw_cfg_add_item(struct fw_cfg *cfg, uint16_t key, const void *data,
		    size_t len)
{
	if (key >= FW_CFG_FILE_FIRST)
		return -EINVAL;
	if (cfg->items[key].data && key != FW_CFG_FILE_DIR)
		return -EEXIST;
	return set_item(cfg, key, data, len);
}

/* Key 0x19: a big-endian count, then per file its big-endian size and
 * key, two reserved bytes and its NUL-padded name. */
static int rebuild_dir(struct fw_cfg *cfg)
{
	size_t len = 4 + 64 * (size_t)cfg->nfiles;
	uint8_t *d = calloc(1, len);
	unsigned i;
	int ret;

	if (!d)
		return -ENOMEM;
	put_be32(d, cfg->nfiles);
	for (i = 0; i < cfg->nfiles; i++) {
		uint8_t *e = d + 4 + 64 * i;
		uint16_t key = FW_CFG_FILE_FIRST + i;

		put_be32(e, cfg->items[key].len);
		e[4] = key >> 8;
		e[5] = key;
		memcpy(e + 8, cfg->names[i], FW_CFG_NAME_LEN);
	}
	ret = set_item(cfg, FW_CFG_FILE_DIR, d, len);
	free(d);
	return ret;
}

int fw_cfg_add_file_refresh(struct fw_cfg *cfg, const char *name,
			    const void *data, size_t len,
			    fw_cfg_refresh_fn refresh, void *opaque)
{
	size_t nlen = strlen(name);
	uint16_t key;
	unsigned i;
	int ret;

	if (!nlen || nlen >= FW_CFG_NAME_LEN)
		return -EINVAL;
	for (i = 0; i < cfg->nfiles; i++)
		if (!strcmp(cfg->names[i], name))
			return -EEXIST;
	if (cfg->nfiles == FW_CFG_MAX_FILES)
		return -ENOSPC;
	key = FW_CFG_FILE_FIRST + cfg->nfiles;
	ret = set_item(cfg, key, data, len);
	if (ret)
		return ret;
	cfg->items[key].refresh = refresh;
	cfg->items[key].opaque = opaque;
	memset(cfg->names[cfg->nfiles], 0, FW_CFG_NAME_LEN);
	memcpy(cfg->names[cfg->nfiles], name, nlen);
	cfg->nfiles++;
	return rebuild_dir(cfg);
}

int fw_cfg_add_file(struct fw_cfg *cfg, const char *name, const void *data,
		    size_t len)
{
	return fw_cfg_add_file_refresh(cfg, name, data, len, NULL, NULL);
}

const uint8_t *fw_cfg_file_data(struct fw_cfg *cfg, const char *name,
				size_t *len)
{
	unsigned i;

	for (i = 0; i < cfg->nfiles; i++) {
		if (strcmp(cfg->names[i], name))
			continue;
		*len = cfg->items[FW_CFG_FILE_FIRST + i].len;
		return cfg->items[FW_CFG_FILE_FIRST + i].data;
	}
	return NULL;
}

/* ---- the guest's side; cfg->lock held ---- */

static struct fw_cfg_item *selected(struct fw_cfg *cfg)
{
	return cfg->valid ? &cfg->items[cfg->key] : NULL;
}

static void select_locked(struct fw_cfg *cfg, uint16_t key)
{
	struct fw_cfg_item *it;

	cfg->key = key & FW_CFG_KEY_MASK;
	cfg->offset = 0;
	cfg->valid = cfg->key < FW_CFG_MAX_ITEMS && cfg->items[cfg->key].data &&
		     key == cfg->key;
	it = selected(cfg);
	if (it && it->refresh)
		it->refresh(it->opaque, it->data, it->len);
}

void fw_cfg_select(struct fw_cfg *cfg, uint16_t key)
{
	pthread_mutex_lock(&cfg->lock);
	select_locked(cfg, key);
	pthread_mutex_unlock(&cfg->lock);
}

/* Past the end of an item, and with nothing selected, reads give 0. */
static uint8_t read_byte_locked(struct fw_cfg *cfg)
{
	struct fw_cfg_item *it = selected(cfg);

	if (!it || cfg->offset >= it->len)
		return 0;
	return it->data[cfg->offset++];
}

uint8_t fw_cfg_read_byte(struct fw_cfg *cfg)
{
	uint8_t v;

	pthread_mutex_lock(&cfg->lock);
	v = read_byte_locked(cfg);
	pthread_mutex_unlock(&cfg->lock);
	return v;
}

/*
 * One DMA request (cfg->lock held).  The whole target range must be guest
 * RAM before anything is copied: a request naming memory outside RAM, or
 * a length running past it, fails with the error bit and changes nothing.
 */
static uint32_t dma_transfer(struct fw_cfg *cfg, struct guest_memory *gm,
			     uint32_t control, uint32_t length, uint64_t addr)
{
	struct fw_cfg_item *it;
	uint32_t avail, n;
	uint8_t *dst;

	if (control & FW_CFG_DMA_SELECT)
		select_locked(cfg, control >> 16);
	it = selected(cfg);
	avail = it && cfg->offset < it->len ? it->len - cfg->offset : 0;
	n = length < avail ? length : avail;
	if (control & FW_CFG_DMA_READ) {
		if (!length)
			return 0;
		dst = gmem_ptr_rw(gm, addr, length);
		if (!dst)
			return FW_CFG_DMA_ERROR;
		if (n)
			memcpy(dst, it->data + cfg->offset, n);
		memset(dst + n, 0, length - n);	/* beyond the item: zeros */
		gmem_notify_write(gm, addr, length);
		cfg->offset += n;
		return 0;
	}
	if (control & FW_CFG_DMA_WRITE)
		return FW_CFG_DMA_ERROR;	/* every item is read-only */
	if (control & FW_CFG_DMA_SKIP)
		cfg->offset += n;
	return 0;
}

int fw_cfg_dma(struct fw_cfg *cfg, struct guest_memory *gm, uint64_t gpa)
{
	uint8_t req[16], result[4];
	uint32_t status;

	if (gmem_read(gm, gpa, req, sizeof(req)) || !gmem_is_ram(gm, gpa, 4))
		return -EFAULT;
	pthread_mutex_lock(&cfg->lock);
	status = dma_transfer(cfg, gm, get_be32(req), get_be32(req + 4),
			      get_be64(req + 8));
	pthread_mutex_unlock(&cfg->lock);
	put_be32(result, status);
	if (gmem_write(gm, gpa, result, 4))
		return -EFAULT;
	return status;
}

/* ---- ports ---- */

static uint64_t port_read(void *opaque, uint64_t off, unsigned size)
{
	struct fw_cfg *cfg = opaque;
	uint64_t v = 0;
	unsigned i;

	if (off != 1)
		return 0;	/* the selector is write-only */
	pthread_mutex_lock(&cfg->lock);
	for (i = 0; i < size; i++)
		v |= (uint64_t)read_byte_locked(cfg) << (8 * i);
	pthread_mutex_unlock(&cfg->lock);
	return v;
}

static void port_write(void *opaque, uint64_t off, uint64_t value,
		       unsigned size)
{
	struct fw_cfg *cfg = opaque;

	if (off == 0 && size == 2)
		fw_cfg_select(cfg, value);
	/* Data-port writes: no item is writable. */
}

/* Reading the DMA address register gives "QEMU CFG": how the guest
 * knows the register exists. */
static uint64_t dma_read(void *opaque, uint64_t off, unsigned size)
{
	static const char sig[8] = "QEMU CFG";
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < size && off + i < 8; i++)
		v |= (uint64_t)(uint8_t)sig[off + i] << (8 * i);
	return v;
}

/* The guest writes the address big-endian, high half first; writing the
 * low half (its last byte) starts the transfer. */
static void dma_write(void *opaque, uint64_t off, uint64_t value,
		      unsigned size)
{
	struct fw_cfg *cfg = opaque;
	uint8_t addr[8];
	unsigned i;
	int ret;

	pthread_mutex_lock(&cfg->lock);
	for (i = 0; i < size && off + i < 8; i++)
		cfg->dma_addr[off + i] = value >> (8 * i);
	memcpy(addr, cfg->dma_addr, 8);
	pthread_mutex_unlock(&cfg->lock);
	if (off + size < 8)
		return;
	ret = fw_cfg_dma(cfg, &cfg->vm->mem, get_be64(addr));
	if (ret < 0)
		log_warn_once("fw_cfg: the guest's DMA request at %#llx is not in RAM; ignored",
			      (unsigned long long)get_be64(addr));
	pthread_mutex_lock(&cfg->lock);
	memset(cfg->dma_addr, 0, 8);
	pthread_mutex_unlock(&cfg->lock);
}

static const struct io_ops port_ops = { port_read, port_write };
static const struct io_ops dma_ops = { dma_read, dma_write };

static void fw_cfg_reset(void *opaque)
{
	struct fw_cfg *cfg = opaque;

	pthread_mutex_lock(&cfg->lock);
	cfg->key = 0;
	cfg->valid = false;
	cfg->offset = 0;
	memset(cfg->dma_addr, 0, 8);
	pthread_mutex_unlock(&cfg->lock);
}

/* The guest's position in the interface (the items are made again from
 * the same options). */
static void fw_cfg_save(void *opaque, struct vmstate_out *o)
{
	struct fw_cfg *cfg = opaque;

	pthread_mutex_lock(&cfg->lock);
	vmstate_put_u16(o, cfg->key);
	vmstate_put_bool(o, cfg->valid);
	vmstate_put_u32(o, cfg->offset);
	vmstate_put_bytes(o, cfg->dma_addr, 8);
	pthread_mutex_unlock(&cfg->lock);
}

static int fw_cfg_load(void *opaque, struct vmstate_in *in)
{
	struct fw_cfg *cfg = opaque;

	pthread_mutex_lock(&cfg->lock);
	cfg->key = vmstate_get_u16(in);
	cfg->valid = vmstate_get_bool(in);
	cfg->offset = vmstate_get_u32(in);
	vmstate_get_bytes(in, cfg->dma_addr, 8);
	/* Only an item this machine has may stay selected. */
	cfg->key &= FW_CFG_KEY_MASK;
	if (in->error || cfg->key >= FW_CFG_MAX_ITEMS || !cfg->items[cfg->key].data)
		cfg->valid = false;
	if (cfg->valid && cfg->offset > cfg->items[cfg->key].len)
		cfg->offset = cfg->items[cfg->key].len;
	pthread_mutex_unlock(&cfg->lock);
	return in->error;
}

static void fw_cfg_destroy(void *opaque)
{
	fw_cfg_free(opaque);
}

int fw_cfg_attach(struct vm *vm, struct fw_cfg *cfg)
{
	struct device_hooks hooks = { fw_cfg_reset, fw_cfg_destroy, cfg,
				      "fw_cfg", 1, fw_cfg_save, fw_cfg_load };
	int ret;

	cfg->vm = vm;
	ret = bus_register(&vm->pio, FW_CFG_PORT_SEL, 2, &port_ops, cfg,
			   "fw_cfg");
	if (ret) {
		fw_cfg_free(cfg);
		return ret;
	}
	ret = bus_register(&vm->pio, FW_CFG_PORT_DMA, 8, &dma_ops, cfg,
			   "fw_cfg dma");
	if (ret) {
		bus_unregister(&vm->pio, FW_CFG_PORT_SEL, cfg);
		fw_cfg_free(cfg);
		return ret;
	}
	vm_add_device(vm, &hooks);
	return 0;
}

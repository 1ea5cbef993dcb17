/*
 * A PCI IDE controller in legacy mode, as the PIIX3's IDE function
 * (8086:7010; Intel 82371SB datasheet, "PCI IDE" and "Bus master IDE"):
 * two channels at the PC's fixed ports (0x1F0-0x1F7 and 0x3F6, IRQ 14;
 * 0x170-0x177 and 0x376, IRQ 15), each with a master and a slave drive,
 * and bus-master DMA through the registers in BAR4.  SeaBIOS drives it,
 * as do Linux's ata_piix and every OS with a PC IDE driver.  Why IDE and
 * not AHCI: docs/design-notes.md.
 *
 * The task-file protocol follows ATA/ATAPI-7: a command sets BSY, the data
 * phase hands DRQ blocks through the data port (PIO) or moves everything
 * through the PRD table (DMA), and the drive interrupts when the host has
 * something to do.  Image I/O runs on the controller's worker thread
 * while the drive shows BSY; nothing a guest writes here can make wirt
 * touch memory outside guest RAM or the channel's buffer.
 */
#include "hw/ide.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "hw/irq.h"
#include "hw/pci.h"
#include "util/log.h"
#include "util/sandbox.h"
#include "vm/boot_order.h"
#include "vm/memory.h"
#include "vm/vm.h"

#define IDE_MAX_DRIVES	4

/* Task-file register offsets from the command block base. */
#define REG_DATA	0
#define REG_FEATURE	1	/* error on read */
#define REG_NSECTOR	2
#define REG_LBAL	3
#define REG_LBAM	4
#define REG_LBAH	5
#define REG_SELECT	6
#define REG_COMMAND	7	/* status on read */

/* Bus-master IDE registers (per channel, 8 bytes apart). */
#define BM_CMD		0
#define BM_STATUS	2
#define BM_PRD		4
#define BM_CMD_START	0x01
#define BM_CMD_TO_MEMORY 0x08	/* the drive's data is written to memory */
#define BM_ST_ACTIVE	0x01
#define BM_ST_ERROR	0x02
#define BM_ST_INTR	0x04
#define BM_ST_DMA_CAP	0x60	/* drive 0/1 DMA capable: the host's bits */
#define PRD_EOT		0x80000000u
#define PRD_MAX_ENTRIES	8192	/* a PRD table stays within 64 KiB */

/* PIIX IDE timing registers: bit 15 of each enables the channel's
 * decode; Linux's ata_piix skips channels without it. */
#define PIIX_IDETIM	0x40
#define PIIX_SIDETIM	0x44

static const struct { uint16_t cmd, ctl; unsigned irq; } legacy[2] = {
	{ 0x1f0, 0x3f6, 14 },
	{ 0x170, 0x376, 15 },
};

/* ---- interrupts and command outcomes ---- */

static void update_irq_line(struct ide_channel *ch)
{
	bool level = ch->irq_pending && !(ch->devctl & ATA_NIEN);

	if (level != ch->irq_level) {
		ch->irq_level = level;
		irq_set_line(ch->ctrl->vm, ch->irq, level);
	}
}

void ide_raise_irq(struct ide_channel *ch)
{
	ch->irq_pending = true;
	ch->bm_status |= BM_ST_INTR;
	update_irq_line(ch);
}

static void lower_irq(struct ide_channel *ch)
{
	ch->irq_pending = false;
	update_irq_line(ch);
}

static void end_command(struct ide_channel *ch)
{
	ch->phase = PHASE_IDLE;
	ch->job = JOB_NONE;
	ch->buf_len = ch->buf_pos = ch->drq_end = 0;
	ch->disk_left = 0;
}

void ide_cmd_done(struct ide_channel *ch)
{
	struct ide_drive *d = ide_cur(ch);

	end_command(ch);
	d->status = ATA_DRDY | ATA_DSC;
	ide_raise_irq(ch);
}

void ide_cmd_abort(struct ide_channel *ch, uint8_t error)
{
	struct ide_drive *d = ide_cur(ch);

	end_command(ch);
	d->error = error;
	d->status = ATA_DRDY | ATA_DSC | ATA_ERR;
	ide_raise_irq(ch);
}

void ide_set_signature(struct ide_drive *d)
{
	d->nsector = d->lbal = 1;
	d->select = 0xa0 | (d->index & 1 ? ATA_DEV1 : 0);
	d->error = 0x01;	/* diagnostics passed */
	if (!d->present) {
		d->lbam = d->lbah = 0xff;
		d->status = 0;
	} else if (d->atapi) {
		d->lbam = 0x14;
		d->lbah = 0xeb;
		d->status = 0;
	} else {
		d->lbam = d->lbah = 0;
		d->status = ATA_DRDY | ATA_DSC;
	}
}

/* A failed command of either kind (image I/O error, bad DMA). */
static void fail_command(struct ide_channel *ch, bool io_error)
{
	if (!ch->atapi_cmd)
		ide_cmd_abort(ch, io_error ? ATA_UNC | ATA_ABRT : ATA_ABRT);
	else if (io_error)
		atapi_read_error(ch);
	else
		atapi_error(ch, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
}

/* ---- data phases ---- */

/* Offer the next DRQ block of the buffer to the guest (PIO in). */
static void pio_in_block(struct ide_channel *ch, bool irq)
{
	struct ide_drive *d = ide_cur(ch);
	uint32_t left = ch->buf_len - ch->buf_pos, n;

	if (ch->atapi_cmd) {
		n = left < ch->atapi_limit ? left : ch->atapi_limit;
		d->lbam = n & 0xff;
		d->lbah = n >> 8;
		d->nsector = ATAPI_IO;
	} else {
		n = left < ch->drq_unit ? left : ch->drq_unit;
	}
	ch->drq_end = ch->buf_pos + n;
	ch->phase = PHASE_PIO_IN;
	d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
	if (irq)
		ide_raise_irq(ch);
}

/* The guest may write the next DRQ block into the buffer (PIO out). */
static void pio_out_window(struct ide_channel *ch, bool irq)
{
	struct ide_drive *d = ide_cur(ch);

	ch->buf_pos = 0;
	ch->buf_len = ch->disk_left < IDE_BUF_SIZE ? ch->disk_left : IDE_BUF_SIZE;
	ch->drq_end = ch->buf_len < ch->drq_unit ? ch->buf_len : ch->drq_unit;
	ch->phase = PHASE_PIO_OUT;
	d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
	if (irq)
		ide_raise_irq(ch);
}

static void wake_worker(struct ide_ctrl *ctrl)
{
	pthread_cond_signal(&ctrl->cond);
}

void ide_start_job(struct ide_channel *ch, enum ide_job job)
{
	struct ide_drive *d = ide_cur(ch);

	ch->job = job;
	ch->phase = job == JOB_DMA ? PHASE_DMA : PHASE_WORKER;
	d->status = ATA_BSY | ATA_DRDY | ATA_DSC;
	wake_worker(ch->ctrl);
}

/* A DMA command runs once both it and the bus master's start bit are there. */
static void maybe_start_dma(struct ide_channel *ch)
{
	if (ch->phase == PHASE_DMA && ch->job == JOB_NONE &&
	    (ch->bm_cmd & BM_CMD_START))
		ide_start_job(ch, JOB_DMA);
}

void ide_data_in(struct ide_channel *ch, uint32_t len, uint64_t disk_off,
		 uint64_t disk_len)
{
	struct ide_drive *d = ide_cur(ch);

	ch->to_device = false;
	ch->buf_pos = 0;
	ch->buf_len = len;
	ch->disk_off = disk_off;
	ch->disk_left = disk_len;
	if (ch->dma) {
		ch->phase = PHASE_DMA;
		ch->job = JOB_NONE;
		d->status = ATA_BSY | ATA_DRDY | ATA_DSC;
		maybe_start_dma(ch);
	} else if (len) {
		pio_in_block(ch, true);
	} else {
		ide_start_job(ch, JOB_FILL);
	}
}

void ide_data_out(struct ide_channel *ch, uint64_t disk_off, uint64_t disk_len)
{
	struct ide_drive *d = ide_cur(ch);

	ch->to_device = true;
	ch->disk_off = disk_off;
	ch->disk_left = disk_len;
	ch->flush_after = !d->write_cache;
	if (ch->dma) {
		ch->phase = PHASE_DMA;
		ch->job = JOB_NONE;
		d->status = ATA_BSY | ATA_DRDY | ATA_DSC;
		maybe_start_dma(ch);
	} else {
		pio_out_window(ch, false);
	}
}

/* The guest took the whole DRQ block: what comes next. */
static void pio_in_block_done(struct ide_channel *ch)
{
	if (ch->buf_pos < ch->buf_len)
		pio_in_block(ch, true);
	else if (ch->disk_left)
		ide_start_job(ch, JOB_FILL);
	else if (ch->atapi_cmd)
		atapi_done(ch);
	else {
		/* The last block of a PIO read: no interrupt (ATA-7 PIO in). */
		end_command(ch);
		ide_cur(ch)->status = ATA_DRDY | ATA_DSC;
	}
}

static void pio_out_block_done(struct ide_channel *ch)
{
	if (ch->buf_pos < ch->buf_len) {
		uint32_t end = ch->buf_pos + ch->drq_unit;

		ch->drq_end = end < ch->buf_len ? end : ch->buf_len;
		ide_raise_irq(ch);
	} else {
		ide_start_job(ch, JOB_DRAIN);
	}
}

static uint64_t data_read(struct ide_channel *ch, unsigned size)
{
	uint64_t v = 0;
	uint32_t n;

	if (ch->phase != PHASE_PIO_IN || ch->buf_pos >= ch->drq_end)
		return 0xffffffffu >> (32 - 8 * size);
	n = ch->drq_end - ch->buf_pos;
	if (n > size)
		n = size;
	memcpy(&v, ch->buf + ch->buf_pos, n);
	ch->buf_pos += n;
	if (ch->buf_pos == ch->drq_end)
		pio_in_block_done(ch);
	return v;
}

static void data_write(struct ide_channel *ch, uint64_t v, unsigned size)
{
	uint32_t n;

	if ((ch->phase != PHASE_PIO_OUT && ch->phase != PHASE_PACKET) ||
	    ch->buf_pos >= ch->drq_end)
		return;
	n = ch->drq_end - ch->buf_pos;
	if (n > size)
		n = size;
	memcpy(ch->buf + ch->buf_pos, &v, n);
	ch->buf_pos += n;
	if (ch->buf_pos < ch->drq_end)
		return;
	if (ch->phase == PHASE_PACKET)
		atapi_packet_command(ch);
	else
		pio_out_block_done(ch);
}

/* ---- the worker: image I/O and DMA without the lock ---- */

struct prd_walk {
	struct ide_ctrl *ctrl;
	uint64_t table;
	unsigned entries;
	uint64_t addr;		/* of the current region */
	uint32_t left;		/* bytes left in it */
	bool eot;		/* the current region is the last */
};

/* The next region with room; false at the table's end or on a bad table. */
static bool prd_next(struct prd_walk *w, bool *bad)
{
	uint32_t e[2];

	while (!w->left) {
		if (w->eot || w->entries == PRD_MAX_ENTRIES)
			return false;
		if (gmem_read(&w->ctrl->vm->mem, w->table + 8ull * w->entries, e,
			      sizeof(e))) {
			*bad = true;
			return false;
		}
		w->entries++;
		w->addr = e[0] & ~1u;
		w->left = e[1] & 0xfffe;
		if (!w->left)
			w->left = 0x10000;
		w->eot = e[1] & PRD_EOT;
	}
	return true;
}

enum dma_result { DMA_OK, DMA_OK_PRD_LEFT, DMA_SHORT, DMA_BAD_MEMORY, DMA_IO_ERROR,
		  DMA_STOPPED };

/* Copy between the buffer and guest memory along the PRD table. */
static enum dma_result dma_copy(struct prd_walk *w, uint8_t *buf, uint32_t len,
				bool to_memory, const uint8_t *start_bit)
{
	struct guest_memory *mem = &w->ctrl->vm->mem;
	bool bad = false;

	while (len) {
		uint32_t n;
		int ret;

		if (!(__atomic_load_n(start_bit, __ATOMIC_RELAXED) & BM_CMD_START))
			return DMA_STOPPED;
		if (!prd_next(w, &bad))
			return bad ? DMA_BAD_MEMORY : DMA_SHORT;
		n = w->left < len ? w->left : len;
		ret = to_memory ? gmem_write(mem, w->addr, buf, n)
				: gmem_read(mem, w->addr, buf, n);
		if (ret)
			return DMA_BAD_MEMORY;
		w->addr += n;
		w->left -= n;
		buf += n;
		len -= n;
	}
	return DMA_OK;
}

/* What a job works on, taken while the lock is held: a reset may change
 * the channel's fields while the worker runs. */
struct job_args {
	struct block_dev *bs;
	uint64_t off, left;	/* image bytes to move */
	uint32_t pending;	/* reply bytes already in the buffer */
	uint64_t table;		/* PRD table */
	bool to_device, flush_after;
};

/* The whole DMA transfer of a command. */
static enum dma_result run_dma(struct ide_channel *ch, const struct job_args *a)
{
	struct prd_walk w = { .ctrl = ch->ctrl, .table = a->table };
	struct block_dev *bs = a->bs;
	uint64_t off = a->off, left = a->left;
	uint32_t pending = a->pending;
	enum dma_result r = DMA_OK;
	bool bad = false;

	if (pending)
		r = dma_copy(&w, ch->buf, pending, true, &ch->bm_cmd);
	while (r == DMA_OK && left) {
		uint32_t n = left < IDE_BUF_SIZE ? left : IDE_BUF_SIZE;

		if (!a->to_device) {
			if (block_read(bs, off, ch->buf, n) < 0)
				return DMA_IO_ERROR;
			r = dma_copy(&w, ch->buf, n, true, &ch->bm_cmd);
		} else {
			r = dma_copy(&w, ch->buf, n, false, &ch->bm_cmd);
			if (r == DMA_OK && block_write(bs, off, ch->buf, n) < 0)
				return DMA_IO_ERROR;
		}
		off += n;
		left -= n;
	}
	if (r == DMA_OK && a->to_device && a->flush_after && block_flush(bs) < 0)
		return DMA_IO_ERROR;
	if (r == DMA_OK && prd_next(&w, &bad))
		return DMA_OK_PRD_LEFT;
	return r;
}

/* Apply what the worker did (lock held, the channel not reset since). */
static void job_finished(struct ide_channel *ch, enum ide_job job, int ret,
			 uint32_t n, enum dma_result r)
{
	switch (job) {
	case JOB_FILL:
		if (ret < 0)
			return fail_command(ch, true);
		ch->disk_off += n;
		ch->disk_left -= n;
		ch->buf_len = n;
		ch->buf_pos = 0;
		pio_in_block(ch, true);
		return;
	case JOB_DRAIN:
		if (ret < 0)
			return fail_command(ch, true);
		ch->disk_off += n;
		ch->disk_left -= n;
		if (ch->disk_left)
			pio_out_window(ch, true);
		else
			ide_cmd_done(ch);
		return;
	case JOB_FLUSH:
		if (ret < 0)
			return ide_cmd_abort(ch, ATA_ABRT);
		return ide_cmd_done(ch);
	case JOB_DMA:
		ch->bm_status &= ~BM_ST_ACTIVE;
		if (r == DMA_OK_PRD_LEFT) {
			/* The PRD table was longer than the transfer: the
			 * bus master stays active until the host stops it. */
			ch->bm_status |= BM_ST_ACTIVE;
		} else if (r != DMA_OK) {
			ch->bm_status |= BM_ST_ERROR;
			if (r == DMA_BAD_MEMORY || r == DMA_SHORT)
				log_warn_once("ide: DMA %s; the command failed",
					      r == DMA_SHORT ? "PRD table shorter than the transfer"
							     : "PRD table or buffer outside guest RAM");
			return fail_command(ch, r == DMA_IO_ERROR);
		}
		if (ch->atapi_cmd)
			atapi_done(ch);
		else
			ide_cmd_done(ch);
		return;
	case JOB_NONE:
		return;
	}
}

static void run_job(struct ide_ctrl *ctrl, struct ide_channel *ch)
{
	struct ide_drive *d = ide_cur(ch);
	enum ide_job job = ch->job;
	unsigned gen = ch->gen;
	const struct job_args a = {
		.bs = d->bs, .off = ch->disk_off, .left = ch->disk_left,
		.pending = ch->buf_len, .table = ch->bm_prd & ~3u,
		.to_device = ch->to_device, .flush_after = ch->flush_after,
	};
	uint32_t n = 0;
	enum dma_result r = DMA_OK;
	int ret = 0;

	/* Mark it taken; the fields below stay ours while BSY. */
	ch->job = JOB_NONE;
	ch->phase = PHASE_WORKER;
	pthread_mutex_unlock(&ctrl->lock);
	switch (job) {
	case JOB_FILL:
		n = a.left < IDE_BUF_SIZE ? a.left : IDE_BUF_SIZE;
		ret = block_read(a.bs, a.off, ch->buf, n);
		break;
	case JOB_DRAIN:
		n = a.pending;
		ret = block_write(a.bs, a.off, ch->buf, n);
		if (ret >= 0 && n == a.left && a.flush_after)
			ret = block_flush(a.bs);
		break;
	case JOB_FLUSH:
		ret = block_flush(a.bs);
		break;
	case JOB_DMA:
		r = run_dma(ch, &a);
		break;
	case JOB_NONE:
		break;
	}
	pthread_mutex_lock(&ctrl->lock);
	if (gen == ch->gen)
		job_finished(ch, job, ret, n, r);
}

static void *worker_main(void *opaque)
{
	struct ide_ctrl *ctrl = opaque;

	pthread_setname_np(pthread_self(), "ide");
	pthread_mutex_lock(&ctrl->lock);
	for (;;) {
		unsigned i;
		bool any = false;

		if (ctrl->stop)
			break;
		for (i = 0; i < 2; i++) {
			struct ide_channel *ch = &ctrl->ch[i];

			if (ch->job == JOB_NONE)
				continue;
			if (ch->job == JOB_DMA && ch->phase != PHASE_DMA)
				continue;
			any = true;
			pthread_mutex_unlock(&ctrl->lock);
			/* Started before the sandbox: narrow at the first job. */
			sandbox_thread_enter(SANDBOX_THREAD_DEVICE);
			pthread_mutex_lock(&ctrl->lock);
			if (ch->job != JOB_NONE)
				run_job(ctrl, ch);
		}
		if (!any)
			pthread_cond_wait(&ctrl->cond, &ctrl->lock);
	}
	pthread_mutex_unlock(&ctrl->lock);
	return NULL;
}

/* ---- resets ---- */

/* Drop the current command: the worker's late result is ignored. */
static void cancel_command(struct ide_channel *ch)
{
	ch->gen++;
	end_command(ch);
	ch->atapi_cmd = ch->dma = false;
}

static void channel_soft_reset(struct ide_channel *ch)
{
	unsigned i;

	cancel_command(ch);
	ch->cur = 0;
	for (i = 0; i < 2; i++)
		ide_set_signature(&ch->drive[i]);
}

static void channel_reset(struct ide_channel *ch)
{
	unsigned i;

	ch->devctl = 0;
	channel_soft_reset(ch);
	for (i = 0; i < 2; i++) {
		struct ide_drive *d = &ch->drive[i];

		d->multiple = 0;
		d->write_cache = true;
		d->xfer_mode = 0;
		d->tray_open = d->locked = d->unit_attention = false;
		d->media_event = 0;
		d->sense_key = 0;
		d->sense_asc = 0;
	}
	ch->bm_cmd = 0;
	ch->bm_status = 0;
	ch->bm_prd = 0;
	lower_irq(ch);
}

/* ---- port handlers ---- */

static bool channel_empty(struct ide_channel *ch)
{
	return !ch->drive[0].present && !ch->drive[1].present;
}

static uint8_t read_status(struct ide_channel *ch)
{
	struct ide_drive *d = ide_cur(ch);

	/* An absent slave answers nothing; the master leaves status 0. */
	return d->present ? d->status : 0;
}

static uint64_t cmd_read(void *opaque, uint64_t off, unsigned size)
{
	struct ide_channel *ch = opaque;
	struct ide_drive *d;
	bool hob;
	uint64_t v;

	pthread_mutex_lock(&ch->ctrl->lock);
	d = ide_cur(ch);
	hob = ch->devctl & ATA_HOB;
	if (off == REG_DATA) {
		v = data_read(ch, size);
	} else if (channel_empty(ch)) {
		v = 0;
	} else {
		switch (off) {
		case REG_FEATURE: v = d->present ? d->error : 0; break;
		case REG_NSECTOR: v = hob ? d->hob_nsector : d->nsector; break;
		case REG_LBAL: v = hob ? d->hob_lbal : d->lbal; break;
		case REG_LBAM: v = hob ? d->hob_lbam : d->lbam; break;
		case REG_LBAH: v = hob ? d->hob_lbah : d->lbah; break;
		case REG_SELECT: v = d->select; break;
		default:
			v = read_status(ch);
			lower_irq(ch);
			break;
		}
	}
	pthread_mutex_unlock(&ch->ctrl->lock);
	return v;
}

static void write_taskfile(struct ide_channel *ch, unsigned off, uint8_t v)
{
	unsigned i;

	ch->devctl &= ~ATA_HOB;
	for (i = 0; i < 2; i++) {
		struct ide_drive *d = &ch->drive[i];

		switch (off) {
		case REG_FEATURE: d->hob_feature = d->feature; d->feature = v; break;
		case REG_NSECTOR: d->hob_nsector = d->nsector; d->nsector = v; break;
		case REG_LBAL: d->hob_lbal = d->lbal; d->lbal = v; break;
		case REG_LBAM: d->hob_lbam = d->lbam; d->lbam = v; break;
		case REG_LBAH: d->hob_lbah = d->lbah; d->lbah = v; break;
		case REG_SELECT: d->select = v; break;
		}
	}
	if (off == REG_SELECT)
		ch->cur = !!(v & ATA_DEV1);
}

static void cmd_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
	struct ide_channel *ch = opaque;
	struct ide_drive *d;

	pthread_mutex_lock(&ch->ctrl->lock);
	d = ide_cur(ch);
	if (off == REG_DATA) {
		data_write(ch, value, size);
	} else if (d->status & ATA_BSY) {
		/* Ignored while the drive is busy (ATA-7 7.1). */
	} else if (off != REG_COMMAND) {
		write_taskfile(ch, off, value);
	} else if (d->present) {
		/* A new command ends whatever data phase was left. */
		cancel_command(ch);
		lower_irq(ch);
		ata_command(ch, value);
	}
	pthread_mutex_unlock(&ch->ctrl->lock);
}

static uint64_t ctl_read(void *opaque, uint64_t off, unsigned size)
{
	struct ide_channel *ch = opaque;
	uint64_t v;

	pthread_mutex_lock(&ch->ctrl->lock);
	v = channel_empty(ch) ? 0 : read_status(ch);	/* alternate status */
	pthread_mutex_unlock(&ch->ctrl->lock);
	return v;
}

static void ctl_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
	struct ide_channel *ch = opaque;
	uint8_t old;
	unsigned i;

	pthread_mutex_lock(&ch->ctrl->lock);
	old = ch->devctl;
	ch->devctl = value;
	if ((value & ATA_SRST) && !(old & ATA_SRST)) {
		cancel_command(ch);
		for (i = 0; i < 2; i++)
			if (ch->drive[i].present)
				ch->drive[i].status = ATA_BSY | ATA_DSC;
		lower_irq(ch);
	} else if (!(value & ATA_SRST) && (old & ATA_SRST)) {
		channel_soft_reset(ch);
	}
	update_irq_line(ch);
	pthread_mutex_unlock(&ch->ctrl->lock);
}

static const struct io_ops cmd_ops = { cmd_read, cmd_write };
static const struct io_ops ctl_ops = { ctl_read, ctl_write };

static uint64_t bm_read(void *opaque, uint64_t off, unsigned size)
{
	struct ide_ctrl *ctrl = opaque;
	struct ide_channel *ch = &ctrl->ch[off >= 8];
	uint64_t v = 0;
	unsigned i;

	pthread_mutex_lock(&ctrl->lock);
	for (i = 0; i < size && off + i < 16; i++) {
		unsigned reg = (off + i) & 7;
		uint8_t b = 0;

		if (reg == BM_CMD)
			b = ch->bm_cmd;
		else if (reg == BM_STATUS)
			b = ch->bm_status;
		else if (reg >= BM_PRD)
			b = ch->bm_prd >> (8 * (reg - BM_PRD));
		v |= (uint64_t)b << (8 * i);
	}
	pthread_mutex_unlock(&ctrl->lock);
	return v;
}

static void bm_write_byte(struct ide_channel *ch, unsigned reg, uint8_t b)
{
	if (reg == BM_CMD) {
		uint8_t old = ch->bm_cmd;

		ch->bm_cmd = b & (BM_CMD_START | BM_CMD_TO_MEMORY);
		if ((b & BM_CMD_START) && !(old & BM_CMD_START)) {
			ch->bm_status |= BM_ST_ACTIVE;
			maybe_start_dma(ch);
		} else if (!(b & BM_CMD_START)) {
			ch->bm_status &= ~BM_ST_ACTIVE;
		}
	} else if (reg == BM_STATUS) {
		ch->bm_status = (ch->bm_status & ~(b & (BM_ST_ERROR | BM_ST_INTR)) &
				 ~BM_ST_DMA_CAP) | (b & BM_ST_DMA_CAP);
	} else if (reg >= BM_PRD) {
		unsigned shift = 8 * (reg - BM_PRD);

		ch->bm_prd = (ch->bm_prd & ~(0xffu << shift)) | ((uint32_t)b << shift);
		ch->bm_prd &= ~3u;
	}
}

static void bm_write(void *opaque, uint64_t off, uint64_t value, unsigned size)
{
	struct ide_ctrl *ctrl = opaque;
	unsigned i;

	pthread_mutex_lock(&ctrl->lock);
	for (i = 0; i < size && off + i < 16; i++)
		bm_write_byte(&ctrl->ch[(off + i) >= 8], (off + i) & 7,
			      value >> (8 * i));
	pthread_mutex_unlock(&ctrl->lock);
}

static const struct io_ops bm_ops = { bm_read, bm_write };

/* ---- creation ---- */

static void ide_machine_reset(void *opaque)
{
	struct ide_ctrl *ctrl = opaque;

	pthread_mutex_lock(&ctrl->lock);
	channel_reset(&ctrl->ch[0]);
	channel_reset(&ctrl->ch[1]);
	pthread_mutex_unlock(&ctrl->lock);
}

static void ide_destroy(void *opaque)
{
	struct ide_ctrl *ctrl = opaque;
	unsigned c, i;

	if (ctrl->worker_started) {
		pthread_mutex_lock(&ctrl->lock);
		ctrl->stop = true;
		pthread_cond_signal(&ctrl->cond);
		pthread_mutex_unlock(&ctrl->lock);
		pthread_join(ctrl->worker, NULL);
	}
	for (c = 0; c < 2; c++) {
		for (i = 0; i < 2; i++) {
			struct ide_drive *d = &ctrl->ch[c].drive[i];

			if (!d->bs)
				continue;
			if (!d->read_only)
				block_flush(d->bs);
			block_close(d->bs);
		}
		free(ctrl->ch[c].buf);
	}
	free(ctrl);
}

static int drive_open(struct ide_drive *d, const struct disk_spec *ds)
{
	int ret = disk_open(ds, &d->bs);

	if (ret)
		return ret;
	d->present = true;
	d->atapi = ds->cdrom;
	d->read_only = ds->read_only;
	d->sectors = block_size(d->bs) / (d->atapi ? CD_SECTOR : ATA_SECTOR);
	if (ds->serial[0])
		strcpy(d->serial, ds->serial);
	else
		snprintf(d->serial, sizeof(d->serial), "WIRT%05u", d->index + 1);
	if (!d->atapi && !d->sectors)
		log_warn("--disk %s: smaller than one sector: the guest sees an empty disk",
			 ds->path);
	return 0;
}

/* SeaBIOS's path for an ATA drive: /pci@i0cf8/ * @SLOT/drive@CH/disk@UNIT. */
static int add_boot_entry(struct vm *vm, struct ide_ctrl *ctrl,
			  const struct ide_drive *d, int bootindex)
{
	char path[BOOT_PATH_MAX];

	snprintf(path, sizeof(path), "/pci@i0cf8/ide@%x/drive@%x/disk@%x",
		 ctrl->pci->slot, d->index / 2, d->index % 2);
	return boot_order_add(vm, d->atapi ? BOOT_CDROM : BOOT_DISK, bootindex, path);
}

static int ports_register(struct vm *vm, struct ide_ctrl *ctrl)
{
	static const char *names[2][2] = { { "ide0", "ide0 control" },
					   { "ide1", "ide1 control" } };
	unsigned c;
	int ret = 0;

	for (c = 0; c < 2 && !ret; c++) {
		ret = bus_register(&vm->pio, legacy[c].cmd, 8, &cmd_ops, &ctrl->ch[c],
				   names[c][0]);
		if (!ret)
			ret = bus_register(&vm->pio, legacy[c].ctl, 1, &ctl_ops,
					   &ctrl->ch[c], names[c][1]);
	}
	return ret;
}

int ide_create(struct vm *vm, const struct disk_spec *const *drives,
	       unsigned ndrives)
{
	/* Named, without save/load: migration refuses a VM with IDE drives. */
	struct device_hooks hooks = { .reset = ide_machine_reset, .destroy = ide_destroy,
				      .name = "ide" };
	struct pci_device *dev;
	struct ide_ctrl *ctrl;
	unsigned c, i;
	int ret;

	if (ndrives > IDE_MAX_DRIVES) {
		log_error("IDE: at most %d drives (CD-ROMs included); %u given",
			  IDE_MAX_DRIVES, ndrives);
		return -EINVAL;
	}
	ctrl = calloc(1, sizeof(*ctrl));
	if (!ctrl)
		return -ENOMEM;
	pthread_mutex_init(&ctrl->lock, NULL);
	pthread_cond_init(&ctrl->cond, NULL);
	ctrl->vm = vm;
	hooks.opaque = ctrl;
	vm_add_device(vm, &hooks);	/* destroy frees what was made */
	for (c = 0; c < 2; c++) {
		struct ide_channel *ch = &ctrl->ch[c];

		ch->ctrl = ctrl;
		ch->index = c;
		ch->irq = legacy[c].irq;
		ch->buf = malloc(IDE_BUF_SIZE);
		if (!ch->buf)
			return -ENOMEM;
		for (i = 0; i < 2; i++)
			ch->drive[i].index = 2 * c + i;
	}
	for (i = 0; i < ndrives; i++) {
		ret = drive_open(&ctrl->ch[i / 2].drive[i % 2], drives[i]);
		if (ret)
			return ret;
	}
	dev = pci_device_new(vm, "IDE", 0x8086, 0x7010, 0x010180, 0);
	if (!dev)
		return -EBUSY;
	ctrl->pci = dev;
	dev->opaque = ctrl;
	pci_bar_init(dev, 4, 16, true, &bm_ops, ctrl);
	memset(dev->wmask + PIIX_IDETIM, 0xff, PIIX_SIDETIM + 1 - PIIX_IDETIM);
	/* Both channels decode (firmware would set this; Linux needs it). */
	dev->config[PIIX_IDETIM + 1] = dev->config[PIIX_IDETIM + 3] = 0x80;
	ret = pci_device_plug(dev);
	if (ret)
		return ret;
	/* Legacy mode: ISA IRQs 14 and 15, no INTx pin. */
	dev->config[PCI_INTERRUPT_PIN] = dev->config_at_plug[PCI_INTERRUPT_PIN] = 0;
	ret = ports_register(vm, ctrl);
	if (ret) {
		log_error("IDE: its legacy ports are taken: %s", strerror(-ret));
		return ret;
	}
	for (i = 0; i < ndrives; i++) {
		ret = add_boot_entry(vm, ctrl, &ctrl->ch[i / 2].drive[i % 2],
				     drives[i]->bootindex);
		if (ret)
			return ret;
	}
	ide_machine_reset(ctrl);
	if (pthread_create(&ctrl->worker, NULL, worker_main, ctrl)) {
		log_error("IDE: cannot start the worker thread");
		return -EAGAIN;
	}
	ctrl->worker_started = true;
	return 0;
}

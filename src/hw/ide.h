/*
 * The IDE controller model, shared by its files: hw/ide.c (the PCI
 * function, task-file registers, PIO data port, bus-master DMA and the
 * worker thread that does the image I/O), hw/ide_ata.c (ATA commands of
 * hard disks) and hw/atapi.c (the packet commands of the CD-ROM).
 *
 * Every function here runs with ctrl->lock held.  While a drive is busy
 * (ATA_BSY) the worker owns the channel's buffer and does the image I/O
 * without the lock; the guest can still read the status and reset the
 * channel, which bumps gen so the worker's late result is dropped.
 */
#ifndef WIRT_HW_IDE_H
#define WIRT_HW_IDE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/disk_spec.h"

struct vm;
struct block_dev;
struct pci_device;

#define ATA_SECTOR	512
#define CD_SECTOR	2048
#define IDE_BUF_SIZE	(128 * 1024)	/* image I/O per worker round */
#define ATA_MAX_MULTIPLE 16		/* sectors per READ/WRITE MULTIPLE block */

/* Status register. */
#define ATA_BSY		0x80
#define ATA_DRDY	0x40
#define ATA_DF		0x20
#define ATA_DSC		0x10
#define ATA_DRQ		0x08
#define ATA_ERR		0x01
/* Error register. */
#define ATA_UNC		0x40
#define ATA_IDNF	0x10
#define ATA_ABRT	0x04
/* Device control register. */
#define ATA_HOB		0x80
#define ATA_SRST	0x04
#define ATA_NIEN	0x02
/* Device register. */
#define ATA_LBA		0x40
#define ATA_DEV1	0x10
/* ATAPI interrupt reason (the sector count register). */
#define ATAPI_COD	0x01
#define ATAPI_IO	0x02

/* SCSI sense keys and (ASC << 8 | ASCQ) codes the CD-ROM reports. */
#define SENSE_NONE		0x0
#define SENSE_NOT_READY		0x2
#define SENSE_MEDIUM_ERROR	0x3
#define SENSE_ILLEGAL_REQUEST	0x5
#define SENSE_UNIT_ATTENTION	0x6
#define ASC_NO_MEDIUM		0x3a00
#define ASC_NO_MEDIUM_TRAY_OPEN	0x3a02
#define ASC_READ_ERROR		0x1100
#define ASC_INVALID_OPCODE	0x2000
#define ASC_LBA_OUT_OF_RANGE	0x2100
#define ASC_INVALID_FIELD	0x2400
#define ASC_MEDIUM_CHANGED	0x2800
#define ASC_SAVING_UNSUPPORTED	0x3900
#define ASC_REMOVAL_PREVENTED	0x5302

/* What the worker thread is asked to do for a channel. */
enum ide_job {
	JOB_NONE,
	JOB_FILL,	/* read the next piece of the image into the buffer */
	JOB_DRAIN,	/* write the buffer to the image */
	JOB_FLUSH,	/* FLUSH CACHE */
	JOB_DMA,	/* the whole transfer by bus-master DMA */
};

/* Where the channel is in the current command. */
enum ide_phase {
	PHASE_IDLE,
	PHASE_PIO_IN,	/* the guest reads DRQ blocks from the data port */
	PHASE_PIO_OUT,	/* the guest writes DRQ blocks to the data port */
	PHASE_PACKET,	/* the guest writes an ATAPI command packet */
	PHASE_DMA,	/* waiting for (or doing) the bus-master transfer */
	PHASE_WORKER,	/* the worker is busy with the image */
};

struct ide_drive {
	bool present;
	bool atapi;
	unsigned index;			/* 0-3: primary master ... secondary slave */
	struct block_dev *bs;
	bool read_only;
	uint64_t sectors;		/* ATA: 512-byte sectors; ATAPI: 2048-byte blocks */
	char serial[DISK_SERIAL_MAX + 1];
	/* The task file as this drive holds it; writes reach both drives. */
	uint8_t feature, nsector, lbal, lbam, lbah;
	uint8_t hob_feature, hob_nsector, hob_lbal, hob_lbam, hob_lbah;
	uint8_t select;
	uint8_t status, error;
	unsigned multiple;		/* sectors per MULTIPLE block, 0: off */
	bool write_cache;
	uint8_t xfer_mode;		/* SET FEATURES 03h: mode chosen */
	/* ATAPI */
	bool tray_open, locked, unit_attention;
	uint8_t media_event;		/* GET EVENT STATUS media event code */
	uint8_t sense_key;
	uint16_t sense_asc;		/* ASC << 8 | ASCQ */
};

struct ide_channel {
	struct ide_ctrl *ctrl;
	unsigned index;			/* 0 primary, 1 secondary */
	unsigned irq;
	struct ide_drive drive[2];
	unsigned cur;			/* the selected drive */
	uint8_t devctl;
	bool irq_pending, irq_level;

	/* The current command. */
	enum ide_phase phase;
	enum ide_job job;
	unsigned gen;			/* bumped by resets */
	bool atapi_cmd;			/* completes as a packet command */
	bool dma;			/* its data moves by bus-master DMA */
	bool to_device;			/* data goes to the drive (writes) */
	bool flush_after;		/* write cache off: flush before done */
	uint8_t *buf;
	uint32_t buf_len, buf_pos, drq_end;
	uint32_t drq_unit;		/* ATA: bytes per DRQ block */
	uint32_t atapi_limit;		/* ATAPI: byte count limit per DRQ */
	uint64_t disk_off, disk_left;	/* image bytes still to move */
	uint8_t packet[12];

	/* Bus-master IDE registers (BAR4). */
	uint8_t bm_cmd, bm_status;
	uint32_t bm_prd;
};

struct ide_ctrl {
	struct vm *vm;
	struct pci_device *pci;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t worker;
	bool worker_started, stop;
	struct ide_channel ch[2];
};

static inline struct ide_drive *ide_cur(struct ide_channel *ch)
{
	return &ch->drive[ch->cur];
}

/* hw/ide.c: command outcomes and data phases. */
void ide_raise_irq(struct ide_channel *ch);
void ide_cmd_done(struct ide_channel *ch);
void ide_cmd_abort(struct ide_channel *ch, uint8_t error);
/* Data to the guest: len bytes already in ch->buf, then disk_len bytes of
 * the image from disk_off; by PIO or DMA as ch->dma says. */
void ide_data_in(struct ide_channel *ch, uint32_t len, uint64_t disk_off,
		 uint64_t disk_len);
/* Data from the guest to disk_len bytes of the image at disk_off. */
void ide_data_out(struct ide_channel *ch, uint64_t disk_off, uint64_t disk_len);
void ide_start_job(struct ide_channel *ch, enum ide_job job);
/* The signature and status after a reset or EXECUTE DEVICE DIAGNOSTIC. */
void ide_set_signature(struct ide_drive *d);

/* hw/ide_ata.c */
void ata_command(struct ide_channel *ch, uint8_t cmd);

/* hw/atapi.c */
void atapi_packet_start(struct ide_channel *ch);
void atapi_packet_command(struct ide_channel *ch);
void atapi_done(struct ide_channel *ch);
void atapi_error(struct ide_channel *ch, uint8_t key, uint16_t asc);
/* A failed image read during a packet command. */
void atapi_read_error(struct ide_channel *ch);

#endif

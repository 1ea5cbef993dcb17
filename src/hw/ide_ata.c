/*
 * ATA commands of the IDE hard disk (ATA/ATAPI-7 volume 1): IDENTIFY,
 * READ/WRITE SECTORS, MULTIPLE and DMA in their 28- and 48-bit forms,
 * READ VERIFY, FLUSH CACHE, SET FEATURES, SET MULTIPLE MODE, and the
 * small commands firmware and drivers send on the way (power modes,
 * diagnostics, INITIALIZE DEVICE PARAMETERS).  On the CD-ROM only the
 * commands an ATAPI device takes: IDENTIFY PACKET DEVICE, PACKET, DEVICE
 * RESET; IDENTIFY DEVICE is aborted with the ATAPI signature, which is
 * how drivers tell the two apart.
 */
#include <stdio.h>
#include <string.h>

#include "hw/ide.h"

/* Commands. */
#define CMD_DEVICE_RESET	0x08
#define CMD_RECALIBRATE		0x10	/* 0x10-0x1f */
#define CMD_READ_SECTORS	0x20
#define CMD_READ_SECTORS_NR	0x21
#define CMD_READ_SECTORS_EXT	0x24
#define CMD_READ_DMA_EXT	0x25
#define CMD_READ_NATIVE_MAX_EXT	0x27
#define CMD_READ_MULTIPLE_EXT	0x29
#define CMD_WRITE_SECTORS	0x30
#define CMD_WRITE_SECTORS_NR	0x31
#define CMD_WRITE_SECTORS_EXT	0x34
#define CMD_WRITE_DMA_EXT	0x35
#define CMD_WRITE_MULTIPLE_EXT	0x39
#define CMD_VERIFY		0x40
#define CMD_VERIFY_NR		0x41
#define CMD_VERIFY_EXT		0x42
#define CMD_DIAGNOSTIC		0x90
#define CMD_INIT_PARAMS		0x91
#define CMD_PACKET		0xa0
#define CMD_IDENTIFY_PACKET	0xa1
#define CMD_READ_MULTIPLE	0xc4
#define CMD_WRITE_MULTIPLE	0xc5
#define CMD_SET_MULTIPLE	0xc6
#define CMD_READ_DMA		0xc8
#define CMD_READ_DMA_NR		0xc9
#define CMD_WRITE_DMA		0xca
#define CMD_WRITE_DMA_NR	0xcb
#define CMD_STANDBY_IMM		0xe0
#define CMD_IDLE_IMM		0xe1
#define CMD_STANDBY		0xe2
#define CMD_IDLE		0xe3
#define CMD_CHECK_POWER		0xe5
#define CMD_SLEEP		0xe6
#define CMD_FLUSH		0xe7
#define CMD_FLUSH_EXT		0xea
#define CMD_IDENTIFY		0xec
#define CMD_SET_FEATURES	0xef
#define CMD_READ_NATIVE_MAX	0xf8

/* SET FEATURES subcommands. */
#define FEAT_WCACHE_ON		0x02
#define FEAT_XFER_MODE		0x03
#define FEAT_LOOKAHEAD_OFF	0x55
#define FEAT_WCACHE_OFF		0x82
#define FEAT_LOOKAHEAD_ON	0xaa
#define FEAT_RELEASE_INT_OFF	0xdd	/* and others drivers send harmlessly */

/* The CHS geometry reported for old software. */
#define GEO_HEADS	16
#define GEO_SPT		63
#define GEO_MAX_CYLS	16383
#define LBA28_MAX	0x0fffffffull

static void put_word(uint8_t *id, unsigned w, uint16_t v)
{
	id[2 * w] = v;
	id[2 * w + 1] = v >> 8;
}

/* ATA strings: two characters per word, the first in the high byte. */
static void put_string(uint8_t *id, unsigned w, unsigned words, const char *s)
{
	size_t len = strlen(s);
	unsigned i;

	for (i = 0; i < 2 * words; i++)
		id[2 * w + (i ^ 1)] = i < len ? s[i] : ' ';
}

/* Word 255: signature A5h and a checksum making all 512 bytes sum to 0. */
static void put_integrity(uint8_t *id)
{
	uint8_t sum = 0xa5;
	unsigned i;

	id[510] = 0xa5;
	for (i = 0; i < 511; i++)
		sum += i < 510 ? id[i] : 0;
	id[511] = -sum;
}

static uint16_t mode_words(const struct ide_drive *d, unsigned kind)
{
	/* kind 1: multiword DMA (word 63), 2: UDMA (word 88): modes
	 * supported in the low byte, the selected one in the high byte. */
	uint8_t mode = d->xfer_mode;

	if (kind == 1)
		return 0x07 | ((mode >> 3) == 4 ? 0x100 << (mode & 7) : 0);
	return 0x3f | ((mode >> 3) == 8 ? 0x100 << (mode & 7) : 0);
}

static uint64_t cylinders(const struct ide_drive *d)
{
	uint64_t c = d->sectors / (GEO_HEADS * GEO_SPT);

	return c > GEO_MAX_CYLS ? GEO_MAX_CYLS : c;
}

static void identify_common(const struct ide_drive *d, uint8_t *id)
{
	put_string(id, 10, 10, d->serial);
	put_string(id, 23, 4, "1.0");
	put_word(id, 63, mode_words(d, 1));
	put_word(id, 64, 0x03);			/* PIO modes 3 and 4 */
	put_word(id, 65, 120);			/* cycle times, ns */
	put_word(id, 66, 120);
	put_word(id, 67, 120);
	put_word(id, 68, 120);
	put_word(id, 88, mode_words(d, 2));
}

static void identify_disk(const struct ide_drive *d, uint8_t *id)
{
	uint64_t cyls = cylinders(d), lba28 = d->sectors;
	uint64_t chs = cyls * GEO_HEADS * GEO_SPT;
	uint16_t sets83 = 0x4000 | (1 << 10) | (1 << 12) | (1 << 13);

	if (lba28 > LBA28_MAX)
		lba28 = LBA28_MAX;
	identify_common(d, id);
	put_word(id, 0, 0x0040);		/* fixed disk */
	put_word(id, 1, cyls);
	put_word(id, 3, GEO_HEADS);
	put_word(id, 6, GEO_SPT);
	put_string(id, 27, 20, "WIRT HARDDISK");
	put_word(id, 47, 0x8000 | ATA_MAX_MULTIPLE);
	put_word(id, 49, (1 << 8) | (1 << 9) | (1 << 11));	/* DMA, LBA, IORDY */
	put_word(id, 50, 0x4000);
	put_word(id, 53, 0x0007);		/* words 54-58, 64-70, 88 valid */
	put_word(id, 54, cyls);
	put_word(id, 55, GEO_HEADS);
	put_word(id, 56, GEO_SPT);
	put_word(id, 57, chs);
	put_word(id, 58, chs >> 16);
	put_word(id, 59, d->multiple ? 0x100 | d->multiple : 0);
	put_word(id, 60, lba28);
	put_word(id, 61, lba28 >> 16);
	put_word(id, 80, 0x00f0);		/* ATA/ATAPI-4 to -7 */
	put_word(id, 82, (1 << 5) | (1 << 6));	/* write cache, look-ahead */
	put_word(id, 83, sets83);		/* LBA48, FLUSH CACHE (EXT) */
	put_word(id, 84, 0x4000);
	put_word(id, 85, (d->write_cache ? 1 << 5 : 0) | (1 << 6));
	put_word(id, 86, sets83 & 0x3fff);
	put_word(id, 87, 0x4000);
	put_word(id, 93, 0x6000 | 0x0001);	/* device 0 passed, 80-wire */
	put_word(id, 100, d->sectors);
	put_word(id, 101, d->sectors >> 16);
	put_word(id, 102, d->sectors >> 32);
	put_word(id, 103, d->sectors >> 48);
}

static void identify_cdrom(const struct ide_drive *d, uint8_t *id)
{
	identify_common(d, id);
	/* ATAPI, CD-ROM, removable, DRQ within 50 us, 12-byte packets. */
	put_word(id, 0, 0x85c0);
	put_string(id, 27, 20, "WIRT DVD-ROM");
	put_word(id, 49, (1 << 8) | (1 << 9) | (1 << 11));	/* DMA, LBA, IORDY */
	put_word(id, 53, 0x0007);
	put_word(id, 71, 30);
	put_word(id, 72, 30);
	put_word(id, 80, 0x0070);		/* ATA/ATAPI-4 to -6 */
	put_word(id, 82, 1 << 4);		/* PACKET */
	put_word(id, 83, 0x4000);
	put_word(id, 84, 0x4000);
	put_word(id, 85, 1 << 4);
	put_word(id, 87, 0x4000);
}

static void cmd_identify(struct ide_channel *ch, bool packet)
{
	struct ide_drive *d = ide_cur(ch);

	if (packet != d->atapi) {
		/* The wrong IDENTIFY: abort, showing the drive's signature. */
		ide_set_signature(d);
		return ide_cmd_abort(ch, ATA_ABRT);
	}
	memset(ch->buf, 0, ATA_SECTOR);
	if (packet)
		identify_cdrom(d, ch->buf);
	else
		identify_disk(d, ch->buf);
	put_integrity(ch->buf);
	ch->drq_unit = ATA_SECTOR;
	ide_data_in(ch, ATA_SECTOR, 0, 0);
}

/* The command's first sector and count; false if the address is invalid. */
static bool command_range(struct ide_drive *d, bool lba48, uint64_t *lba,
			  uint32_t *count)
{
	if (lba48) {
		*lba = d->lbal | (uint64_t)d->lbam << 8 | (uint64_t)d->lbah << 16 |
		       (uint64_t)d->hob_lbal << 24 | (uint64_t)d->hob_lbam << 32 |
		       (uint64_t)d->hob_lbah << 40;
		*count = d->nsector | d->hob_nsector << 8;
		if (!*count)
			*count = 65536;
	} else {
		*count = d->nsector ? d->nsector : 256;
		if (d->select & ATA_LBA) {
			*lba = d->lbal | d->lbam << 8 | d->lbah << 16 |
			       (uint64_t)(d->select & 0xf) << 24;
		} else {
			uint64_t cyl = d->lbam | d->lbah << 8;
			unsigned head = d->select & 0xf, sector = d->lbal;

			if (!sector || sector > GEO_SPT || head >= GEO_HEADS)
				return false;
			*lba = (cyl * GEO_HEADS + head) * GEO_SPT + sector - 1;
		}
	}
	return *lba <= d->sectors && *count <= d->sectors - *lba;
}

enum rw_kind { RW_PIO, RW_MULTIPLE, RW_DMA, RW_VERIFY };

static void cmd_read_write(struct ide_channel *ch, bool write, bool lba48,
			   enum rw_kind kind)
{
	struct ide_drive *d = ide_cur(ch);
	uint64_t lba;
	uint32_t count;

	if (kind == RW_MULTIPLE && !d->multiple)
		return ide_cmd_abort(ch, ATA_ABRT);
	if (!command_range(d, lba48, &lba, &count))
		return ide_cmd_abort(ch, ATA_IDNF | ATA_ABRT);
	if (write && d->read_only)
		return ide_cmd_abort(ch, ATA_ABRT);
	if (kind == RW_VERIFY)
		return ide_cmd_done(ch);
	ch->dma = kind == RW_DMA;
	ch->drq_unit = ATA_SECTOR * (kind == RW_MULTIPLE ? d->multiple : 1);
	if (write)
		ide_data_out(ch, lba * ATA_SECTOR, (uint64_t)count * ATA_SECTOR);
	else
		ide_data_in(ch, 0, lba * ATA_SECTOR, (uint64_t)count * ATA_SECTOR);
}

static void cmd_set_features(struct ide_channel *ch)
{
	struct ide_drive *d = ide_cur(ch);
	uint8_t mode = d->nsector;

	switch (d->feature) {
	case FEAT_WCACHE_ON:
	case FEAT_WCACHE_OFF:
		if (d->atapi)
			return ide_cmd_abort(ch, ATA_ABRT);
		/* Turning the cache off writes back what it held. */
		d->write_cache = d->feature == FEAT_WCACHE_ON;
		if (!d->write_cache)
			return ide_start_job(ch, JOB_FLUSH);
		return ide_cmd_done(ch);
	case FEAT_XFER_MODE:
		/* PIO default/flow control modes, multiword DMA 0-2, UDMA 0-5. */
		if (mode >> 3 > 1 && !(mode >> 3 == 4 && (mode & 7) <= 2) &&
		    !(mode >> 3 == 8 && (mode & 7) <= 5))
			return ide_cmd_abort(ch, ATA_ABRT);
		d->xfer_mode = mode;
		return ide_cmd_done(ch);
	case FEAT_LOOKAHEAD_OFF:
	case FEAT_LOOKAHEAD_ON:
		return ide_cmd_done(ch);
	}
	ide_cmd_abort(ch, ATA_ABRT);
}

static void cmd_read_native_max(struct ide_channel *ch, bool lba48)
{
	struct ide_drive *d = ide_cur(ch);
	uint64_t max = d->sectors ? d->sectors - 1 : 0;

	if (!lba48 && max > LBA28_MAX)
		max = LBA28_MAX;
	d->lbal = max;
	d->lbam = max >> 8;
	d->lbah = max >> 16;
	if (lba48) {
		d->hob_lbal = max >> 24;
		d->hob_lbam = max >> 32;
		d->hob_lbah = max >> 40;
	} else {
		d->select = (d->select & 0xf0) | ((max >> 24) & 0xf);
	}
	ide_cmd_done(ch);
}

/* Commands a CD-ROM takes; the rest are aborted. */
static void atapi_ata_command(struct ide_channel *ch, uint8_t cmd)
{
	struct ide_drive *d = ide_cur(ch);

	switch (cmd) {
	case CMD_PACKET:
		return atapi_packet_start(ch);
	case CMD_IDENTIFY_PACKET:
		return cmd_identify(ch, true);
	case CMD_DEVICE_RESET:
		ide_set_signature(d);
		return;		/* no interrupt (ATA-7 DEVICE RESET) */
	case CMD_DIAGNOSTIC:
		ide_set_signature(d);
		return ide_raise_irq(ch);
	case CMD_SET_FEATURES:
		return cmd_set_features(ch);
	case CMD_CHECK_POWER:
		d->nsector = 0xff;
		/* fall through */
	case CMD_IDLE_IMM:
	case CMD_STANDBY_IMM:
		d->status = ATA_DRDY | ATA_DSC;
		return ide_raise_irq(ch);
	case CMD_IDENTIFY:
		return cmd_identify(ch, false);
	}
	ide_cmd_abort(ch, ATA_ABRT);
}

void ata_command(struct ide_channel *ch, uint8_t cmd)
{
	struct ide_drive *d = ide_cur(ch);

	ch->atapi_cmd = false;
	if (d->atapi)
		return atapi_ata_command(ch, cmd);
	if ((cmd & 0xf0) == CMD_RECALIBRATE)
		return ide_cmd_done(ch);
	switch (cmd) {
	case CMD_IDENTIFY:
		return cmd_identify(ch, false);
	case CMD_IDENTIFY_PACKET:
		return cmd_identify(ch, true);
	case CMD_READ_SECTORS:
	case CMD_READ_SECTORS_NR:
		return cmd_read_write(ch, false, false, RW_PIO);
	case CMD_READ_SECTORS_EXT:
		return cmd_read_write(ch, false, true, RW_PIO);
	case CMD_READ_MULTIPLE:
		return cmd_read_write(ch, false, false, RW_MULTIPLE);
	case CMD_READ_MULTIPLE_EXT:
		return cmd_read_write(ch, false, true, RW_MULTIPLE);
	case CMD_READ_DMA:
	case CMD_READ_DMA_NR:
		return cmd_read_write(ch, false, false, RW_DMA);
	case CMD_READ_DMA_EXT:
		return cmd_read_write(ch, false, true, RW_DMA);
	case CMD_WRITE_SECTORS:
	case CMD_WRITE_SECTORS_NR:
		return cmd_read_write(ch, true, false, RW_PIO);
	case CMD_WRITE_SECTORS_EXT:
		return cmd_read_write(ch, true, true, RW_PIO);
	case CMD_WRITE_MULTIPLE:
		return cmd_read_write(ch, true, false, RW_MULTIPLE);
	case CMD_WRITE_MULTIPLE_EXT:
		return cmd_read_write(ch, true, true, RW_MULTIPLE);
	case CMD_WRITE_DMA:
	case CMD_WRITE_DMA_NR:
		return cmd_read_write(ch, true, false, RW_DMA);
	case CMD_WRITE_DMA_EXT:
		return cmd_read_write(ch, true, true, RW_DMA);
	case CMD_VERIFY:
	case CMD_VERIFY_NR:
		return cmd_read_write(ch, false, false, RW_VERIFY);
	case CMD_VERIFY_EXT:
		return cmd_read_write(ch, false, true, RW_VERIFY);
	case CMD_FLUSH:
	case CMD_FLUSH_EXT:
		return ide_start_job(ch, JOB_FLUSH);
	case CMD_SET_FEATURES:
		return cmd_set_features(ch);
	case CMD_SET_MULTIPLE:
		if (d->nsector > ATA_MAX_MULTIPLE ||
		    (d->nsector & (d->nsector - 1)))
			return ide_cmd_abort(ch, ATA_ABRT);
		d->multiple = d->nsector;
		return ide_cmd_done(ch);
	case CMD_READ_NATIVE_MAX:
		return cmd_read_native_max(ch, false);
	case CMD_READ_NATIVE_MAX_EXT:
		return cmd_read_native_max(ch, true);
	case CMD_INIT_PARAMS:
		return ide_cmd_done(ch);
	case CMD_DIAGNOSTIC:
		ide_set_signature(&ch->drive[0]);
		ide_set_signature(&ch->drive[1]);
		ch->cur = 0;
		return ide_raise_irq(ch);
	case CMD_CHECK_POWER:
		d->nsector = 0xff;		/* active or idle */
		return ide_cmd_done(ch);
	case CMD_STANDBY_IMM:
	case CMD_IDLE_IMM:
	case CMD_STANDBY:
	case CMD_IDLE:
	case CMD_SLEEP:
		return ide_cmd_done(ch);
	}
	ide_cmd_abort(ch, ATA_ABRT);
}

/*
 * The CD-ROM's packet commands (ATAPI; the command set of SCSI MMC):
 * what SeaBIOS's El Torito boot and Linux's sr and cdrom drivers send.
 * The medium is a read-only image of 2048-byte blocks; START STOP UNIT
 * opens the tray (unless PREVENT ALLOW MEDIUM REMOVAL locked it) and
 * closes it again with the same image, which the guest sees as a medium
 * change.  Errors are CHECK CONDITION with sense data for REQUEST SENSE.
 */
#include <string.h>

#include "hw/ide.h"

#define SCSI_TEST_UNIT_READY	0x00
#define SCSI_REZERO		0x01
#define SCSI_REQUEST_SENSE	0x03
#define SCSI_INQUIRY		0x12
#define SCSI_START_STOP		0x1b
#define SCSI_PREVENT_ALLOW	0x1e
#define SCSI_READ_CAPACITY	0x25
#define SCSI_READ10		0x28
#define SCSI_SEEK10		0x2b
#define SCSI_SYNC_CACHE		0x35
#define SCSI_READ_TOC		0x43
#define SCSI_GET_CONFIGURATION	0x46
#define SCSI_GET_EVENT_STATUS	0x4a
#define SCSI_READ_DISC_INFO	0x51
#define SCSI_MODE_SENSE10	0x5a
#define SCSI_READ12		0xa8
#define SCSI_SET_CD_SPEED	0xbb
#define SCSI_MECHANISM_STATUS	0xbd

/* Media event codes (GET EVENT STATUS NOTIFICATION). */
#define MEDIA_EV_NEW		2
#define MEDIA_EV_REMOVAL	3

/* More 2048-byte blocks than a CD holds (~800 MB): a DVD. */
#define CD_MAX_BLOCKS		400000

#define MMC_PROFILE_CD_ROM	0x0008
#define MMC_PROFILE_DVD_ROM	0x0010

static void be16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static void be32(uint8_t *p, uint32_t v) { be16(p, v >> 16); be16(p + 2, v); }
static uint16_t get_be16(const uint8_t *p) { return p[0] << 8 | p[1]; }
static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)get_be16(p) << 16 | get_be16(p + 2);
}

static bool medium_present(const struct ide_drive *d)
{
	return !d->tray_open;
}

void atapi_packet_start(struct ide_channel *ch)
{
	struct ide_drive *d = ide_cur(ch);
	uint32_t limit = d->lbam | d->lbah << 8;

	ch->atapi_cmd = true;
	ch->dma = d->feature & 1;
	/* Byte count limit: even, and 0 means the largest. */
	if (limit == 0 || limit > 0xfffe)
		limit = 0xfffe;
	ch->atapi_limit = limit & ~1u ? limit & ~1u : 2;
	ch->phase = PHASE_PACKET;
	ch->buf_pos = 0;
	ch->buf_len = ch->drq_end = sizeof(ch->packet);
	d->nsector = ATAPI_COD;
	d->status = ATA_DRDY | ATA_DSC | ATA_DRQ;
}

static void set_sense(struct ide_drive *d, uint8_t key, uint16_t asc)
{
	d->sense_key = key;
	d->sense_asc = asc;
}

void atapi_done(struct ide_channel *ch)
{
	struct ide_drive *d = ide_cur(ch);

	ch->phase = PHASE_IDLE;
	ch->job = JOB_NONE;
	ch->buf_len = ch->buf_pos = ch->drq_end = 0;
	ch->disk_left = 0;
	d->nsector = ATAPI_IO | ATAPI_COD;
	d->status = ATA_DRDY | ATA_DSC;
	ide_raise_irq(ch);
}

void atapi_error(struct ide_channel *ch, uint8_t key, uint16_t asc)
{
	struct ide_drive *d = ide_cur(ch);

	set_sense(d, key, asc);
	atapi_done(ch);
	d->error = key << 4 | (key == SENSE_ILLEGAL_REQUEST ? ATA_ABRT : 0);
	d->status |= ATA_ERR;
}

void atapi_read_error(struct ide_channel *ch)
{
	atapi_error(ch, SENSE_MEDIUM_ERROR, ASC_READ_ERROR);
}

/* Send len bytes of ch->buf, cut to the command's allocation length. */
static void reply(struct ide_channel *ch, uint32_t len, uint32_t alloc)
{
	if (len > alloc)
		len = alloc;
	if (!len)
		return atapi_done(ch);
	ide_data_in(ch, len, 0, 0);
}

static void cmd_request_sense(struct ide_channel *ch, const uint8_t *p)
{
	struct ide_drive *d = ide_cur(ch);
	uint8_t *b = ch->buf;

	memset(b, 0, 18);
	b[0] = 0x70;			/* current error, fixed format */
	b[2] = d->sense_key;
	b[7] = 10;			/* additional length */
	b[12] = d->sense_asc >> 8;
	b[13] = d->sense_asc;
	set_sense(d, SENSE_NONE, 0);
	reply(ch, 18, p[4]);
}

static void cmd_inquiry(struct ide_channel *ch, const uint8_t *p)
{
	uint8_t *b = ch->buf;

	if (p[1] & 1)			/* vital product data: none */
		return atapi_error(ch, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
	memset(b, 0, 36);
	b[0] = 0x05;			/* CD/DVD device */
	b[1] = 0x80;			/* removable */
	b[2] = 0x00;
	b[3] = 0x21;			/* ATAPI, response format 1 */
	b[4] = 31;			/* additional length */
	memcpy(b + 8, "WIRT    ", 8);
	memcpy(b + 16, "DVD-ROM         ", 16);
	memcpy(b + 32, "1.0 ", 4);
	reply(ch, 36, p[4]);
}

static void cmd_read_capacity(struct ide_channel *ch)
{
	struct ide_drive *d = ide_cur(ch);

	be32(ch->buf, d->sectors ? d->sectors - 1 : 0);
	be32(ch->buf + 4, CD_SECTOR);
	reply(ch, 8, 8);
}

static void cmd_read(struct ide_channel *ch, uint64_t lba, uint64_t count)
{
	struct ide_drive *d = ide_cur(ch);

	if (lba > d->sectors || count > d->sectors - lba)
		return atapi_error(ch, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	if (!count)
		return atapi_done(ch);
	ide_data_in(ch, 0, lba * CD_SECTOR, count * CD_SECTOR);
}

static void lba_to_msf(uint8_t *p, uint32_t lba)
{
	lba += 150;			/* the 2-second pregap */
	p[0] = 0;
	p[1] = lba / (60 * 75);
	p[2] = lba / 75 % 60;
	p[3] = lba % 75;
}

static void toc_address(uint8_t *p, uint32_t lba, bool msf)
{
	if (msf)
		lba_to_msf(p, lba);
	else
		be32(p, lba);
}

/* READ TOC/PMA/ATIP formats 0 (TOC) and 1 (session info): one data track. */
static void cmd_read_toc(struct ide_channel *ch, const uint8_t *p)
{
	struct ide_drive *d = ide_cur(ch);
	bool msf = p[1] & 2;
	unsigned format = p[2] & 0xf, start = p[6];
	uint8_t *b = ch->buf;
	uint32_t len = 4;

	memset(b, 0, 32);
	if (format == 0) {
		if (start > 1 && start != 0xaa)
			return atapi_error(ch, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
		b[2] = b[3] = 1;		/* first and last track */
		if (start <= 1) {
			b[len + 1] = 0x14;	/* data track, LBA in ADR */
			b[len + 2] = 1;
			toc_address(b + len + 4, 0, msf);
			len += 8;
		}
		b[len + 1] = 0x14;
		b[len + 2] = 0xaa;		/* lead-out */
		toc_address(b + len + 4, d->sectors, msf);
		len += 8;
	} else if (format == 1) {
		b[2] = b[3] = 1;		/* first and last session */
		b[5] = 0x14;
		b[6] = 1;			/* first track of the last session */
		toc_address(b + 8, 0, msf);
		len = 12;
	} else {
		return atapi_error(ch, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
	}
	be16(b, len - 2);
	reply(ch, len, get_be16(p + 7));
}

static uint32_t mode_page(const struct ide_drive *d, unsigned page, uint8_t *b)
{
	if (page == 0x01) {		/* read error recovery */
		memset(b, 0, 8);
		b[0] = 0x01;
		b[1] = 6;
		return 8;
	}
	/* 0x2a: CD/DVD capabilities and mechanical status */
	memset(b, 0, 22);
	b[0] = 0x2a;
	b[1] = 20;
	b[2] = 0x3b;			/* reads CD-R/RW, method 2, DVD-ROM/R/RAM */
	b[4] = 0x71;			/* audio play, multisession, mode 2 forms */
	b[5] = 0x5f;			/* CD-DA commands, accurate stream */
	b[6] = 0x29 | (d->locked ? 0x02 : 0);	/* tray, eject, lock */
	be16(b + 8, 706);		/* max speed, kB/s */
	be16(b + 10, 2);		/* volume levels */
	be16(b + 12, 512);		/* buffer, KiB */
	be16(b + 14, 706);
	return 22;
}

static void cmd_mode_sense(struct ide_channel *ch, const uint8_t *p)
{
	struct ide_drive *d = ide_cur(ch);
	unsigned control = p[2] >> 6, page = p[2] & 0x3f;
	uint8_t *b = ch->buf;
	uint32_t len = 8;

	if (control == 3)
		return atapi_error(ch, SENSE_ILLEGAL_REQUEST, ASC_SAVING_UNSUPPORTED);
	if (page != 0x01 && page != 0x2a && page != 0x3f)
		return atapi_error(ch, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
	memset(b, 0, 8);
	if (page == 0x01 || page == 0x3f)
		len += mode_page(d, 0x01, b + len);
	if (page == 0x2a || page == 0x3f)
		len += mode_page(d, 0x2a, b + len);
	/* Changeable values (page control 1): nothing can be changed. */
	if (control == 1)
		memset(b + 8 + 2, 0, len - 8 - 2);
	be16(b, len - 2);
	reply(ch, len, get_be16(p + 7));
}

/* One GET CONFIGURATION feature descriptor; returns its length. */
static uint32_t feature(const struct ide_drive *d, uint16_t code, uint8_t *b)
{
	bool dvd = d->sectors > CD_MAX_BLOCKS;

	memset(b, 0, 12);
	be16(b, code);
	b[2] = 0x03;			/* persistent, current */
	switch (code) {
	case 0x0000:			/* profile list */
		b[3] = 8;
		be16(b + 4, MMC_PROFILE_DVD_ROM);
		b[6] = medium_present(d) && dvd;
		be16(b + 8, MMC_PROFILE_CD_ROM);
		b[10] = medium_present(d) && !dvd;
		return 12;
	case 0x0001:			/* core: ATAPI */
		b[2] = 0x07;
		b[3] = 8;
		be32(b + 4, 2);
		return 12;
	case 0x0003:			/* removable medium: tray, eject, lock */
		b[3] = 4;
		b[4] = 0x29 | (d->locked ? 0x04 : 0);
		return 8;
	}
	return 0;
}

static void cmd_get_configuration(struct ide_channel *ch, const uint8_t *p)
{
	static const uint16_t codes[] = { 0x0000, 0x0001, 0x0003 };
	struct ide_drive *d = ide_cur(ch);
	unsigned rt = p[1] & 3, i;
	uint16_t start = get_be16(p + 2), profile = 0;
	uint8_t *b = ch->buf;
	uint32_t len = 8;

	if (rt == 3)
		return atapi_error(ch, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
	if (medium_present(d))
		profile = d->sectors > CD_MAX_BLOCKS ? MMC_PROFILE_DVD_ROM
						     : MMC_PROFILE_CD_ROM;
	memset(b, 0, 8);
	be16(b + 6, profile);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (rt == 2 ? codes[i] == start : codes[i] >= start)
			len += feature(d, codes[i], b + len);
	be32(b, len - 4);
	reply(ch, len, get_be16(p + 7));
}

static void cmd_get_event_status(struct ide_channel *ch, const uint8_t *p)
{
	struct ide_drive *d = ide_cur(ch);
	uint8_t *b = ch->buf;

	if (!(p[1] & 1))		/* only polled operation */
		return atapi_error(ch, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
	memset(b, 0, 8);
	b[3] = 0x10;			/* supported: media class */
	if (!(p[4] & 0x10)) {
		b[2] = 0x80;		/* no event available */
		be16(b, 2);
		return reply(ch, 4, get_be16(p + 7));
	}
	be16(b, 6);
	b[2] = 4;			/* media class */
	b[4] = d->media_event;
	b[5] = (medium_present(d) ? 2 : 0) | (d->tray_open ? 1 : 0);
	d->media_event = 0;
	reply(ch, 8, get_be16(p + 7));
}

static void cmd_read_disc_info(struct ide_channel *ch, const uint8_t *p)
{
	uint8_t *b = ch->buf;

	if (p[1] & 7)			/* only standard disc information */
		return atapi_error(ch, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD);
	memset(b, 0, 34);
	be16(b, 32);
	b[2] = 0x0e;			/* complete disc, last session complete */
	b[3] = 1;			/* first track */
	b[4] = 1;			/* sessions */
	b[5] = 1;			/* first track of the last session */
	b[6] = 1;			/* last track of the last session */
	b[7] = 0x20;			/* unrestricted use */
	reply(ch, 34, get_be16(p + 7));
}

static void cmd_mechanism_status(struct ide_channel *ch, const uint8_t *p)
{
	struct ide_drive *d = ide_cur(ch);
	uint8_t *b = ch->buf;

	memset(b, 0, 8);
	b[1] = d->tray_open ? 0x10 : 0;
	reply(ch, 8, get_be16(p + 8));
}

static void cmd_start_stop(struct ide_channel *ch, const uint8_t *p)
{
	struct ide_drive *d = ide_cur(ch);
	bool start = p[4] & 1, load_eject = p[4] & 2;

	if (load_eject && !start) {
		if (d->locked)
			return atapi_error(ch, SENSE_ILLEGAL_REQUEST,
					   ASC_REMOVAL_PREVENTED);
		if (!d->tray_open)
			d->media_event = MEDIA_EV_REMOVAL;
		d->tray_open = true;
	} else if (load_eject && d->tray_open) {
		/* Closing the tray loads the same image again. */
		d->tray_open = false;
		d->unit_attention = true;
		d->media_event = MEDIA_EV_NEW;
	}
	atapi_done(ch);
}

/* Commands that answer without a medium and before a unit attention. */
static bool needs_medium(uint8_t op)
{
	switch (op) {
	case SCSI_REQUEST_SENSE:
	case SCSI_INQUIRY:
	case SCSI_START_STOP:
	case SCSI_PREVENT_ALLOW:
	case SCSI_GET_CONFIGURATION:
	case SCSI_GET_EVENT_STATUS:
	case SCSI_MODE_SENSE10:
	case SCSI_MECHANISM_STATUS:
	case SCSI_SET_CD_SPEED:
		return false;
	}
	return true;
}

void atapi_packet_command(struct ide_channel *ch)
{
	struct ide_drive *d = ide_cur(ch);
	uint8_t *p = ch->packet;

	memcpy(p, ch->buf, sizeof(ch->packet));
	ch->buf_pos = ch->buf_len = ch->drq_end = 0;
	d->status = ATA_BSY | ATA_DRDY | ATA_DSC;
	if (needs_medium(p[0])) {
		if (d->unit_attention) {
			d->unit_attention = false;
			return atapi_error(ch, SENSE_UNIT_ATTENTION, ASC_MEDIUM_CHANGED);
		}
		if (!medium_present(d))
			return atapi_error(ch, SENSE_NOT_READY, ASC_NO_MEDIUM_TRAY_OPEN);
	}
	if (p[0] != SCSI_REQUEST_SENSE)
		set_sense(d, SENSE_NONE, 0);
	switch (p[0]) {
	case SCSI_TEST_UNIT_READY:
	case SCSI_REZERO:
	case SCSI_SEEK10:
	case SCSI_SYNC_CACHE:
	case SCSI_SET_CD_SPEED:
		return atapi_done(ch);
	case SCSI_REQUEST_SENSE:
		return cmd_request_sense(ch, p);
	case SCSI_INQUIRY:
		return cmd_inquiry(ch, p);
	case SCSI_START_STOP:
		return cmd_start_stop(ch, p);
	case SCSI_PREVENT_ALLOW:
		d->locked = p[4] & 1;
		return atapi_done(ch);
	case SCSI_READ_CAPACITY:
		return cmd_read_capacity(ch);
	case SCSI_READ10:
		return cmd_read(ch, get_be32(p + 2), get_be16(p + 7));
	case SCSI_READ12:
		return cmd_read(ch, get_be32(p + 2), get_be32(p + 6));
	case SCSI_READ_TOC:
		return cmd_read_toc(ch, p);
	case SCSI_MODE_SENSE10:
		return cmd_mode_sense(ch, p);
	case SCSI_GET_CONFIGURATION:
		return cmd_get_configuration(ch, p);
	case SCSI_GET_EVENT_STATUS:
		return cmd_get_event_status(ch, p);
	case SCSI_READ_DISC_INFO:
		return cmd_read_disc_info(ch, p);
	case SCSI_MECHANISM_STATUS:
		return cmd_mechanism_status(ch, p);
	}
	atapi_error(ch, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
}

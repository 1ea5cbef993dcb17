/*
 * FAT12 volume writer (see vfat_writer.h).  Layout: boot sector, two FATs,
 * a root directory of ROOT_ENTRIES entries, then each file's clusters in
 * one contiguous run.  Facts from Microsoft's FAT specification (BPB
 * fields, FAT12 packing, long-name entries and their checksum).
 */
#include "block/vfat_writer.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "block/file_io.h"

#define SECTOR 512
#define DIR_ENTRY 32
#define ROOT_ENTRIES 64			/* 4 sectors */
#define FAT12_MAX_CLUSTERS 4084		/* one more and it reads as FAT16 */
#define MIN_SECTORS 2880		/* a 1.44 MB floppy: sizes every driver knows */
#define LFN_CHARS 13			/* UCS-2 characters per long-name entry */

#define ATTR_READ_ONLY 0x01
#define ATTR_VOLUME_ID 0x08
#define ATTR_ARCHIVE 0x20
#define ATTR_LONG_NAME 0x0f

struct layout {
	unsigned cluster_sectors;
	unsigned clusters;
	unsigned fat_sectors;
	unsigned total_sectors;
};

static unsigned meta_sectors(unsigned fat_sectors)
{
	return 1 + 2 * fat_sectors + ROOT_ENTRIES * DIR_ENTRY / SECTOR;
}

static unsigned fat12_sectors(unsigned clusters)
{
	/* 1.5 bytes per entry, two reserved entries first */
	return div_round_up(div_round_up((uint64_t)(clusters + 2) * 3, 2), SECTOR);
}

static unsigned clusters_for(size_t len, unsigned cluster_sectors)
{
	return div_round_up(len, (uint64_t)cluster_sectors * SECTOR);
}

/* The smallest cluster that keeps the volume FAT12, grown to MIN_SECTORS. */
static int plan(const struct vfat_file *files, unsigned nfiles, struct layout *l)
{
	unsigned spc, i, need;

	for (spc = 1; spc <= 8; spc *= 2) {
		for (need = 0, i = 0; i < nfiles; i++)
			need += clusters_for(files[i].len, spc);
		if (need <= FAT12_MAX_CLUSTERS)
			break;
	}
	if (spc > 8)
		return -EFBIG;
	l->cluster_sectors = spc;
	l->clusters = need;
	for (;;) {
		l->fat_sectors = fat12_sectors(l->clusters);
		l->total_sectors = meta_sectors(l->fat_sectors) + l->clusters * spc;
		if (l->total_sectors >= MIN_SECTORS ||
		    l->clusters >= FAT12_MAX_CLUSTERS)
			return 0;
		l->clusters++;
	}
}

static void fat12_set(uint8_t *fat, unsigned n, unsigned v)
{
	uint8_t *p = fat + n * 3 / 2;

	if (n & 1) {
		p[0] = (p[0] & 0x0f) | (v & 0x0f) << 4;
		p[1] = v >> 4;
	} else {
		p[0] = v;
		p[1] = (p[1] & 0xf0) | (v >> 8 & 0x0f);
	}
}

static void boot_sector(uint8_t *b, const struct layout *l, const uint8_t label[11],
			uint32_t serial)
{
	/* jmp to 0x3e, where a BIOS that boots it is sent on: int 18h */
	static const uint8_t code[] = { 0xeb, 0x3c, 0x90 }, not_bootable[] = {
		0xcd, 0x18, 0xeb, 0xfe };

	memcpy(b, code, sizeof(code));
	memcpy(b + 3, "WIRT    ", 8);
	put_le16(b + 11, SECTOR);
	b[13] = l->cluster_sectors;
	put_le16(b + 14, 1);			/* reserved sectors: this one */
	b[16] = 2;				/* FATs */
	put_le16(b + 17, ROOT_ENTRIES);
	if (l->total_sectors < 0x10000)
		put_le16(b + 19, l->total_sectors);
	else
		put_le32(b + 32, l->total_sectors);
	b[21] = 0xf8;				/* media: fixed disk */
	put_le16(b + 22, l->fat_sectors);
	put_le16(b + 24, 32);			/* sectors per track */
	put_le16(b + 26, 64);			/* heads */
	b[36] = 0x80;				/* drive number */
	b[38] = 0x29;				/* extended boot signature */
	put_le32(b + 39, serial);
	memcpy(b + 43, label, 11);
	memcpy(b + 54, "FAT12   ", 8);
	memcpy(b + 62, not_bootable, sizeof(not_bootable));
	b[510] = 0x55;
	b[511] = 0xaa;
}

/* DOS date and time of t, in UTC. */
static void dos_time(time_t t, uint16_t *date, uint16_t *tm)
{
	struct tm u;

	gmtime_r(&t, &u);
	if (u.tm_year < 80)
		u.tm_year = 80, u.tm_mon = 0, u.tm_mday = 1;
	*date = (u.tm_year - 80) << 9 | (u.tm_mon + 1) << 5 | u.tm_mday;
	*tm = u.tm_hour << 11 | u.tm_min << 5 | u.tm_sec / 2;
}

/* A short name no two files share: up to six letters or digits, ~N. */
static void short_name(const char *name, unsigned index, uint8_t out[11])
{
	unsigned n = 0;

	memset(out, ' ', 11);
	for (; *name && n < 6; name++) {
		char c = *name;

		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			out[n++] = c;
	}
	if (!n)
		out[n++] = 'F';
	out[n++] = '~';
	out[n] = '1' + index;
}

static uint8_t short_name_checksum(const uint8_t name[11])
{
	uint8_t sum = 0;
	int i;

	for (i = 0; i < 11; i++)
		sum = (uint8_t)((sum & 1) << 7 | sum >> 1) + name[i];
	return sum;
}

/* The long-name entry seq (1-based) of name: its characters, then one
 * NUL, then 0xffff padding. */
static void long_name_entry(uint8_t *e, const char *name, unsigned seq, bool last,
			    uint8_t checksum)
{
	static const uint8_t slots[LFN_CHARS] = { 1, 3, 5, 7, 9, 14, 16, 18, 20,
						  22, 24, 28, 30 };
	size_t len = strlen(name);
	unsigned i;

	e[0] = seq | (last ? 0x40 : 0);
	e[11] = ATTR_LONG_NAME;
	e[13] = checksum;
	for (i = 0; i < LFN_CHARS; i++) {
		size_t k = (seq - 1) * LFN_CHARS + i;

		put_le16(e + slots[i], k < len ? (uint8_t)name[k] : k == len ? 0 : 0xffff);
	}
}

static bool name_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > VFAT_NAME_MAX)
		return false;
	for (; *name; name++)
		if (*name < 0x20 || *name > 0x7e || strchr("\"*/:<>?\\|", *name))
			return false;
	return true;
}

/* Directory entries for file index i (long-name entries, then the short
 * one) at e; returns how many it used. */
static unsigned file_entries(uint8_t *e, const struct vfat_file *f, unsigned i,
			     unsigned cluster, uint16_t date, uint16_t tm)
{
	unsigned nlong = div_round_up(strlen(f->name), LFN_CHARS), seq;
	uint8_t sname[11];
	uint8_t sum;

	short_name(f->name, i, sname);
	sum = short_name_checksum(sname);
	for (seq = nlong; seq >= 1; seq--, e += DIR_ENTRY)
		long_name_entry(e, f->name, seq, seq == nlong, sum);
	memcpy(e, sname, 11);
	e[11] = ATTR_ARCHIVE | ATTR_READ_ONLY;
	put_le16(e + 14, tm);
	put_le16(e + 16, date);
	put_le16(e + 18, date);
	put_le16(e + 22, tm);
	put_le16(e + 24, date);
	put_le16(e + 26, f->len ? cluster : 0);
	put_le32(e + 28, f->len);
	return nlong + 1;
}

int vfat_write(int fd, const char *label, const struct vfat_file *files,
	       unsigned nfiles)
{
	uint8_t vlabel[11], *img, *fat, *root, *data;
	unsigned i, entries = 1, cluster = 2, c, n;
	size_t total = 0, fat_bytes;
	struct layout l;
	uint16_t date, tm;
	int ret;

	if (!label || !*label || strlen(label) > 11 || nfiles > VFAT_MAX_FILES)
		return -EINVAL;
	for (i = 0; i < nfiles; i++) {
		if (!name_ok(files[i].name))
			return -EINVAL;
		entries += 1 + div_round_up(strlen(files[i].name), LFN_CHARS);
		total += files[i].len;
		if (total > VFAT_MAX_BYTES)
			return -EFBIG;
	}
	if (entries > ROOT_ENTRIES)
		return -EINVAL;
	ret = plan(files, nfiles, &l);
	if (ret)
		return ret;
	img = calloc(l.total_sectors, SECTOR);
	if (!img)
		return -ENOMEM;
	memset(vlabel, ' ', sizeof(vlabel));
	memcpy(vlabel, label, strlen(label));
	dos_time(time(NULL), &date, &tm);
	boot_sector(img, &l, vlabel, (uint32_t)date << 16 | tm);

	fat = img + SECTOR;
	fat_bytes = (size_t)l.fat_sectors * SECTOR;
	fat12_set(fat, 0, 0xff8);		/* media byte, then all ones */
	fat12_set(fat, 1, 0xfff);
	root = fat + 2 * fat_bytes;
	data = root + ROOT_ENTRIES * DIR_ENTRY;
	memcpy(root, vlabel, 11);
	root[11] = ATTR_VOLUME_ID;
	put_le16(root + 22, tm);
	put_le16(root + 24, date);
	for (i = 0, entries = 1; i < nfiles; i++) {
		n = clusters_for(files[i].len, l.cluster_sectors);
		entries += file_entries(root + entries * DIR_ENTRY, &files[i], i,
					cluster, date, tm);
		if (files[i].len)
			memcpy(data + (size_t)(cluster - 2) * l.cluster_sectors * SECTOR,
			       files[i].data, files[i].len);
		for (c = 0; c < n; c++)
			fat12_set(fat, cluster + c, c + 1 < n ? cluster + c + 1 : 0xfff);
		cluster += n;
	}
	memcpy(fat + fat_bytes, fat, fat_bytes);

	ret = file_pwrite_all(fd, img, (size_t)l.total_sectors * SECTOR, 0);
	if (!ret && ftruncate(fd, (off_t)l.total_sectors * SECTOR))
		ret = -errno;
	free(img);
	return ret;
}

/*
 * VDI driver (VirtualBox disk images, header version 1.1): dynamic images
 * that allocate blocks on first write and fixed images with every block
 * allocated, read and write.  Layout: a 512-byte header, the block map
 * (one little-endian 32-bit entry per block: index of its data block, or
 * "unallocated"/"zero"), then the data blocks.
 *
 * Ordering on writes: a new block's data, then (after a barrier) its map
 * entry, then the allocated-blocks count in the header.  Opening takes the
 * next free data block from the map itself, so a stale count never makes
 * two blocks share data.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "block/block_driver.h"
#include "block/file_io.h"
#include "util/log.h"

#define VDI_TEXT		"<<< Oracle VM VirtualBox Disk Image >>>\n"
#define VDI_SIGNATURE		0xbeda107fu
#define VDI_VERSION_1_1		0x00010001u
#define VDI_HEADER_SIZE		0x190
#define VDI_TYPE_DYNAMIC	1
#define VDI_TYPE_FIXED		2
#define VDI_UNALLOCATED		0xffffffffu
#define VDI_ZERO		0xfffffffeu
#define VDI_MAX_BLOCKS		(1u << 28)

/* Header field offsets. */
#define VH_SIGNATURE	64
#define VH_VERSION	68
#define VH_HEADER_SIZE	72
#define VH_TYPE		76
#define VH_OFF_BMAP	340
#define VH_OFF_DATA	344
#define VH_CYLINDERS	348
#define VH_HEADS	352
#define VH_SECTORS	356
#define VH_SECTOR_SIZE	360
#define VH_DISK_SIZE	368
#define VH_BLOCK_SIZE	376
#define VH_BLOCK_EXTRA	380
#define VH_BLOCKS	384
#define VH_ALLOCATED	388
#define VH_UUID_IMAGE	392
#define VH_UUID_MODIFY	408
#define VH_UUID_LINK	424
#define VH_UUID_PARENT	440

struct vdi {
	uint32_t type;
	uint32_t block_size;
	uint32_t blocks;
	uint32_t allocated;		/* header count */
	uint32_t next;			/* next free data block */
	uint32_t off_bmap, off_data;
	uint32_t *bmap;			/* host order */
	uint64_t file_end;
};

static int vdi_probe(const uint8_t *buf, size_t len)
{
	if (len >= 72 && get_le32(buf + VH_SIGNATURE) == VDI_SIGNATURE)
		return 100;
	return 0;
}

static int vdi_error(struct block_dev *bs, int err, const char *what)
{
	log_error("%s: %s", bs->filename, what);
	return err;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return buf_is_zero(p, n);
}

static int parse_header(struct block_dev *bs, const uint8_t *h, uint64_t fsize)
{
	struct vdi *s = bs->opaque;
	uint32_t bsz;

	if (fsize < 512 || get_le32(h + VH_SIGNATURE) != VDI_SIGNATURE)
		return vdi_error(bs, -EINVAL, "not a vdi image (truncated or "
				 "bad signature)");
	if (get_le32(h + VH_VERSION) >> 16 != 1 ||
	    get_le32(h + VH_HEADER_SIZE) < 0x180)
		return vdi_error(bs, -ENOTSUP, "unsupported vdi version");
	s->type = get_le32(h + VH_TYPE);
	if (s->type != VDI_TYPE_DYNAMIC && s->type != VDI_TYPE_FIXED)
		return vdi_error(bs, -ENOTSUP, "only dynamic and fixed vdi "
				 "images are supported (not undo or differencing)");
	if (!all_zero(h + VH_UUID_LINK, 16) || !all_zero(h + VH_UUID_PARENT, 16))
		return vdi_error(bs, -ENOTSUP, "differencing vdi images are not "
				 "supported");
	bsz = get_le32(h + VH_BLOCK_SIZE);
	if (bsz < 512 || bsz > (256u << 20) || (bsz & (bsz - 1)))
		return vdi_error(bs, -EINVAL, "invalid vdi block size");
	if (get_le32(h + VH_BLOCK_EXTRA))
		return vdi_error(bs, -ENOTSUP, "vdi images with per-block extra "
				 "data are not supported");
	s->block_size = bsz;
	s->blocks = get_le32(h + VH_BLOCKS);
	s->allocated = get_le32(h + VH_ALLOCATED);
	s->off_bmap = get_le32(h + VH_OFF_BMAP);
	s->off_data = get_le32(h + VH_OFF_DATA);
	bs->size = get_le64(h + VH_DISK_SIZE);
	if (s->blocks > VDI_MAX_BLOCKS ||
	    bs->size > (uint64_t)s->blocks * bsz)
		return vdi_error(bs, -EINVAL, "vdi disk size does not match its "
				 "block count");
	if (s->off_bmap < 512 || s->off_bmap + s->blocks * 4ULL > s->off_data ||
	    s->off_bmap + s->blocks * 4ULL > fsize)
		return vdi_error(bs, -EINVAL, "vdi block map lies outside its "
				 "area or past the end of the file");
	return 0;
}

static int read_bmap(struct block_dev *bs)
{
	struct vdi *s = bs->opaque;
	uint32_t i, e;
	int ret;

	s->bmap = malloc(s->blocks * 4ULL + 4);
	if (!s->bmap)
		return -ENOMEM;
	ret = file_pread_exact(bs->fd, s->bmap, s->blocks * 4ULL, s->off_bmap);
	if (ret < 0)
		return ret;
	s->next = 0;
	for (i = 0; i < s->blocks; i++) {
		e = s->bmap[i] = le32toh(s->bmap[i]);
		if (e < VDI_ZERO && e + 1 > s->next)
			s->next = e + 1;
	}
	if (s->allocated > s->next && s->allocated <= s->blocks)
		s->next = s->allocated;
	return 0;
}

static int vdi_open(struct block_dev *bs, unsigned flags)
{
	struct vdi *s = calloc(1, sizeof(*s));
	uint8_t h[512];
	uint64_t fsize;
	int ret;

	if (!s)
		return -ENOMEM;
	bs->opaque = s;
	ret = file_size(bs->fd, &fsize);
	if (!ret)
		ret = file_pread_zero(bs->fd, h, sizeof(h), 0);
	if (!ret)
		ret = parse_header(bs, h, fsize);
	if (!ret)
		ret = read_bmap(bs);
	if (ret) {
		free(s->bmap);
		free(s);
		bs->opaque = NULL;
		return ret;
	}
	s->file_end = fsize;
	return 0;
}

static void vdi_close(struct block_dev *bs)
{
	struct vdi *s = bs->opaque;

	if (!bs->read_only)
		fdatasync(bs->fd);
	free(s->bmap);
	free(s);
	bs->opaque = NULL;
}

/* Host offset of data block e. */
static uint64_t block_offset(const struct vdi *s, uint32_t e)
{
	return s->off_data + (uint64_t)e * s->block_size;
}

static int check_entry(struct block_dev *bs, uint32_t e)
{
	struct vdi *s = bs->opaque;

	if (e >= VDI_ZERO || e < s->blocks)
		return 0;
	log_error("%s: corrupt vdi image: block map entry %u out of range",
		  bs->filename, e);
	return -EIO;
}

/* Read n bytes at off, within one block. */
static int64_t read_piece(struct block_dev *bs, uint64_t off, uint8_t *p,
			  uint64_t n, void *unused)
{
	struct vdi *s = bs->opaque;
	uint32_t e = s->bmap[off / s->block_size];
	int ret = check_entry(bs, e);

	if (ret < 0)
		return ret;
	if (e >= VDI_ZERO)
		memset(p, 0, n);
	else if ((ret = file_pread_zero(bs->fd, p, n, block_offset(s, e) +
					off % s->block_size)) < 0)
		return ret;
	return n;
}

static int vdi_read(struct block_dev *bs, uint64_t off, void *buf, size_t len)
{
	struct vdi *s = bs->opaque;

	return block_for_each_piece(bs, off, buf, len, s->block_size,
				    read_piece, NULL);
}

static int write_le32(struct block_dev *bs, uint64_t off, uint32_t v)
{
	v = htole32(v);
	return file_pwrite_all(bs->fd, &v, 4, off);
}

/* Put n bytes at in within a new data block, the rest zeros. */
static int fill_new_block(struct block_dev *bs, uint64_t host, uint64_t in,
			  const uint8_t *buf, uint64_t n)
{
	struct vdi *s = bs->opaque;
	uint64_t end = host + s->block_size;
	uint8_t *zero;
	int ret;

	if (host < s->file_end) {
		/* Reused space: zero it explicitly. */
		zero = calloc(1, s->block_size);
		if (!zero)
			return -ENOMEM;
		ret = file_pwrite_all(bs->fd, zero, s->block_size, host);
		free(zero);
		if (ret < 0)
			return ret;
	}
	ret = file_pwrite_all(bs->fd, buf, n, host + in);
	if (!ret && s->file_end < end && ftruncate(bs->fd, end) < 0)
		ret = -errno;
	if (!ret && s->file_end < end)
		s->file_end = end;
	return ret;
}

static int write_new_block(struct block_dev *bs, uint64_t off,
			   const uint8_t *buf, uint64_t n)
{
	struct vdi *s = bs->opaque;
	uint32_t index = off / s->block_size, e = s->next;
	uint64_t host = block_offset(s, e);
	int ret;

	if (e >= s->blocks)
		return vdi_error(bs, -EIO, "corrupt vdi image: no free data "
				 "block left");
	ret = fill_new_block(bs, host, off % s->block_size, buf, n);
	if (!ret)
		ret = file_barrier(bs);
	if (!ret)
		ret = write_le32(bs, s->off_bmap + index * 4ULL, e);
	if (ret < 0)
		return ret;
	s->bmap[index] = e;
	s->next++;
	s->allocated++;
	return write_le32(bs, VH_ALLOCATED, s->allocated);
}

/* Write n bytes at off, within one block. */
static int64_t write_piece(struct block_dev *bs, uint64_t off, uint8_t *p,
			   uint64_t n, void *unused)
{
	struct vdi *s = bs->opaque;
	uint32_t e = s->bmap[off / s->block_size];
	int ret = check_entry(bs, e);

	if (ret < 0)
		return ret;
	if (e < VDI_ZERO)
		ret = file_pwrite_all(bs->fd, p, n, block_offset(s, e) +
				      off % s->block_size);
	else
		ret = write_new_block(bs, off, p, n);
	return ret < 0 ? ret : (int64_t)n;
}

static int vdi_write(struct block_dev *bs, uint64_t off, const void *buf,
		     size_t len)
{
	struct vdi *s = bs->opaque;

	return block_for_each_piece(bs, off, (void *)buf, len, s->block_size,
				    write_piece, NULL);
}

static int vdi_flush(struct block_dev *bs)
{
	return fdatasync(bs->fd) < 0 ? -errno : 0;
}

static int vdi_status(struct block_dev *bs, uint64_t off, uint64_t len,
		      uint64_t *pnum)
{
	struct vdi *s = bs->opaque;
	uint32_t e = s->bmap[off / s->block_size];

	*pnum = s->block_size - off % s->block_size;
	return e >= VDI_ZERO ? BLOCK_STATUS_ZERO : BLOCK_STATUS_DATA;
}

static int vdi_get_info(struct block_dev *bs, struct block_info *info)
{
	struct vdi *s = bs->opaque;

	info->cluster_size = s->block_size;
	info->format_version = 1;
	snprintf(info->subformat, sizeof(info->subformat), "%s",
		 s->type == VDI_TYPE_FIXED ? "fixed" : "dynamic");
	snprintf(info->format_detail, sizeof(info->format_detail),
		 "%s, %u of %u blocks allocated",
		 s->type == VDI_TYPE_FIXED ? "fixed" : "dynamic", s->allocated,
		 s->blocks);
	return 0;
}

/*
 * Every allocated map entry must name its own data block within the image;
 * the header's allocated count must match (a larger count only wastes
 * space: a leak).
 */
static int vdi_check(struct block_dev *bs, struct block_check *res,
		     bool repair)
{
	struct vdi *s = bs->opaque;
	uint8_t *seen = calloc(1, s->blocks / 8 + 1);
	uint32_t i, e, count = 0;

	if (!seen)
		return -ENOMEM;
	for (i = 0; i < s->blocks; i++) {
		e = s->bmap[i];
		if (e >= VDI_ZERO)
			continue;
		if (e >= s->blocks || (seen[e / 8] & (1 << (e % 8)))) {
			log_warn("%s: block %u: data block %u %s", bs->filename,
				 i, e, e >= s->blocks ? "out of range" :
				 "also used by another block");
			res->corruptions++;
			continue;
		}
		seen[e / 8] |= 1 << (e % 8);
		count++;
	}
	free(seen);
	res->checked_clusters = s->blocks;
	res->allocated_clusters = count;
	if (count > s->allocated) {
		log_warn("%s: header counts %u allocated blocks, the map %u",
			 bs->filename, s->allocated, count);
		res->corruptions++;
	} else if (count < s->allocated) {
		res->leaks = s->allocated - count;
	}
	if (!repair || res->corruptions || !res->leaks)
		return 0;
	s->allocated = count;
	res->repaired = true;
	res->leaks = 0;
	return write_le32(bs, VH_ALLOCATED, count);
}

/* Grow: new map entries must fit between the map and the data. */
static int vdi_resize(struct block_dev *bs, uint64_t size, bool shrink)
{
	struct vdi *s = bs->opaque;
	uint64_t blocks = div_round_up(size, s->block_size), be;
	uint32_t i, *map;
	int ret;

	if (size < bs->size)
		return vdi_error(bs, -ENOTSUP, "vdi images can only grow");
	if (blocks > VDI_MAX_BLOCKS ||
	    s->off_bmap + blocks * 4 > s->off_data)
		return vdi_error(bs, -ENOSPC, "the vdi block map has no room "
				 "for that size; convert to a new image instead");
	map = realloc(s->bmap, blocks * 4 + 4);
	if (!map)
		return -ENOMEM;
	s->bmap = map;
	for (i = s->blocks; i < blocks; i++) {
		map[i] = VDI_UNALLOCATED;
		if (s->type == VDI_TYPE_FIXED) {
			map[i] = s->next++;
			s->allocated++;
		}
		ret = write_le32(bs, s->off_bmap + i * 4ULL, map[i]);
		if (ret < 0)
			return ret;
	}
	if (s->type == VDI_TYPE_FIXED &&
	    ftruncate(bs->fd, block_offset(s, s->next)) < 0)
		return -errno;
	ret = file_barrier(bs);
	if (!ret)
		ret = write_le32(bs, VH_BLOCKS, blocks);
	if (!ret)
		ret = write_le32(bs, VH_ALLOCATED, s->allocated);
	be = htole64(size);
	if (!ret)
		ret = file_pwrite_all(bs->fd, &be, 8, VH_DISK_SIZE);
	if (ret < 0)
		return ret;
	s->blocks = blocks;
	bs->size = size;
	return 0;
}

/* ---- creation ---- */

static void build_header(uint8_t *h, uint64_t size, uint32_t bsz,
			 uint32_t blocks, uint32_t off_data, bool fixed)
{
	uint64_t cyl = size / (16 * 63 * 512);

	memset(h, 0, 512);
	memcpy(h, VDI_TEXT, strlen(VDI_TEXT));
	put_le32(h + VH_SIGNATURE, VDI_SIGNATURE);
	put_le32(h + VH_VERSION, VDI_VERSION_1_1);
	put_le32(h + VH_HEADER_SIZE, VDI_HEADER_SIZE);
	put_le32(h + VH_TYPE, fixed ? VDI_TYPE_FIXED : VDI_TYPE_DYNAMIC);
	put_le32(h + VH_OFF_BMAP, 512);
	put_le32(h + VH_OFF_DATA, off_data);
	put_le32(h + VH_CYLINDERS, cyl > 16383 ? 16383 : cyl);
	put_le32(h + VH_HEADS, 16);
	put_le32(h + VH_SECTORS, 63);
	put_le32(h + VH_SECTOR_SIZE, 512);
	put_le64(h + VH_DISK_SIZE, size);
	put_le32(h + VH_BLOCK_SIZE, bsz);
	put_le32(h + VH_BLOCKS, blocks);
	put_le32(h + VH_ALLOCATED, fixed ? blocks : 0);
	if (getrandom(h + VH_UUID_IMAGE, 32, 0) != 32)
		memset(h + VH_UUID_IMAGE, 0x5a, 32);
	/* Random (version 4) UUIDs for the image and its modification. */
	h[VH_UUID_IMAGE + 6] = (h[VH_UUID_IMAGE + 6] & 0x0f) | 0x40;
	h[VH_UUID_IMAGE + 8] = (h[VH_UUID_IMAGE + 8] & 0x3f) | 0x80;
	h[VH_UUID_MODIFY + 6] = (h[VH_UUID_MODIFY + 6] & 0x0f) | 0x40;
	h[VH_UUID_MODIFY + 8] = (h[VH_UUID_MODIFY + 8] & 0x3f) | 0x80;
}

static int vdi_create(const char *path, uint64_t size,
		      const struct block_create_opts *opts)
{
	uint64_t bsz = opts->cluster_size ? opts->cluster_size : 1 << 20;
	uint64_t blocks, off_data, i;
	uint8_t h[512], *map;
	int fd, ret;

	if (opts->backing_file) {
		log_error("%s: vdi images cannot have a backing file", path);
		return -ENOTSUP;
	}
	if (bsz < 4096 || bsz > (256u << 20) || (bsz & (bsz - 1))) {
		log_error("%s: vdi block size must be a power of two from 4K "
			  "to 256M", path);
		return -EINVAL;
	}
	size = align_up(size, 512);
	blocks = div_round_up(size, bsz);
	if (blocks > VDI_MAX_BLOCKS) {
		log_error("%s: size too large for vdi", path);
		return -EFBIG;
	}
	/* Data starts on a MiB boundary; the gap lets the image grow. */
	off_data = align_up(512 + blocks * 4, 1 << 20);
	build_header(h, size, bsz, blocks, off_data, opts->fixed);
	map = malloc(blocks * 4 + 4);
	if (!map)
		return -ENOMEM;
	for (i = 0; i < blocks; i++)
		put_le32(map + i * 4, opts->fixed ? i : VDI_UNALLOCATED);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ret = fd < 0 ? -errno : 0;
	if (!ret)
		ret = file_pwrite_all(fd, h, sizeof(h), 0);
	if (!ret)
		ret = file_pwrite_all(fd, map, blocks * 4, 512);
	if (!ret && ftruncate(fd, off_data + (opts->fixed ? blocks * bsz : 0)) < 0)
		ret = -errno;
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (ret < 0)
		log_error("cannot create '%s': %s", path, strerror(-ret));
	if (fd >= 0)
		close(fd);
	free(map);
	return ret;
}

const struct block_driver block_vdi = {
	.name = "vdi",
	.probe = vdi_probe,
	.open = vdi_open,
	.read = vdi_read,
	.write = vdi_write,
	.flush = vdi_flush,
	.get_info = vdi_get_info,
	.close = vdi_close,
	.create = vdi_create,
	.status = vdi_status,
	.resize = vdi_resize,
	.check = vdi_check,
};

/* fw_cfg's item store, file directory and DMA requests (hw/fw_cfg.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "hw/fw_cfg.h"
#include "vm/memory.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, v >> 32);
	put_be32(p + 4, v);
}

static void read_item(struct fw_cfg *cfg, uint16_t key, uint8_t *buf,
		      size_t len)
{
	fw_cfg_select(cfg, key);
	for (size_t i = 0; i < len; i++)
		buf[i] = fw_cfg_read_byte(cfg);
}

/* Signature, ID with DMA, and the directory: count, size, key, name. */
static void test_directory(void **state)
{
	struct fw_cfg *cfg = fw_cfg_new();
	uint8_t buf[4 + 2 * 64];
	size_t len;

	assert_non_null(cfg);
	read_item(cfg, FW_CFG_SIGNATURE, buf, 4);
	assert_memory_equal(buf, "QEMU", 4);
	read_item(cfg, FW_CFG_ID, buf, 4);
	assert_int_equal(buf[0], FW_CFG_VERSION | FW_CFG_VERSION_DMA);
	assert_int_equal(fw_cfg_add_file(cfg, "etc/a", "hello", 5), 0);
	assert_int_equal(fw_cfg_add_file(cfg, "bootorder", "x\n", 2), 0);
	assert_int_equal(fw_cfg_add_file(cfg, "etc/a", "again", 5), -EEXIST);
	assert_int_equal(fw_cfg_add_file(cfg, "", "x", 1), -EINVAL);
	assert_int_equal(fw_cfg_add_item(cfg, FW_CFG_SIGNATURE, "XXXX", 4), -EEXIST);
	read_item(cfg, FW_CFG_FILE_DIR, buf, sizeof(buf));
	assert_int_equal(be32(buf), 2);
	assert_int_equal(be32(buf + 4), 5);
	assert_int_equal(buf[8] << 8 | buf[9], FW_CFG_FILE_FIRST);
	assert_string_equal((char *)buf + 12, "etc/a");
	assert_int_equal(be32(buf + 68), 2);
	assert_int_equal(buf[72] << 8 | buf[73], FW_CFG_FILE_FIRST + 1);
	assert_string_equal((char *)buf + 76, "bootorder");
	/* A file reads back, then zeros past its end. */
	read_item(cfg, FW_CFG_FILE_FIRST, buf, 7);
	assert_memory_equal(buf, "hello\0\0", 7);
	/* Nothing selected (unknown key, write bit): zeros. */
	read_item(cfg, 0x1234, buf, 2);
	assert_int_equal(buf[0] | buf[1], 0);
	read_item(cfg, 0x4000 | FW_CFG_SIGNATURE, buf, 1);
	assert_int_equal(buf[0], 0);
	assert_non_null(fw_cfg_file_data(cfg, "bootorder", &len));
	assert_int_equal(len, 2);
	fw_cfg_free(cfg);
}

static int refreshed;

static void refresh(void *opaque, uint8_t *data, size_t len)
{
	refreshed++;
	data[0] = 'R';
}

static void test_refresh_on_select(void **state)
{
	struct fw_cfg *cfg = fw_cfg_new();
	uint8_t b;

	assert_int_equal(fw_cfg_add_file_refresh(cfg, "t", "abc", 3, refresh,
						 NULL), 0);
	read_item(cfg, FW_CFG_FILE_FIRST, &b, 1);
	assert_int_equal(refreshed, 1);
	assert_int_equal(b, 'R');
	fw_cfg_free(cfg);
}

#define REQ 0x1000
#define DST 0x2000

static int dma(struct fw_cfg *cfg, struct guest_memory *gm, uint32_t control,
	       uint32_t length, uint64_t addr)
{
	uint8_t req[16];

	put_be32(req, control);
	put_be32(req + 4, length);
	put_be64(req + 8, addr);
	assert_int_equal(gmem_write(gm, REQ, req, 16), 0);
	return fw_cfg_dma(cfg, gm, REQ);
}

/* Select + read, skip, reads past the end, and the requests a hostile
 * guest makes: outside RAM, lengths past RAM, writes, the structure
 * itself outside RAM. */
static void test_dma(void **state)
{
	struct guest_memory gm;
	struct fw_cfg *cfg = fw_cfg_new();
	uint8_t buf[8], st[4];

	assert_int_equal(gmem_init(&gm, 16 << 20), 0);
	assert_int_equal(fw_cfg_add_file(cfg, "f", "0123456789", 10), 0);
	assert_int_equal(dma(cfg, &gm, FW_CFG_FILE_FIRST << 16 | FW_CFG_DMA_SELECT |
			     FW_CFG_DMA_READ, 4, DST), 0);
	gmem_read(&gm, DST, buf, 4);
	assert_memory_equal(buf, "0123", 4);
	gmem_read(&gm, REQ, st, 4);
	assert_int_equal(be32(st), 0);		/* done, no error */
	assert_int_equal(dma(cfg, &gm, FW_CFG_DMA_SKIP, 2, 0), 0);
	memset(buf, 0xff, sizeof(buf));
	gmem_write(&gm, DST, buf, 8);
	assert_int_equal(dma(cfg, &gm, FW_CFG_DMA_READ, 8, DST), 0);
	gmem_read(&gm, DST, buf, 8);
	assert_memory_equal(buf, "6789\0\0\0\0", 8);

	assert_int_equal(dma(cfg, &gm, FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 4,
			     0xfee00000), FW_CFG_DMA_ERROR);
	gmem_read(&gm, REQ, st, 4);
	assert_int_equal(be32(st), FW_CFG_DMA_ERROR);
	assert_int_equal(dma(cfg, &gm, FW_CFG_DMA_READ, 0xffffffff, DST),
			 FW_CFG_DMA_ERROR);
	assert_int_equal(dma(cfg, &gm, FW_CFG_DMA_READ, 16,
			     0xfffffffffffffff8ULL), FW_CFG_DMA_ERROR);
	assert_int_equal(dma(cfg, &gm, FW_CFG_DMA_WRITE, 4, DST), FW_CFG_DMA_ERROR);
	assert_int_equal(fw_cfg_dma(cfg, &gm, 0xfffffff0), -EFAULT);
	assert_int_equal(fw_cfg_dma(cfg, &gm, (16 << 20) - 8), -EFAULT);
	fw_cfg_free(cfg);
	gmem_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_refresh_on_select),
		cmocka_unit_test(test_dma),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

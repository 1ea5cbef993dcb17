/*
 * qcow2 driver hooks that live outside the core driver files: the
 * block_map() view (qcow2_map.c), compressed cluster writes
 * (qcow2_compress.c) and changing the backing file (qcow2_backing.c).
 */
#ifndef WIRT_BLOCK_QCOW2_EXTRA_H
#define WIRT_BLOCK_QCOW2_EXTRA_H

#include "block/block_driver.h"

int qcow2_map_range(struct block_dev *bs, uint64_t off, uint64_t len,
		    struct block_mapping *m);
int qcow2_write_compressed(struct block_dev *bs, uint64_t off,
			   const void *buf, size_t len);
int qcow2_set_backing(struct block_dev *bs, const char *name,
		      const char *format);

#endif

/*
 * fw_cfg: the firmware configuration interface QEMU's firmware (SeaBIOS,
 * OVMF) reads its machine description from (QEMU docs/specs/fw_cfg.rst).
 *
 * Items are blobs under 16-bit keys; named files get keys from 0x20 and
 * are listed in the file directory (key 0x19).  The guest selects an
 * item at port 0x510 and reads it byte by byte at 0x511, or with the DMA
 * interface at 0x514/0x518 (the big-endian guest-physical address of a
 * control/length/address structure).  All items are read-only.
 *
 * The item store (fw_cfg_new .. fw_cfg_dma) knows nothing of the machine
 * and is unit-tested alone; fw_cfg_create puts it on a VM's ports.
 */
#ifndef WIRT_HW_FW_CFG_H
#define WIRT_HW_FW_CFG_H

#include <stddef.h>
#include <stdint.h>

struct vm;
struct guest_memory;
struct fw_cfg;

#define FW_CFG_SIGNATURE   0x00
#define FW_CFG_ID          0x01
#define FW_CFG_RAM_SIZE    0x03
#define FW_CFG_NB_CPUS     0x05
#define FW_CFG_BOOT_MENU   0x0e
#define FW_CFG_MAX_CPUS    0x0f
#define FW_CFG_FILE_DIR    0x19
#define FW_CFG_FILE_FIRST  0x20
#define FW_CFG_MAX_FILES   64
#define FW_CFG_NAME_LEN    56

/* ID bits: the traditional interface and the DMA interface. */
#define FW_CFG_VERSION     0x01
#define FW_CFG_VERSION_DMA 0x02

/* DMA control bits. */
#define FW_CFG_DMA_ERROR   0x01
#define FW_CFG_DMA_READ    0x02
#define FW_CFG_DMA_SKIP    0x04
#define FW_CFG_DMA_SELECT  0x08
#define FW_CFG_DMA_WRITE   0x10

/* Called when the guest selects the item, before it reads it: may
 * rewrite the data in place (same size), e.g. tables that depend on
 * registers the firmware programmed since start-up. */
typedef void (*fw_cfg_refresh_fn)(void *opaque, uint8_t *data, size_t len);

struct fw_cfg *fw_cfg_new(void);
void fw_cfg_free(struct fw_cfg *cfg);

/* Add a numbered item or a named file (data is copied); 0 or -errno
 * (-EEXIST for a key or name already there, -ENOSPC when full). */
int fw_cfg_add_item(struct fw_cfg *cfg, uint16_t key, const void *data,
		    size_t len);
int fw_cfg_add_file(struct fw_cfg *cfg, const char *name, const void *data,
		    size_t len);
int fw_cfg_add_file_refresh(struct fw_cfg *cfg, const char *name,
			    const void *data, size_t len,
			    fw_cfg_refresh_fn refresh, void *opaque);
/* The data of a file by name (tests), or NULL. */
const uint8_t *fw_cfg_file_data(struct fw_cfg *cfg, const char *name,
				size_t *len);

/* The guest's side. */
void fw_cfg_select(struct fw_cfg *cfg, uint16_t key);
uint8_t fw_cfg_read_byte(struct fw_cfg *cfg);
/* Run the DMA request whose structure is at gpa: returns the control
 * word written back (0, or FW_CFG_DMA_ERROR); -EFAULT if the structure
 * itself is not in guest RAM (nothing is written then). */
int fw_cfg_dma(struct fw_cfg *cfg, struct guest_memory *gm, uint64_t gpa);

/* Put cfg on the VM's ports (0x510, 0x511, 0x514-0x51b); it is freed
 * with the VM. */
int fw_cfg_attach(struct vm *vm, struct fw_cfg *cfg);

#endif

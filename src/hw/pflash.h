/*
 * CFI parallel flash (Intel/Sharp command set) holding the UEFI variable
 * store below the firmware image, as QEMU's pc machine gives OVMF.
 */
#ifndef WIRT_HW_PFLASH_H
#define WIRT_HW_PFLASH_H

#include <stdint.h>

struct vm;
struct block_dev;

/* Erase block size: OVMF's flash driver erases 4 KiB blocks. */
#define PFLASH_BLOCK_SIZE 4096

/*
 * Map size bytes of flash at gpa (whole erase blocks), filled from image.
 * Writes the guest completes go to store (a raw image of the same size,
 * flushed whenever the guest returns the flash to read-array mode), or
 * nowhere with store NULL (a private copy discarded at exit).  The flash
 * takes ownership of store.  0 or negative errno.
 */
int pflash_create(struct vm *vm, uint64_t gpa, const void *image,
		  uint64_t size, struct block_dev *store, const char *name);

#endif

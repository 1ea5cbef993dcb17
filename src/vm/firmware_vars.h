/* The UEFI variable store: its file, or a private copy of a template. */
#ifndef WIRT_VM_FIRMWARE_VARS_H
#define WIRT_VM_FIRMWARE_VARS_H

#include <stddef.h>

struct vm_config;
struct block_dev;

/*
 * Open the variable store --firmware names: cfg->firmware_vars (created
 * from cfg->firmware_vars_template when missing; then *store is it, open
 * for writing and locked against other users) or, without vars=, a copy
 * of the template (*store NULL).  *image gets the contents (malloc'd),
 * *size their length: whole 4 KiB blocks, the template's size if there
 * is one.  Errors are logged; returns 0 or negative errno.
 */
int firmware_vars_open(const struct vm_config *cfg, void **image,
		       size_t *size, struct block_dev **store);

#endif

/* The fw_cfg items wirt gives firmware (--firmware): see firmware_cfg.c. */
#ifndef WIRT_VM_FIRMWARE_CFG_H
#define WIRT_VM_FIRMWARE_CFG_H

struct vm;

/* Build the items and put fw_cfg on the VM's ports; 0 or -errno. */
int firmware_cfg_create(struct vm *vm);

#endif

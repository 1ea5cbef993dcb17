/* The running VMs, found through their runtime directories (wirt ls/ctl). */
#ifndef WIRT_CLI_VMS_H
#define WIRT_CLI_VMS_H

#include <json-c/json.h>
#include <sys/types.h>

#include "control/runtime_dir.h"

struct vm_entry {
	char name[VM_NAME_MAX + 1];
	pid_t pid;
	json_object *info;	/* the info file; NULL if unreadable */
	char qmp[600];		/* its QMP socket */
	char dir[512];		/* its runtime directory */
};

/* Read the info file again if it was not there yet (a VM starting). */
void vms_reload_info(struct vm_entry *e);

/* Look NAME up: 0, or -ENOENT if no VM of that name runs. */
int vms_find(const char *name, struct vm_entry *e);

/* Every running VM, sorted by name (stale directories are cleaned). */
int vms_list(struct vm_entry **out, size_t *n);

void vms_free(struct vm_entry *e, size_t n);

#endif

/* Finding running VMs by their runtime directories (vms.h). */
#include "cli/vms.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(const char *base, const char *name, struct vm_entry *e)
{
	char dir[512], path[600];
	json_object *q;
	pid_t pid;

	if (!vm_name_valid(name))
		return -ENOENT;
	snprintf(dir, sizeof(dir), "%s/%s", base, name);
	pid = runtime_dir_check(dir);
	if (pid <= 0)
		return -ENOENT;
	memset(e, 0, sizeof(*e));
	snprintf(e->name, sizeof(e->name), "%s", name);
	snprintf(e->dir, sizeof(e->dir), "%s", dir);
	e->pid = pid;
	snprintf(path, sizeof(path), "%s/info", dir);
	e->info = json_object_from_file(path);
	if (e->info && json_object_object_get_ex(e->info, "qmp", &q) &&
	    *json_object_get_string(q))
		snprintf(e->qmp, sizeof(e->qmp), "%s", json_object_get_string(q));
	else
		snprintf(e->qmp, sizeof(e->qmp), "%s/qmp.sock", dir);
	return 0;
}

void vms_reload_info(struct vm_entry *e)
{
	char path[600];

	if (e->info)
		return;
	snprintf(path, sizeof(path), "%s/info", e->dir);
	e->info = json_object_from_file(path);
}

int vms_find(const char *name, struct vm_entry *e)
{
	char base[256];

	if (runtime_base(base, sizeof(base)))
		return -ENAMETOOLONG;
	return load(base, name, e);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct vm_entry *)a)->name,
		      ((const struct vm_entry *)b)->name);
}

int vms_list(struct vm_entry **out, size_t *n)
{
	char base[256];
	struct vm_entry *list = NULL, *p;
	size_t count = 0, cap = 0;
	struct dirent *d;
	DIR *dir;

	*out = NULL;
	*n = 0;
	if (runtime_base(base, sizeof(base)))
		return -ENAMETOOLONG;
	dir = opendir(base);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			p = realloc(list, cap * sizeof(*list));
			if (!p)
				break;
			list = p;
		}
		if (!load(base, d->d_name, &list[count]))
			count++;
	}
	closedir(dir);
	qsort(list, count, sizeof(*list), by_name);
	*out = list;
	*n = count;
	return 0;
}

void vms_free(struct vm_entry *e, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		json_object_put(e[i].info);
}

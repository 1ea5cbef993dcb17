/* The table of accelerators wirt knows. */
#include "accel/accel.h"

#include <string.h>

const struct accel_ops *accel_find(const char *name)
{
	static const struct accel_ops *const all[] = {
		&accel_kvm_ops,
		&accel_emu_ops,
	};
	unsigned i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(all[i]->name, name))
			return all[i];
	return NULL;
}

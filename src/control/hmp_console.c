/* The human monitor's line editor on the console (hmp_console.h). */
#include "control/hmp_console.h"

#include <stdlib.h>
#include <string.h>

#include "control/hmp.h"

#define LINE_MAX_LEN 256

static struct {
	struct vm *vm;
	hmp_console_write_fn write;
	char line[LINE_MAX_LEN];
	size_t len;
} mon;

static void puts_out(const char *s)
{
	mon.write(s, strlen(s));
}

void hmp_console_enter(struct vm *vm, hmp_console_write_fn write)
{
	mon.vm = vm;
	mon.write = write;
	mon.len = 0;
	/* The console keeps OPOST|ONLCR on: "\n" is enough. */
	puts_out("\nwirt monitor: help lists the commands; C-a c goes back to the console\n(wirt) ");
}

void hmp_console_run(void)
{
	char *out;

	out = hmp_run(mon.vm, mon.line);
	if (out)
		puts_out(out);
	free(out);
	mon.len = 0;
	puts_out("(wirt) ");
}

bool hmp_console_key(uint8_t b)
{
	if (b == '\r' || b == '\n') {
		mon.line[mon.len] = 0;
		puts_out("\n");
		return true;
	} else if (b == 0x7f || b == 0x08) {
		if (mon.len) {
			mon.len--;
			puts_out("\b \b");
		}
	} else if (b == 0x15) { /* Ctrl-U: erase the line */
		while (mon.len) {
			mon.len--;
			puts_out("\b \b");
		}
	} else if (b >= 0x20 && b < 0x7f && mon.len < LINE_MAX_LEN - 1) {
		mon.line[mon.len++] = b;
		mon.write(&b, 1);
	}
	return false;
}

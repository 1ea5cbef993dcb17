/*
 * `wirt run --config FILE`: a JSON object (json-c) whose keys are `wirt
 * run`'s long options.  Its entries become options placed before those of
 * the command line, so that the command line overrides the file for
 * single-valued options and adds to it for repeatable ones (--disk,
 * --cdrom, --net, --channel).  Values: a string or number is the option's value; true
 * turns a flag on (false leaves it off) and is "on"/"off" for an option
 * that takes a value (--sandbox); an array repeats the option.  Every
 * entry remembers its line, so errors name FILE:LINE.  Relative paths in
 * the file are relative to the directory wirt runs in, as on the command
 * line.  --print-config prints the effective options as such a file.
 */
#include "cli/run_config.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/run_options.h"
#include "util/file.h"

/* Options that may be given several times: --print-config lists them all. */
static const char *const repeatable[] = { "disk", "cdrom", "net", "channel", "smbios" };

static int config_error(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int config_error(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The line of byte offset off in text (1-based). */
static int line_at(const char *text, size_t off)
{
	int line = 1;
	size_t i;

	for (i = 0; i < off && text[i]; i++)
		line += text[i] == '\n';
	return line;
}

/* The line where "key" is written as a key (its first occurrence). */
static int key_line(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;

	while ((p = strchr(p, '"'))) {
		const char *q = p + 1 + klen;

		if (!strncmp(p + 1, key, klen) && *q == '"') {
			for (q++; *q == ' ' || *q == '\t' || *q == '\n' || *q == '\r'; q++)
				;
			if (*q == ':')
				return line_at(text, (size_t)(p - text));
		}
		p++;
	}
	return 0;
}

static int push(struct run_config *rc, char *arg, int line)
{
	char **argv = realloc(rc->argv, (rc->argc + 2) * sizeof(*argv));
	int *lines;

	if (!argv)
		return -ENOMEM;
	rc->argv = argv;
	lines = realloc(rc->lines, (rc->argc + 2) * sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	rc->lines = lines;
	rc->argv[rc->argc] = arg;
	rc->lines[rc->argc++] = line;
	rc->argv[rc->argc] = NULL;
	return 0;
}

/* One value of key as an option ("--key=value", "--key"), or nothing. */
static int push_value(struct run_config *rc, const char *key, int has_arg,
		      struct json_object *v, int line, char *err, size_t len)
{
	enum json_type t = json_object_get_type(v);
	const char *val;
	char *arg;

	if (t == json_type_boolean && !has_arg) {
		if (!json_object_get_boolean(v))
			return 0;
		val = NULL;
	} else if (t == json_type_boolean) {
		val = json_object_get_boolean(v) ? "on" : "off";
	} else if (t == json_type_string || t == json_type_int || t == json_type_double) {
		if (!has_arg)
			return config_error(err, len, "%s:%d: \"%s\" is a flag: give true or false",
					    rc->file, line, key);
		val = json_object_get_string(v);
	} else {
		return config_error(err, len, "%s:%d: \"%s\": give a string, a number, "
				    "true or false%s", rc->file, line, key,
				    t == json_type_array ? " (not nested arrays)" : "");
	}
	if (val ? asprintf(&arg, "--%s=%s", key, val) < 0 : asprintf(&arg, "--%s", key) < 0)
		return -ENOMEM;
	if (push(rc, arg, line)) {
		free(arg);
		return -ENOMEM;
	}
	return 0;
}

static int load_file(struct run_config *rc, char *err, size_t len)
{
	struct json_tokener *tok;
	struct json_object *root;
	size_t size;
	char *text;
	int ret;

	void *data;

	ret = file_read_all(rc->file, 1 << 20, &data, &size);
	if (ret)
		return config_error(err, len, "--config %s: %s", rc->file,
				    ret == -EFBIG ? "larger than 1 MiB" : strerror(-ret));
	/* NUL-terminated, for finding keys' lines. */
	text = realloc(data, size + 1);
	if (!text) {
		free(data);
		return -ENOMEM;
	}
	text[size] = 0;
	tok = json_tokener_new();
	if (!tok) {
		free(text);
		return -ENOMEM;
	}
	root = json_tokener_parse_ex(tok, text, (int)size);
	if (!root || json_tokener_get_parse_end(tok) < size) {
		size_t end = json_tokener_get_parse_end(tok);

		/* Past the object only blanks may follow. */
		while (root && end < size && strchr(" \t\r\n", text[end]))
			end++;
		if (!root || end < size)
			ret = config_error(err, len, "%s:%d: %s", rc->file, line_at(text, end),
					   root ? "text after the configuration object" :
					   json_tokener_get_error(tok) == json_tokener_continue ?
					   "unexpected end of file" :
					   json_tokener_error_desc(json_tokener_get_error(tok)));
	}
	json_tokener_free(tok);
	if (!ret && !json_object_is_type(root, json_type_object))
		ret = config_error(err, len, "%s:1: the configuration is a JSON object "
				   "of wirt run's long options, e.g. {\"memory\": \"1G\"}", rc->file);
	if (!ret) {
		json_object_object_foreach(root, key, v) {
			int line = key_line(text, key);
			int has_arg = run_options_has_arg(key);
			size_t i;

			if (has_arg < 0 || !strcmp(key, "config") || !strcmp(key, "print-config")) {
				ret = config_error(err, len, "%s:%d: unknown key \"%s\" (the keys are "
						   "wirt run's long options, see wirt run --help)",
						   rc->file, line, key);
				break;
			}
			if (!json_object_is_type(v, json_type_array)) {
				ret = push_value(rc, key, has_arg, v, line, err, len);
			} else {
				for (i = 0; !ret && i < json_object_array_length(v); i++)
					ret = push_value(rc, key, has_arg,
							 json_object_array_get_idx(v, i),
							 line, err, len);
			}
			if (ret)
				break;
		}
	}
	json_object_put(root);
	free(text);
	return ret;
}

int run_config_load(struct run_config *rc, int argc, char **argv, char *err, size_t len)
{
	int i, ret = 0;

	memset(rc, 0, sizeof(*rc));
	if (push(rc, argv[0], 0))
		return -ENOMEM;
	/* --config FILE and --print-config are ours; the rest is getopt's. */
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			break;
		} else if (!strcmp(argv[i], "--print-config")) {
			rc->print = true;
		} else if (!strcmp(argv[i], "--config") || !strncmp(argv[i], "--config=", 9)) {
			const char *f = argv[i][8] ? argv[i] + 9 : argv[++i];

			if (!f || !*f)
				return config_error(err, len, "--config needs a file name");
			if (rc->file)
				return config_error(err, len, "--config: give one file");
			rc->file = f;
		}
	}
	if (rc->file)
		ret = load_file(rc, err, len);
	rc->first_cmdline = rc->argc;
	for (i = 1; !ret && i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			for (; !ret && i < argc; i++)
				ret = push(rc, argv[i], 0);
			break;
		}
		if (!strcmp(argv[i], "--print-config") || !strncmp(argv[i], "--config=", 9))
			continue;
		if (!strcmp(argv[i], "--config")) {
			i++;
			continue;
		}
		ret = push(rc, argv[i], 0);
	}
	return ret;
}

void run_config_locate(const struct run_config *rc, int index, char *err, size_t len)
{
	char located[512];

	if (!rc->file || index < 1 || index >= rc->first_cmdline || !rc->lines[index])
		return;
	snprintf(located, sizeof(located), "%s:%d: %s", rc->file, rc->lines[index], err);
	snprintf(err, len, "%s", located);
}

static bool is_repeatable(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(repeatable) / sizeof(repeatable[0]); i++)
		if (!strcmp(key, repeatable[i]))
			return true;
	return false;
}

int run_config_print(const struct run_config *rc, FILE *out)
{
	struct json_object *root = json_object_new_object();
	int i;

	if (!root)
		return -ENOMEM;
	for (i = 1; i < rc->argc; i++) {
		const char *a = rc->argv[i], *eq;
		char key[64];
		struct json_object *v;

		/* --key=value, --key value, --flag, -k value, -kvalue, -f. */
		if (!strcmp(a, "--"))
			break;
		if (a[0] != '-' || !a[1])
			continue;
		if (a[1] == '-') {
			eq = strchr(a, '=');
			snprintf(key, sizeof(key), "%.*s",
				 (int)((eq ? eq : a + strlen(a)) - a - 2), a + 2);
		} else {
			const char *name = run_options_long_name(a[1]);

			if (!name)
				continue;
			snprintf(key, sizeof(key), "%s", name);
			eq = a[2] ? a + 1 : NULL;	/* -kvalue: value at eq + 1 */
		}
		if (run_options_has_arg(key) <= 0)
			v = json_object_new_boolean(1);
		else if (eq)
			v = json_object_new_string(eq + 1);
		else if (i + 1 < rc->argc)
			v = json_object_new_string(rc->argv[++i]);
		else
			continue;
		if (is_repeatable(key)) {
			struct json_object *arr;

			if (!json_object_object_get_ex(root, key, &arr)) {
				arr = json_object_new_array();
				json_object_object_add(root, key, arr);
			}
			json_object_array_add(arr, v);
		} else {
			json_object_object_add(root, key, v);
		}
	}
	fprintf(out, "%s\n", json_object_to_json_string_ext(root,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return 0;
}

void run_config_free(struct run_config *rc)
{
	int i;

	for (i = 1; i < rc->first_cmdline; i++)
		free(rc->argv[i]);
	free(rc->argv);
	free(rc->lines);
	memset(rc, 0, sizeof(*rc));
}

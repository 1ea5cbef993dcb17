/*
 * Runtime directories of named VMs: $WIRT_RUNTIME_DIR, else /run/wirt for
 * root, else $XDG_RUNTIME_DIR/wirt (else /tmp/wirt-UID), holds one
 * directory per running VM, named after it, with
 *   pid       the VM's pid, locked (POSIX record lock) while it runs
 *   info      JSON: name, pid, accel, memory, cpus, started, qmp
 *   qmp.sock  its QMP socket (unless --qmp put it elsewhere)
 *   console.sock  its serial console, for wirt console
 * A directory whose pid file nobody locks belongs to a wirt that was
 * killed: it is stale and is cleaned by whoever finds it.
 */
#ifndef WIRT_CONTROL_RUNTIME_DIR_H
#define WIRT_CONTROL_RUNTIME_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define VM_NAME_MAX 64

/* Letters, digits, '.', '-', '_', starting with a letter or digit. */
bool vm_name_valid(const char *name);

/* The base directory; 0 or -ENAMETOOLONG. */
int runtime_base(char *buf, size_t len);

/*
 * Claim NAME: create (or take over a stale) directory, lock and write its
 * pid file.  -EEXIST (logged, with the holder's pid) if a running VM has
 * the name; other negative errnos logged too.  dir receives the path.
 */
int runtime_dir_claim(const char *name, char *dir, size_t len);

/* Write dir/info (a JSON text); 0 or negative errno. */
int runtime_dir_write_info(const char *json);

/* Hand the directory, its files and path (a socket elsewhere, or NULL)
 * to the user wirt becomes with --runas, so that it can clean up. */
void runtime_dir_chown(uid_t uid, gid_t gid, const char *path);

/* Remove the claimed directory (at exit). */
void runtime_dir_release(void);

/*
 * Is the VM of directory dir running?  Returns its pid (> 0), 0 if the
 * directory is stale (then it was cleaned), or a negative errno.
 */
pid_t runtime_dir_check(const char *dir);

#endif

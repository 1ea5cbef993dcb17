/*
 * The run-time sandbox of `wirt run`: once the machine is built, a
 * seccomp-bpf filter (libseccomp) lets wirt's threads make only the system
 * calls running a VM needs, and --runas drops root for a plain user.
 */
#ifndef WIRT_UTIL_SANDBOX_H
#define WIRT_UTIL_SANDBOX_H

#include <sys/types.h>

/* Exit status when the sandbox refused a system call. */
#define SANDBOX_EXIT_STATUS 4

/*
 * Look USER up now, while /etc/passwd can still be read: 0, or -ENOENT
 * (or another negative errno) with the reason logged.
 */
int sandbox_runas_resolve(const char *user);

/* The user sandbox_runas_resolve() found: 0, or -ENOENT if none. */
int sandbox_runas_ids(uid_t *uid, gid_t *gid);

/* Become the user sandbox_runas_resolve() found (groups, gid, uid). */
int sandbox_runas_drop(void);

/*
 * Set PR_SET_NO_NEW_PRIVS and install the filter on every thread of the
 * process (and the threads started later).  A refused system call calls
 * on_refusal (if not NULL; it must be async-signal-safe: it runs in the
 * SIGSYS handler), says which call on stderr and exits with
 * SANDBOX_EXIT_STATUS.  0, or a negative errno with the reason logged.
 */
int sandbox_enter(void (*on_refusal)(void));

/*
 * WIRT_SANDBOX_SELFTEST=1 in the environment: the calling thread makes a
 * system call the sandbox refuses (once), to test the refusal.  Nothing
 * otherwise; costs a load and a branch.
 */
void sandbox_selftest(void);

#endif

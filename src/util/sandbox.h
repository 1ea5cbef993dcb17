/*
 * The run-time sandbox of `wirt run`: once the machine is built, a
 * seccomp-bpf filter (libseccomp) lets wirt's threads make only the system
 * calls running a VM needs, and --runas drops root for a plain user.
 */
#ifndef WIRT_UTIL_SANDBOX_H
#define WIRT_UTIL_SANDBOX_H

#include <fcntl.h>
#include <stdbool.h>
#include <sys/types.h>

/* The one way a file may be opened once the sandbox is on: created for
 * writing by the monitor's screendump or migrate "file:", on the event
 * loop thread. */
#define SANDBOX_DUMP_OPEN_FLAGS (O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW)

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

/* Is the filter installed (things it forbids must not be tried)? */
bool sandbox_active(void);

/* What a thread does, which decides the narrower filter it adds. */
enum sandbox_thread {
	SANDBOX_THREAD_VCPU,	/* runs guest code and the device models */
	SANDBOX_THREAD_DEVICE,	/* virtio worker of a disk, console or rng */
	SANDBOX_THREAD_NETWORK,	/* virtio-net worker, libslirp's thread */
	SANDBOX_THREAD_DISPLAY,	/* the VNC server's viewers and frames */
	SANDBOX_THREAD_KINDS
};

/*
 * With the sandbox on, add the filter of KIND to the calling thread, which
 * then may make only the system calls that kind of thread needs (the
 * event loop and the main thread keep the process's filter).  Once per
 * thread: later calls, and all calls without the sandbox, cost a
 * thread-local load and a branch, so a worker may call it each time it
 * wakes (workers started before the sandbox narrow at their first wake).
 */
void sandbox_thread_enter(enum sandbox_thread kind);

/*
 * WIRT_SANDBOX_SELFTEST in the environment: a thread makes a system call
 * its filter refuses (once), to test the refusal.  "1": the event loop
 * (which calls this at its start) calls getpgid; "exec": it maps memory
 * executable; "vcpu", "device",
 * "network": the first thread of that kind, once narrowed, makes a call
 * only the other kinds may make.  Nothing otherwise; costs a load and a
 * branch.
 */
void sandbox_selftest(void);

#endif

/*
 * The run-time sandbox: a seccomp-bpf filter built with libseccomp and
 * installed once the machine is built (every file, device, tap and socket
 * open), plus --runas to leave root.  See sandbox.h and the design notes.
 *
 * One filter covers every thread (TSYNC for those already running; those
 * started later inherit it).  It allows the union of what the thread kinds
 * need:
 *   vCPU threads   KVM ioctls (KVM_RUN...), futex, tgkill (kicks), writes
 *                  for the serial console and log lines; the emulator
 *                  itself makes no system calls beyond memory management;
 *   event loop     epoll, eventfd/timerfd reads and writes, the terminal
 *                  (read, write, termios ioctls), accept4 on --channel
 *                  sockets, tap reads and writes;
 *   virtio workers pread/pwrite(v), fdatasync, fallocate, BLKDISCARD,
 *                  getrandom (virtio-rng), eventfds;
 *   libslirp       poll, sockets of the guest's connections (AF_INET and
 *                  AF_INET6 only), sendto/recvfrom and friends.
 * Anything else traps: a SIGSYS handler names the system call on one line
 * and ends wirt with SANDBOX_EXIT_STATUS.
 */
#include "util/sandbox.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/* System calls every thread kind may make, whatever their arguments. */
static const int allowed[] = {
	/* I/O on descriptors opened before the sandbox */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv),
	SCMP_SYS(pwritev), SCMP_SYS(preadv2), SCMP_SYS(pwritev2),
	SCMP_SYS(lseek), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
	SCMP_SYS(fallocate), SCMP_SYS(ftruncate), SCMP_SYS(fstat),
	SCMP_SYS(newfstatat), SCMP_SYS(close), SCMP_SYS(fcntl),
	SCMP_SYS(dup), SCMP_SYS(pipe2),
	/* event loop, device workers, libslirp */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(eventfd2), SCMP_SYS(timerfd_settime),
	SCMP_SYS(timerfd_gettime), SCMP_SYS(getrandom),
	/* sockets already open or made by libslirp (see socket below) */
	SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(accept),
	SCMP_SYS(accept4), SCMP_SYS(shutdown), SCMP_SYS(sendto),
	SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg), SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	/* threads, time, signals */
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(gettid),
	SCMP_SYS(getpid), SCMP_SYS(tgkill), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(gettimeofday), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigaction), SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall),
	SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(wait4),
	/* memory */
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
	SCMP_SYS(mremap), SCMP_SYS(brk),
	/* the --channel and QMP sockets' files and the runtime directory,
	 * removed at exit */
	SCMP_SYS(unlink), SCMP_SYS(rmdir),
};

/*
 * ioctl by its type byte (bits 8-15 of the request): KVM (0xAE), tun and
 * the terminal ('T', which also holds FIONREAD/FIONBIO), block devices
 * (0x12: BLKDISCARD, BLKGETSIZE64...).
 */
static const unsigned ioctl_types[] = { 0xAE, 'T', 0x12 };

/* Names by number, resolved before the filter, for the SIGSYS handler. */
#define MAX_SYSCALL_NR 512
static const char *syscall_names[MAX_SYSCALL_NR];

static const char *runas_user;
static uid_t runas_uid;
static gid_t runas_gid;

static bool selftest_armed;
static void (*refusal_hook)(void);

static size_t put(char *buf, size_t at, size_t len, const char *s)
{
	while (*s && at < len)
		buf[at++] = *s++;
	return at;
}

static size_t put_num(char *buf, size_t at, size_t len, long v)
{
	char d[24];
	int n = 0;

	if (v < 0) {
		at = put(buf, at, len, "-");
		v = -v;
	}
	do
		d[n++] = '0' + v % 10;
	while ((v /= 10) && n < 23);
	while (n && at < len)
		buf[at++] = d[--n];
	return at;
}

/* Async-signal-safe: table look-ups, write() and _exit() only. */
static void on_sigsys(int sig, siginfo_t *si, void *uctx)
{
	char line[256];
	size_t n = 0, len = sizeof(line) - 1;
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < MAX_SYSCALL_NR ? syscall_names[nr] : NULL;

	n = put(line, n, len, "wirt: the sandbox refused system call ");
	n = put(line, n, len, name ? name : "?");
	n = put(line, n, len, " (");
	n = put_num(line, n, len, nr);
	n = put(line, n, len, "); wirt stops (a bug in wirt: please report it; "
		"--sandbox off runs without the sandbox)");
	if (refusal_hook)
		refusal_hook();
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		n = 0; /* nothing more to say it with */
	_exit(SANDBOX_EXIT_STATUS);
}

int sandbox_runas_resolve(const char *user)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		log_error("--runas %s: %s", user,
			  errno ? strerror(errno) : "no such user");
		return errno ? -errno : -ENOENT;
	}
	if (geteuid() != 0 && geteuid() != pw->pw_uid) {
		log_error("--runas %s: only root can change to another user", user);
		return -EPERM;
	}
	runas_user = user;
	runas_uid = pw->pw_uid;
	runas_gid = pw->pw_gid;
	return 0;
}

int sandbox_runas_ids(uid_t *uid, gid_t *gid)
{
	if (!runas_user)
		return -ENOENT;
	*uid = runas_uid;
	*gid = runas_gid;
	return 0;
}

int sandbox_runas_drop(void)
{
	if (!runas_user || (geteuid() == runas_uid && getegid() == runas_gid))
		return 0;
	/* glibc applies each of these to every thread of the process. */
	if (setgroups(1, &runas_gid) < 0 || setgid(runas_gid) < 0 ||
	    setuid(runas_uid) < 0) {
		log_error("--runas %s: cannot change user: %s", runas_user,
			  strerror(errno));
		return -errno;
	}
	/* A process that can become root again has not left it. */
	if (runas_uid != 0 && setuid(0) == 0) {
		log_error("--runas %s: could regain root", runas_user);
		return -EPERM;
	}
	log_info("running as %s (uid %u, gid %u)", runas_user,
		 (unsigned)runas_uid, (unsigned)runas_gid);
	return 0;
}

static int add_rules(scmp_filter_ctx ctx)
{
	unsigned i;
	int ret = 0;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !ret; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	for (i = 0; i < sizeof(ioctl_types) / sizeof(ioctl_types[0]) && !ret; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00,
					       ioctl_types[i] << 8));
	/* libslirp opens the guest's connections: IP sockets only. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_EQ, AF_INET));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	/* New threads (vCPUs after a reset) but no new processes; glibc
	 * tries clone3 first, whose flags a filter cannot see: it falls
	 * back to clone on ENOSYS. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
					       CLONE_THREAD));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				       SCMP_SYS(clone3), 0);
	return ret;
}

int sandbox_enter(void (*on_refusal)(void))
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int nr, ret;

	for (nr = 0; nr < MAX_SYSCALL_NR; nr++)
		syscall_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	refusal_hook = on_refusal;
	/* The RTC's localtime_r() reads /etc/localtime the first time. */
	tzset();
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	/* libseccomp sets PR_SET_NO_NEW_PRIVS itself; say so plainly. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		ret = -errno;
		log_error("sandbox: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return ret;
	}
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		log_error("sandbox: cannot start a seccomp filter");
		return -ENOMEM;
	}
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!ret)
		ret = add_rules(ctx);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret) {
		log_error("sandbox: cannot install the seccomp filter: %s "
			  "(--sandbox off runs without it)", strerror(-ret));
		return ret;
	}
	selftest_armed = getenv("WIRT_SANDBOX_SELFTEST") != NULL;
	log_info("sandbox: seccomp filter installed");
	return 0;
}

void sandbox_selftest(void)
{
	if (__atomic_exchange_n(&selftest_armed, false, __ATOMIC_RELAXED))
		syscall(SYS_getpgid, 0);
}

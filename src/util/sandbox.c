/*
 * The run-time sandbox: a seccomp-bpf filter built with libseccomp and
 * installed once the machine is built (every file, device, tap and socket
 * open), plus --runas to leave root.  See sandbox.h and the design notes.
 *
 * The process's filter covers every thread (TSYNC for those already
 * running; those started later inherit it) and allows the union of what
 * the thread kinds need; vCPU threads, virtio workers and libslirp's
 * thread then add a narrower filter of their kind (sandbox_thread_enter):
 *   vCPU threads   KVM ioctls (KVM_RUN...), futex, tgkill (kicks), writes
 *                  for the serial console and log lines; the emulator
 *                  itself makes no system calls beyond memory management;
 *   event loop     epoll, eventfd/timerfd reads and writes, the terminal
 *                  (read, write, termios ioctls), accept4 on --channel
 *                  sockets, tap reads and writes;
 *   virtio workers pread/pwrite(v), fdatasync, fallocate, BLKDISCARD,
 *                  getrandom (virtio-rng), eventfds;
 *   libslirp       poll, sockets of the guest's connections (AF_INET and
 *                  AF_INET6 only), sendto/recvfrom and friends;
 *   VNC server     select, accept and I/O on its viewers' connections,
 *                  KVM's dirty log; no new sockets, no files.
 * Anything else traps (opening files fails with EACCES instead): a SIGSYS
 * handler names the system call and the thread kind on one line and ends
 * wirt with SANDBOX_EXIT_STATUS.
 */
#include "util/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/*
 * The filters are built from these groups.  The process's filter allows
 * them all; a narrowed thread (sandbox_thread_enter) only its kind's.
 */

/* Every thread: I/O on descriptors already open, waiting, threads, time,
 * signals, memory. */
static const int base_calls[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(fcntl),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(timerfd_settime),
	SCMP_SYS(timerfd_gettime), SCMP_SYS(getrandom),
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(gettid),
	SCMP_SYS(getpid), SCMP_SYS(tgkill), SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
	SCMP_SYS(gettimeofday), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(sigaltstack), SCMP_SYS(restart_syscall),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
	SCMP_SYS(munmap), SCMP_SYS(madvise),
	SCMP_SYS(mremap), SCMP_SYS(brk),
};

/* Disk images and block devices. */
static const int file_calls[] = {
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv),
	SCMP_SYS(pwritev), SCMP_SYS(preadv2), SCMP_SYS(pwritev2),
	SCMP_SYS(lseek), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
	SCMP_SYS(fallocate), SCMP_SYS(ftruncate),
};

/* Sockets already open or made by libslirp (see socket in add_rules). */
static const int socket_calls[] = {
	SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen), SCMP_SYS(accept),
	SCMP_SYS(accept4), SCMP_SYS(shutdown), SCMP_SYS(sendto),
	SCMP_SYS(recvfrom), SCMP_SYS(sendmsg), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg), SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
};

/* The event loop and the main thread only. */
static const int loop_calls[] = {
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(eventfd2),
	SCMP_SYS(dup), SCMP_SYS(pipe2), SCMP_SYS(rt_sigaction),
	/* the tap downscript's helper; the --channel and QMP sockets'
	 * files and the runtime directory, removed at exit */
	SCMP_SYS(wait4), SCMP_SYS(unlink), SCMP_SYS(rmdir),
};

/* The VNC server's thread: its listening socket and its viewers. */
static const int viewer_calls[] = {
	SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(accept), SCMP_SYS(accept4),
	SCMP_SYS(shutdown), SCMP_SYS(sendto), SCMP_SYS(recvfrom),
	SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
};

enum {
	GROUP_FILES = 1 << 0,
	GROUP_SOCKETS = 1 << 1,	/* socket_calls and socket(AF_INET/6) */
	GROUP_LOOP = 1 << 2,	/* loop_calls, and clone for new vCPU threads */
	GROUP_SECCOMP = 1 << 3,	/* adding a thread's own filter */
	GROUP_CONNECTED = 1 << 4, /* send/recv on connected sockets only */
	GROUP_VIEWERS = 1 << 5,	/* viewer_calls, getrlimit */
};

/*
 * ioctl by its type byte (bits 8-15 of the request): KVM (0xAE), tun and
 * the terminal ('T', which also holds FIONREAD/FIONBIO), block devices
 * (0x12: BLKDISCARD, BLKGETSIZE64...).
 */
#define IOCTL_KVM (1u << 0)
#define IOCTL_TTY_TUN (1u << 1)
#define IOCTL_BLOCK (1u << 2)
static const unsigned ioctl_types[] = { 0xAE, 'T', 0x12 };

/*
 * What each kind of thread needs besides base_calls.  vCPU threads run
 * the device models (a virtio-net feature write sets the tap's offloads);
 * workers raise interrupts (KVM_SIGNAL_MSI, KVM_IRQ_LINE).  Only the
 * network threads reach sockets (device workers send to a --channel's
 * client: on connected sockets, no address), only the others files.
 */
static const struct {
	const char *name;	/* for the SIGSYS line and the self-test */
	unsigned groups, ioctls;
} kinds[SANDBOX_THREAD_KINDS] = {
	[SANDBOX_THREAD_VCPU] = { "vcpu", GROUP_FILES, IOCTL_KVM | IOCTL_TTY_TUN },
	[SANDBOX_THREAD_DEVICE] = { "device", GROUP_FILES | GROUP_CONNECTED,
				    IOCTL_KVM | IOCTL_BLOCK },
	[SANDBOX_THREAD_NETWORK] = { "network", GROUP_SOCKETS, IOCTL_KVM | IOCTL_TTY_TUN },
	[SANDBOX_THREAD_DISPLAY] = { "display", GROUP_VIEWERS, IOCTL_KVM | IOCTL_TTY_TUN },
};
static const char *const kind_phrases[SANDBOX_THREAD_KINDS] = {
	" in a vCPU thread", " in a device worker", " in a network thread",
	" in the display thread",
};

/* Names by number, resolved before the filter, for the SIGSYS handler. */
#define MAX_SYSCALL_NR 512
static const char *syscall_names[MAX_SYSCALL_NR];

static const char *runas_user;
static uid_t runas_uid;
static gid_t runas_gid;

/* The self-test: "1" for the event loop, else a kind's name. */
static const char *selftest_target;
static bool selftest_armed;
static void (*refusal_hook)(void);

/* The kinds' filters, built before the process's, loaded by each thread. */
static scmp_filter_ctx kind_filters[SANDBOX_THREAD_KINDS];
static pthread_mutex_t kind_filters_lock = PTHREAD_MUTEX_INITIALIZER;
static bool sandbox_on;
static __thread bool thread_narrowed;
static __thread int thread_kind = -1;	/* read by the SIGSYS handler */

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
	n = put(line, n, len, ")");
	if (thread_kind >= 0)
		n = put(line, n, len, kind_phrases[thread_kind]);
	n = put(line, n, len, "; wirt stops (a bug in wirt: please report it; "
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

static int allow_all(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	size_t i;
	int ret = 0;

	for (i = 0; i < n && !ret; i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0);
	return ret;
}

#define ALLOW_ALL(ctx, calls) allow_all(ctx, calls, sizeof(calls) / sizeof(calls[0]))

static int add_rules(scmp_filter_ctx ctx, unsigned groups, unsigned ioctls)
{
	unsigned i;
	int ret = ALLOW_ALL(ctx, base_calls);

	/* Memory, but no new executable mappings: the translator's code
	 * cache is mapped before the filter, nothing else runs code. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	/* Threads name themselves (top -H, gdb) as they start. */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
				       SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));

	if (!ret && (groups & GROUP_FILES))
		ret = ALLOW_ALL(ctx, file_calls);
	if (!ret && (groups & GROUP_SOCKETS))
		ret = ALLOW_ALL(ctx, socket_calls);
	if (!ret && (groups & GROUP_LOOP))
		ret = ALLOW_ALL(ctx, loop_calls);
	for (i = 0; i < sizeof(ioctl_types) / sizeof(ioctl_types[0]) && !ret; i++)
		if (ioctls & (1u << i))
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
					       SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00,
						       ioctl_types[i] << 8));
	/* libslirp opens the guest's connections: IP sockets only. */
	if (!ret && (groups & GROUP_SOCKETS))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_EQ, AF_INET));
	if (!ret && (groups & GROUP_SOCKETS))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_EQ, AF_INET6));
	if (!ret && (groups & GROUP_CONNECTED))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1,
				       SCMP_A4(SCMP_CMP_EQ, 0));
	if (!ret && (groups & GROUP_CONNECTED))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(recvfrom), 1,
				       SCMP_A4(SCMP_CMP_EQ, 0));
	/* New threads (vCPUs after a reset) but no new processes; glibc
	 * tries clone3 first, whose flags a filter cannot see: it falls
	 * back to clone on ENOSYS. */
	if (!ret && (groups & GROUP_LOOP))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
					       CLONE_THREAD));
	if (!ret && (groups & GROUP_LOOP))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				       SCMP_SYS(clone3), 0);
	/*
	 * No file is opened once the guest runs, but glibc's malloc probes
	 * /proc/sys/vm/overcommit_memory the first time a thread's heap
	 * shrinks and does without it when that fails: opens fail quietly.
	 */
	if (!ret && (groups & GROUP_VIEWERS))
		ret = ALLOW_ALL(ctx, viewer_calls);
	/* libvncserver reads its file-descriptor limit as a viewer connects
	 * (getrlimit: prlimit64 without a new limit). */
	if (!ret && (groups & (GROUP_LOOP | GROUP_VIEWERS)))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1,
				       SCMP_A2(SCMP_CMP_EQ, 0));
	/* ... except that the monitor's screendump and migrate "file:PATH"
	 * create the file they write (on the event loop): write-only,
	 * created or truncated, no symlink followed, nothing else.  (An
	 * unconditional rule would win over a conditional one: the refusal
	 * names the other flags.) */
	if (!ret && (groups & GROUP_LOOP))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
				       SCMP_A2(SCMP_CMP_EQ, SANDBOX_DUMP_OPEN_FLAGS));
	if (!ret && (groups & GROUP_LOOP))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 1,
				       SCMP_A2(SCMP_CMP_NE, SANDBOX_DUMP_OPEN_FLAGS));
	else if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0);
	/* A thread may add its kind's filter (only ever narrowing), for
	 * itself alone: no TSYNC or other flags. */
	if (!ret && (groups & GROUP_SECCOMP))
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(seccomp), 2,
				       SCMP_A0(SCMP_CMP_EQ, SECCOMP_SET_MODE_FILTER),
				       SCMP_A1(SCMP_CMP_EQ, 0));
	return ret;
}

/* The filter of each thread kind, ready for sandbox_thread_enter. */
static int build_kind_filters(void)
{
	unsigned k;
	int ret = 0;

	for (k = 0; k < SANDBOX_THREAD_KINDS && !ret; k++) {
		kind_filters[k] = seccomp_init(SCMP_ACT_TRAP);
		if (!kind_filters[k])
			return -ENOMEM;
		/* no_new_privs is set already (TSYNC gives it every thread). */
		ret = seccomp_attr_set(kind_filters[k], SCMP_FLTATR_CTL_NNP, 0);
		if (!ret)
			ret = add_rules(kind_filters[k], kinds[k].groups, kinds[k].ioctls);
	}
	return ret;
}

bool sandbox_active(void)
{
	return __atomic_load_n(&sandbox_on, __ATOMIC_ACQUIRE);
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
	/* The first message asks whether stderr is a terminal (an ioctl
	 * device workers may not make): ask now. */
	log_check_terminal();
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
		ret = add_rules(ctx, GROUP_FILES | GROUP_SOCKETS | GROUP_LOOP | GROUP_SECCOMP,
				IOCTL_KVM | IOCTL_TTY_TUN | IOCTL_BLOCK);
	if (!ret)
		ret = build_kind_filters();
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret) {
		log_error("sandbox: cannot install the seccomp filter: %s "
			  "(--sandbox off runs without it)", strerror(-ret));
		return ret;
	}
	selftest_target = getenv("WIRT_SANDBOX_SELFTEST");
	selftest_armed = selftest_target != NULL;
	__atomic_store_n(&sandbox_on, true, __ATOMIC_RELEASE);
	log_info("sandbox: seccomp filter installed");
	return 0;
}

/* The self-test's call for a narrowed thread: one its kind may not make
 * but the process's filter allows. */
static void selftest_kind(enum sandbox_thread kind)
{
	if (!selftest_target || strcmp(selftest_target, kinds[kind].name) ||
	    !__atomic_exchange_n(&selftest_armed, false, __ATOMIC_RELAXED))
		return;
	if (kind == SANDBOX_THREAD_NETWORK)
		syscall(SYS_fdatasync, -1);
	else
		syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
}

void sandbox_thread_enter(enum sandbox_thread kind)
{
	int ret;

	if (thread_narrowed || !__atomic_load_n(&sandbox_on, __ATOMIC_ACQUIRE))
		return;
	thread_narrowed = true;
	/* libseccomp's load builds the program from the shared context. */
	pthread_mutex_lock(&kind_filters_lock);
	ret = seccomp_load(kind_filters[kind]);
	pthread_mutex_unlock(&kind_filters_lock);
	if (ret) {
		log_warn("sandbox: cannot narrow a %s thread's filter: %s",
			 kinds[kind].name, strerror(-ret));
		return;
	}
	thread_kind = kind;
	selftest_kind(kind);
}

void sandbox_selftest(void)
{
	if (!selftest_target || (strcmp(selftest_target, "1") &&
				 strcmp(selftest_target, "exec")) ||
	    !__atomic_exchange_n(&selftest_armed, false, __ATOMIC_RELAXED))
		return;
	if (!strcmp(selftest_target, "exec"))
		mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		syscall(SYS_getpgid, 0);
}

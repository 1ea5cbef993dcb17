/*
 * Runs inside a Linux guest: drives the CPU's debug facilities the way gdb
 * does, through ptrace and the kernel's own debug-exception handling —
 * single-step (TF) over ordinary instructions and over SYSCALL, hardware
 * watchpoints and breakpoints (DR0-DR3, DR7, DR6 through the kernel's
 * hw_breakpoint layer, RF to step off an execute breakpoint), and INT1.
 *
 * Prints "ok <check>" for each check that passes, "FAIL <check>: ..." for
 * one that does not, and "debug_ptrace: all ok" if all passed.  Built
 * static on the host (mk/guest_programs.mk) and put into the test initrd.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

/* DR7: local enable of breakpoint n, and its R/W and LEN fields. */
#define DR7_L(n)          (1UL << (2 * (n)))
#define DR7_RW(n, rw)     ((unsigned long)(rw) << (16 + 4 * (n)))
#define DR7_LEN(n, len)   ((unsigned long)(len) << (18 + 4 * (n)))
enum { RW_EXEC = 0, RW_WRITE = 1, RW_ACCESS = 3 };
enum { LEN_1 = 0, LEN_2 = 1, LEN_8 = 2, LEN_4 = 3 };

static int failures;

/* The code the child runs, with labels the parent checks its RIP against. */
extern char step_begin[], step_2[], step_3[], step_4[], step_syscall[],
	step_after_syscall[], step_end[];
extern char wp_store[], wp_store_after[], wp_load[], wp_load_after[],
	wp_byte[], wp_byte_after[], wp_miss[], wp_miss_after[],
	hb_target[], child_done[];
extern char icebp_insn[], icebp_after[];

uint64_t watched_word __attribute__((aligned(64)));
uint64_t watched_read __attribute__((aligned(64)));
uint64_t watched_quad __attribute__((aligned(64)));

__asm__(
	".text\n"
	/* Single-step: four plain instructions, then a getpid system call. */
	"step_code:\n"
	"step_begin:  mov $1, %eax\n"
	"step_2:      add %eax, %eax\n"
	"step_3:      lea 3(%rax), %rcx\n"
	"step_4:      mov $39, %eax\n"		/* __NR_getpid */
	"step_syscall: syscall\n"
	"step_after_syscall: nop\n"
	"step_end:    jmp step_end\n"
	/* Watchpoints and a breakpoint, each reached with PTRACE_CONT. */
	"watch_code:\n"
	"wp_store:    movl $42, watched_word(%rip)\n"
	"wp_store_after: nop\n"
	"wp_load:     mov watched_read(%rip), %rax\n"
	"wp_load_after: nop\n"
	"wp_byte:     movb $7, watched_quad+5(%rip)\n"	/* inside an 8-byte watch */
	"wp_byte_after: nop\n"
	"wp_miss:     movb $9, watched_quad+8(%rip)\n"	/* just past it: no trap */
	"wp_miss_after: nop\n"
	"hb_target:   nop\n"
	"             nop\n"
	"child_done:  mov $60, %eax\n"		/* exit(23) */
	"             mov $23, %edi\n"
	"             syscall\n"
	/* INT1 (ICEBP), run by the parent itself with a SIGTRAP handler. */
	"icebp_code:\n"
	"icebp_insn:  .byte 0xf1\n"
	"icebp_after: ret\n");

static void check(int ok, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pass(const char *what)
{
	printf("ok %s\n", what);
}

static void check(int ok, const char *what, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("ok %s\n", what);
		return;
	}
	failures++;
	printf("FAIL %s: ", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* A child stopped at the start, ready to be pointed at some code. */
static pid_t start_child(void)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		_exit(99);	/* the parent moves RIP away from here */
	}
	waitpid(pid, &status, 0);
	if (!WIFSTOPPED(status)) {
		printf("FAIL child did not stop (status %#x)\n", status);
		exit(2);
	}
	return pid;
}

static void set_rip(pid_t pid, void *rip)
{
	struct user_regs_struct r;

	ptrace(PTRACE_GETREGS, pid, 0, &r);
	r.rip = (uintptr_t)rip;
	ptrace(PTRACE_SETREGS, pid, 0, &r);
}

static uint64_t get_rip(pid_t pid)
{
	struct user_regs_struct r;

	ptrace(PTRACE_GETREGS, pid, 0, &r);
	return r.rip;
}

static long set_dr(pid_t pid, int n, unsigned long val)
{
	return ptrace(PTRACE_POKEUSER, pid,
		      offsetof(struct user, u_debugreg) + n * sizeof(long), val);
}

static unsigned long get_dr(pid_t pid, int n)
{
	return ptrace(PTRACE_PEEKUSER, pid,
		      offsetof(struct user, u_debugreg) + n * sizeof(long), 0);
}

/* Resume and wait for the next stop; returns its signal, or -1 on exit. */
static int resume(pid_t pid, int request, int *exit_code)
{
	int status;

	ptrace(request, pid, 0, 0);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status)) {
		*exit_code = WEXITSTATUS(status);
		return -1;
	}
	if (WIFSIGNALED(status)) {
		*exit_code = 128 + WTERMSIG(status);
		return -1;
	}
	return WSTOPSIG(status);
}

/* PTRACE_SINGLESTEP walks the block instruction by instruction, over
 * the system call too (TF across SYSCALL and the kernel's return). */
static void test_single_step(void)
{
	char *const expect[] = { step_2, step_3, step_4, step_syscall,
				 step_after_syscall, step_end };
	pid_t pid = start_child();
	int code, sig;
	unsigned i;
	uint64_t rip;

	set_rip(pid, step_begin);
	for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		sig = resume(pid, PTRACE_SINGLESTEP, &code);
		rip = get_rip(pid);
		if (sig != SIGTRAP || rip != (uintptr_t)expect[i]) {
			check(0, "single-step", "step %u: signal %d at %#lx, want SIGTRAP at %p",
			      i + 1, sig, (unsigned long)rip, (void *)expect[i]);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return;
		}
	}
	pass("single-step: one trap per instruction");
	pass("single-step over syscall lands after it");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Hardware watchpoints and an execute breakpoint in one run of the child:
 * each PTRACE_CONT must stop exactly where the SDM says. */
static void test_hw_breakpoints(void)
{
	pid_t pid = start_child();
	int code = 0, sig;
	uint64_t rip;
	unsigned long dr6;

	set_rip(pid, wp_store);
	if (set_dr(pid, 0, (uintptr_t)&watched_word) ||
	    set_dr(pid, 1, (uintptr_t)&watched_read) ||
	    set_dr(pid, 2, (uintptr_t)&watched_quad) ||
	    set_dr(pid, 3, (uintptr_t)hb_target) ||
	    set_dr(pid, 7, DR7_L(0) | DR7_RW(0, RW_WRITE) | DR7_LEN(0, LEN_4) |
			   DR7_L(1) | DR7_RW(1, RW_ACCESS) | DR7_LEN(1, LEN_8) |
			   DR7_L(2) | DR7_RW(2, RW_WRITE) | DR7_LEN(2, LEN_8) |
			   DR7_L(3) | DR7_RW(3, RW_EXEC) | DR7_LEN(3, LEN_1))) {
		check(0, "debug registers accepted", "POKEUSER failed: %m");
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	pass("debug registers accepted");

	struct { const char *what; char *after; unsigned long dr6_bit; } stops[] = {
		{ "write watchpoint (4 bytes) traps after the store", wp_store_after, 1 },
		{ "read/write watchpoint (8 bytes) traps after the load", wp_load_after, 2 },
		{ "byte write inside an 8-byte watchpoint traps", wp_byte_after, 4 },
		{ "execute breakpoint faults before the instruction", hb_target, 8 },
	};
	for (unsigned i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
		sig = resume(pid, PTRACE_CONT, &code);
		rip = sig == SIGTRAP ? get_rip(pid) : 0;
		dr6 = sig == SIGTRAP ? get_dr(pid, 6) : 0;
		check(sig == SIGTRAP && rip == (uintptr_t)stops[i].after &&
		      (dr6 & 0xf) == stops[i].dr6_bit, stops[i].what,
		      "signal %d (exit code %d) at %#lx (want %p), dr6 %#lx (want B%d)", sig, code,
		      (unsigned long)rip, (void *)stops[i].after, dr6,
		      __builtin_ctzl(stops[i].dr6_bit));
		if (sig != SIGTRAP)
			return;
	}
	/* Continuing from the execute breakpoint must run the instruction
	 * (RF) and reach the exit without another trap: the byte write
	 * just past the 8-byte watch came before and must not have trapped. */
	sig = resume(pid, PTRACE_CONT, &code);
	check(sig == -1 && code == 23,
	      "no trap just outside a watched range; RF steps off the breakpoint",
	      "signal %d at %#lx, exit code %d", sig,
	      sig > 0 ? (unsigned long)get_rip(pid) : 0UL, code);
	if (sig != -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

static volatile uint64_t icebp_rip;

static void on_sigtrap(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;

	icebp_rip = uc->uc_mcontext.gregs[REG_RIP];
}

/* INT1 (ICEBP) in user mode: a debug trap the kernel turns into SIGTRAP,
 * reported after the instruction. */
static void test_icebp(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigtrap;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGTRAP, &sa, NULL);
	((void (*)(void))icebp_insn)();
	check(icebp_rip == (uintptr_t)icebp_after, "int1 (icebp) raises SIGTRAP after it",
	      "SIGTRAP at %#lx, want %p", (unsigned long)icebp_rip, (void *)icebp_after);
	signal(SIGTRAP, SIG_DFL);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	test_single_step();
	test_hw_breakpoints();
	test_icebp();
	if (failures) {
		printf("debug_ptrace: %d failed\n", failures);
		return 1;
	}
	printf("debug_ptrace: all ok\n");
	return 0;
}

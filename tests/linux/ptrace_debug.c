/*
 * Runs inside a Linux guest (test_linux_debug.py): what gdb does to a
 * child through ptrace -- a hardware instruction breakpoint and a data
 * watchpoint in the debug registers (Linux's hw_breakpoint), then
 * single-stepping (RFLAGS.TF).  Prints one "ok ..." line per check, or
 * "FAIL ..." with what was seen; exit status 0 if all passed.
 */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long watched;

static void __attribute__((noinline)) work(void)
{
	for (int i = 0; i < 3; i++)
		watched++;
}

static int fails;

static void check(int ok, const char *what, long seen)
{
	if (ok) {
		printf("ok %s\n", what);
	} else {
		printf("FAIL %s (saw %#lx)\n", what, seen);
		fails++;
	}
}

static long dr_offset(int n)
{
	return offsetof(struct user, u_debugreg) + n * sizeof(long);
}

/* Resume the child (continue or single-step); true if it stopped with SIGTRAP. */
static int resume(pid_t pid, int request)
{
	int st;

	if (ptrace(request, pid, 0, 0) < 0 || waitpid(pid, &st, 0) != pid)
		return 0;
	return WIFSTOPPED(st) && WSTOPSIG(st) == SIGTRAP;
}

int main(void)
{
	struct user_regs_struct regs;
	long dr6, v, last_rip;
	int st, steps, moved;
	pid_t pid = fork();

	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		work();
		getppid();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st)) {
		printf("FAIL no traced child\n");
		return 1;
	}

	/* DR1: execute breakpoint on work(). */
	ptrace(PTRACE_POKEUSER, pid, dr_offset(1), (long)&work);
	ptrace(PTRACE_POKEUSER, pid, dr_offset(7), 1L << 2);
	v = resume(pid, PTRACE_CONT);
	ptrace(PTRACE_GETREGS, pid, 0, &regs);
	dr6 = ptrace(PTRACE_PEEKUSER, pid, dr_offset(6), 0);
	check(v && regs.rip == (unsigned long)&work && (dr6 & 2),
	      "execute breakpoint stops at the function", regs.rip);

	/* DR0: write watchpoint on `watched` (8 bytes); DR1 off. */
	ptrace(PTRACE_POKEUSER, pid, dr_offset(7), 0L);
	ptrace(PTRACE_POKEUSER, pid, dr_offset(0), (long)&watched);
	ptrace(PTRACE_POKEUSER, pid, dr_offset(7), 1L | (1L << 16) | (2L << 18));
	v = resume(pid, PTRACE_CONT);
	dr6 = ptrace(PTRACE_PEEKUSER, pid, dr_offset(6), 0);
	long seen = ptrace(PTRACE_PEEKDATA, pid, (long)&watched, 0);
	check(v && seen == 1 && (dr6 & 1), "write watchpoint stops after the first store", seen);
	v = resume(pid, PTRACE_CONT);
	seen = ptrace(PTRACE_PEEKDATA, pid, (long)&watched, 0);
	check(v && seen == 2, "write watchpoint stops after the second store", seen);
	ptrace(PTRACE_POKEUSER, pid, dr_offset(7), 0L);

	/* Single-step to the exit, through the last store, a system call
	 * that returns (getppid) and the one that does not: every step stops
	 * with SIGTRAP, and RIP moves on. */
	ptrace(PTRACE_GETREGS, pid, 0, &regs);
	last_rip = regs.rip;
	moved = 0;
	seen = 0;
	for (steps = 0; steps < 100000; steps++) {
		if (ptrace(PTRACE_SINGLESTEP, pid, 0, 0) < 0 || waitpid(pid, &st, 0) != pid)
			break;
		if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP)
			break;
		ptrace(PTRACE_GETREGS, pid, 0, &regs);
		moved += (long)regs.rip != last_rip;
		last_rip = regs.rip;
		if (seen != 3)
			seen = ptrace(PTRACE_PEEKDATA, pid, (long)&watched, 0);
	}
	check(seen == 3, "single steps run the last store", seen);
	check(steps >= 5 && moved >= steps - 4, "every single step moves on", steps - moved);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "single steps reach the exit", st);
	return fails ? 1 : 0;
}

/*
 * Atomic instructions between vCPUs: two processes (on two vCPUs when
 * the guest has them) count in shared memory with LOCK ADD, LOCK XADD,
 * a LOCK CMPXCHG loop and under an XCHG spinlock (plain increments
 * inside), and every increment must be there at the end.  A lost one
 * means an atomic instruction was not atomic between the emulator's
 * vCPU threads.
 *
 * usage: atomic_count [iterations]; prints "atomic_count: ok" and exits 0.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared {
	unsigned long add, xadd, cas, locked;
	int lock;
};

static int work(struct shared *s, long n)
{
	for (long i = 0; i < n; i++) {
		unsigned long old;

		__atomic_fetch_add(&s->add, 1, __ATOMIC_SEQ_CST);        /* lock add */
		if (__atomic_fetch_add(&s->xadd, 1, __ATOMIC_SEQ_CST) >= 2UL * n)
			return 1;                                         /* lock xadd */
		old = __atomic_load_n(&s->cas, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(&s->cas, &old, old + 1, false,
						    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			;                                                 /* lock cmpxchg */
		while (__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE)) /* xchg */
			;
		*(volatile unsigned long *)&s->locked += 1;
		__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pid;
	int status;

	if (s == MAP_FAILED) {
		perror("atomic_count: mmap");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("atomic_count: fork");
		return 2;
	}
	if (work(s, n)) {
		printf("atomic_count: LOCK XADD returned a count beyond the end\n");
		return 1;
	}
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
		fprintf(stderr, "atomic_count: the child failed\n");
		return 2;
	}
	if (s->add != 2UL * n || s->xadd != 2UL * n || s->cas != 2UL * n ||
	    s->locked != 2UL * n) {
		printf("atomic_count: lost increments: add %lu, xadd %lu, cmpxchg %lu, xchg lock %lu of %lu\n",
		       s->add, s->xadd, s->cas, s->locked, 2UL * n);
		return 1;
	}
	printf("atomic_count: ok\n");
	return 0;
}

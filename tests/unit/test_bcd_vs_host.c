/*
 * The BCD instructions (DAA, DAS, AAA, AAS, AAM, AAD) on the host CPU,
 * in 32-bit compatibility mode (they are invalid in 64-bit mode): the same
 * inputs and the same hash of results and defined flags as
 * tests/guests/realmode.S computes in real mode under the emulator, whose
 * expected output (test_tiny_guests.py, checked against QEMU too) holds
 * this value.  So the host CPU, QEMU and wirt's emulator agree.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#define REALMODE_BCD_HASH 0x45105040u  /* "bcd hash 45105040" in realmode.S's output */

extern const char bcd_start[], bcd_end[];

/* Entered as a 64-bit function with a result pointer below 4 GiB; far
 * returns to the 32-bit user code segment (0x23), runs every case, far
 * returns to 64-bit code (0x33).  Position-independent: copied to a
 * mapping below 4 GiB before it runs. */
__asm__(
"	.pushsection .rodata\n"
"	.globl bcd_start, bcd_end\n"
"bcd_start:\n"
"	.code64\n"
"	push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
"	mov %rsp, saved_rsp(%rip)\n"
"	lea stack_top(%rip), %rsp\n"
"	push $0x23\n"
"	lea code32(%rip), %rax\n"
"	push %rax\n"
"	lretq\n"
"	.code32\n"
"code32:\n"
"	mov $0x2b, %ax\n mov %ax, %ds\n mov %ax, %es\n"
"	xor %esi, %esi\n"
"	xor %ecx, %ecx\n"
"1:\n"
"	.macro bcd_case insn, mask\n"
"	mov %cx, %ax\n mov %cl, %ah\n xor $0x5a, %ah\n"
"	movzbl %ch, %ebx\n and $1, %ebx\n test $2, %ch\n jz 2f\n or $0x10, %ebx\n"
"2:	push %ebx\n popfl\n"
"	\\insn\n"
"	pushfl\n pop %edx\n and $\\mask, %edx\n"
"	movzwl %ax, %eax\n imul $33, %esi, %esi\n xor %eax, %esi\n"
"	imul $33, %esi, %esi\n xor %edx, %esi\n"
"	.endm\n"
"	bcd_case daa, 0xd5\n bcd_case das, 0xd5\n bcd_case aaa, 0x11\n bcd_case aas, 0x11\n"
"	bcd_case \"aam $10\", 0xc4\n bcd_case \"aam $16\", 0xc4\n bcd_case \"aam $7\", 0xc4\n"
"	bcd_case \"aam $255\", 0xc4\n bcd_case \"aad $10\", 0xc4\n bcd_case \"aad $16\", 0xc4\n"
"	bcd_case \"aad $7\", 0xc4\n"
"	inc %ecx\n cmp $0x400, %ecx\n jb 1b\n"
"	mov %esi, (%edi)\n"
"	push $0x33\n"
"	call 3f\n"
"3:	pop %eax\n"
"	add $(back64 - 3b), %eax\n"
"	push %eax\n"
"	lret\n"
"	.code64\n"
"back64:\n"
"	mov saved_rsp(%rip), %rsp\n"
"	pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
"	ret\n"
"saved_rsp: .quad 0\n"
"	.fill 256, 1, 0\n"
"stack_top:\n"
"bcd_end:\n"
"	.popsection\n");

static sigjmp_buf no_compat;

static void on_fault(int sig)
{
	siglongjmp(no_compat, 1);
}

static void test_bcd_hash_on_host(void **state)
{
	uint8_t *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	volatile uint32_t *res;
	/* The handler runs on a stack of its own: a fault in 32-bit code
	 * comes with the guest code's tiny stack. */
	static uint8_t alt[1 << 16];
	stack_t ss = { .ss_sp = alt, .ss_size = sizeof(alt) };
	struct sigaction sa = { .sa_handler = on_fault, .sa_flags = SA_ONSTACK },
			 old_segv, old_bus;

	if (p == MAP_FAILED)
		skip();
	sigaltstack(&ss, NULL);
	res = (uint32_t *)(p + 0x8000);
	*res = 0;
	memcpy(p, bcd_start, bcd_end - bcd_start);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	if (sigsetjmp(no_compat, 1)) {
		/* A kernel without 32-bit compatibility (ia32_emulation=0,
		 * or a KVM-PVM guest kernel). */
		sigaction(SIGSEGV, &old_segv, NULL);
		sigaction(SIGBUS, &old_bus, NULL);
		munmap(p, 1 << 16);
		print_message("this host cannot run 32-bit code: the BCD hash is "
			      "not compared with the host CPU here\n");
		skip();
	}
	((void (*)(volatile uint32_t *))p)(res);
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	assert_int_equal(*res, REALMODE_BCD_HASH);
	munmap(p, 1 << 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bcd_hash_on_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#!/usr/bin/env python3
"""Seed inputs for fuzz_jit: short x86-64 code sequences (the target
appends HLT) that exercise what the translator does natively: ALU and
flags carried to a Jcc, ADC/SBB chains, shifts and rotates, memory
operands off RBP, the stack, a loop, SSE moves and compares, string
operations.

Usage: make_jit_seeds.py OUTDIR"""
import os
import sys

SEEDS = {
    # add rax, rcx; sub rdx, rax; jnz +2; xor eax, eax; cmp rbx, rax; setb al
    "alu_jcc": "4801c8 4829c2 7502 31c0 4839c3 0f92c0",
    # cmp rax, rdx; adc rbx, rcx; sbb rsi, rsi; adc eax, 7; sbb al, 0x11
    "adc_sbb": "4839d0 4811cb 4819f6 83d007 1c11",
    # rol eax, 16; xor ebx, eax; ror rdx, 3; shl ecx, 5; sar r8d, cl; shr byte [rbp+8], 1; sar word [rbp+2], 3
    "shifts": "c1c010 31c3 48c1ca03 c1e105 41d3f8 d06d08 66c17d0203",
    # mov rax, [rbp+8]; add [rbp+16], rax; inc dword [rbp-4]; movzx ecx, byte [rbp+1]; cmp qword [rbp], 5
    "memory": "488b4508 48014510 ff45fc 0fb64d01 48837d0005",
    # push rax; push rbx; pop rcx; pop rdx; call +1; ret(skipped); lea rsi, [rbp+rcx*2+4]
    "stack": "50 53 59 5a e801000000 c3 488d744d04",
    # mov ecx, 5; loop: dec ecx; add eax, ecx; jnz loop
    "loop": "b905000000 ffc9 01c8 75fa",
    # movdqu xmm0, [rbp]; pcmpeqb xmm0, [rbp+16]; pmovmskb eax, xmm0; pxor xmm1, xmm1; movq rbx, xmm1
    "sse": "f30f6f4500 660f744510 660fd7c0 660fefc9 66480f7ecb",
    # mov ecx, 8; rep stosb; lea rsi,[rbp]; lea rdi,[rbp+64]; mov ecx, 4; rep movsd
    "string": "b908000000 f3aa 488d7500 488d7d40 b904000000 f3a5",
}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, hexcode in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes.fromhex(hexcode.replace(" ", "")))


if __name__ == "__main__":
    main()

/* The default seccomp filter for the default capabilities, compiled at build time by
 * out/seccomp-gen (runtime/gen/seccomp-gen.c) and embedded as BPF instructions (see
 * runtime/seccomp.c), with its size computed here by the assembler. */
	.section .rodata.nsbox_seccomp, "a"
	.global nsbox_seccomp_default_bpf
	.global nsbox_seccomp_default_bpf_size
	.balign 8
nsbox_seccomp_default_bpf:
	.incbin SECCOMP_BPF_PATH
nsbox_seccomp_default_bpf_end:
	.balign 8
nsbox_seccomp_default_bpf_size:
	.quad nsbox_seccomp_default_bpf_end - nsbox_seccomp_default_bpf
	.section .note.GNU-stack, "", @progbits

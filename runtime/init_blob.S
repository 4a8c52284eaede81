/* The nsbox-init binary, embedded as bytes (see runtime/initmem.c), with its size computed
 * here by the assembler, so that C never subtracts pointers to two different objects. */
	.section .rodata.nsbox_init, "a"
	.global nsbox_init_blob
	.global nsbox_init_blob_size
	.balign 16
nsbox_init_blob:
	.incbin INIT_PATH
nsbox_init_blob_end:
	.balign 8
nsbox_init_blob_size:
	.quad nsbox_init_blob_end - nsbox_init_blob
	.section .note.GNU-stack, "", @progbits

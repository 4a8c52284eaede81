/* The nsbox-init binary, embedded as bytes (see runtime/initmem.c). */
	.section .rodata.nsbox_init, "a"
	.global nsbox_init_blob
	.global nsbox_init_blob_end
	.balign 16
nsbox_init_blob:
	.incbin INIT_PATH
nsbox_init_blob_end:
	.section .note.GNU-stack, "", @progbits

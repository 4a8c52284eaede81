/* Build-time generator: compiles nsbox's default seccomp profile for the default capability
 * set with libseccomp and writes the BPF instructions to the file named by its argument, which
 * seccomp_blob.S embeds in nsbox. Containers with the default capabilities then start without
 * running libseccomp at all. Usage: seccomp-gen OUTPUT */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "../caps.h"
#include "../seccomp.h"
#include "../util.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: seccomp-gen OUTPUT\n", stderr);
    return 2;
  }
  nsbox_progname = "seccomp-gen";
  nsbox_error_t err = {0};
  struct nsbox_seccomp_prog prog;
  if (nsbox_seccomp_compile_default(caps_default(), &prog, &err) < 0) {
    nsbox_print_error(&err);
    return 1;
  }
  int r = write_file_at(AT_FDCWD, argv[1], (const char *)prog.filter,
                        prog.len * sizeof(struct sock_filter), 0644, true);
  if (r < 0) {
    nsbox_fail(&err, -r, "write %s", argv[1]);
    nsbox_print_error(&err);
    return 1;
  }
  nsbox_seccomp_prog_free(&prog);
  return 0;
}

/* Unit tests of the runtime's pure helpers: parsers, id-map arithmetic, the one-line
 * diagnosis of refused user namespaces. Prints "N passed, N failed"; exits 1 on a failure. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../runtime/image.h"
#include "../../runtime/userns.h"
#include "../../runtime/util.h"

#include "check.h"

static void check_ref(const char *in, const char *want) {
  char *got = image_normalize_ref(in);
  if (want == NULL)
    CHECK(got == NULL);
  else
    CHECK(got != NULL && strcmp(got, want) == 0);
  free(got);
}

static void test_refs(void) {
  check_ref("busybox", "busybox:latest");
  check_ref("busybox:1.36", "busybox:1.36");
  check_ref("localhost:5000/a/b", "localhost:5000/a/b:latest");
  check_ref("localhost:5000/a/b:v1", "localhost:5000/a/b:v1");
  check_ref("../x", NULL);
  check_ref("a/../b", NULL);
  check_ref("a b", NULL);
  check_ref("", NULL);
  check_ref("-x", NULL);
  check_ref("a//b", NULL);
}

static void test_parse_ulong(void) {
  unsigned long v = 0;
  CHECK(parse_ulong("0", &v) == 0 && v == 0);
  CHECK(parse_ulong("65534", &v) == 0 && v == 65534);
  CHECK(parse_ulong("-1", &v) < 0);
  CHECK(parse_ulong("12x", &v) < 0);
  CHECK(parse_ulong("", &v) < 0);
  CHECK(parse_ulong(NULL, &v) < 0);
  CHECK(parse_ulong("99999999999999999999999", &v) < 0);
}

static void test_idmaps(void) {
  struct nsbox_idmaps m = {
      .uid = {{0, 1000, 1}, {1, 100000, 65536}}, .gid = {{0, 1000, 1}}, .n_uid = 2, .n_gid = 1};
  CHECK(idmaps_maps(&m, true, 0));
  CHECK(idmaps_maps(&m, true, 1));
  CHECK(idmaps_maps(&m, true, 65536));
  CHECK(!idmaps_maps(&m, true, 65537));
  CHECK(idmaps_maps(&m, false, 0));
  CHECK(!idmaps_maps(&m, false, 5));
}

static void put(const char *dir, const char *name, const char *val) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  char *slash = strrchr(path, '/');
  *slash = '\0';
  mkdir_p(path, 0755);
  *slash = '/';
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(val, f);
    fclose(f);
  }
}

static const char *diagnose(const char *dir, int errnum) {
  static nsbox_error_t err;
  memset(&err, 0, sizeof(err));
  userns_diagnose(dir, errnum, "cannot create a user namespace", &err);
  return err.msg;
}

static void test_diagnose(void) {
  char dir[] = "/tmp/nsbox-unit.XXXXXX";
  if (mkdtemp(dir) == NULL) {
    failed++;
    return;
  }
  /* No knob set: the plain reason. */
  CHECK(strcmp(diagnose(dir, EPERM), "cannot create a user namespace: Operation not permitted") ==
        0);
  CHECK(strstr(diagnose(dir, ENOSPC), "limit is reached") != NULL);
  put(dir, "kernel/apparmor_restrict_unprivileged_userns", "1\n");
  CHECK(strstr(diagnose(dir, EPERM), "kernel.apparmor_restrict_unprivileged_userns=1") != NULL);
  CHECK(strstr(diagnose(dir, EPERM), "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"));
  put(dir, "user/max_user_namespaces", "0\n");
  CHECK(strstr(diagnose(dir, ENOSPC), "user.max_user_namespaces=0") != NULL);
  put(dir, "kernel/unprivileged_userns_clone", "0\n");
  CHECK(strstr(diagnose(dir, EPERM), "kernel.unprivileged_userns_clone=0") != NULL);
  CHECK(strstr(diagnose(dir, EPERM), "sysctl -w kernel.unprivileged_userns_clone=1") != NULL);
  /* One line, always. */
  CHECK(strchr(diagnose(dir, EPERM), '\n') == NULL);
  put(dir, "kernel/unprivileged_userns_clone", "1\n");
  put(dir, "user/max_user_namespaces", "15000\n");
  put(dir, "kernel/apparmor_restrict_unprivileged_userns", "0\n");
  CHECK(strcmp(diagnose(dir, EPERM), "cannot create a user namespace: Operation not permitted") ==
        0);
  rm_rf_at(-100, dir);
}

static void test_rm_rf(void) {
  char dir[] = "/tmp/nsbox-unit.XXXXXX";
  if (mkdtemp(dir) == NULL) {
    failed++;
    return;
  }
  char p[600];
  snprintf(p, sizeof(p), "%s/a/b/c", dir);
  mkdir_p(p, 0755);
  put(dir, "a/b/c/f", "x");
  /* A symlink to a directory outside must be removed, never followed. */
  char outside[] = "/tmp/nsbox-unit-out.XXXXXX";
  CHECK(mkdtemp(outside) != NULL);
  put(outside, "keep", "x");
  snprintf(p, sizeof(p), "%s/a/link", dir);
  CHECK(symlink(outside, p) == 0);
  /* An unreadable directory we own is opened up and removed. */
  snprintf(p, sizeof(p), "%s/a/b", dir);
  chmod(p, 0);
  CHECK(rm_rf_at(-100, dir) == 0);
  CHECK(access(dir, F_OK) < 0);
  snprintf(p, sizeof(p), "%s/keep", outside);
  CHECK(access(p, F_OK) == 0);
  rm_rf_at(-100, outside);
}

int main(void) {
  test_refs();
  test_parse_ulong();
  test_idmaps();
  test_diagnose();
  test_rm_rf();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

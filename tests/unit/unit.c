/* Unit tests of the runtime's pure helpers: parsers, id-map arithmetic, the one-line
 * diagnosis of refused user namespaces, the JSON parser, the seccomp profiles (compiled, and
 * loaded in a child to see them act), the limit options and capability names. Prints
 * "N passed, N failed"; exits 1 on a failure. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../runtime/caps.h"
#include "../../runtime/image.h"
#include "../../runtime/json.h"
#include "../../runtime/limits.h"
#include "../../runtime/seccomp.h"
#include "../../runtime/userns.h"
#include "../../runtime/util.h"

#include "check.h"
#include "tests.h"

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

/* ---- JSON (runtime/json.c) --------------------------------------------------------------- */

/* Parses text (NUL-terminated) into v; returns json_parse's result, err left in jerr. */
static nsbox_error_t jerr;
static int parse(const char *text, struct json_value *v) {
  memset(&jerr, 0, sizeof(jerr));
  return json_parse(text, strlen(text), v, &jerr);
}

static void test_json_values(void) {
  struct json_value v;
  CHECK(parse(" {\"a\": [1, -2, 3.5, true, false, null], \"b\": {\"c\": \"d\"}}\n", &v) == 0);
  CHECK(v.type == JSON_OBJECT && v.u.obj.n == 2);
  const struct json_value *a = json_get(&v, "a");
  CHECK(a != NULL && a->type == JSON_ARRAY && a->u.arr.n == 6);
  if (a && a->type == JSON_ARRAY && a->u.arr.n == 6) {
    uint64_t u;
    int64_t i;
    CHECK(json_u64(&a->u.arr.items[0], &u) == 0 && u == 1);
    CHECK(json_u64(&a->u.arr.items[1], &u) < 0);
    CHECK(json_i64(&a->u.arr.items[1], &i) == 0 && i == -2);
    CHECK(json_u64(&a->u.arr.items[2], &u) < 0 && a->u.arr.items[2].u.num.d == 3.5);
    CHECK(a->u.arr.items[3].type == JSON_BOOL && a->u.arr.items[3].u.boolean);
    CHECK(a->u.arr.items[4].type == JSON_BOOL && !a->u.arr.items[4].u.boolean);
    CHECK(a->u.arr.items[5].type == JSON_NULL);
  }
  const struct json_value *c = json_get(json_get(&v, "b"), "c");
  CHECK(c != NULL && c->type == JSON_STRING && strcmp(c->u.str.s, "d") == 0);
  CHECK(json_get(&v, "missing") == NULL && json_get(a, "a") == NULL);
  json_free(&v);
  CHECK(v.type == JSON_NULL);

  /* Escapes, \u with a surrogate pair, and a NUL that the length keeps. */
  CHECK(parse("\"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t \\u00e9\\u20ac\\ud83d\\ude00 \\u0000x\"", &v) == 0);
  CHECK(v.type == JSON_STRING && v.u.str.len == 24);
  CHECK(memcmp(v.u.str.s, "q\"b\\s/\b\f\n\r\t \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \0x", 25) == 0);
  json_free(&v);
  CHECK(parse("\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", &v) == 0 && v.u.str.len == 10);
  json_free(&v);

  /* Integers to the edges of 64 bits; beyond them, or with a fraction, numbers only. */
  uint64_t u;
  int64_t i;
  CHECK(parse("18446744073709551615", &v) == 0 && json_u64(&v, &u) == 0 && u == UINT64_MAX);
  CHECK(json_i64(&v, &i) < 0);
  CHECK(parse("18446744073709551616", &v) == 0 && v.type == JSON_NUMBER && json_u64(&v, &u) < 0);
  CHECK(parse("-9223372036854775808", &v) == 0 && json_i64(&v, &i) == 0 && i == INT64_MIN);
  CHECK(parse("-9223372036854775809", &v) == 0 && json_i64(&v, &i) < 0);
  CHECK(parse("-0", &v) == 0 && json_u64(&v, &u) == 0 && u == 0);
  CHECK(parse("1e3", &v) == 0 && json_u64(&v, &u) < 0 && v.u.num.d == 1000.0);
  CHECK(parse("0.5E-1", &v) == 0 && v.u.num.d == 0.05);
  CHECK(parse("[]", &v) == 0 && v.type == JSON_ARRAY && v.u.arr.n == 0);
  CHECK(parse("{}", &v) == 0 && v.type == JSON_OBJECT && v.u.obj.n == 0);
  CHECK(parse("\t\r\n \"\" \n", &v) == 0 && v.type == JSON_STRING && v.u.str.len == 0);
  json_free(&v);

  /* The depth limit: JSON_MAX_DEPTH levels parse, one more does not. */
  char deep[2 * JSON_MAX_DEPTH + 3];
  memset(deep, '[', JSON_MAX_DEPTH);
  memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
  deep[2 * JSON_MAX_DEPTH] = '\0';
  CHECK(parse(deep, &v) == 0);
  json_free(&v);
  memset(deep, '[', JSON_MAX_DEPTH + 1);
  memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
  deep[2 * JSON_MAX_DEPTH + 2] = '\0';
  CHECK(parse(deep, &v) < 0 && strstr(jerr.msg, "nested deeper than 64") != NULL);
}

/* text must not parse, with an error that contains want (and is one line). */
static void check_json_error(const char *text, size_t len, const char *want) {
  struct json_value v;
  memset(&jerr, 0, sizeof(jerr));
  int r = json_parse(text, len, &v, &jerr);
  CHECK(r < 0);
  CHECK(v.type == JSON_NULL);
  if (r < 0 && (strstr(jerr.msg, want) == NULL || strchr(jerr.msg, '\n') != NULL)) {
    failed++;
    printf("FAIL json error for %.40s: got \"%s\", want \"%s\"\n", text, jerr.msg, want);
  }
  if (r == 0)
    json_free(&v);
}
#define BAD_JSON(text, want) check_json_error(text, sizeof(text) - 1, want)

static void test_json_errors(void) {
  BAD_JSON("", "expected a value, found the end of the text");
  BAD_JSON("   ", "line 1, column 4 (byte 3): expected a value");
  BAD_JSON("[1,\n  2,\n  x]", "line 3, column 3 (byte 11): expected a value, found 'x'");
  BAD_JSON("{", "expected a string key");
  BAD_JSON("[1,]", "trailing ','");
  BAD_JSON("{\"a\":1,}", "trailing ','");
  BAD_JSON("[1 2]", "expected ',' or ']'");
  BAD_JSON("{\"a\" 1}", "expected ':' after the key \"a\"");
  BAD_JSON("{1:2}", "expected a string key");
  BAD_JSON("{\"a\":1 \"b\":2}", "expected ',' or '}'");
  BAD_JSON("{\"a\":1,\"b\":2,\"a\":3}", "the key \"a\" appears twice");
  BAD_JSON("01", "may not start with 0");
  BAD_JSON("1.", "digit after '.'");
  BAD_JSON(".5", "expected a value, found '.'");
  BAD_JSON("-", "digit after '-'");
  BAD_JSON("+1", "expected a value, found '+'");
  BAD_JSON("1e", "exponent");
  BAD_JSON("1 2", "unexpected '2' after the value");
  BAD_JSON("NaN", "expected a value");
  BAD_JSON("Infinity", "expected a value");
  BAD_JSON("tru", "expected a value");
  BAD_JSON("nul", "expected a value");
  BAD_JSON("// c\n{}", "expected a value, found '/'");
  BAD_JSON("\"abc", "not closed");
  BAD_JSON("\"\\x\"", "unknown escape \\x");
  BAD_JSON("\"\\u12\"", "four hex digits");
  BAD_JSON("\"\\u12G4\"", "four hex digits");
  BAD_JSON("\"\\ud800\"", "high surrogate");
  BAD_JSON("\"\\ud800\\u0041\"", "high surrogate");
  BAD_JSON("\"\\udc00\"", "lone low surrogate");
  BAD_JSON("\"a\nb\"", "control character (0x0a)");
  BAD_JSON("\"\xff\"", "invalid UTF-8");
  BAD_JSON("\"\xc0\xaf\"", "invalid UTF-8");         /* overlong '/' */
  BAD_JSON("\"\xed\xa0\x80\"", "invalid UTF-8");     /* a surrogate, encoded */
  BAD_JSON("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* above U+10FFFF */
  BAD_JSON("\"\xe2\x82\"", "invalid UTF-8");         /* cut short */
  BAD_JSON("\xef\xbb\xbf{}", "byte 0xef");           /* a byte-order mark */
  BAD_JSON("[1]\0", "unexpected byte 0x00");
}

/* ---- seccomp (runtime/seccomp.c) ------------------------------------------------------------ */

static char scdir[] = "/tmp/nsbox-unit-seccomp.XXXXXX";
static nsbox_error_t scerr;

/* Compiles the profile text (written to a file) or, when text is NULL, the default profile. */
static int compile(const char *text, uint64_t caps, struct nsbox_seccomp_prog *p) {
  static int n;
  char name[32];
  snprintf(name, sizeof(name), "p%d.json", n++);
  struct nsbox_security sec = {.seccomp = SECCOMP_DEFAULT};
  char path[128];
  if (text != NULL) {
    put(scdir, name, text);
    snprintf(path, sizeof(path), "%s/%s", scdir, name);
    sec.seccomp = SECCOMP_PROFILE;
    sec.seccomp_profile = path;
  }
  memset(&scerr, 0, sizeof(scerr));
  return nsbox_seccomp_prepare(&sec, caps, p, &scerr);
}

/* The profile must be refused with a one-line message holding want. */
static void check_profile_error(const char *text, const char *want) {
  struct nsbox_seccomp_prog p;
  int r = compile(text, 0, &p);
  CHECK(r < 0 && p.len == 0 && p.filter == NULL);
  if (r < 0 && (strstr(scerr.msg, want) == NULL || strstr(scerr.msg, "seccomp profile ") == NULL ||
                strchr(scerr.msg, '\n') != NULL)) {
    failed++;
    printf("FAIL profile error: got \"%s\", want \"%s\"\n", scerr.msg, want);
  }
  nsbox_seccomp_prog_free(&p);
}

static void test_seccomp_profiles(void) {
  if (mkdtemp(scdir) == NULL) {
    failed++;
    return;
  }
  CHECK(nsbox_seccomp_default_check() == NULL);
  if (nsbox_seccomp_default_check())
    printf("FAIL default profile: %s\n", nsbox_seccomp_default_check());
  struct nsbox_seccomp_prog p;
  CHECK(compile(NULL, 0, &p) == 0 && p.len > 100 && p.len <= 4096 && p.filter != NULL);
  nsbox_seccomp_prog_free(&p);
  CHECK(p.len == 0 && p.filter == NULL);
  struct nsbox_security none = {.seccomp = SECCOMP_UNCONFINED};
  CHECK(nsbox_seccomp_prepare(&none, 0, &p, &scerr) == 0 && p.len == 0 && p.filter == NULL);

  /* Good profiles, with the parts docker's and podman's use; unknown calls are skipped. */
  CHECK(compile("{\"defaultAction\": \"SCMP_ACT_ALLOW\"}", 0, &p) == 0 && p.len > 0);
  nsbox_seccomp_prog_free(&p);
  static const char good[] =
      "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 38,"
      " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\","
      "   \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]},"
      "  {\"architecture\": \"SCMP_ARCH_RISCV64\", \"subArchitectures\": null}],"
      " \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],"
      " \"syscalls\": [{\"names\": [\"read\", \"write\", \"no_such_call\"],"
      "   \"action\": \"SCMP_ACT_ALLOW\", \"args\": null, \"comment\": \"\","
      "   \"includes\": {}, \"excludes\": {}},"
      "  {\"name\": \"personality\", \"action\": \"SCMP_ACT_ALLOW\","
      "   \"args\": [{\"index\": 0, \"value\": 8, \"valueTwo\": 0, \"op\": \"SCMP_CMP_EQ\"}]},"
      "  {\"names\": [\"bpf\"], \"action\": \"SCMP_ACT_ALLOW\","
      "   \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"], \"minKernel\": \"4.8\"}},"
      "  {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"},"
      "  {\"names\": [\"tkill\"], \"action\": \"SCMP_ACT_TRAP\"},"
      "  {\"names\": [\"uname\"], \"action\": \"SCMP_ACT_LOG\"},"
      "  {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_TRACE\", \"errnoRet\": 7},"
      "  {\"names\": [\"clone3\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38}]}";
  CHECK(compile(good, 0, &p) == 0);
  CHECK(p.len > 0 && p.flags == 2 /* SECCOMP_FILTER_FLAG_LOG */);
  nsbox_seccomp_prog_free(&p);

  /* Bad ones: one clear line each, and nothing compiled. */
  struct nsbox_security missing = {.seccomp = SECCOMP_PROFILE,
                                   .seccomp_profile = "/nonexistent/profile.json"};
  CHECK(nsbox_seccomp_prepare(&missing, 0, &p, &scerr) < 0 &&
        strcmp(scerr.msg, "seccomp profile /nonexistent/profile.json: No such file or "
                          "directory") == 0);
  struct nsbox_security dir = {.seccomp = SECCOMP_PROFILE, .seccomp_profile = scdir};
  CHECK(nsbox_seccomp_prepare(&dir, 0, &p, &scerr) < 0 && strstr(scerr.msg, "not a regular file"));
  check_profile_error("", "line 1, column 1 (byte 0): expected a value");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\",}", "trailing ','");
  check_profile_error("[]", "the profile: expected an object, not an array");
  check_profile_error("{}", "no \"defaultAction\"");
  check_profile_error("{\"defaultAction\": 1}", "defaultAction: expected a string, not a number");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_FOO\"}",
                      "defaultAction: unknown action \"SCMP_ACT_FOO\"");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", "not supported");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/x\"}",
                      "not supported");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": -1}",
                      "defaultErrnoRet: expected an integer from 0 to 4095");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscall\": []}",
                      "line 1: the profile: unknown key \"syscall\"");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"x86\"]}",
                      "architectures[0]: unknown architecture \"x86\"");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\","
                      " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\","
                      " \"subArchitectures\": [\"SCMP_ARCH_Z80\"]}]}",
                      "archMap[0].subArchitectures[0]: unknown architecture \"SCMP_ARCH_Z80\"");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\","
                      " \"architectures\": [\"SCMP_ARCH_X86\"],"
                      " \"archMap\": [{\"architecture\": \"SCMP_ARCH_X86_64\"}]}",
                      "both \"architectures\" and \"archMap\"");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_X\"]}",
                      "flags[0]: unsupported flag");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": {}}",
                      "syscalls: expected an array, not an object");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n \"syscalls\": [\n"
                      "  {\"names\": \"mkdir\", \"action\": \"SCMP_ACT_ERRNO\"}]}",
                      "line 3: syscalls[0].names: expected an array, not a string");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"mkdir\", 3], \"action\": \"SCMP_ACT_ERRNO\"}]}",
                      "syscalls[0].names[1]: expected a string, not a number");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_BOGUS\"}]}",
                      "syscalls[0].action: unknown action \"SCMP_ACT_BOGUS\"");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"mkdir\"]}]}",
                      "syscalls[0]: no \"action\"");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"action\": \"SCMP_ACT_ERRNO\"}]}",
                      "syscalls[0]: no \"name\" or \"names\"");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"name\": \"a\", \"names\": [\"b\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
                      "both \"name\" and \"names\"");
  check_profile_error(
      "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
      "{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1.5}]}",
      "syscalls[0].errnoRet: expected an integer from 0 to 4095");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\","
                      " \"args\": [{\"index\": 0, \"value\": 1, \"op\": \"SCMP_CMP_FOO\"}]}]}",
                      "syscalls[0].args[0].op: unknown operator \"SCMP_CMP_FOO\"");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\","
                      " \"args\": [{\"index\": 6, \"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                      "syscalls[0].args[0].index: expected an integer from 0 to 5");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\","
                      " \"args\": [{\"index\": 0, \"value\": -1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                      "syscalls[0].args[0].value: expected an integer from 0 to");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\","
                      " \"args\": [{\"value\": 1, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                      "syscalls[0].args[0]: no \"index\"");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\","
                      " \"includes\": {\"minKernel\": \"four\"}}]}",
                      "syscalls[0].includes.minKernel: expected a kernel version");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\","
                      " \"excludes\": {\"caps\": \"CAP_KILL\"}}]}",
                      "syscalls[0].excludes.caps: expected an array, not a string");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"mk\\u0000dir\"], \"action\": \"SCMP_ACT_ERRNO\"}]}",
                      "a NUL character");
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_\\nX\"}]}",
                      "unknown action \"SCMP_ACT_?X\"");
  /* A rule that does not apply here is still checked. */
  check_profile_error("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_NOPE\","
                      " \"includes\": {\"arches\": [\"z80\"]}}]}",
                      "unknown action \"SCMP_ACT_NOPE\"");
}

/* Runs fn in a child under the filter p (with no_new_privs); returns what fn returned, or
 * -1000 - signal when the child died by one. */
static int under_filter(const struct nsbox_seccomp_prog *p, int (*fn)(void)) {
  int fds[2];
  if (pipe(fds) < 0)
    return -999;
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    nsbox_error_t e = {0};
    int r =
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || nsbox_seccomp_load(p, &e) < 0 ? -998 : fn();
    if (write(fds[1], &r, sizeof(r)) < 0)
      _exit(1);
    _exit(0);
  }
  close(fds[1]);
  int r = -997, st = 0;
  ssize_t n = read(fds[0], &r, sizeof(r));
  close(fds[0]);
  waitpid(pid, &st, 0);
  if (n != (ssize_t)sizeof(r))
    return WIFSIGNALED(st) ? -1000 - WTERMSIG(st) : -996;
  return r;
}

/* The calls: 0 or -errno. */
static int sys0(long r) {
  return r < 0 ? -errno : 0;
}
static int do_mkdir(void) {
  char d[160];
  snprintf(d, sizeof(d), "%s/made.%d", scdir, (int)getpid());
  int r = sys0(mkdir(d, 0700));
  rmdir(d);
  return r;
}
static int do_getpid(void) {
  return sys0(syscall(SYS_getpid));
}
static int do_keyctl(void) {
  return sys0(syscall(SYS_keyctl, 0x7fffffff, 0, 0, 0, 0));
}
static int do_clone3(void) {
  return sys0(syscall(SYS_clone3, NULL, 0));
}
static int do_unshare_user(void) {
  return sys0(syscall(SYS_unshare, CLONE_NEWUSER));
}
static int do_personality_norandom(void) {
  return sys0(syscall(SYS_personality, 0x0040000));
}
static int do_personality_query(void) {
  return sys0(syscall(SYS_personality, 0xffffffffL));
}
static int do_kill0(void) {
  return sys0(kill(getpid(), 0));
}
static int do_kill_cont(void) {
  return sys0(kill(getpid(), SIGCONT));
}
static int do_kill_winch(void) {
  return sys0(kill(getpid(), SIGWINCH));
}
static int do_socket_unix(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  return fd < 0 ? -errno : 0;
}

static void test_seccomp_filters(void) {
  struct nsbox_seccomp_prog p;
  /* The default profile. */
  if (compile(NULL, 0, &p) == 0) {
    CHECK(under_filter(&p, do_getpid) == 0);
    CHECK(under_filter(&p, do_mkdir) == 0);
    CHECK(under_filter(&p, do_keyctl) == -EPERM);
    CHECK(under_filter(&p, do_clone3) == -ENOSYS);
    CHECK(under_filter(&p, do_unshare_user) == -EPERM);
    CHECK(under_filter(&p, do_personality_norandom) == -EPERM);
    CHECK(under_filter(&p, do_personality_query) == 0);
    CHECK(under_filter(&p, do_socket_unix) == 0);
    nsbox_seccomp_prog_free(&p);
  } else {
    CHECK(!"the default profile compiles");
  }
  /* With CAP_SYS_ADMIN a nested user namespace is the kernel's business again. */
  if (compile(NULL, 1ULL << 21 /* CAP_SYS_ADMIN */, &p) == 0) {
    struct nsbox_seccomp_prog none = {0};
    CHECK(under_filter(&p, do_unshare_user) == under_filter(&none, do_unshare_user));
    CHECK(under_filter(&p, do_keyctl) == -EPERM);
    nsbox_seccomp_prog_free(&p);
  }
  /* A profile allowing all but mkdir and mkdirat. */
  const char *no_mkdir = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                         "{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\","
                         " \"errnoRet\": 1}]}";
  if (compile(no_mkdir, 0, &p) == 0) {
    CHECK(under_filter(&p, do_mkdir) == -EPERM);
    CHECK(under_filter(&p, do_getpid) == 0);
    nsbox_seccomp_prog_free(&p);
  } else {
    CHECK(!"a profile without mkdir compiles");
  }
  /* defaultErrnoRet, and args: kill with signal 0 or SIGCONT (one index twice: either). */
  const char *args = "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 13,"
                     " \"syscalls\": [{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\","
                     " \"errnoRet\": 22, \"args\": [{\"index\": 1, \"value\": 0, \"op\": "
                     "\"SCMP_CMP_EQ\"}, {\"index\": 1, \"value\": 18, \"op\": \"SCMP_CMP_EQ\"}]},"
                     " {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": "
                     "[{\"index\": 1, \"value\": 28, \"op\": \"SCMP_CMP_EQ\"}]},"
                     " {\"names\": [\"getpid\", \"write\", \"exit_group\", \"exit\", \"mkdir\","
                     " \"mkdirat\", \"rmdir\", \"unlinkat\", \"rt_sigprocmask\", \"rt_sigaction\","
                     " \"rt_sigreturn\", \"getuid\"], \"action\": \"SCMP_ACT_ALLOW\"}]}";
  if (compile(args, 0, &p) == 0) {
    CHECK(under_filter(&p, do_kill0) == -EINVAL);
    CHECK(under_filter(&p, do_kill_cont) == -EINVAL);
    CHECK(under_filter(&p, do_kill_winch) == 0);
    CHECK(under_filter(&p, do_keyctl) == -EACCES);
    CHECK(under_filter(&p, do_getpid) == 0);
    nsbox_seccomp_prog_free(&p);
  } else {
    CHECK(!"a profile with args compiles");
    printf("  %s\n", scerr.msg);
  }
  /* includes.caps and excludes.arches decide whether a rule is there at all. */
  const char *conds = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                      "{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\","
                      " \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},"
                      " {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ERRNO\","
                      " \"excludes\": {\"arches\": [\"amd64\", \"arm64\", \"x86\", \"arm\","
                      " \"ppc64le\", \"s390x\", \"riscv64\"]}},"
                      " {\"names\": [\"keyctl\"], \"action\": \"SCMP_ACT_ERRNO\","
                      " \"excludes\": {\"minKernel\": \"999.0\"}}]}";
  if (compile(conds, 0, &p) == 0) {
    CHECK(under_filter(&p, do_mkdir) == 0);
    CHECK(under_filter(&p, do_getpid) == 0);
    CHECK(under_filter(&p, do_keyctl) == -EPERM);
    nsbox_seccomp_prog_free(&p);
  }
  if (compile(conds, 1ULL << 21, &p) == 0) {
    CHECK(under_filter(&p, do_mkdir) == -EPERM);
    nsbox_seccomp_prog_free(&p);
  }
  rm_rf_at(-100, scdir);
}

/* The filter embedded at build time is exactly what libseccomp compiles now: the default
 * profile cannot go stale in the binary. */
static void test_seccomp_prebuilt(void) {
  struct nsbox_security sec = {.seccomp = SECCOMP_DEFAULT};
  struct nsbox_seccomp_prog built = {0}, fresh = {0};
  nsbox_error_t err = {0};
  CHECK(nsbox_seccomp_prepare(&sec, caps_default(), &built, &err) == 0);
  CHECK(nsbox_seccomp_compile_default(caps_default(), &fresh, &err) == 0);
  CHECK(built.len > 0 && built.len == fresh.len &&
        memcmp(built.filter, fresh.filter, built.len * sizeof(*built.filter)) == 0);
  nsbox_seccomp_prog_free(&built);
  nsbox_seccomp_prog_free(&fresh);
}

static void test_limits(void) {
  char why[160];
  int64_t v = 0;
  CHECK(limits_parse_size("64m", 0, &v, why, sizeof(why)) == 0 && v == 64LL << 20);
  CHECK(limits_parse_size("64MiB", 0, &v, why, sizeof(why)) == 0 && v == 64LL << 20);
  CHECK(limits_parse_size("64mb", 0, &v, why, sizeof(why)) == 0 && v == 64LL << 20);
  CHECK(limits_parse_size("1.5g", 0, &v, why, sizeof(why)) == 0 && v == 3LL << 29);
  CHECK(limits_parse_size("512k", 0, &v, why, sizeof(why)) == 0 && v == 512LL << 10);
  CHECK(limits_parse_size("1048576", 0, &v, why, sizeof(why)) == 0 && v == 1048576);
  CHECK(limits_parse_size("100b", 0, &v, why, sizeof(why)) == 0 && v == 100);
  CHECK(limits_parse_size("1.5", 0, &v, why, sizeof(why)) < 0);
  CHECK(limits_parse_size("", 0, &v, why, sizeof(why)) < 0);
  CHECK(limits_parse_size("m", 0, &v, why, sizeof(why)) < 0);
  CHECK(limits_parse_size("-1m", 0, &v, why, sizeof(why)) < 0);
  CHECK(limits_parse_size("12x", 0, &v, why, sizeof(why)) < 0);
  CHECK(limits_parse_size("1.m", 0, &v, why, sizeof(why)) < 0);
  CHECK(limits_parse_size("99999999999t", 0, &v, why, sizeof(why)) < 0);
  CHECK(limits_parse_size("1k", 6 << 20, &v, why, sizeof(why)) < 0 && strstr(why, "6 MiB"));

  uint64_t q = 0, per = 0;
  CHECK(limits_parse_cpus("0.5", &q, &per, why, sizeof(why)) == 0 && q == 50000 && per == 100000);
  CHECK(limits_parse_cpus("2", &q, &per, why, sizeof(why)) == 0 && q == 200000);
  CHECK(limits_parse_cpus("1.25", &q, &per, why, sizeof(why)) == 0 && q == 125000);
  CHECK(limits_parse_cpus("0.001", &q, &per, why, sizeof(why)) < 0);
  CHECK(limits_parse_cpus("0", &q, &per, why, sizeof(why)) < 0);
  CHECK(limits_parse_cpus("-1", &q, &per, why, sizeof(why)) < 0);
  CHECK(limits_parse_cpus("one", &q, &per, why, sizeof(why)) < 0);

  /* crun's mapping: the ends of the ranges meet, and 1024 shares are weight 39. */
  CHECK(limits_shares_to_weight(2) == 1 && limits_shares_to_weight(262144) == 10000);
  CHECK(limits_weight_to_shares(1) == 2 && limits_weight_to_shares(10000) == 262144);
  CHECK(limits_shares_to_weight(1024) == 39);

  struct nsbox_rlimit rl;
  CHECK(limits_parse_ulimit("nofile=100:200", &rl, why, sizeof(why)) == 0 &&
        rl.resource == RLIMIT_NOFILE && rl.limit.rlim_cur == 100 && rl.limit.rlim_max == 200);
  CHECK(limits_parse_ulimit("CORE=0", &rl, why, sizeof(why)) == 0 && rl.resource == RLIMIT_CORE &&
        rl.limit.rlim_cur == 0 && rl.limit.rlim_max == 0);
  CHECK(limits_parse_ulimit("memlock=unlimited:-1", &rl, why, sizeof(why)) == 0 &&
        rl.limit.rlim_cur == RLIM_INFINITY && rl.limit.rlim_max == RLIM_INFINITY);
  CHECK(limits_parse_ulimit("nofile=200:100", &rl, why, sizeof(why)) < 0);
  CHECK(limits_parse_ulimit("nofile", &rl, why, sizeof(why)) < 0);
  CHECK(limits_parse_ulimit("files=1", &rl, why, sizeof(why)) < 0);
  CHECK(limits_parse_ulimit("nofile=1:", &rl, why, sizeof(why)) < 0);
  CHECK(limits_parse_ulimit("nofile=-2", &rl, why, sizeof(why)) < 0);

  char out[32];
  limits_format_size(64LL << 20, out, sizeof(out));
  CHECK(strcmp(out, "64 MiB") == 0);
  limits_format_size(3LL << 29, out, sizeof(out));
  CHECK(strcmp(out, "1.5 GiB") == 0);
  limits_format_size(100, out, sizeof(out));
  CHECK(strcmp(out, "100 bytes") == 0);
}

static void test_caps(void) {
  char why[160];
  uint64_t m = 0;
  CHECK(caps_parse("NET_ADMIN", &m, why, sizeof(why)) == 0 && m == 1ULL << 12);
  CHECK(caps_parse("cap_net_admin,CAP_KILL", &m, why, sizeof(why)) == 0 &&
        m == ((1ULL << 12) | (1ULL << 5)));
  CHECK(caps_parse("all", &m, why, sizeof(why)) == 0 && m == caps_all());
  CHECK(caps_parse("NET_ADMIN,", &m, why, sizeof(why)) < 0);
  CHECK(caps_parse("BOGUS", &m, why, sizeof(why)) < 0 && strstr(why, "BOGUS"));
  CHECK(caps_parse("", &m, why, sizeof(why)) < 0);
  /* podman's eleven */
  CHECK(caps_default() == 0x800405fbULL);
  CHECK((caps_all() & caps_default()) == caps_default());
}

int passed, failed;

int main(void) {
  test_refs();
  test_parse_ulong();
  test_idmaps();
  test_diagnose();
  test_rm_rf();
  test_json_values();
  test_json_errors();
  test_seccomp_profiles();
  test_seccomp_filters();
  test_seccomp_prebuilt();
  test_limits();
  test_caps();
  test_config_json();
  test_logfile();
  test_sha256();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

/* See caps.h. */
#include "caps.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "util.h"

#define BIT(c) (1ULL << (c))

uint64_t caps_default(void) {
  return BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FOWNER) | BIT(CAP_FSETID) |
         BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE) | BIT(CAP_SETFCAP) | BIT(CAP_SETGID) |
         BIT(CAP_SETPCAP) | BIT(CAP_SETUID) | BIT(CAP_SYS_CHROOT);
}

/* The highest capability of the running kernel (libcap reads /proc/sys/kernel/cap_last_cap). */
static int last_cap(void) {
  int n = (int)cap_max_bits() - 1;
  return n < 0 ? CAP_LAST_CAP : n > 63 ? 63 : n;
}

uint64_t caps_all(void) {
  int last = last_cap();
  return last >= 63 ? ~0ULL : BIT(last + 1) - 1;
}

static int parse_one(const char *name, size_t n, uint64_t *out) {
  char buf[48];
  if (n == 0 || n + 4 >= sizeof(buf))
    return -1;
  size_t off = 0;
  if (!(n > 4 && strncasecmp(name, "cap_", 4) == 0)) {
    memcpy(buf, "cap_", 4);
    off = 4;
  }
  for (size_t i = 0; i < n; i++)
    buf[off + i] = (char)tolower((unsigned char)name[i]);
  buf[off + n] = '\0';
  if (strcmp(buf, "cap_all") == 0) {
    *out |= caps_all();
    return 0;
  }
  cap_value_t v;
  if (cap_from_name(buf, &v) < 0 || v < 0 || v > 63)
    return -1;
  *out |= BIT(v);
  return 0;
}

int caps_parse(const char *list, uint64_t *out, char *why, size_t len) {
  uint64_t mask = 0;
  for (const char *p = list;;) {
    size_t n = strcspn(p, ",");
    if (parse_one(p, n, &mask) < 0) {
      snprintf(why, len, "\"%.*s\" is not a capability (such as NET_ADMIN, SYS_PTRACE or ALL)",
               (int)n, p);
      return -1;
    }
    if (p[n] == '\0')
      break;
    p += n + 1;
  }
  *out = mask;
  return 0;
}

uint64_t caps_available(void) {
  uint64_t have = 0;
  for (int c = 0; c <= last_cap(); c++)
    if (cap_get_bound((cap_value_t)c) == 1)
      have |= BIT(c);
  return have;
}

int caps_limit_bounding(uint64_t bounding, nsbox_error_t *err) {
  for (int c = 0; c <= last_cap(); c++)
    if (!(bounding & BIT(c)) && cap_drop_bound((cap_value_t)c) < 0)
      return nsbox_fail(err, errno, "drop capability %d from the bounding set", c);
  /* Without it the permitted set empties when a user other than 0 is taken. */
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return nsbox_fail(err, errno, "prctl(PR_SET_KEEPCAPS)");
  return 0;
}

static void free_cap(cap_t *c) {
  if (*c)
    cap_free(*c);
}

int caps_apply(uint64_t bounding, uint64_t added, bool root_user, nsbox_error_t *err) {
  uint64_t set = root_user ? bounding : (added & bounding);
  __attribute__((cleanup(free_cap))) cap_t c = cap_init();
  if (c == NULL)
    return nsbox_fail(err, errno, "cap_init");
  for (int v = 0; v <= last_cap(); v++) {
    if (!(set & BIT(v)))
      continue;
    cap_value_t cv = (cap_value_t)v;
    if (cap_set_flag(c, CAP_EFFECTIVE, 1, &cv, CAP_SET) < 0 ||
        cap_set_flag(c, CAP_PERMITTED, 1, &cv, CAP_SET) < 0 ||
        (!root_user && cap_set_flag(c, CAP_INHERITABLE, 1, &cv, CAP_SET) < 0))
      return nsbox_fail(err, errno, "cap_set_flag");
  }
  if (cap_set_proc(c) < 0)
    return nsbox_fail(err, errno, "set the container's capabilities");
  /* Ambient capabilities need the host kernel's support (4.3); only asked for with
   * --cap-add for a user other than root. */
  if (!root_user && set) {
    if (cap_reset_ambient() < 0)
      return nsbox_fail(err, errno, "reset ambient capabilities");
    for (int v = 0; v <= last_cap(); v++)
      if ((set & BIT(v)) && cap_set_ambient((cap_value_t)v, CAP_SET) < 0)
        return nsbox_fail(err, errno, "raise ambient capability %d", v);
  }
  return 0;
}

/* See limits.h. */
#include "limits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FAIL(...) (snprintf(why, len, __VA_ARGS__), -1)

/* Splits "12.5" into an integer part and a fraction scaled to `scale` (12, 0.5*scale), without
 * floating point, so that 0.1 GiB is exact to the byte. */
static int parse_decimal(const char **p, uint64_t scale, uint64_t *whole, uint64_t *frac) {
  const char *s = *p;
  if (*s < '0' || *s > '9')
    return -1;
  uint64_t w = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (w > (UINT64_MAX - 9) / 10)
      return -1;
    w = w * 10 + (uint64_t)(*s - '0');
  }
  uint64_t f = 0, div = 1;
  if (*s == '.') {
    s++;
    if (*s < '0' || *s > '9')
      return -1;
    for (; *s >= '0' && *s <= '9'; s++)
      if (div < 1000000000) { /* further digits are below any unit we scale to */
        f = f * 10 + (uint64_t)(*s - '0');
        div *= 10;
      }
  }
  *whole = w;
  *frac = (uint64_t)((unsigned __int128)f * scale / div);
  *p = s;
  return 0;
}

int limits_parse_size(const char *s, int64_t min, int64_t *out, char *why, size_t len) {
  const char *p = s;
  uint64_t whole, frac;
  /* The unit decides the scale of the fraction: find it first. */
  const char *u = s + strspn(s, "0123456789.");
  uint64_t scale = 1;
  /* k, m, g, t: 2^10, 2^20, 2^30, 2^40 */
  const char *units = "kmgt", *unit = NULL;
  char uc = *u == ' ' ? u[1] : *u;
  if (uc != '\0' && (unit = strchr(units, uc | 0x20)) != NULL)
    scale = 1ULL << (10 * (unit - units + 1));
  if (parse_decimal(&p, scale, &whole, &frac) < 0)
    return FAIL("\"%s\" is not a size (a number with an optional unit: 512k, 64m, 1.5g)", s);
  if (*p == ' ')
    p++;
  if (scale > 1)
    p++;
  /* "64m", "64mb", "64MiB", "64b" */
  if ((*p == 'i' || *p == 'I') && scale > 1)
    p++;
  if (*p == 'b' || *p == 'B')
    p++;
  if (*p != '\0')
    return FAIL("\"%s\" is not a size (a number with an optional unit: 512k, 64m, 1.5g)", s);
  if (scale == 1 && strchr(s, '.'))
    return FAIL("\"%s\": a size in bytes has no fraction", s);
  if (whole > (uint64_t)INT64_MAX / scale || whole * scale > (uint64_t)INT64_MAX - frac)
    return FAIL("\"%s\" is too large", s);
  int64_t v = (int64_t)(whole * scale + frac);
  if (v < min) {
    char m[32];
    limits_format_size(min, m, sizeof(m));
    return FAIL("\"%s\" is below the minimum of %s", s, m);
  }
  *out = v;
  return 0;
}

int limits_parse_cpus(const char *s, uint64_t *quota, uint64_t *period, char *why, size_t len) {
  const char *p = s;
  uint64_t whole, frac;
  /* The kernel's period is 100 ms by default, as docker and podman use it: N.N CPUs is
   * N.N * 100000 us of CPU time per 100000 us. */
  const uint64_t per = 100000;
  if (parse_decimal(&p, per, &whole, &frac) < 0 || *p != '\0')
    return FAIL("\"%s\" is not a number of CPUs (such as 0.5 or 2)", s);
  if (whole > 1000000)
    return FAIL("\"%s\" is too many CPUs", s);
  uint64_t q = whole * per + frac;
  if (q < 1000) /* cgroups refuse a quota below 1 ms */
    return FAIL("\"%s\": at least 0.01 CPUs", s);
  *quota = q;
  *period = per;
  return 0;
}

uint64_t limits_shares_to_weight(uint64_t shares) {
  if (shares < 2)
    shares = 2;
  if (shares > 262144)
    shares = 262144;
  return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t limits_weight_to_shares(uint64_t weight) {
  if (weight < 1)
    weight = 1;
  if (weight > 10000)
    weight = 10000;
  return 2 + ((weight - 1) * 262142) / 9999;
}

static const struct {
  const char *name;
  int resource;
} rlimit_names[] = {
    {"as", RLIMIT_AS},           {"core", RLIMIT_CORE},         {"cpu", RLIMIT_CPU},
    {"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},       {"locks", RLIMIT_LOCKS},
    {"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
    {"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},       {"rss", RLIMIT_RSS},
    {"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
    {"stack", RLIMIT_STACK},
};

static int parse_rlim(const char *s, rlim_t *out) {
  if (strcmp(s, "unlimited") == 0 || strcmp(s, "-1") == 0) {
    *out = RLIM_INFINITY;
    return 0;
  }
  if (*s < '0' || *s > '9')
    return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end != '\0' || v >= (unsigned long long)RLIM_INFINITY)
    return -1;
  *out = (rlim_t)v;
  return 0;
}

int limits_parse_ulimit(const char *s, struct nsbox_rlimit *out, char *why, size_t len) {
  const char *eq = strchr(s, '=');
  if (eq == NULL)
    return FAIL("\"%s\": expected NAME=SOFT[:HARD]", s);
  size_t nl = (size_t)(eq - s);
  int res = -1;
  for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
    if (strlen(rlimit_names[i].name) == nl && strncasecmp(s, rlimit_names[i].name, nl) == 0)
      res = rlimit_names[i].resource;
  if (res < 0)
    return FAIL("\"%.*s\" is not a limit (nofile, nproc, core, stack, memlock, cpu, fsize, as, "
                "data, locks, msgqueue, nice, rtprio, rttime, sigpending, rss)",
                (int)nl, s);
  char val[64];
  if (snprintf(val, sizeof(val), "%s", eq + 1) >= (int)sizeof(val))
    return FAIL("\"%s\": value too long", s);
  char *hard = strchr(val, ':');
  if (hard)
    *hard++ = '\0';
  struct rlimit rl;
  if (parse_rlim(val, &rl.rlim_cur) < 0 || (hard && parse_rlim(hard, &rl.rlim_max) < 0))
    return FAIL("\"%s\": SOFT and HARD must be numbers or \"unlimited\"", s);
  if (!hard)
    rl.rlim_max = rl.rlim_cur;
  if (rl.rlim_cur > rl.rlim_max)
    return FAIL("\"%s\": the soft limit is above the hard one", s);
  *out = (struct nsbox_rlimit){.resource = res, .limit = rl};
  return 0;
}

void limits_format_size(int64_t bytes, char *out, size_t len) {
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) {
    snprintf(out, len, "%lld bytes", (long long)bytes);
    return;
  }
  int u = 0;
  int64_t div = 1024;
  while (u < 3 && bytes >= div * 1024) {
    div *= 1024;
    u++;
  }
  int64_t whole = bytes / div, tenths = (bytes % div) * 10 / div;
  if (tenths)
    snprintf(out, len, "%lld.%lld %s", (long long)whole, (long long)tenths, units[u]);
  else
    snprintf(out, len, "%lld %s", (long long)whole, units[u]);
}

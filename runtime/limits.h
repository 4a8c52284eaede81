/* Parsing of the limit options of `nsbox run` (--memory, --cpus, --cpu-shares, --ulimit ...)
 * into the config's numbers, and the two cpu scales. Pure functions: no I/O. Each returns 0,
 * or -1 with `why` filled with the reason the value is refused. */
#ifndef NSBOX_LIMITS_H
#define NSBOX_LIMITS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* "64m", "1g", "512k", "1048576", "2.5g": bytes, with binary units b, k, m, g, t (docker's).
 * The result must be at least `min` bytes. */
int limits_parse_size(const char *s, int64_t min, int64_t *out, char *why, size_t len);

/* --cpus: "0.5", "2", "1.25" -> quota per 100 ms period (0.01 .. the machine's CPUs are
 * checked by the caller, not here). */
int limits_parse_cpus(const char *s, uint64_t *quota, uint64_t *period, char *why, size_t len);

/* crun's mapping between cgroup v1 cpu.shares (2..262144) and v2 cpu.weight (1..10000). */
uint64_t limits_shares_to_weight(uint64_t shares);
uint64_t limits_weight_to_shares(uint64_t weight);

/* --ulimit NAME=SOFT[:HARD] (docker's names: nofile, nproc, core, ...; "unlimited" or -1). */
int limits_parse_ulimit(const char *s, struct nsbox_rlimit *out, char *why, size_t len);

/* "64 MiB", "1.5 GiB", "512 KiB", "100 bytes": for messages. */
void limits_format_size(int64_t bytes, char *out, size_t len);

#endif

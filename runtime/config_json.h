/* The container's record (containers/ID/config.json): the config as `nsbox run` filled it,
 * written once at creation and read back by `nsbox start`, `exec` and `inspect`. The shape
 * follows the OCI runtime config (process, root, mounts, ...); what each start recomputes
 * (net.backend, net.port_fds, detach, userns, idmaps) is not part of it. */
#ifndef NSBOX_CONFIG_JSON_H
#define NSBOX_CONFIG_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

/* The record of c as pretty-printed JSON, created being the creation time (seconds). The
 * caller frees the text. */
char *config_to_json(const struct nsbox_config *c, int64_t created);

/* Reads a record back into *c, zeroed first; every string and array in it is malloc'd and
 * owned by c (free them with config_json_free()). Members that are absent or null read back
 * as zero or NULL; unknown members are ignored, so that an older nsbox reads a newer record.
 * created may be NULL. Returns 0, or -1 with err filled ("config.json: process.args:
 * expected an array of strings, not a string") and *c zeroed. */
int config_from_json(const char *text, size_t len, struct nsbox_config *c, int64_t *created,
                     nsbox_error_t *err);

/* Frees what config_from_json() put in c and zeroes it. The runtime-only fields (net.backend,
 * net.port_fds) are the caller's: a config with them set must have them freed first. */
void config_json_free(struct nsbox_config *c);

#endif

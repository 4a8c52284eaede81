/* Where nsbox keeps things. Rootless: $XDG_DATA_HOME/nsbox (images, containers' writable
 * layers and records) and $XDG_RUNTIME_DIR/nsbox (what exists only while a container runs);
 * root: /var/lib/nsbox and /run/nsbox; `--root DIR` puts both below DIR.
 *
 * Layout below the data dir:
 *   images/by-id/ID/{manifest.json,config.json,info}  an image (ID: its config's sha256)
 *   images/layers/DIFFID{/,.size}    a layer, unpacked (shared by the images that have it),
 *                                     and the bytes of its files
 *   images/l/SHORT -> ../layers/DIFFID  short names, for the overlay's lowerdir option
 *   images/blobs/sha256/DIGEST       layer blobs as loaded, for `image save`
 *   images/lock                      loads (shared) against rm's collection (exclusive)
 *   images/tags/REF -> ../by-id/ID    its names ('/' in REF stored as '%2F')
 *   containers/ID/{config,state,ctr.log,upper/,work/}  (the overlay is mounted on ID/ itself)
 *                                     config: its config (config_json.h); ctr.log: the output
 *                                     of a detached container (logfile.h)
 *   containers/.names/NAME -> ID      the unique-name reservation (symlink: atomic), for
 *                                     names given with --name
 * and below the run dir: ID (pid and start time while it runs), ID.cgroups (its cgroup dirs,
 * while they exist), ID.attach (a detached container's monitor socket, monitor.h) and, for
 * --rm containers, ID.config (their record: they exist only while they run). */
#ifndef NSBOX_STORE_H
#define NSBOX_STORE_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "config.h"
#include "error.h"

struct nsbox_store {
  char *data, *run;
  bool rootless;
  struct nsbox_idmaps idmaps; /* how rootless processes are mapped (import, rm, run) */
};

int store_open(struct nsbox_store *s, const char *root_override, nsbox_error_t *err);

/* CT_UNKNOWN: its record says it runs, but the recorded process is gone. */
enum container_status { CT_CREATED, CT_RUNNING, CT_EXITED, CT_UNKNOWN };

/* "created", "running", "exited", "unknown": the State of docker's and podman's JSON. */
const char *container_status_name(enum container_status st);

/* A container's record, as `ps` shows it. */
struct container_info {
  char id[65];
  char *name, *image, *image_id, *command;
  time_t created, started, finished;
  enum container_status status;
  int exit_code;
  pid_t pid;                                   /* the container's PID 1, while it runs */
  pid_t monitor;                               /* the `nsbox run` holding it, while that lives */
  unsigned long long pid_start, monitor_start; /* their start times (/proc/PID/stat) */
  bool remove;                                 /* started with --rm */
  bool oom;                                    /* the OOM killer ended its last run */
  char *addr;                                  /* its network address while it runs, when known */
};
void container_info_free(struct container_info *ci);

/* Settles the container's id, name, hostname and root paths; no I/O. */
void container_prepare(struct nsbox_store *s, struct nsbox_config *c);

/* Reserves the name, makes the container's dirs and writes its record. Nothing is left
 * behind on failure. */
int container_create(struct nsbox_store *s, const struct nsbox_config *c, nsbox_error_t *err);

/* The running state (run dir): pid is its first process, the caller its monitor; addr, when
 * not NULL, its network address. State files are written whole and renamed into place. */
int container_set_running(struct nsbox_store *s, const char *id, pid_t pid, const char *addr,
                          nsbox_error_t *err);
void container_clear_running(struct nsbox_store *s, const char *id);
int container_set_exited(struct nsbox_store *s, const char *id, int code, bool oom,
                         nsbox_error_t *err);

/* The whole config of a container, as it was created (config_json.h). */
int container_load_config(struct nsbox_store *s, const char *id, struct nsbox_config *c,
                          nsbox_error_t *err);

/* Takes the container's lock (flock of its dir), for the commands that change its state:
 * start, rm. Returns the fd that holds it, or -1 with err. */
int container_lock(struct nsbox_store *s, const char *id, nsbox_error_t *err);

/* Opens the container's log (containers/ID/ctr.log) for appending. */
int container_open_log(struct nsbox_store *s, const char *id, nsbox_error_t *err);
char *container_log_path(struct nsbox_store *s, const char *id);

struct nsbox_cgroup;

/* The container's cgroup dirs, recorded in the run dir (run/ID.cgroups) while they exist, so
 * that they are removed even when the `nsbox run` that made them was killed. */
int container_set_cgroups(struct nsbox_store *s, const char *id, const struct nsbox_cgroup *cg,
                          nsbox_error_t *err);
void container_clear_cgroups(struct nsbox_store *s, const char *id);

/* The recorded cgroup dirs of a running container, one a line; NULL when it has none. */
char *container_cgroups(struct nsbox_store *s, const char *id);

/* Removes the recorded cgroups of containers whose `nsbox run` is gone. */
void container_reclaim_cgroups(struct nsbox_store *s);

/* Removes everything of a container (its layer through the user namespace when files in it
 * belong to subordinate ids). */
int container_remove(struct nsbox_store *s, const char *id, nsbox_error_t *err);

/* All containers, newest first. */
int container_list(struct nsbox_store *s, struct container_info **out, size_t *n,
                   nsbox_error_t *err);

/* Finds a container by name, full id or unique id prefix. */
int container_find(struct nsbox_store *s, const char *ref, struct container_info *out,
                   nsbox_error_t *err);

/* A pidfd of pid, checked to be the process that started at start (not a recycled pid).
 * Returns it or -errno (-ESRCH: that process is gone). */
int pidfd_checked(pid_t pid, unsigned long long start);

/* Removes dir (data-dir relative or absolute) and all below it; as the user first and, where
 * that is refused, as root of the user namespace. */
int store_remove_tree(struct nsbox_store *s, const char *path, nsbox_error_t *err);

#endif

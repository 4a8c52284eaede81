/* What cgroup.c (the common part and cgroup v2) shares with cgroup_v1.c: the operations that
 * differ between the two versions, and small file helpers. */
#ifndef NSBOX_CGROUP_INTERNAL_H
#define NSBOX_CGROUP_INTERNAL_H

#include "cgroup.h"

#define CGROUP_ROOT "/sys/fs/cgroup"

struct cgroup_ops {
  /* Makes the container's cgroup(s) named `name` with r's limits; see cgroup_create. */
  int (*create)(struct nsbox_cgroup *cg, const char *name, const struct nsbox_resources *r,
                bool rootless, nsbox_error_t *err);
  /* The OOM kill count of the memory cgroup. */
  unsigned long (*oom_kills)(const struct nsbox_cgroup *cg);
  /* Mounts the cgroup filesystem(s) on the container's /sys/fs/cgroup, below rootfd. */
  int (*mount_inside)(int rootfd, bool userns, nsbox_error_t *err);
};

extern const struct cgroup_ops cgroup_v1_ops;

/* Writes value to dir/file. Returns 0 or -1 with err naming the file. */
int cg_write(const char *dir, const char *file, const char *value, nsbox_error_t *err);

/* Writes a number to dir/file; a negative one as "max" (unlimited). */
int cg_write_num(const char *dir, const char *file, long long value, nsbox_error_t *err);

/* The number after `key ` in the flat-keyed file dir/file ("oom_kill 3"); 0 when absent. */
unsigned long cg_read_key(const char *dir, const char *file, const char *key);

/* Whether word is one of the items of list, separated by any of seps ("cpu,cpuacct" with ",";
 * cgroup.controllers with " \n"). */
bool cg_list_has(const char *list, const char *word, const char *seps);

/* The cgroup of this process in the hierarchy whose /proc/self/cgroup line names `controller`
 * (NULL: the unified one, "0::"); caller frees. NULL when there is none. */
char *cg_own_path(const char *controller);

/* Adds dir to cg->dirs (which owns it from now on). */
void cg_add_dir(struct nsbox_cgroup *cg, char *dir);

#endif

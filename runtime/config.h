/* The one description of a container, shaped after the OCI runtime spec's config.json:
 * process, root, mounts, namespaces, id mappings, hostname. Front ends (the `nsbox run`
 * CLI today, an OCI create/start CLI later) only fill it; the runtime only reads it. */
#ifndef NSBOX_CONFIG_H
#define NSBOX_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* OCI process.rlimits[]: --ulimit NAME=SOFT[:HARD]. */
struct nsbox_rlimit {
  int resource; /* RLIMIT_* */
  struct rlimit limit;
};

/* OCI process: what runs, as whom, where. */
struct nsbox_process {
  char **args;     /* NULL-terminated argv; args[0] is looked up in the container's PATH */
  char **env;      /* NULL-terminated KEY=VALUE list, built, never inherited */
  char *cwd;       /* absolute path inside the container */
  char *user;      /* "UID[:GID]" or "NAME[:GROUP]" as given, resolved inside; NULL = 0:0 */
  bool no_init;    /* exec args directly as PID 1 instead of under nsbox-init */
  bool terminal;   /* -t: a pty of the container's devpts as its stdio and controlling tty */
  bool open_stdin; /* -i: stdin stays open (detached: the monitor holds it for attach) */
  unsigned short console_rows, console_cols; /* -t: the terminal's size at start, 0 unknown */
  struct nsbox_rlimit *rlimits;
  size_t n_rlimits;
};

/* OCI linux.resources: the limits of the container's cgroup. A field left at 0 is not
 * asked for; when none is, no cgroup is made at all. */
struct nsbox_resources {
  int64_t memory;      /* bytes (--memory) */
  int64_t memory_swap; /* memory plus swap in bytes, -1 unlimited swap (--memory-swap) */
  uint64_t cpu_quota;  /* microseconds per cpu_period (--cpus) */
  uint64_t cpu_period;
  uint64_t cpu_weight; /* 1..10000, cgroup v2's scale (--cpu-weight, or from --cpu-shares) */
  uint64_t cpu_shares; /* 2..262144, cgroup v1's scale (--cpu-shares, or from --cpu-weight) */
  int64_t pids_limit;  /* -1 unlimited (--pids-limit) */
};

enum nsbox_seccomp_mode { SECCOMP_DEFAULT, SECCOMP_UNCONFINED, SECCOMP_PROFILE };

/* OCI process.capabilities, process.noNewPrivileges and linux.seccomp, as given. */
struct nsbox_security {
  enum nsbox_seccomp_mode seccomp;
  char *seccomp_profile; /* SECCOMP_PROFILE: path of a Docker/OCI seccomp JSON file */
  uint64_t cap_bounding; /* the container's bounding set (bit N = capability N) */
  uint64_t cap_added;    /* given with --cap-add: a non-root user gets these (ambient too) */
  bool no_new_privs;
};

enum nsbox_mount_kind { MOUNT_BIND, MOUNT_TMPFS };

/* OCI mounts[]: one extra mount inside the container, resolved inside its root. */
struct nsbox_mount {
  enum nsbox_mount_kind kind;
  char *source;      /* host path for MOUNT_BIND */
  char *destination; /* absolute path inside the container */
  bool readonly;
  char *options; /* tmpfs data ("size=64m,mode=1777"), may be NULL */
};

#include "userns.h"

#include "portspec.h"

enum nsbox_network_mode { NET_NONE, NET_HOST, NET_SLIRP4NETNS, NET_PASTA, NET_BRIDGE };

struct nsbox_host_entry {
  char *name, *addr; /* --add-host NAME:ADDR */
};

/* The container's network: its mode and what the front end asked of it. */
struct nsbox_network {
  enum nsbox_network_mode mode;
  bool mode_given;          /* --network was given: no quiet fallback to none */
  bool allow_host_loopback; /* slirp4netns/pasta: the host's 127.0.0.1 as the gateway */
  char *bridge;             /* bridge[:NAME], default "nsbox0" */
  char *backend;            /* resolved path of slirp4netns, pasta or nsbox-net */
  struct nsbox_port *ports; /* -p */
  size_t n_ports;
  int *port_fds; /* bridge: our sockets holding the ports for the container's life */
  char **dns;    /* --dns, NULL-terminated, may be NULL */
  struct nsbox_host_entry *hosts;
  size_t n_hosts;
};

/* OCI root plus nsbox's way of building it: an overlay of the image over a private upper
 * dir, or a plain directory used as it is. */
struct nsbox_root {
  char **lowerdirs; /* the image's layers, top first (overlay), or NULL */
  char *upperdir, *workdir, *mergeddir;
  char *path;       /* --rootfs DIR; NULL when overlay is used */
  char *image_file; /* --image-file FILE: mounted on image_dir (imgfile.h), or NULL */
  char *image_dir;
  bool image_rw; /* FILE:rw: the image itself is the root (ext4), no overlay */
  bool readonly;
};

struct nsbox_config {
  char id[65];
  char *name;
  bool auto_name; /* no --name: known by its short id, no reservation */
  char *image;    /* image reference as given, for ps; NULL with --rootfs */
  char *image_id; /* the image's id, so `image rm` knows it is in use */
  struct nsbox_process process;
  struct nsbox_root root;
  struct nsbox_mount *mounts;
  size_t n_mounts;
  char *hostname;
  struct nsbox_network net;
  struct nsbox_resources resources;
  struct nsbox_security security;
  bool userns; /* rootless: run in a new user namespace with idmaps */
  struct nsbox_idmaps idmaps;
  bool remove;      /* --rm */
  int stop_signal;  /* what `nsbox stop` sends first (--stop-signal), SIGTERM by default */
  int stop_timeout; /* seconds `nsbox stop` waits before SIGKILL (--stop-timeout), 10 */
  bool detach;      /* -d: run under a monitor of its own; not part of the record */
};

#endif

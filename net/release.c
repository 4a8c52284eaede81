/* nsbox-net release, and the reclaiming and nft sync that `up` does too. Safe for any caller:
 * it only ends what belongs to processes that are gone. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../runtime/util.h"
#include "net.h"
#include "nft.h"

struct links {
  struct rtnl_link *v;
  size_t n;
};

static int collect_link(const struct rtnl_link *l, void *ctx) {
  struct links *ls = ctx;
  ls->v = xrealloc(ls->v, (ls->n + 1) * sizeof(*ls->v));
  ls->v[ls->n++] = *l;
  return 0;
}

static bool leased(const struct net_state *s, const char *hostif) {
  for (size_t i = 0; i < s->n_leases; i++)
    if (strcmp(s->leases[i].hostif, hostif) == 0)
      return true;
  return false;
}

static bool bridge_in_use(const struct net_state *s, const char *name) {
  for (size_t i = 0; i < s->n_leases; i++)
    if (strcmp(s->leases[i].bridge, name) == 0)
      return true;
  return false;
}

/* Deletes the nsbx* veths no lease holds, marking them in ls (index 0) as gone. */
static int delete_orphans(const struct net_state *s, struct rtnl *r, struct links *ls,
                          nsbox_error_t *err) {
  for (size_t i = 0; i < ls->n; i++) {
    struct rtnl_link *l = &ls->v[i];
    if (strncmp(l->name, HOSTIF_PREFIX, strlen(HOSTIF_PREFIX)) != 0 ||
        strcmp(l->kind, "veth") != 0 || leased(s, l->name))
      continue;
    if (rtnl_link_del(r, l->index, err) < 0)
      return nsbox_wrap(err, "remove %s", l->name);
    l->index = 0;
  }
  return 0;
}

static const struct rtnl_link *find_link(const struct links *ls, const char *name) {
  for (size_t i = 0; i < ls->n; i++)
    if (ls->v[i].index > 0 && strcmp(ls->v[i].name, name) == 0)
      return &ls->v[i];
  return NULL;
}

static bool has_ports(const struct links *ls, int index) {
  for (size_t i = 0; i < ls->n; i++)
    if (ls->v[i].index > 0 && ls->v[i].master == index)
      return true;
  return false;
}

/* Our bridges that nothing uses go; so do records of bridges that are gone or that are not
 * the link we created any more (same name, another index: someone else's now). */
static int delete_unused_bridges(struct net_state *s, struct rtnl *r, const struct links *ls,
                                 bool *changed, nsbox_error_t *err) {
  for (size_t i = s->n_bridges; i-- > 0;) {
    struct own_bridge b = s->bridges[i];
    if (bridge_in_use(s, b.name))
      continue;
    const struct rtnl_link *l = find_link(ls, b.name);
    bool ours =
        l != NULL && (b.index == 0 || b.index == l->index) && strcmp(l->kind, "bridge") == 0;
    if (ours && has_ports(ls, l->index))
      continue; /* an administrator attached something: not ours to pull away */
    if (ours && rtnl_link_del(r, l->index, err) < 0)
      return nsbox_wrap(err, "remove bridge %s", b.name);
    bridge_forget(s, b.name);
    *changed = true;
  }
  return 0;
}

int net_reclaim(struct net_state *s, struct rtnl *r, nsbox_error_t *err) {
  bool leases_changed = false, bridges_changed = false;
  for (size_t i = 0; i < s->n_leases;) {
    if (lease_owner_alive(&s->leases[i])) {
      i++;
      continue;
    }
    lease_remove(s, i);
    leases_changed = true;
  }
  /* The leases go first: killed after this, the veths are orphans the next run deletes. */
  if (leases_changed && leases_save(s, err) < 0)
    return -1;
  struct links ls = {0};
  int ret = rtnl_link_dump(r, collect_link, &ls, err);
  if (ret == 0)
    ret = delete_orphans(s, r, &ls, err);
  if (ret == 0)
    ret = delete_unused_bridges(s, r, &ls, &bridges_changed, err);
  free(ls.v);
  if (bridges_changed && bridges_save(s, err) < 0)
    return -1;
  return ret;
}

int net_sync_nft(struct net_state *s, struct rtnl *r, nsbox_error_t *err) {
  struct rtnl_addr *addrs = NULL;
  size_t n_addrs = 0;
  if (rtnl_addr_list(r, 0, &addrs, &n_addrs, err) < 0)
    return -1;
  cleanup_free struct nft_bridge *br = xmalloc((s->n_leases + 1) * sizeof(*br));
  size_t nb = 0;
  int ret = 0;
  for (size_t i = 0; i < s->n_leases && ret == 0; i++) {
    const char *name = s->leases[i].bridge;
    bool seen = false;
    for (size_t j = 0; j < nb && !seen; j++)
      seen = strcmp(br[j].name, name) == 0;
    struct rtnl_link l;
    if (seen || (ret = rtnl_link_get(r, name, &l, err)) <= 0)
      continue;
    ret = 0;
    for (size_t j = 0; j < n_addrs; j++) {
      if (addrs[j].index != l.index)
        continue;
      /* The bridge's first address: the one `up` took as the gateway. */
      uint32_t mask = addrs[j].prefix ? ~0u << (32 - addrs[j].prefix) : 0;
      struct nft_bridge *b = &br[nb++];
      snprintf(b->name, sizeof(b->name), "%s", name);
      b->net.s_addr = addrs[j].addr.s_addr & htonl(mask);
      b->prefix = addrs[j].prefix;
      break;
    }
  }
  free(addrs);
  if (ret < 0)
    return -1;
  cleanup_free char *text = nft_render(s->leases, s->n_leases, br, nb);
  return nft_apply(s->dir, text, err);
}

int cmd_release(nsbox_error_t *err) {
  struct net_state s;
  struct rtnl r = {.fd = -1};
  int ret = -1;
  if (state_open(&s, true, err) == 0 && rtnl_open(&r, err) == 0 && net_reclaim(&s, &r, err) == 0 &&
      net_sync_nft(&s, &r, err) == 0)
    ret = 0;
  rtnl_close(&r);
  state_close(&s);
  return ret;
}

/* nsbox-net's nftables table, `table ip nsbox`: rebuilt whole from the leases each time and
 * handed to nft (fed on stdin, never through a shell), starting with "table ip nsbox" and
 * "delete table ip nsbox" so that nft replaces it in one transaction. With no lease left, the
 * text only deletes it. What was last applied is kept in the state dir's nft.rules, and an
 * unchanged text is not applied again: most containers publish no port and find their
 * bridge's masquerade in place. (A ruleset flushed by someone else meanwhile is therefore
 * restored only by the next change.) */
#ifndef NSBOX_NET_NFT_H
#define NSBOX_NET_NFT_H

#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>

#include "../runtime/error.h"
#include "lease.h"

/* A bridge some lease uses, with its subnet. */
struct nft_bridge {
  char name[IFNAMSIZ];
  struct in_addr net; /* network address */
  unsigned prefix;
};

/* The ruleset text for these leases (malloc'd). Leases on a bridge not in bridges[] (one
 * that has lost its address or gone) get no rules. */
char *nft_render(const struct lease *leases, size_t n_leases, const struct nft_bridge *bridges,
                 size_t n_bridges);

/* Fails, with the package to install, when there is no nft to run. */
int nft_check(nsbox_error_t *err);

/* Applies text unless it is what the state dir says was last applied. */
int nft_apply(int state_dir, const char *text, nsbox_error_t *err);

#endif

/* See rtnl.h. One request at a time: send it, then read until its ack, its error or the end
 * of its dump, ignoring anything that is not the kernel's answer to it. */
#include "rtnl.h"

#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../runtime/util.h"

#define RECV_SIZE 32768

/* One request message being built. Our requests are small; overflow is a bug we still
 * report rather than send a truncated message. */
struct req {
  union {
    struct nlmsghdr h;
    char buf[1024];
  } u;
  bool overflow;
};

static void *req_init(struct req *q, uint16_t type, uint16_t flags, size_t hdrlen) {
  memset(q, 0, sizeof(*q));
  q->u.h.nlmsg_len = NLMSG_LENGTH(hdrlen);
  q->u.h.nlmsg_type = type;
  q->u.h.nlmsg_flags = NLM_F_REQUEST | flags;
  return NLMSG_DATA(&q->u.h);
}

static struct rtattr *req_put(struct req *q, uint16_t type, const void *data, size_t len) {
  size_t off = NLMSG_ALIGN(q->u.h.nlmsg_len);
  if (off + RTA_SPACE(len) > sizeof(q->u.buf)) {
    q->overflow = true;
    return NULL;
  }
  struct rtattr *a = (struct rtattr *)(q->u.buf + off);
  a->rta_type = type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  if (len > 0)
    memcpy(RTA_DATA(a), data, len);
  q->u.h.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
  return a;
}

static void req_put_str(struct req *q, uint16_t type, const char *s) {
  req_put(q, type, s, strlen(s) + 1);
}

static void req_put_u32(struct req *q, uint16_t type, uint32_t v) {
  req_put(q, type, &v, sizeof(v));
}

/* A nest is an attribute whose length is fixed up once its contents are in. */
static void req_nest_end(struct req *q, struct rtattr *a) {
  if (a != NULL)
    a->rta_len = (unsigned short)(q->u.buf + q->u.h.nlmsg_len - (char *)a);
}

typedef int (*msg_cb)(const struct nlmsghdr *h, void *ctx);

static int recv_some(int fd, char *buf, int *len) {
  for (;;) {
    struct sockaddr_nl from;
    struct iovec iov = {.iov_base = buf, .iov_len = RECV_SIZE};
    struct msghdr m = {
        .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n = recvmsg(fd, &m, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (m.msg_flags & MSG_TRUNC)
      return -EMSGSIZE;
    /* Only the kernel speaks with port id 0; anything else is someone else's message. */
    if (m.msg_namelen != sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
      continue;
    *len = (int)n;
    return 0;
  }
}

/* Sends the request and reads its answer. Data messages go to cb (when given). Returns 0 or
 * -errno (the kernel's error, or cb's). */
static int rtnl_call(struct rtnl *r, struct req *q, msg_cb cb, void *ctx) {
  if (q->overflow)
    return -EMSGSIZE;
  bool dump = (q->u.h.nlmsg_flags & NLM_F_DUMP) == NLM_F_DUMP;
  if (!dump)
    q->u.h.nlmsg_flags |= NLM_F_ACK;
  q->u.h.nlmsg_seq = ++r->seq;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t sent;
  while ((sent = sendto(r->fd, q->u.buf, q->u.h.nlmsg_len, 0, (struct sockaddr *)&kernel,
                        sizeof(kernel))) < 0 &&
         errno == EINTR)
    ;
  if (sent < 0)
    return -errno;

  cleanup_free char *buf = xmalloc(RECV_SIZE);
  int result = 0;
  for (;;) {
    int len;
    int rr = recv_some(r->fd, buf, &len);
    if (rr < 0)
      return rr;
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != r->seq)
        continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
          return -EPROTO;
        return e->error < 0 ? e->error : result;
      }
      if (h->nlmsg_type == NLMSG_DONE) {
        if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(int)) && *(const int *)NLMSG_DATA(h) < 0)
          return *(const int *)NLMSG_DATA(h);
        return result;
      }
      if (cb != NULL && result == 0)
        result = cb(h, ctx) < 0 ? -ECANCELED : 0;
    }
  }
}

int rtnl_open(struct rtnl *r, nsbox_error_t *err) {
  r->seq = 0;
  r->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (r->fd < 0)
    return nsbox_fail(err, errno, "open a NETLINK_ROUTE socket");
  struct sockaddr_nl local = {.nl_family = AF_NETLINK};
  if (bind(r->fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
    int e = errno;
    rtnl_close(r);
    return nsbox_fail(err, e, "bind a NETLINK_ROUTE socket");
  }
  return 0;
}

int rtnl_open_in(struct rtnl *r, int netns_fd, int self_fd, nsbox_error_t *err) {
  if (setns(netns_fd, CLONE_NEWNET) < 0)
    return nsbox_fail(err, errno, "join the container's network namespace");
  int ret = rtnl_open(r, err);
  if (setns(self_fd, CLONE_NEWNET) < 0) {
    /* Anything more we did would act on the container's namespace instead of the host's. */
    nsbox_fail(err, errno, "return to the host's network namespace");
    nsbox_print_error(err);
    _exit(1);
  }
  return ret;
}

void rtnl_close(struct rtnl *r) {
  if (r->fd >= 0)
    close(r->fd);
  r->fd = -1;
}

static void parse_attrs(struct rtattr **tb, unsigned max, struct rtattr *a, int len) {
  memset(tb, 0, sizeof(*tb) * (max + 1));
  for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    unsigned type = a->rta_type & ~NLA_F_NESTED;
    if (type <= max && tb[type] == NULL)
      tb[type] = a;
  }
}

static void attr_str(const struct rtattr *a, char *out, size_t size) {
  size_t len = a ? RTA_PAYLOAD(a) : 0;
  if (len >= size)
    len = size - 1;
  if (len > 0)
    memcpy(out, RTA_DATA(a), len);
  out[len] = '\0';
}

static uint32_t attr_u32(const struct rtattr *a) {
  uint32_t v = 0;
  if (a != NULL && RTA_PAYLOAD(a) >= sizeof(v))
    memcpy(&v, RTA_DATA(a), sizeof(v));
  return v;
}

/* Returns 1 and fills *l for an RTM_NEWLINK message, 0 for anything else. */
static int parse_link(const struct nlmsghdr *h, struct rtnl_link *l) {
  if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
    return 0;
  struct ifinfomsg *ifi = NLMSG_DATA(h);
  struct rtattr *tb[IFLA_MAX + 1], *info[IFLA_INFO_MAX + 1];
  parse_attrs(tb, IFLA_MAX, IFLA_RTA(ifi), (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi))));
  memset(l, 0, sizeof(*l));
  l->index = ifi->ifi_index;
  l->flags = ifi->ifi_flags;
  attr_str(tb[IFLA_IFNAME], l->name, sizeof(l->name));
  l->master = (int)attr_u32(tb[IFLA_MASTER]);
  l->peer = (int)attr_u32(tb[IFLA_LINK]);
  if (tb[IFLA_LINKINFO] != NULL) {
    parse_attrs(info, IFLA_INFO_MAX, RTA_DATA(tb[IFLA_LINKINFO]),
                (int)RTA_PAYLOAD(tb[IFLA_LINKINFO]));
    attr_str(info[IFLA_INFO_KIND], l->kind, sizeof(l->kind));
  }
  return 1;
}

static int got_link(const struct nlmsghdr *h, void *ctx) {
  parse_link(h, ctx);
  return 0;
}

int rtnl_link_get(struct rtnl *r, const char *name, struct rtnl_link *out, nsbox_error_t *err) {
  struct req q;
  struct ifinfomsg *ifi = req_init(&q, RTM_GETLINK, 0, sizeof(*ifi));
  ifi->ifi_family = AF_UNSPEC;
  req_put_str(&q, IFLA_IFNAME, name);
  memset(out, 0, sizeof(*out));
  int r2 = rtnl_call(r, &q, got_link, out);
  if (r2 == -ENODEV)
    return 0;
  if (r2 < 0)
    return nsbox_fail(err, -r2, "look up link %s", name);
  return out->index > 0 ? 1 : 0;
}

struct link_walk {
  rtnl_link_cb cb;
  void *ctx;
};

static int walk_link(const struct nlmsghdr *h, void *ctx) {
  struct link_walk *w = ctx;
  struct rtnl_link l;
  if (parse_link(h, &l) == 0)
    return 0;
  return w->cb(&l, w->ctx);
}

int rtnl_link_dump(struct rtnl *r, rtnl_link_cb cb, void *ctx, nsbox_error_t *err) {
  struct req q;
  struct ifinfomsg *ifi = req_init(&q, RTM_GETLINK, NLM_F_DUMP, sizeof(*ifi));
  ifi->ifi_family = AF_UNSPEC;
  struct link_walk w = {.cb = cb, .ctx = ctx};
  int r2 = rtnl_call(r, &q, walk_link, &w);
  if (r2 == -ECANCELED)
    return -1; /* cb's own error, already in its err */
  if (r2 < 0)
    return nsbox_fail(err, -r2, "list links");
  return 0;
}

struct addr_walk {
  int index;
  struct rtnl_addr *v;
  size_t n;
};

static int walk_addr(const struct nlmsghdr *h, void *ctx) {
  struct addr_walk *w = ctx;
  if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
    return 0;
  struct ifaddrmsg *ifa = NLMSG_DATA(h);
  if (ifa->ifa_family != AF_INET || (w->index > 0 && (int)ifa->ifa_index != w->index))
    return 0;
  struct rtattr *tb[IFA_MAX + 1];
  parse_attrs(tb, IFA_MAX, IFA_RTA(ifa), (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifa))));
  /* IFA_LOCAL is the address itself; IFA_ADDRESS is the peer's on point-to-point links. */
  struct rtattr *a = tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
  if (a == NULL || RTA_PAYLOAD(a) < sizeof(struct in_addr))
    return 0;
  w->v = xrealloc(w->v, (w->n + 1) * sizeof(*w->v));
  struct rtnl_addr *out = &w->v[w->n++];
  out->index = (int)ifa->ifa_index;
  out->prefix = ifa->ifa_prefixlen;
  memcpy(&out->addr, RTA_DATA(a), sizeof(out->addr));
  return 0;
}

int rtnl_addr_list(struct rtnl *r, int index, struct rtnl_addr **out, size_t *n,
                   nsbox_error_t *err) {
  struct req q;
  struct ifaddrmsg *ifa = req_init(&q, RTM_GETADDR, NLM_F_DUMP, sizeof(*ifa));
  ifa->ifa_family = AF_INET;
  struct addr_walk w = {.index = index};
  int r2 = rtnl_call(r, &q, walk_addr, &w);
  if (r2 < 0) {
    free(w.v);
    return nsbox_fail(err, -r2, "list addresses");
  }
  *out = w.v;
  *n = w.n;
  return 0;
}

int rtnl_bridge_add(struct rtnl *r, const char *name, const uint8_t mac[6], nsbox_error_t *err) {
  struct req q;
  struct ifinfomsg *ifi = req_init(&q, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
  ifi->ifi_family = AF_UNSPEC;
  req_put_str(&q, IFLA_IFNAME, name);
  req_put(&q, IFLA_ADDRESS, mac, 6);
  struct rtattr *info = req_put(&q, IFLA_LINKINFO, NULL, 0);
  req_put_str(&q, IFLA_INFO_KIND, "bridge");
  req_nest_end(&q, info);
  int r2 = rtnl_call(r, &q, NULL, NULL);
  return r2 < 0 ? nsbox_fail(err, -r2, "create bridge %s", name) : 0;
}

int rtnl_veth_add(struct rtnl *r, const char *name, const char *peer, int peer_netns_fd,
                  nsbox_error_t *err) {
  struct req q;
  struct ifinfomsg *ifi = req_init(&q, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(*ifi));
  ifi->ifi_family = AF_UNSPEC;
  req_put_str(&q, IFLA_IFNAME, name);
  struct rtattr *info = req_put(&q, IFLA_LINKINFO, NULL, 0);
  req_put_str(&q, IFLA_INFO_KIND, "veth");
  struct rtattr *data = req_put(&q, IFLA_INFO_DATA, NULL, 0);
  /* The peer's attributes follow an ifinfomsg of its own, as in a RTM_NEWLINK. */
  struct ifinfomsg peer_ifi = {.ifi_family = AF_UNSPEC};
  struct rtattr *p = req_put(&q, VETH_INFO_PEER, &peer_ifi, sizeof(peer_ifi));
  req_put_str(&q, IFLA_IFNAME, peer);
  req_put_u32(&q, IFLA_NET_NS_FD, (uint32_t)peer_netns_fd);
  req_nest_end(&q, p);
  req_nest_end(&q, data);
  req_nest_end(&q, info);
  int r2 = rtnl_call(r, &q, NULL, NULL);
  return r2 < 0 ? nsbox_fail(err, -r2, "create veth %s", name) : 0;
}

int rtnl_link_up(struct rtnl *r, int index, int master, nsbox_error_t *err) {
  struct req q;
  struct ifinfomsg *ifi = req_init(&q, RTM_NEWLINK, 0, sizeof(*ifi));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  if (master > 0)
    req_put_u32(&q, IFLA_MASTER, (uint32_t)master);
  int r2 = rtnl_call(r, &q, NULL, NULL);
  if (r2 < 0)
    return nsbox_fail(err, -r2, master > 0 ? "attach link %d to its bridge" : "set link %d up",
                      index);
  return 0;
}

int rtnl_link_del(struct rtnl *r, int index, nsbox_error_t *err) {
  struct req q;
  struct ifinfomsg *ifi = req_init(&q, RTM_DELLINK, 0, sizeof(*ifi));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  int r2 = rtnl_call(r, &q, NULL, NULL);
  return r2 < 0 && r2 != -ENODEV ? nsbox_fail(err, -r2, "delete link %d", index) : 0;
}

int rtnl_addr_add(struct rtnl *r, int index, struct in_addr addr, unsigned prefix,
                  nsbox_error_t *err) {
  struct req q;
  struct ifaddrmsg *ifa =
      req_init(&q, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifaddrmsg));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = (unsigned char)prefix;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = (unsigned)index;
  req_put(&q, IFA_LOCAL, &addr, sizeof(addr));
  req_put(&q, IFA_ADDRESS, &addr, sizeof(addr));
  if (prefix <= 30) {
    struct in_addr brd = {.s_addr = addr.s_addr | htonl(0xffffffffu >> prefix)};
    req_put(&q, IFA_BROADCAST, &brd, sizeof(brd));
  }
  int r2 = rtnl_call(r, &q, NULL, NULL);
  return r2 < 0 ? nsbox_fail(err, -r2, "add an address to link %d", index) : 0;
}

int rtnl_route_add_default(struct rtnl *r, int index, struct in_addr gw, nsbox_error_t *err) {
  struct req q;
  struct rtmsg *rt = req_init(&q, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(*rt));
  rt->rtm_family = AF_INET;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_BOOT;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  req_put(&q, RTA_GATEWAY, &gw, sizeof(gw));
  req_put_u32(&q, RTA_OIF, (uint32_t)index);
  int r2 = rtnl_call(r, &q, NULL, NULL);
  return r2 < 0 ? nsbox_fail(err, -r2, "add the default route") : 0;
}

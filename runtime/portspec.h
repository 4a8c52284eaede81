/* Published ports: the `-p [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]` syntax of docker and podman,
 * parsed once here and shared by nsbox (slirp4netns, pasta) and nsbox-net (nftables DNAT),
 * which each re-parse the canonical text rather than trust a binary form. */
#ifndef NSBOX_PORTSPEC_H
#define NSBOX_PORTSPEC_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

struct nsbox_port {
  int proto;              /* IPPROTO_TCP or IPPROTO_UDP */
  struct in_addr host_ip; /* INADDR_ANY when not given */
  uint16_t host_port;     /* 1..65535 */
  uint16_t ctr_port;      /* 1..65535 */
};

/* Parses spec into *out. On a bad spec returns -1 with a reason ("port 0 is out of range")
 * in why; IPv6 host addresses and port ranges are refused with a reason too. */
int portspec_parse(const char *spec, struct nsbox_port *out, char *why, size_t whylen);

/* The canonical text "HOSTIP:HOSTPORT:CTRPORT/PROTO", which portspec_parse reads back. */
void portspec_format(const struct nsbox_port *p, char *buf, size_t len);

/* "tcp" or "udp". */
const char *portspec_proto_name(int proto);

#endif

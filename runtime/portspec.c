/* See portspec.h. */
#include "portspec.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

const char *portspec_proto_name(int proto) {
  return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static int parse_port(const char *s, uint16_t *out, char *why, size_t whylen) {
  unsigned long v;
  if (parse_ulong(s, &v) < 0) {
    snprintf(why, whylen, "\"%s\" is not a port number", s);
    return -1;
  }
  if (v == 0 || v > 65535) {
    snprintf(why, whylen, "port %lu is out of range (1-65535)", v);
    return -1;
  }
  *out = (uint16_t)v;
  return 0;
}

int portspec_parse(const char *spec, struct nsbox_port *out, char *why, size_t whylen) {
  char buf[128];
  if (strlen(spec) >= sizeof(buf)) {
    snprintf(why, whylen, "too long");
    return -1;
  }
  snprintf(buf, sizeof(buf), "%s", spec);
  *out = (struct nsbox_port){.proto = IPPROTO_TCP, .host_ip.s_addr = htonl(INADDR_ANY)};
  char *proto = strchr(buf, '/');
  if (proto) {
    *proto++ = '\0';
    if (strcmp(proto, "udp") == 0) {
      out->proto = IPPROTO_UDP;
    } else if (strcmp(proto, "tcp") != 0) {
      snprintf(why, whylen, "unknown protocol \"%s\" (tcp or udp)", proto);
      return -1;
    }
  }
  if (strchr(buf, '[') || strchr(buf, '-')) {
    snprintf(why, whylen, "IPv6 addresses and port ranges are not supported");
    return -1;
  }
  /* HOSTPORT:CTRPORT or HOSTIP:HOSTPORT:CTRPORT. */
  char *f[3] = {buf, NULL, NULL};
  size_t n = 1;
  for (char *p = buf; (p = strchr(p, ':')) != NULL && n < 4; n++) {
    *p++ = '\0';
    if (n < 3)
      f[n] = p;
  }
  if (n != 2 && n != 3) {
    snprintf(why, whylen, "expected [HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]");
    return -1;
  }
  char **ports = f;
  if (n == 3) {
    if (inet_pton(AF_INET, f[0], &out->host_ip) != 1) {
      snprintf(why, whylen, "\"%s\" is not an IPv4 address", f[0]);
      return -1;
    }
    ports = f + 1;
  }
  if (parse_port(ports[0], &out->host_port, why, whylen) < 0 ||
      parse_port(ports[1], &out->ctr_port, why, whylen) < 0)
    return -1;
  return 0;
}

void portspec_format(const struct nsbox_port *p, char *buf, size_t len) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &p->host_ip, ip, sizeof(ip));
  snprintf(buf, len, "%s:%u:%u/%s", ip, p->host_port, p->ctr_port, portspec_proto_name(p->proto));
}

/* Unit tests of nsbox-net's pure parts: name checks, policy lines, lease lines, port
 * overlaps and the nft ruleset text. Built as out/net-unit-tests by `make tests` and run by
 * tests/net-helper.bats. Prints "N passed, N failed"; exits 1 on a failure. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lease.h"
#include "nft.h"
#include "policy.h"

#include "../tests/unit/check.h"

static void test_ifnames(void) {
  static const char *const good[] = {"nsbox0", "br-1", "a", "A_b.c", "123456789012345"};
  static const char *const bad[] = {
      "", ".", "..", "../x", "-f", "a b", "a/b", "a;b", ".x", "a\nb", "1234567890123456"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    CHECK(valid_ifname(good[i]));
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    CHECK(!valid_ifname(bad[i]));
}

static int parse_policy(const char *text, struct policy_line *pl) {
  static char buf[256];
  snprintf(buf, sizeof(buf), "%s", text);
  return policy_parse_line(buf, pl);
}

static void test_policy_lines(void) {
  struct policy_line pl;
  CHECK(parse_policy("alice veth nsbox0 3", &pl) == 0 && strcmp(pl.who, "alice") == 0 &&
        strcmp(pl.bridge, "nsbox0") == 0 && pl.count == 3);
  CHECK(parse_policy("  @staff\tveth  br0 0\r", &pl) == 0 && strcmp(pl.who, "@staff") == 0 &&
        pl.count == 0);
  CHECK(parse_policy("# alice veth nsbox0 3", &pl) < 0);
  CHECK(parse_policy("", &pl) < 0);
  CHECK(parse_policy("alice veth nsbox0", &pl) < 0);
  CHECK(parse_policy("alice veth nsbox0 3 4", &pl) < 0);
  CHECK(parse_policy("alice macvlan nsbox0 3", &pl) < 0);
  CHECK(parse_policy("alice veth ../x 3", &pl) < 0);
  CHECK(parse_policy("alice veth nsbox0 -1", &pl) < 0);
  CHECK(parse_policy("alice veth nsbox0 3x", &pl) < 0);
  CHECK(parse_policy("@ veth nsbox0 3", &pl) < 0);
}

static bool same_lease(const struct lease *a, const struct lease *b) {
  if (strcmp(a->bridge, b->bridge) != 0 || a->ip.s_addr != b->ip.s_addr || a->uid != b->uid ||
      a->pid != b->pid || a->start != b->start || strcmp(a->hostif, b->hostif) != 0 ||
      a->n_ports != b->n_ports)
    return false;
  for (size_t i = 0; i < a->n_ports; i++)
    if (memcmp(&a->ports[i], &b->ports[i], sizeof(a->ports[i])) != 0)
      return false;
  return true;
}

static void test_leases(void) {
  char line[512];
  struct lease l = {.uid = 1000, .pid = 4242, .start = 123456789, .n_ports = 2};
  snprintf(l.bridge, sizeof(l.bridge), "nsbox0");
  snprintf(l.hostif, sizeof(l.hostif), "nsbx0123abcd");
  inet_pton(AF_INET, "10.88.0.2", &l.ip);
  char why[64];
  CHECK(portspec_parse("8080:80", &l.ports[0], why, sizeof(why)) == 0);
  CHECK(portspec_parse("127.0.0.1:5353:53/udp", &l.ports[1], why, sizeof(why)) == 0);
  lease_format(&l, true, line, sizeof(line));
  CHECK(strcmp(line, "nsbox0 10.88.0.2 1000 4242 123456789 nsbx0123abcd 0.0.0.0:8080:80/tcp "
                     "127.0.0.1:5353:53/udp") == 0);
  struct lease back;
  CHECK(lease_parse(line, &back) == 0 && same_lease(&back, &l));
  lease_format(&l, false, line, sizeof(line));
  CHECK(strcmp(line, "nsbox0 10.88.0.2 1000 4242 nsbx0123abcd 0.0.0.0:8080:80/tcp "
                     "127.0.0.1:5353:53/udp") == 0);

  static const char *const bad[] = {
      "nsbox0 10.88.0.2 1000 4242 1 ",           "../x 10.88.0.2 1000 4242 1 nsbx0",
      "nsbox0 10.88.0.300 1000 4242 1 nsbx0",    "nsbox0 10.88.0.2 x 4242 1 nsbx0",
      "nsbox0 10.88.0.2 1000 1 1 nsbx0",         "nsbox0 10.88.0.2 1000 4242 -1 nsbx0",
      "nsbox0 10.88.0.2 1000 4242 1 nsbx0 8080",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    snprintf(line, sizeof(line), "%s", bad[i]);
    CHECK(lease_parse(line, &back) < 0);
  }
}

static void test_overlap(void) {
  struct nsbox_port a, b;
  char why[64];
  portspec_parse("8080:80", &a, why, sizeof(why));
  portspec_parse("127.0.0.1:8080:81", &b, why, sizeof(why));
  CHECK(ports_overlap(&a, &b));
  portspec_parse("8080:80/udp", &b, why, sizeof(why));
  CHECK(!ports_overlap(&a, &b));
  portspec_parse("127.0.0.1:8080:80", &a, why, sizeof(why));
  portspec_parse("192.0.2.1:8080:80", &b, why, sizeof(why));
  CHECK(!ports_overlap(&a, &b));
  portspec_parse("8081:80", &b, why, sizeof(why));
  CHECK(!ports_overlap(&a, &b));
}

static void test_nft_render(void) {
  char *t = nft_render(NULL, 0, NULL, 0);
  CHECK(strcmp(t, "table ip nsbox\ndelete table ip nsbox\n") == 0);
  free(t);

  struct lease l = {.uid = 1000, .pid = 4242, .n_ports = 1};
  snprintf(l.bridge, sizeof(l.bridge), "nsbox0");
  inet_pton(AF_INET, "10.88.0.2", &l.ip);
  char why[64];
  portspec_parse("18080:80", &l.ports[0], why, sizeof(why));
  struct nft_bridge b = {.name = "nsbox0", .prefix = 16};
  inet_pton(AF_INET, "10.88.0.0", &b.net);
  t = nft_render(&l, 1, &b, 1);
  CHECK(strncmp(t, "table ip nsbox\ndelete table ip nsbox\ntable ip nsbox {\n", 52) == 0);
  CHECK(strstr(t, "\t\tfib daddr type local tcp dport 18080 dnat to 10.88.0.2:80\n") != NULL);
  CHECK(strstr(t, "type nat hook output priority -100;") != NULL);
  CHECK(strstr(t, "\t\tip saddr 10.88.0.0/16 ip daddr != 10.88.0.0/16 masquerade\n") != NULL);
  CHECK(strstr(t, "\t\tip saddr 127.0.0.0/8 ip daddr 10.88.0.2 tcp dport 80 masquerade\n") != NULL);
  CHECK(strstr(t, "\t\tiifname \"nsbox0\" ip daddr 127.0.0.0/8 drop\n") != NULL);
  free(t);

  /* A lease on a bridge that is gone gets no rules. */
  t = nft_render(&l, 1, NULL, 0);
  CHECK(strcmp(t, "table ip nsbox\ndelete table ip nsbox\n") == 0);
  free(t);

  portspec_parse("127.0.0.1:18080:80/udp", &l.ports[0], why, sizeof(why));
  t = nft_render(&l, 1, &b, 1);
  CHECK(strstr(t, "\t\tip daddr 127.0.0.1 udp dport 18080 dnat to 10.88.0.2:80\n") != NULL);
  CHECK(strstr(t, "fib daddr") == NULL);
  free(t);
}

int passed, failed;

int main(void) {
  test_ifnames();
  test_policy_lines();
  test_leases();
  test_overlap();
  test_nft_render();
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

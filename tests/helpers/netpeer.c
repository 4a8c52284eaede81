/* A network peer for the tests, static so that it runs on the host, inside a container
 * (bound in with -v) and in the namespaces the tests make, none of which has socat:
 *
 *   netpeer tcp-peer [ADDR:]PORT   accepts one TCP connection, sends it "PEER-ADDRESS\n"
 *   netpeer udp-echo [ADDR:]PORT   answers one UDP datagram with "echo PEER-ADDRESS DATA"
 *
 * ADDR defaults to 0.0.0.0; on the host the tests bind 127.0.0.1.
 * Both print "ready" (or TEXT, a third argument) on stdout once bound, for the tests'
 * start_ready, then exit 0. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int bound(int type, const char *spec) {
  int fd = socket(AF_INET, type, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in sa = {.sin_family = AF_INET};
  const char *colon = strrchr(spec, ':');
  char addr[INET_ADDRSTRLEN] = "0.0.0.0";
  if (colon && (size_t)(colon - spec) < sizeof(addr))
    snprintf(addr, sizeof(addr), "%.*s", (int)(colon - spec), spec);
  sa.sin_port = htons((uint16_t)atoi(colon ? colon + 1 : spec));
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
    fprintf(stderr, "netpeer: bad address %s\n", addr);
    exit(2);
  }
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
    perror("netpeer: bind");
    exit(1);
  }
  return fd;
}

static const char *ready_text = "ready";

static void ready(void) {
  printf("%s\n", ready_text);
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: netpeer tcp-peer|udp-echo [ADDR:]PORT [READY-TEXT]\n");
    return 2;
  }
  if (argc == 4)
    ready_text = argv[3];
  struct sockaddr_in peer;
  socklen_t len = sizeof(peer);
  char ip[INET_ADDRSTRLEN], buf[512], out[600];
  if (strcmp(argv[1], "tcp-peer") == 0) {
    int fd = bound(SOCK_STREAM, argv[2]);
    if (listen(fd, 1) < 0)
      return 1;
    ready();
    int c = accept(fd, (struct sockaddr *)&peer, &len);
    if (c < 0)
      return 1;
    inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
    int n = snprintf(out, sizeof(out), "%s\n", ip);
    return write(c, out, (size_t)n) == n ? 0 : 1;
  }
  if (strcmp(argv[1], "udp-echo") == 0) {
    int fd = bound(SOCK_DGRAM, argv[2]);
    ready();
    ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&peer, &len);
    if (n < 0)
      return 1;
    buf[n] = '\0';
    inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
    int m = snprintf(out, sizeof(out), "echo %s %s", ip, buf);
    return sendto(fd, out, (size_t)m, 0, (struct sockaddr *)&peer, len) == m ? 0 : 1;
  }
  fprintf(stderr, "netpeer: unknown mode %s\n", argv[1]);
  return 2;
}

// One bulk TCP connection, both ends on kernel sockets (bench `tcp` scenario):
//   tcp_bulk send -d ADDR -p PORT -t SECONDS [-b WRITE_BYTES]
//     connects, writes from one buffer as fast as the socket takes it for SECONDS, and prints
//     once a second on stdout {"t":S,"acked":BYTES,"gbps":G,"cpu":C} where acked is what the
//     peer acknowledged (written less SIOCOUTQ, the unacknowledged and unsent bytes), so the
//     rate is the receiver's goodput whatever the receiver is; then shuts down and prints a final
//     {"final":true,...} line. Exit 1 if the connection fails or is reset.
//   tcp_bulk sink -p PORT [-b READ_BYTES]
//     the kernel sink: listens on 0.0.0.0:PORT, prints "listening", reads every accepted
//     connection (one at a time) to EOF into one buffer and discards it, until SIGTERM.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kernel_common.h"

static void usage(void) {
  fprintf(stderr, "usage: tcp_bulk send -d ADDR -p PORT -t SECONDS [-b WRITE_BYTES] | tcp_bulk sink -p PORT [-b READ_BYTES]\n");
  exit(2);
}

static uint64_t unacked(int fd) {
  int q = 0;
  if (ioctl(fd, SIOCOUTQ, &q) < 0) return 0;
  return (uint64_t)q;
}

static int do_send(const char *addr, int port, double secs, size_t bsz) {
  char *buf = malloc(bsz);
  if (!buf) return 1;
  for (size_t i = 0; i < bsz; i++) buf[i] = (char)(i * 131 + 7);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) usage();
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { fprintf(stderr, "connect %s:%d: %s\n", addr, port, strerror(errno)); return 1; }
  // Non-blocking so the per-second line comes on time even while the window is closed.
  int one = 1;
  ioctl(fd, FIONBIO, &one);
  uint64_t written = 0, lastAcked = 0;
  double t0 = now(), last = t0, c0 = cpu_seconds(), lastCpu = c0;
  struct pollfd p = {.fd = fd, .events = POLLOUT};
  for (;;) {
    double t = now();
    if (t - last >= 1.0) {
      uint64_t acked = written - unacked(fd);
      double c = cpu_seconds();
      printf("{\"t\":%.3f,\"acked\":%llu,\"gbps\":%.4f,\"cpu\":%.3f}\n", t - t0, (unsigned long long)acked, (acked - lastAcked) * 8 / (t - last) / 1e9, (c - lastCpu) / (t - last));
      fflush(stdout);
      lastAcked = acked;
      last = t;
      lastCpu = c;
    }
    if (t - t0 >= secs || stop) break;
    ssize_t n = write(fd, buf, bsz);
    if (n > 0) { written += (uint64_t)n; continue; }
    if (n < 0 && errno != EAGAIN && errno != EINTR) { fprintf(stderr, "write: %s\n", strerror(errno)); return 1; }
    poll(&p, 1, 50);
  }
  uint64_t acked = written - unacked(fd);
  double t = now();
  printf("{\"final\":true,\"seconds\":%.3f,\"written\":%llu,\"acked\":%llu,\"gbps\":%.4f,\"cpuSeconds\":%.3f}\n", t - t0, (unsigned long long)written, (unsigned long long)acked, acked * 8 / (t - t0) / 1e9, cpu_seconds() - c0);
  fflush(stdout);
  shutdown(fd, SHUT_WR);
  close(fd);
  return 0;
}

static int do_sink(int port, size_t bsz) {
  char *buf = malloc(bsz);
  if (!buf) return 1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 16) < 0) { fprintf(stderr, "listen :%d: %s\n", port, strerror(errno)); return 1; }
  printf("listening on %d\n", port);
  fflush(stdout);
  while (!stop) {
    int c = accept(fd, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR) continue;
      perror("accept");
      return 1;
    }
    uint64_t got = 0;
    ssize_t n;
    while (!stop && ((n = read(c, buf, bsz)) > 0 || (n < 0 && errno == EINTR))) if (n > 0) got += (uint64_t)n;
    printf("{\"received\":%llu}\n", (unsigned long long)got);
    fflush(stdout);
    close(c);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *mode = argv[1];
  const char *addr = NULL;
  int port = 0, o;
  double secs = 0;
  size_t bsz = 256 * 1024;
  optind = 2;
  while ((o = getopt(argc, argv, "d:p:t:b:")) != -1) {
    switch (o) {
      case 'd': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 't': secs = atof(optarg); break;
      case 'b': bsz = (size_t)atol(optarg); break;
      default: usage();
    }
  }
  if (port <= 0 || port > 65535 || bsz == 0) usage();
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (strcmp(mode, "send") == 0) {
    if (!addr || secs <= 0) usage();
    return do_send(addr, port, secs, bsz);
  }
  if (strcmp(mode, "sink") == 0) return do_sink(port, bsz);
  usage();
  return 2;
}

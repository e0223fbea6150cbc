// The kernel baseline for UDP receive into an application: an ordinary UDP socket read with
// recvmmsg(2), BATCH datagrams per call, each datagram's first byte read (the data is in the
// application's buffer: the kernel copied it there). Counts datagrams; prints a rate line per
// second on stderr and, on SIGINT/SIGTERM, one JSON line on stdout:
//   {"packets":N,"seconds":S,"cpuSeconds":C,"rcvbuf":R}
// -r asks SO_RCVBUF (capped by net.core.rmem_max, then doubled: what an application gets), -R
// SO_RCVBUFFORCE (root: past rmem_max); neither: rmem_default. -P STALL/PERIOD makes a slow
// reader: it stops reading for STALL ms every PERIOD ms (a handler waiting on slow I/O).
//
//   udp_recvmmsg -a ADDR -p PORT [-B BATCH] [-r RCVBUF | -R RCVBUF] [-P STALL_MS/PERIOD_MS]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kernel_common.h"

#define MAX_BATCH 1024
#define BUF 2048

static void usage(void) {
  fprintf(stderr, "usage: udp_recvmmsg -a ADDR -p PORT [-B BATCH (1..%d)] [-r|-R RCVBUF bytes] [-P STALL_MS/PERIOD_MS]\n", MAX_BATCH);
  exit(2);
}

int main(int argc, char **argv) {
  const char *addr = NULL;
  int port = 0, batch = 64, rcvbuf = 0, rcvopt = 0, stall_ms = 0, period_ms = 0, o;
  while ((o = getopt(argc, argv, "a:p:B:r:R:P:")) != -1) {
    switch (o) {
      case 'a': addr = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'B': batch = atoi(optarg); break;
      case 'r': rcvbuf = atoi(optarg); rcvopt = SO_RCVBUF; break;
      case 'R': rcvbuf = atoi(optarg); rcvopt = SO_RCVBUFFORCE; break;
      case 'P': if (sscanf(optarg, "%d/%d", &stall_ms, &period_ms) != 2 || stall_ms < 1 || period_ms <= stall_ms) usage(); break;
      default: usage();
    }
  }
  if (!addr || port <= 0 || port > 65535 || batch < 1 || batch > MAX_BATCH) usage();
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  if (rcvopt && setsockopt(fd, SOL_SOCKET, rcvopt, &rcvbuf, sizeof rcvbuf) < 0) {
    perror(rcvopt == SO_RCVBUF ? "setsockopt SO_RCVBUF" : "setsockopt SO_RCVBUFFORCE");
    return 1;
  }
  socklen_t optlen = sizeof rcvbuf;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &optlen) < 0) { perror("getsockopt SO_RCVBUF"); return 1; }
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) usage();
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { perror("bind"); return 1; }
  struct sigaction act = {.sa_handler = on_signal};  // no SA_RESTART: recvmmsg returns EINTR
  sigaction(SIGINT, &act, NULL);
  sigaction(SIGTERM, &act, NULL);

  static uint8_t bufs[MAX_BATCH][BUF];
  static struct iovec iov[MAX_BATCH];
  static struct mmsghdr msgs[MAX_BATCH];
  for (int i = 0; i < batch; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = BUF;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  printf("udp_recvmmsg on %s:%d batch %d rcvbuf %d\n", addr, port, batch, rcvbuf);
  fflush(stdout);
  uint64_t packets = 0, last = 0, touched = 0;
  double t0 = now(), tlast = t0, c0 = cpu_seconds(), next_stall = t0 + period_ms / 1e3;
  while (!stop) {
    if (period_ms && now() >= next_stall) {
      next_stall = now() + period_ms / 1e3;  // from this stall's start, however late it came
      struct timespec ts = {.tv_sec = stall_ms / 1000, .tv_nsec = (stall_ms % 1000) * 1000000L};
      nanosleep(&ts, NULL);
    }
    int n = recvmmsg(fd, msgs, batch, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("recvmmsg");
      return 1;
    }
    for (int i = 0; i < n; i++) touched += msgs[i].msg_len ? bufs[i][0] : 0;
    packets += n;
    double t = now();
    if (t - tlast >= 1.0) {
      fprintf(stderr, "%.0f pps\n", (packets - last) / (t - tlast));
      last = packets;
      tlast = t;
    }
  }
  printf("{\"packets\":%llu,\"seconds\":%.3f,\"cpuSeconds\":%.3f,\"touched\":%llu,\"rcvbuf\":%d}\n", (unsigned long long)packets,
         now() - t0, cpu_seconds() - c0, (unsigned long long)touched, rcvbuf);
  return 0;
}

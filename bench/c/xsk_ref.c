// xsk_ref: the C AF_XDP reference softnet is measured against (bench/lab-rxdrop.ts).
//
// Raw syscalls and kernel uapi headers only (no libbpf/libxdp: they fail on this kernel, see
// shared notes). Same recipe as softnet's addon: copy-mode socket, UMEM 4096 x 2048 B,
// XDP_USE_NEED_WAKEUP, a hand-assembled XSKMAP redirect program attached with BPF_LINK_CREATE
// (detached by the kernel when we exit, even on a crash).
//
//   xsk_ref rxdrop|l2fwd -i IF [-q Q] [-S|-N] [-p|-b] [-d SEC] [-B BATCH] [-r RING]
//   xsk_ref gen -i IF [-s SIZE] (-n COUNT | -d SEC) [-D dstmac] [-M srcmac]
//   xsk_ref xdpdrop -i IF [-S|-N] [-d SEC]
//
// rxdrop: return every received frame to the fill ring (xdpsock rxdrop).
// l2fwd:  swap MACs, transmit on the same socket, completions back to the fill ring.
// gen:    BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES on an XDP_TX program: the method
//         xdp-trafficgen uses; frames leave IF (run it inside the sending namespace).
// xdpdrop: the in-kernel baseline, an XDP_DROP program attached until the end.
// -S generic (skb) attach, -N native (drv, default); -p poll() (default), -b busy-poll.
// Prints pps each second on stderr and one JSON line on stdout at the end.
#define _GNU_SOURCE
#define TOOL "xsk_ref"
#include "xsk_common.h"
#include <sys/resource.h>

#define FILL_SIZE 4096
// RX/TX/completion ring size: -r (default 4096, softnet drop's default, so both receivers have the
// same room to absorb scheduling gaps).
static uint32_t ring_size = 4096;

static char *umem;

static void xsk_open(struct xsk *x, const char *dev, int queue, int busy, int batch) {
  umem = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (umem == MAP_FAILED) die("mmap umem");
  xsk_create(x, dev, umem, FILL_SIZE, ring_size);
  // Every frame starts in the fill ring; fill ring size == frame count, so it can never overflow.
  uint64_t *fq = x->fill.desc;
  for (uint32_t i = 0; i < NUM_FRAMES; i++) fq[i & x->fill.mask] = (uint64_t)i * FRAME_SIZE;
  store_rel(x->fill.producer, NUM_FRAMES);
  xsk_bind(x, queue, busy, batch, -1);
}

static void wake_fill(struct xsk *x) {
  if (load_acq(x->fill.flags) & XDP_RING_NEED_WAKEUP) recvfrom(x->fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
}

// Return n frame addresses to the fill ring (always room: see xsk_open).
static inline void fill_put(struct xsk *x, const uint64_t *addrs, uint32_t n) {
  uint64_t *fq = x->fill.desc;
  uint32_t p = *x->fill.producer;
  for (uint32_t i = 0; i < n; i++) fq[(p + i) & x->fill.mask] = addrs[i];
  store_rel(x->fill.producer, p + n);
}

static void run_xsk(int l2fwd, const char *dev, int queue, int skb_mode, int busy, double duration, int batch) {
  struct xsk x;
  xsk_open(&x, dev, queue, busy, batch);
  int link = attach_xsk(&x, queue, skb_mode);
  (void)link;
  const char *mode = l2fwd ? "l2fwd" : "rxdrop";
  const char *attach = skb_mode ? "xdp-skb" : "xdp-drv";
  fprintf(stderr, "xsk_ref %s on %s queue %d, %s copy mode, %s\n", mode, dev, queue, attach, busy ? "busy-poll" : "poll()");
  uint64_t rx = 0, tx = 0, txfull = 0, last_rx = 0;
  uint64_t addrs[512];
  if (batch > 512) batch = 512;
  struct pollfd pfd = {.fd = x.fd, .events = POLLIN};
  double t0 = now(), tlast = t0, tfirst = 0, tlastrx = 0, tend = t0 + duration;
  struct xdp_desc *rxd = x.rx.desc, *txd = x.tx.desc;
  while (!stop) {
    if (!busy && load_acq(x.rx.producer) == *x.rx.consumer) {
      int r = poll(&pfd, 1, 100);
      if (r < 0 && errno != EINTR) die("poll");
    }
    uint32_t c = *x.rx.consumer;
    uint32_t n = load_acq(x.rx.producer) - c;
    if (n > (uint32_t)batch) n = batch;
    if (n == 0) {
      if (busy) wake_fill(&x);
    } else {
      if (rx == 0) tfirst = now();
      tlastrx = now();
      if (!l2fwd) {
        for (uint32_t i = 0; i < n; i++) addrs[i] = rxd[(c + i) & x.rx.mask].addr;
        store_rel(x.rx.consumer, c + n);
        fill_put(&x, addrs, n);
      } else {
        uint32_t tp = *x.tx.producer;
        uint32_t room = ring_size - (tp - load_acq(x.tx.consumer));
        uint32_t k = n < room ? n : room;
        for (uint32_t i = 0; i < n; i++) {
          struct xdp_desc d = rxd[(c + i) & x.rx.mask];
          if (i < k) {
            uint8_t *p = (uint8_t *)umem + d.addr, t[6];
            memcpy(t, p, 6);
            memcpy(p, p + 6, 6);
            memcpy(p + 6, t, 6);
            txd[(tp + i) & x.tx.mask] = d;
          } else {
            addrs[i - k] = d.addr; // TX ring full: drop back to the fill ring
          }
        }
        store_rel(x.rx.consumer, c + n);
        if (k) store_rel(x.tx.producer, tp + k);
        if (n > k) fill_put(&x, addrs, n - k);
        tx += k;
        txfull += n - k;
      }
      rx += n;
    }
    if (l2fwd) {
      kick_tx(&x);
      uint32_t cc = *x.comp.consumer;
      uint32_t m = load_acq(x.comp.producer) - cc;
      if (m > 512) m = 512;
      if (m) {
        uint64_t *cq = x.comp.desc;
        for (uint32_t i = 0; i < m; i++) addrs[i] = cq[(cc + i) & x.comp.mask];
        store_rel(x.comp.consumer, cc + m);
        fill_put(&x, addrs, m);
      }
    }
    double t = now();
    if (t - tlast >= 1.0) {
      fprintf(stderr, "xsk_ref %s: %12.0f pps\n", mode, (rx - last_rx) / (t - tlast));
      last_rx = rx;
      tlast = t;
    }
    if (duration > 0 && t >= tend) break;
  }
  double t1 = now();
  struct xdp_statistics st = {0};
  socklen_t sl = sizeof(st);
  getsockopt(x.fd, SOL_XDP, XDP_STATISTICS, &st, &sl);
  // pps over the span traffic was actually seen (first frame to end), as xdp-bench does per interval.
  // Same definitions as `softnet drop --json`: seconds from start, first/last-frame offsets, CPU time.
  double secs = t1 - t0;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
  printf("{\"tool\":\"xsk_ref\",\"mode\":\"%s\",\"attach\":\"%s\",\"busyPoll\":%s,\"packets\":%llu,\"tx\":%llu,"
         "\"txRingFull\":%llu,\"seconds\":%.6f,\"pps\":%.1f,\"firstAt\":%.6f,\"lastAt\":%.6f,\"cpuSeconds\":%.6f,\"stats\":{\"rx_dropped\":%llu,\"rx_invalid_descs\":%llu,"
         "\"tx_invalid_descs\":%llu,\"rx_ring_full\":%llu,\"rx_fill_ring_empty_descs\":%llu,\"tx_ring_empty_descs\":%llu}}\n",
         mode, attach, busy ? "true" : "false", (unsigned long long)rx, (unsigned long long)tx,
         (unsigned long long)txfull, secs, secs > 0 ? rx / secs : 0.0, tfirst > 0 ? tfirst - t0 : -1.0,
         tlastrx > 0 ? tlastrx - t0 : -1.0, cpu, (unsigned long long)st.rx_dropped,
         (unsigned long long)st.rx_invalid_descs, (unsigned long long)st.tx_invalid_descs,
         (unsigned long long)st.rx_ring_full, (unsigned long long)st.rx_fill_ring_empty_descs,
         (unsigned long long)st.tx_ring_empty_descs);
  fflush(stdout);
}

// The in-kernel baseline: an XDP program that drops everything (2 instructions), attached with
// BPF_LINK_CREATE until the duration ends or a signal; the caller counts drops with `ethtool -S`
// (veth: rx_queue_N_xdp_drops), so nothing per packet is added to the program.
static void run_xdpdrop(const char *dev, int skb_mode, double duration) {
  int ifindex = ifindex_of(dev);
  struct bpf_insn prog[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_DROP},
      {.code = BPF_JMP | BPF_EXIT},
  };
  attach(load_prog(prog, 2, "bpf(BPF_PROG_LOAD xdp_drop)"), ifindex, skb_mode);
  fprintf(stderr, "xsk_ref xdpdrop on %s, %s\n", dev, skb_mode ? "xdp-skb" : "xdp-drv");
  double t0 = now();
  while (!stop && (duration <= 0 || now() - t0 < duration)) usleep(20000);
  printf("{\"tool\":\"xsk_ref\",\"mode\":\"xdpdrop\",\"attach\":\"%s\",\"seconds\":%.6f}\n", skb_mode ? "xdp-skb" : "xdp-drv",
         now() - t0);
  fflush(stdout);
}

// UDP 10.1.0.2:9 -> 10.2.0.2:9 by default (the lab's host A to host B), one frame of `size` bytes (no FCS).
static void run_gen(const char *dev, int size, uint64_t count, double duration, const uint8_t *dmac, const uint8_t *smac) {
  int ifindex = ifindex_of(dev);
  if (size < 60) size = 60;
  if (size > 1514) size = 1514;
  static uint8_t f[2048];
  build_frame(f, size, dmac, smac, inet_addr("10.1.0.2"), inet_addr("10.2.0.2"));
  struct bpf_insn prog[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_TX},
      {.code = BPF_JMP | BPF_EXIT},
  };
  int pfd = load_prog(prog, 2, "bpf(BPF_PROG_LOAD xdp_tx)");
  double secs;
  uint64_t sent = gen_live(pfd, ifindex, f, size, count, duration, 1 << 16, &secs, NULL, 0);
  printf("{\"tool\":\"xsk_ref\",\"mode\":\"gen\",\"method\":\"xdp-live-frames\",\"packets\":%llu,\"seconds\":%.6f,\"pps\":%.1f}\n",
         (unsigned long long)sent, secs, secs > 0 ? sent / secs : 0.0);
  fflush(stdout);
}

static void usage(void) {
  fprintf(stderr,
          "usage: xsk_ref rxdrop|l2fwd -i IF [-q Q] [-S skb|-N drv] [-p poll|-b busy] [-d SEC] [-B BATCH] [-r RING]\n"
          "       xsk_ref gen -i IF [-s SIZE] (-n COUNT | -d SEC) [-D DSTMAC] [-M SRCMAC]\n"
          "       xsk_ref xdpdrop -i IF [-S|-N] [-d SEC]   (in-kernel XDP_DROP; count with ethtool -S)\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *cmd = argv[1], *dev = NULL;
  int queue = 0, skb = 0, busy = 0, batch = 64, size = 64;
  double duration = 0;
  uint64_t count = 0;
  uint8_t dmac[6] = {0x02, 0, 0x0a, 0x01, 0, 0x01}, smac[6] = {0x02, 0, 0x0a, 0x01, 0, 0x02};
  int o;
  optind = 2;
  while ((o = getopt(argc, argv, "i:q:SNpbd:B:s:n:D:M:r:")) != -1) {
    switch (o) {
      case 'i': dev = optarg; break;
      case 'q': queue = atoi(optarg); break;
      case 'S': skb = 1; break;
      case 'N': skb = 0; break;
      case 'p': busy = 0; break;
      case 'b': busy = 1; break;
      case 'd': duration = atof(optarg); break;
      case 'B': batch = atoi(optarg); break;
      case 'r': ring_size = strtoul(optarg, NULL, 0); break;
      case 's': size = atoi(optarg); break;
      case 'n': count = strtoull(optarg, NULL, 0); break;
      case 'D': if (parse_mac(optarg, dmac)) usage(); break;
      case 'M': if (parse_mac(optarg, smac)) usage(); break;
      default: usage();
    }
  }
  if (!dev || batch < 1 || ring_size < 64 || ring_size > NUM_FRAMES || (ring_size & (ring_size - 1))) usage();
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  setvbuf(stderr, NULL, _IOLBF, 0);
  if (!strcmp(cmd, "rxdrop")) run_xsk(0, dev, queue, skb, busy, duration, batch);
  else if (!strcmp(cmd, "l2fwd")) run_xsk(1, dev, queue, skb, busy, duration, batch);
  else if (!strcmp(cmd, "xdpdrop")) run_xdpdrop(dev, skb, duration);
  else if (!strcmp(cmd, "gen")) {
    if (!count && duration <= 0) usage();
    run_gen(dev, size, count, duration, dmac, smac);
  } else usage();
  return 0;
}

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
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef XDP_MAX_TX_SKB_BUDGET
#define XDP_MAX_TX_SKB_BUDGET 9
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

#define NUM_FRAMES 4096
#define FRAME_SIZE 2048
#define FILL_SIZE 4096
// RX/TX/completion ring size: -r (default 4096, softnet drop's default, so both receivers have the
// same room to absorb scheduling gaps).
static uint32_t ring_size = 4096;

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void die(const char *what) {
  fprintf(stderr, "xsk_ref: %s: %s (errno %d)\n", what, strerror(errno), errno);
  exit(1);
}

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// A ring as mapped from the socket: producer/consumer indexes shared with the kernel.
struct ring {
  uint32_t *producer, *consumer, *flags;
  void *desc;
  uint32_t mask, size;
};

static void map_ring(int fd, struct ring *r, const struct xdp_ring_offset *off, uint32_t size, size_t desc_size,
                     off_t pgoff) {
  size_t len = off->desc + size * desc_size;
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
  if (m == MAP_FAILED) die("mmap ring");
  r->producer = (uint32_t *)(m + off->producer);
  r->consumer = (uint32_t *)(m + off->consumer);
  r->flags = (uint32_t *)(m + off->flags);
  r->desc = m + off->desc;
  r->mask = size - 1;
  r->size = size;
}

static inline uint32_t load_acq(uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void store_rel(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

struct xsk {
  int fd, ifindex, queue;
  char *umem;
  struct ring fill, comp, rx, tx;
};

static void xsk_open(struct xsk *x, const char *dev, int queue, int busy, int batch) {
  x->ifindex = if_nametoindex(dev);
  if (!x->ifindex) die("if_nametoindex (no such interface)");
  x->queue = queue;
  x->fd = socket(AF_XDP, SOCK_RAW, 0);
  if (x->fd < 0) die("socket(AF_XDP)");
  x->umem = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (x->umem == MAP_FAILED) die("mmap umem");
  struct xdp_umem_reg reg = {.addr = (uintptr_t)x->umem, .len = (uint64_t)NUM_FRAMES * FRAME_SIZE,
                             .chunk_size = FRAME_SIZE, .headroom = 0};
  if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg))) die("setsockopt XDP_UMEM_REG");
  int v;
  v = FILL_SIZE; if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_FILL_RING, &v, sizeof(v))) die("XDP_UMEM_FILL_RING");
  v = ring_size; if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &v, sizeof(v))) die("XDP_UMEM_COMPLETION_RING");
  v = ring_size; if (setsockopt(x->fd, SOL_XDP, XDP_RX_RING, &v, sizeof(v))) die("XDP_RX_RING");
  v = ring_size; if (setsockopt(x->fd, SOL_XDP, XDP_TX_RING, &v, sizeof(v))) die("XDP_TX_RING");
  struct xdp_mmap_offsets off;
  socklen_t ol = sizeof(off);
  if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol)) die("getsockopt XDP_MMAP_OFFSETS");
  map_ring(x->fd, &x->fill, &off.fr, FILL_SIZE, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING);
  map_ring(x->fd, &x->comp, &off.cr, ring_size, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING);
  map_ring(x->fd, &x->rx, &off.rx, ring_size, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING);
  map_ring(x->fd, &x->tx, &off.tx, ring_size, sizeof(struct xdp_desc), XDP_PGOFF_TX_RING);
  // Every frame starts in the fill ring; fill ring size == frame count, so it can never overflow.
  uint64_t *fq = x->fill.desc;
  for (uint32_t i = 0; i < NUM_FRAMES; i++) fq[i & x->fill.mask] = (uint64_t)i * FRAME_SIZE;
  store_rel(x->fill.producer, NUM_FRAMES);
  // One sendto sends 32 descriptors by default; raise it (older kernels: ignored).
  v = 256; setsockopt(x->fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &v, sizeof(v));
  if (busy) {
    v = 1; setsockopt(x->fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &v, sizeof(v));
    v = 20; setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL, &v, sizeof(v));
    v = batch; setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &v, sizeof(v));
  }
  struct sockaddr_xdp sxdp = {.sxdp_family = AF_XDP, .sxdp_ifindex = x->ifindex, .sxdp_queue_id = queue,
                              .sxdp_flags = XDP_COPY | XDP_USE_NEED_WAKEUP};
  // A queue released less than ~1 s ago is still tearing down in the kernel: EBUSY, retry.
  for (int tries = 0;; tries++) {
    if (bind(x->fd, (struct sockaddr *)&sxdp, sizeof(sxdp)) == 0) break;
    if (errno != EBUSY || tries >= 30) die("bind(AF_XDP)");
    usleep(100000);
  }
}

// XSKMAP[queue] = socket; program: return bpf_redirect_map(&xskmap, ctx->rx_queue_index, XDP_PASS).
static int attach_redirect(struct xsk *x, int skb_mode) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_type = BPF_MAP_TYPE_XSKMAP;
  a.key_size = 4;
  a.value_size = 4;
  a.max_entries = 64;
  int map = sys_bpf(BPF_MAP_CREATE, &a);
  if (map < 0) die("bpf(BPF_MAP_CREATE xskmap)");
  uint32_t key = x->queue, val = x->fd;
  memset(&a, 0, sizeof(a));
  a.map_fd = map;
  a.key = (uintptr_t)&key;
  a.value = (uintptr_t)&val;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a)) die("bpf(BPF_MAP_UPDATE_ELEM xskmap)");
  struct bpf_insn prog[] = {
      {.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 1, .off = 16}, // r2 = ctx->rx_queue_index
      {.code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = map},
      {.imm = 0},                                                                  // 2nd half of ld_imm64
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 3, .imm = XDP_PASS},        // r3 = XDP_PASS
      {.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_redirect_map},
      {.code = BPF_JMP | BPF_EXIT},
  };
  static char log[4096];
  memset(&a, 0, sizeof(a));
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.expected_attach_type = BPF_XDP;
  a.insns = (uintptr_t)prog;
  a.insn_cnt = sizeof(prog) / sizeof(prog[0]);
  a.license = (uintptr_t) "GPL";
  a.log_buf = (uintptr_t)log;
  a.log_size = sizeof(log);
  a.log_level = 1;
  int pfd = sys_bpf(BPF_PROG_LOAD, &a);
  if (pfd < 0) {
    fprintf(stderr, "%s\n", log);
    die("bpf(BPF_PROG_LOAD)");
  }
  memset(&a, 0, sizeof(a));
  a.link_create.prog_fd = pfd;
  a.link_create.target_ifindex = x->ifindex;
  a.link_create.attach_type = BPF_XDP;
  a.link_create.flags = skb_mode ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
  int link = sys_bpf(BPF_LINK_CREATE, &a);
  if (link < 0) die("bpf(BPF_LINK_CREATE) (another XDP program on the device?)");
  return link;
}

static void kick_tx(struct xsk *x) {
  if (!(load_acq(x->tx.flags) & XDP_RING_NEED_WAKEUP)) return;
  if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY && errno != ENOBUFS &&
      errno != ENETDOWN)
    die("sendto (tx kick)");
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
  int link = attach_redirect(&x, skb_mode);
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
            uint8_t *p = (uint8_t *)x.umem + d.addr, t[6];
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
  int ifindex = if_nametoindex(dev);
  if (!ifindex) die("if_nametoindex (no such interface)");
  struct bpf_insn prog[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_DROP},
      {.code = BPF_JMP | BPF_EXIT},
  };
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.expected_attach_type = BPF_XDP;
  a.insns = (uintptr_t)prog;
  a.insn_cnt = 2;
  a.license = (uintptr_t) "GPL";
  int pfd = sys_bpf(BPF_PROG_LOAD, &a);
  if (pfd < 0) die("bpf(BPF_PROG_LOAD xdp_drop)");
  memset(&a, 0, sizeof(a));
  a.link_create.prog_fd = pfd;
  a.link_create.target_ifindex = ifindex;
  a.link_create.attach_type = BPF_XDP;
  a.link_create.flags = skb_mode ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
  if (sys_bpf(BPF_LINK_CREATE, &a) < 0) die("bpf(BPF_LINK_CREATE) (another XDP program on the device?)");
  fprintf(stderr, "xsk_ref xdpdrop on %s, %s\n", dev, skb_mode ? "xdp-skb" : "xdp-drv");
  double t0 = now();
  while (!stop && (duration <= 0 || now() - t0 < duration)) usleep(20000);
  printf("{\"tool\":\"xsk_ref\",\"mode\":\"xdpdrop\",\"attach\":\"%s\",\"seconds\":%.6f}\n", skb_mode ? "xdp-skb" : "xdp-drv",
         now() - t0);
  fflush(stdout);
}

static uint16_t csum16(const uint8_t *p, int len) {
  uint32_t s = 0;
  for (int i = 0; i + 1 < len; i += 2) s += (p[i] << 8) | p[i + 1];
  if (len & 1) s += p[len - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

static int parse_mac(const char *s, uint8_t *m) {
  unsigned b[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) return -1;
  for (int i = 0; i < 6; i++) m[i] = b[i];
  return 0;
}

// UDP 10.1.0.2:9 -> 10.2.0.2:9 by default (the lab's host A to host B), one frame of `size` bytes (no FCS).
static void run_gen(const char *dev, int size, uint64_t count, double duration, const uint8_t *dmac, const uint8_t *smac) {
  int ifindex = if_nametoindex(dev);
  if (!ifindex) die("if_nametoindex (no such interface)");
  if (size < 60) size = 60;
  if (size > 1514) size = 1514;
  static uint8_t f[2048];
  memset(f, 0, sizeof(f));
  memcpy(f, dmac, 6);
  memcpy(f + 6, smac, 6);
  f[12] = 0x08;
  uint8_t *ip = f + 14;
  int iplen = size - 14;
  ip[0] = 0x45;
  ip[2] = iplen >> 8, ip[3] = iplen;
  ip[6] = 0x40; // DF
  ip[8] = 64, ip[9] = 17;
  uint8_t src[4] = {10, 1, 0, 2}, dst[4] = {10, 2, 0, 2};
  memcpy(ip + 12, src, 4);
  memcpy(ip + 16, dst, 4);
  uint16_t c = csum16(ip, 20);
  ip[10] = c >> 8, ip[11] = c;
  uint8_t *udp = ip + 20;
  int ulen = iplen - 20;
  udp[0] = 0x04, udp[1] = 0x00; // sport 1024
  udp[2] = 0, udp[3] = 9;       // discard
  udp[4] = ulen >> 8, udp[5] = ulen;
  struct bpf_insn prog[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_TX},
      {.code = BPF_JMP | BPF_EXIT},
  };
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.insns = (uintptr_t)prog;
  a.insn_cnt = 2;
  a.license = (uintptr_t) "GPL";
  int pfd = sys_bpf(BPF_PROG_LOAD, &a);
  if (pfd < 0) die("bpf(BPF_PROG_LOAD xdp_tx)");
  struct xdp_md ctx = {.data = 0, .data_end = size, .ingress_ifindex = ifindex};
  uint64_t sent = 0, last = 0;
  const uint32_t chunk = 1 << 16;
  double t0 = now(), tlast = t0;
  while (!stop) {
    uint32_t rep = chunk;
    if (count && count - sent < rep) rep = count - sent;
    if (rep == 0) break;
    memset(&a, 0, sizeof(a));
    a.test.prog_fd = pfd;
    a.test.data_in = (uintptr_t)f;
    a.test.data_size_in = size;
    a.test.ctx_in = (uintptr_t)&ctx;
    a.test.ctx_size_in = sizeof(ctx);
    a.test.repeat = rep;
    a.test.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
    a.test.batch_size = 64;
    if (sys_bpf(BPF_PROG_TEST_RUN, &a)) {
      if (errno == EINTR) continue;
      die("bpf(BPF_PROG_TEST_RUN live frames)");
    }
    sent += rep;
    double t = now();
    if (t - tlast >= 1.0) {
      fprintf(stderr, "xsk_ref gen: %12.0f pps\n", (sent - last) / (t - tlast));
      last = sent, tlast = t;
    }
    if (duration > 0 && t - t0 >= duration) break;
  }
  double secs = now() - t0;
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

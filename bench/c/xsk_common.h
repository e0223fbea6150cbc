// xsk_common.h: what xsk_ref.c and xsk_fwd.c share: raw bpf() calls, XDP program load and attach,
// AF_XDP socket and ring setup, the live-frame generator loop and small helpers.
//
// Header-only (static functions) so each program still builds from its one .c file. Define TOOL
// (the program's name, the prefix of its messages) before including it.
//
// Raw syscalls and kernel uapi headers only (no libbpf/libxdp: they fail on this kernel, see
// shared notes).
#ifndef XSK_COMMON_H
#define XSK_COMMON_H

#ifndef TOOL
#error "define TOOL before including xsk_common.h"
#endif

#include <arpa/inet.h>
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

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void die(const char *what) {
  fprintf(stderr, TOOL ": %s: %s (errno %d)\n", what, strerror(errno), errno);
  exit(1);
}

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int parse_mac(const char *s, uint8_t *m) {
  unsigned b[6];
  if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6) return -1;
  for (int i = 0; i < 6; i++) m[i] = b[i];
  return 0;
}

static uint16_t csum16(const uint8_t *p, int len) {
  uint32_t s = 0;
  for (int i = 0; i + 1 < len; i += 2) s += (p[i] << 8) | p[i + 1];
  if (len & 1) s += p[len - 1] << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

static int ifindex_of(const char *dev) {
  int ifindex = if_nametoindex(dev);
  if (!ifindex) die("if_nametoindex (no such interface)");
  return ifindex;
}

// ------------------------------------------------------------------------------- XDP programs

// Loads an XDP program; on failure prints the verifier log and dies with `what`.
static int load_prog(struct bpf_insn *prog, int n, const char *what) {
  static char log[65536];
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.expected_attach_type = BPF_XDP;
  a.insns = (uintptr_t)prog;
  a.insn_cnt = n;
  a.license = (uintptr_t) "GPL";
  a.log_buf = (uintptr_t)log;
  a.log_size = sizeof(log);
  a.log_level = 1;
  int fd = sys_bpf(BPF_PROG_LOAD, &a);
  if (fd < 0) {
    fprintf(stderr, "%s\n", log);
    die(what);
  }
  return fd;
}

// BPF_LINK_CREATE rather than the netlink attach: the kernel detaches the program when we exit,
// even on a crash. skb: generic (skb) mode, else native (drv).
static int attach(int prog, int ifindex, int skb) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.link_create.prog_fd = prog;
  a.link_create.target_ifindex = ifindex;
  a.link_create.attach_type = BPF_XDP;
  a.link_create.flags = skb ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
  int link = sys_bpf(BPF_LINK_CREATE, &a);
  if (link < 0) die("bpf(BPF_LINK_CREATE) (another XDP program on the device?)");
  return link;
}

// ------------------------------------------------------------------------------- AF_XDP socket

// A ring as mapped from the socket: producer/consumer indexes shared with the kernel.
struct ring {
  uint32_t *producer, *consumer, *flags;
  void *desc;
  uint32_t mask;
};

static inline uint32_t load_acq(uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void store_rel(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

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
}

struct xsk {
  int fd, ifindex;
  struct ring fill, comp, rx, tx;
};

// An AF_XDP socket for dev with its four rings sized and mapped; umem (NUM_FRAMES x FRAME_SIZE) is
// registered on it, or NULL for a socket that will share another socket's UMEM (xsk_bind).
// The caller then puts frames in the fill ring and calls xsk_bind.
static void xsk_create(struct xsk *x, const char *dev, char *umem, uint32_t fill_size, uint32_t ring_size) {
  x->ifindex = ifindex_of(dev);
  x->fd = socket(AF_XDP, SOCK_RAW, 0);
  if (x->fd < 0) die("socket(AF_XDP)");
  if (umem) {
    struct xdp_umem_reg reg = {.addr = (uintptr_t)umem, .len = (uint64_t)NUM_FRAMES * FRAME_SIZE,
                               .chunk_size = FRAME_SIZE, .headroom = 0};
    if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg))) die("setsockopt XDP_UMEM_REG");
  }
  int v;
  v = fill_size; if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_FILL_RING, &v, sizeof(v))) die("XDP_UMEM_FILL_RING");
  v = ring_size; if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &v, sizeof(v))) die("XDP_UMEM_COMPLETION_RING");
  v = ring_size; if (setsockopt(x->fd, SOL_XDP, XDP_RX_RING, &v, sizeof(v))) die("XDP_RX_RING");
  v = ring_size; if (setsockopt(x->fd, SOL_XDP, XDP_TX_RING, &v, sizeof(v))) die("XDP_TX_RING");
  struct xdp_mmap_offsets off;
  socklen_t ol = sizeof(off);
  if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol)) die("getsockopt XDP_MMAP_OFFSETS");
  map_ring(x->fd, &x->fill, &off.fr, fill_size, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING);
  map_ring(x->fd, &x->comp, &off.cr, ring_size, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING);
  map_ring(x->fd, &x->rx, &off.rx, ring_size, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING);
  map_ring(x->fd, &x->tx, &off.tx, ring_size, sizeof(struct xdp_desc), XDP_PGOFF_TX_RING);
}

// Binds to dev's queue in copy mode with XDP_USE_NEED_WAKEUP, or, with shared_fd >= 0, to the UMEM
// of that socket (XDP_SHARED_UMEM). busy: busy-poll with budget as SO_BUSY_POLL_BUDGET.
static void xsk_bind(struct xsk *x, int queue, int busy, int budget, int shared_fd) {
  int v;
  // One sendto sends 32 descriptors by default; raise it (older kernels: ignored).
  v = 256; setsockopt(x->fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &v, sizeof(v));
  if (busy) {
    v = 1; setsockopt(x->fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &v, sizeof(v));
    v = 20; setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL, &v, sizeof(v));
    v = budget; setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &v, sizeof(v));
  }
  struct sockaddr_xdp sxdp = {.sxdp_family = AF_XDP, .sxdp_ifindex = x->ifindex, .sxdp_queue_id = queue};
  if (shared_fd < 0) sxdp.sxdp_flags = XDP_COPY | XDP_USE_NEED_WAKEUP;
  else sxdp.sxdp_flags = XDP_SHARED_UMEM, sxdp.sxdp_shared_umem_fd = shared_fd;
  // A queue released less than ~1 s ago is still tearing down in the kernel: EBUSY, retry.
  for (int tries = 0;; tries++) {
    if (bind(x->fd, (struct sockaddr *)&sxdp, sizeof(sxdp)) == 0) break;
    if (errno != EBUSY || tries >= 30) die("bind(AF_XDP)");
    usleep(100000);
  }
}

// A BPF map with u32 keys; dies naming `what` if the kernel refuses.
static int map_create(uint32_t type, uint32_t value_size, uint32_t entries, const char *what) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_type = type;
  a.key_size = 4;
  a.value_size = value_size;
  a.max_entries = entries;
  int fd = sys_bpf(BPF_MAP_CREATE, &a);
  if (fd < 0) die(what);
  return fd;
}

// XSKMAP[queue] = socket; program: return bpf_redirect_map(&xskmap, ctx->rx_queue_index, XDP_PASS).
static int attach_xsk(struct xsk *x, int queue, int skb) {
  int map = map_create(BPF_MAP_TYPE_XSKMAP, 4, 64, "bpf(BPF_MAP_CREATE xskmap)");
  uint32_t key = queue, val = x->fd;
  union bpf_attr a;
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
  return attach(load_prog(prog, 6, "bpf(BPF_PROG_LOAD xsk redirect)"), x->ifindex, skb);
}

static void kick_tx(struct xsk *x) {
  if (!(load_acq(x->tx.flags) & XDP_RING_NEED_WAKEUP)) return;
  if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY && errno != ENOBUFS &&
      errno != ENETDOWN)
    die("sendto (tx kick)");
}

// ---------------------------------------------------------------------------------- generator

// Ethernet + IPv4 + UDP (sport 1024, dport 9) headers of a `len`-byte frame (no FCS), rest zero.
// sip, dip in network order.
static void build_frame(uint8_t *f, int len, const uint8_t *dmac, const uint8_t *smac, uint32_t sip, uint32_t dip) {
  memset(f, 0, len);
  memcpy(f, dmac, 6);
  memcpy(f + 6, smac, 6);
  f[12] = 0x08;
  uint8_t *ip = f + 14;
  int iplen = len - 14;
  ip[0] = 0x45;
  ip[2] = iplen >> 8, ip[3] = iplen;
  ip[6] = 0x40; // DF
  ip[8] = 64, ip[9] = 17;
  memcpy(ip + 12, &sip, 4);
  memcpy(ip + 16, &dip, 4);
  uint16_t c = csum16(ip, 20);
  ip[10] = c >> 8, ip[11] = c;
  uint8_t *udp = ip + 20;
  int ulen = iplen - 20;
  udp[0] = 0x04, udp[1] = 0x00; // sport 1024
  udp[2] = 0, udp[3] = 9;       // dport 9 (discard)
  udp[4] = ulen >> 8, udp[5] = ulen;
}

// Runs the XDP_TX program `prog` on `frame` (len bytes) with BPF_PROG_TEST_RUN and
// BPF_F_TEST_XDP_LIVE_FRAMES, `chunk` frames per call, until count frames (0: no limit), duration
// seconds (0: none) or a signal; the method xdp-trafficgen uses: the frames leave ifindex.
// Prints pps each second on stderr. *bytes (if not NULL) adds bytes12 / 12 per frame: bytes12 is
// the bytes of 12 frames, so a mix (IMIX: 7:4:1) counts exactly like a fixed size.
static uint64_t gen_live(int prog, int ifindex, const uint8_t *frame, int len, uint64_t count, double duration,
                         uint32_t chunk, double *secs, uint64_t *bytes, uint64_t bytes12) {
  uint64_t sent = 0, last = 0;
  double t0 = now(), tlast = t0;
  union bpf_attr a;
  while (!stop) {
    uint32_t rep = chunk;
    if (count && count - sent < rep) rep = count - sent;
    if (rep == 0) break;
    struct xdp_md ctx = {.data = 0, .data_end = (uint32_t)len, .ingress_ifindex = (uint32_t)ifindex};
    memset(&a, 0, sizeof(a));
    a.test.prog_fd = prog;
    a.test.data_in = (uintptr_t)frame;
    a.test.data_size_in = len;
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
    if (bytes) *bytes += (uint64_t)rep * bytes12 / 12;
    double t = now();
    if (t - tlast >= 1.0) {
      fprintf(stderr, TOOL " gen: %12.0f pps\n", (sent - last) / (t - tlast));
      last = sent, tlast = t;
    }
    if (duration > 0 && t - t0 >= duration) break;
  }
  *secs = now() - t0;
  return sent;
}

#endif

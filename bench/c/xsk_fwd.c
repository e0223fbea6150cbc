// xsk_fwd: the C side of the benchmark suite (bench/suite): the baselines and the generator that
// every system in a scenario shares.
//
//   xsk_fwd gen -i IF -s SIZE|imix (-d SEC | -n COUNT) [-D DSTMAC] [-M SRCMAC] [-S SRCIP] [-T DSTIP]
//   xsk_fwd xdpdrop -i IF [-k] [-4] [-d SEC]
//   xsk_fwd fwd -a IF_A -b IF_B -r ROUTE [-r ROUTE...] [-k] [-p|-B] [-d SEC]
//
// gen:     BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES (xdp-trafficgen's method, ~5 Mpps
//          here), -c frames per run (default 262144: each run costs ~30 ms of setup). SIZE
//          includes the 4-byte FCS (64 B frame = 60 B sent). `imix` mixes per packet 7:4:1 of
//          64/594/1518 B (a counter and bpf_xdp_adjust_tail in the program). The program rewrites the Ethernet/IPv4/UDP headers on every run, so
//          receivers that rewrite frames in place (routers: TTL, MACs) never see a stale page.
// xdpdrop: the in-kernel baseline: an XDP program that counts (array map, atomic add) and
//          returns XDP_DROP, attached with BPF_LINK_CREATE (drv; -k: skb/generic). -4: only IPv4
//          is dropped and counted, the rest passes (the router scenario's sink on host B: ARP works).
// fwd:     the C AF_XDP IPv4 forwarder: one socket per device sharing one UMEM
//          (XDP_SHARED_UMEM), a route table (longest prefix first), TTL decrement with the
//          RFC 1624 checksum update, MAC rewrite, transmit by descriptor on the other socket.
//          ROUTE = PREFIX/LEN=a|b,NEXTHOP_MAC, e.g. 10.2.0.0/24=b,02:00:0a:02:00:02
//
// Raw syscalls and uapi headers only (no libbpf). Prints a rate each second on stderr
// ("... N pps") and one JSON line on stdout at the end. SIGINT/SIGTERM end the run cleanly.
#define _GNU_SOURCE
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
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/if.h>

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

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void die(const char *what) {
  fprintf(stderr, "xsk_fwd: %s: %s (errno %d)\n", what, strerror(errno), errno);
  exit(1);
}

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

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

// ---------------------------------------------------------------------------------------- gen

#define HDR 42 // Ethernet 14 + IPv4 20 + UDP 8

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
  for (int i = HDR; i < len; i++) f[i] = (uint8_t)i;
}

// An XDP program that writes the frame's first 42 bytes (Ethernet/IPv4/UDP headers) and
// returns XDP_TX: live-frame pages are recycled, and a receiver may have rewritten them.
static int load_gen_prog(const uint8_t *f) {
  struct bpf_insn p[40];
  int n = 0;
  p[n++] = (struct bpf_insn){.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 1, .off = 0}; // r2 = data
  p[n++] = (struct bpf_insn){.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 3, .src_reg = 1, .off = 4}; // r3 = data_end
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 4, .src_reg = 2};        // r4 = r2
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 4, .imm = HDR};          // r4 += 42
  int jmp = n++;                                                                                       // if r4 > r3 goto out
  for (int off = 0; off + 4 <= 40; off += 4) {
    int32_t imm;
    memcpy(&imm, f + off, 4); // host (little-endian) order = the bytes in memory order
    p[n++] = (struct bpf_insn){.code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = 2, .off = off, .imm = imm};
  }
  uint16_t h;
  memcpy(&h, f + 40, 2);
  p[n++] = (struct bpf_insn){.code = BPF_ST | BPF_MEM | BPF_H, .dst_reg = 2, .off = 40, .imm = h};
  int out = n;
  p[jmp] = (struct bpf_insn){.code = BPF_JMP | BPF_JGT | BPF_X, .dst_reg = 4, .src_reg = 3, .off = (int16_t)(out - jmp - 1)};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_TX};
  p[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_EXIT};
  return load_prog(p, n, "bpf(BPF_PROG_LOAD generator)");
}

// IMIX per packet: one 1514 B frame in, a counter picks the size of each packet (7 x 64, 4 x 594,
// 1 x 1518 in every 12, with FCS), bpf_xdp_adjust_tail trims the frame, and the size's own
// headers (IP total length, checksum, UDP length) are written; then XDP_TX.
static int load_imix_prog(uint8_t frames[3][2048], const int *sizes, int map) {
  struct bpf_insn p[128];
  int n = 0;
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 6, .src_reg = 1}; // r6 = ctx
  p[n++] = (struct bpf_insn){.code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = 10, .off = -4, .imm = 0};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = -4};
  p[n++] = (struct bpf_insn){.code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = map};
  p[n++] = (struct bpf_insn){.imm = 0};
  p[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem};
  int j_null = n++; // if r0 == 0 goto tx
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 1, .imm = 1};
  p[n++] = (struct bpf_insn){.code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = 0, .src_reg = 1, .off = 0, .imm = BPF_ADD | BPF_FETCH};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOD | BPF_K, .dst_reg = 1, .imm = 12};
  int j_lt7 = n++;  // if r1 < 7 goto block 0 (64)
  int j_lt11 = n++; // if r1 < 11 goto block 1 (594)
  int jb[3], jend[3][2], start[3];
  // block order: 1518 (fall through), then 594, then 64
  int order[3] = {2, 1, 0};
  for (int oi = 0; oi < 3; oi++) {
    int k = order[oi];
    start[k] = n;
    p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 1, .src_reg = 6};
    p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 2, .imm = sizes[k] - sizes[2]};
    p[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_xdp_adjust_tail};
    p[n++] = (struct bpf_insn){.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 6, .off = 0};
    p[n++] = (struct bpf_insn){.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 3, .src_reg = 6, .off = 4};
    p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 4, .src_reg = 2};
    p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 4, .imm = HDR};
    jend[k][0] = n++; // if r4 > r3 goto tx
    for (int off = 0; off + 4 <= 40; off += 4) {
      int32_t imm;
      memcpy(&imm, frames[k] + off, 4);
      p[n++] = (struct bpf_insn){.code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = 2, .off = off, .imm = imm};
    }
    uint16_t h;
    memcpy(&h, frames[k] + 40, 2);
    p[n++] = (struct bpf_insn){.code = BPF_ST | BPF_MEM | BPF_H, .dst_reg = 2, .off = 40, .imm = h};
    jend[k][1] = n++; // goto tx
    jb[k] = start[k];
  }
  int tx = n;
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_TX};
  p[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_EXIT};
  p[j_null] = (struct bpf_insn){.code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = 0, .imm = 0, .off = (int16_t)(tx - j_null - 1)};
  p[j_lt7] = (struct bpf_insn){.code = BPF_JMP | BPF_JLT | BPF_K, .dst_reg = 1, .imm = 7, .off = (int16_t)(jb[0] - j_lt7 - 1)};
  p[j_lt11] = (struct bpf_insn){.code = BPF_JMP | BPF_JLT | BPF_K, .dst_reg = 1, .imm = 11, .off = (int16_t)(jb[1] - j_lt11 - 1)};
  for (int k = 0; k < 3; k++) {
    p[jend[k][0]] = (struct bpf_insn){.code = BPF_JMP | BPF_JGT | BPF_X, .dst_reg = 4, .src_reg = 3, .off = (int16_t)(tx - jend[k][0] - 1)};
    p[jend[k][1]] = (struct bpf_insn){.code = BPF_JMP | BPF_JA, .off = (int16_t)(tx - jend[k][1] - 1)};
  }
  return load_prog(p, n, "bpf(BPF_PROG_LOAD imix generator)");
}

static int array_map(int entries, int value_size);

static uint32_t gen_chunk = 1 << 18;

static void run_gen(const char *dev, const char *sizespec, uint64_t count, double duration, const uint8_t *dmac,
                    const uint8_t *smac, uint32_t sip, uint32_t dip) {
  int ifindex = if_nametoindex(dev);
  if (!ifindex) die("if_nametoindex (no such interface)");
  static uint8_t frames[3][2048];
  int imix = !strcmp(sizespec, "imix");
  int prog, len;
  if (imix) {
    static const int sizes[3] = {64, 594, 1518}; // with FCS
    for (int k = 0; k < 3; k++) build_frame(frames[k], sizes[k] - 4, dmac, smac, sip, dip);
    int fcs_less[3] = {sizes[0] - 4, sizes[1] - 4, sizes[2] - 4};
    prog = load_imix_prog(frames, fcs_less, array_map(1, 8));
    len = fcs_less[2];
  } else {
    int sz = atoi(sizespec);
    if (sz < 64 || sz > 1518) {
      fprintf(stderr, "xsk_fwd gen: size %s: expected 64..1518 (with FCS) or imix\n", sizespec);
      exit(2);
    }
    len = sz - 4;
    build_frame(frames[0], len, dmac, smac, sip, dip);
    prog = load_gen_prog(frames[0]);
  }
  fprintf(stderr, "xsk_fwd gen on %s: %s B frames (with FCS), xdp live frames\n", dev, sizespec);
  uint64_t sent = 0, last = 0, bytes = 0;
  const uint32_t chunk = gen_chunk;
  double t0 = now(), tlast = t0;
  union bpf_attr a;
  while (!stop) {
    uint32_t rep = chunk;
    if (count && count - sent < rep) rep = count - sent;
    if (rep == 0) break;
    struct xdp_md ctx = {.data = 0, .data_end = (uint32_t)len, .ingress_ifindex = (uint32_t)ifindex};
    memset(&a, 0, sizeof(a));
    a.test.prog_fd = prog;
    a.test.data_in = (uintptr_t)frames[imix ? 2 : 0];
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
    bytes += imix ? (uint64_t)rep * 4342 / 12 : (uint64_t)rep * (len + 4);
    double t = now();
    if (t - tlast >= 1.0) {
      fprintf(stderr, "xsk_fwd gen: %12.0f pps\n", (sent - last) / (t - tlast));
      last = sent, tlast = t;
    }
    if (duration > 0 && t - t0 >= duration) break;
  }
  double secs = now() - t0;
  printf("{\"tool\":\"xsk_fwd\",\"mode\":\"gen\",\"method\":\"xdp-live-frames\",\"size\":\"%s\",\"packets\":%llu,"
         "\"bytes\":%llu,\"seconds\":%.6f,\"pps\":%.1f}\n",
         sizespec, (unsigned long long)sent, (unsigned long long)bytes, secs, secs > 0 ? sent / secs : 0.0);
  fflush(stdout);
}

// ------------------------------------------------------------------------------------ xdpdrop

static int array_map(int entries, int value_size) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_type = BPF_MAP_TYPE_ARRAY;
  a.key_size = 4;
  a.value_size = value_size;
  a.max_entries = entries;
  int fd = sys_bpf(BPF_MAP_CREATE, &a);
  if (fd < 0) die("bpf(BPF_MAP_CREATE array)");
  return fd;
}

static uint64_t map_u64(int map, uint32_t key) {
  uint64_t v = 0;
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_fd = map;
  a.key = (uintptr_t)&key;
  a.value = (uintptr_t)&v;
  if (sys_bpf(BPF_MAP_LOOKUP_ELEM, &a)) die("bpf(BPF_MAP_LOOKUP_ELEM)");
  return v;
}

static void run_xdpdrop(const char *dev, int skb, double duration, int ipv4only) {
  int ifindex = if_nametoindex(dev);
  if (!ifindex) die("if_nametoindex (no such interface)");
  int map = array_map(1, 8);
  // [-4: if not IPv4, return XDP_PASS (ARP still reaches the kernel)]
  // key = 0; r0 = lookup(map, &key); if (r0) atomic64_add(r0, 1); return XDP_DROP
  struct bpf_insn p[24];
  int n = 0, jpass[2] = {-1, -1};
  if (ipv4only) {
    p[n++] = (struct bpf_insn){.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 1, .off = 0};
    p[n++] = (struct bpf_insn){.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 3, .src_reg = 1, .off = 4};
    p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 4, .src_reg = 2};
    p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 4, .imm = 14};
    jpass[0] = n++; // if r4 > r3 goto pass
    p[n++] = (struct bpf_insn){.code = BPF_LDX | BPF_MEM | BPF_H, .dst_reg = 5, .src_reg = 2, .off = 12};
    jpass[1] = n++; // if r5 != htons(ETH_P_IP) goto pass
  }
  p[n++] = (struct bpf_insn){.code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = 10, .off = -4, .imm = 0};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = -4};
  p[n++] = (struct bpf_insn){.code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = map};
  p[n++] = (struct bpf_insn){.imm = 0};
  p[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem};
  p[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = 0, .off = 2, .imm = 0};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 1, .imm = 1};
  p[n++] = (struct bpf_insn){.code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = 0, .src_reg = 1, .off = 0, .imm = BPF_ADD};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_DROP};
  p[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_EXIT};
  if (ipv4only) {
    int pass = n;
    p[jpass[0]] = (struct bpf_insn){.code = BPF_JMP | BPF_JGT | BPF_X, .dst_reg = 4, .src_reg = 3, .off = (int16_t)(pass - jpass[0] - 1)};
    p[jpass[1]] = (struct bpf_insn){.code = BPF_JMP | BPF_JNE | BPF_K, .dst_reg = 5, .imm = 0x0008, .off = (int16_t)(pass - jpass[1] - 1)};
    p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_PASS};
    p[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_EXIT};
  }
  int prog = load_prog(p, n, "bpf(BPF_PROG_LOAD xdp_drop)");
  int link = attach(prog, ifindex, skb);
  (void)link;
  fprintf(stderr, "xsk_fwd xdpdrop attached to %s (%s), counting\n", dev, skb ? "xdp-skb" : "xdp-drv");
  double t0 = now(), tlast = t0, tfirst = 0;
  uint64_t last = 0, first = 0, cur = 0;
  while (!stop) {
    usleep(50000);
    double t = now();
    cur = map_u64(map, 0);
    if (cur && !tfirst) tfirst = t, first = cur;
    if (t - tlast >= 1.0) {
      fprintf(stderr, "xsk_fwd xdpdrop: %12.0f pps\n", (cur - last) / (t - tlast));
      last = cur, tlast = t;
    }
    if (duration > 0 && t - t0 >= duration) break;
  }
  double secs = tfirst ? now() - tfirst : 0;
  printf("{\"tool\":\"xsk_fwd\",\"mode\":\"xdpdrop\",\"attach\":\"%s\",\"packets\":%llu,\"seconds\":%.6f,\"pps\":%.1f}\n",
         skb ? "xdp-skb" : "xdp-drv", (unsigned long long)cur, secs, secs > 0 ? (cur - first) / secs : 0.0);
  fflush(stdout);
}

// ---------------------------------------------------------------------------------------- fwd

#define NUM_FRAMES 4096
#define FRAME_SIZE 2048
#define RING 2048
#define BATCH 64

struct ring {
  uint32_t *producer, *consumer, *flags;
  void *desc;
  uint32_t mask;
};

static inline uint32_t load_acq(uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void store_rel(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static void map_ring(int fd, struct ring *r, const struct xdp_ring_offset *off, size_t desc_size, off_t pgoff) {
  size_t len = off->desc + RING * desc_size;
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
  if (m == MAP_FAILED) die("mmap ring");
  r->producer = (uint32_t *)(m + off->producer);
  r->consumer = (uint32_t *)(m + off->consumer);
  r->flags = (uint32_t *)(m + off->flags);
  r->desc = m + off->desc;
  r->mask = RING - 1;
}

struct side {
  const char *dev;
  int fd, ifindex;
  uint8_t mac[6];
  struct ring fill, comp, rx, tx;
  uint64_t txaddr[BATCH * 2];
  uint32_t txlen[BATCH * 2];
  uint32_t ntx;
  uint64_t rx_pkts, tx_pkts;
};

struct route {
  uint32_t net, mask; // host order
  int len, out;
  uint8_t mac[6];
};

static char *umem;
static uint64_t freel[NUM_FRAMES];
static uint32_t nfree;

static void dev_mac(const char *dev, uint8_t *mac) {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strncpy(ifr.ifr_name, dev, IFNAMSIZ - 1);
  if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr)) die("ioctl SIOCGIFHWADDR");
  memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
  close(s);
}

static void side_open(struct side *x, const char *dev, int shared_fd, int busy) {
  x->dev = dev;
  x->ifindex = if_nametoindex(dev);
  if (!x->ifindex) die("if_nametoindex (no such interface)");
  dev_mac(dev, x->mac);
  x->fd = socket(AF_XDP, SOCK_RAW, 0);
  if (x->fd < 0) die("socket(AF_XDP)");
  int v;
  if (shared_fd < 0) {
    struct xdp_umem_reg reg = {.addr = (uintptr_t)umem, .len = (uint64_t)NUM_FRAMES * FRAME_SIZE, .chunk_size = FRAME_SIZE, .headroom = 0};
    if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg))) die("setsockopt XDP_UMEM_REG");
  }
  v = RING;
  if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_FILL_RING, &v, sizeof(v))) die("XDP_UMEM_FILL_RING");
  if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &v, sizeof(v))) die("XDP_UMEM_COMPLETION_RING");
  if (setsockopt(x->fd, SOL_XDP, XDP_RX_RING, &v, sizeof(v))) die("XDP_RX_RING");
  if (setsockopt(x->fd, SOL_XDP, XDP_TX_RING, &v, sizeof(v))) die("XDP_TX_RING");
  struct xdp_mmap_offsets off;
  socklen_t ol = sizeof(off);
  if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol)) die("getsockopt XDP_MMAP_OFFSETS");
  map_ring(x->fd, &x->fill, &off.fr, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING);
  map_ring(x->fd, &x->comp, &off.cr, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING);
  map_ring(x->fd, &x->rx, &off.rx, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING);
  map_ring(x->fd, &x->tx, &off.tx, sizeof(struct xdp_desc), XDP_PGOFF_TX_RING);
  // Half the frames to each fill ring before bind.
  uint64_t *fq = x->fill.desc;
  uint32_t n = NUM_FRAMES / 2 < RING ? NUM_FRAMES / 2 : RING;
  for (uint32_t i = 0; i < n; i++) fq[i & x->fill.mask] = freel[--nfree];
  store_rel(x->fill.producer, n);
  v = 256;
  setsockopt(x->fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET, &v, sizeof(v));
  if (busy) {
    v = 1; setsockopt(x->fd, SOL_SOCKET, SO_PREFER_BUSY_POLL, &v, sizeof(v));
    v = 20; setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL, &v, sizeof(v));
    v = BATCH; setsockopt(x->fd, SOL_SOCKET, SO_BUSY_POLL_BUDGET, &v, sizeof(v));
  }
  struct sockaddr_xdp sxdp = {.sxdp_family = AF_XDP, .sxdp_ifindex = x->ifindex, .sxdp_queue_id = 0};
  if (shared_fd < 0) sxdp.sxdp_flags = XDP_COPY | XDP_USE_NEED_WAKEUP;
  else sxdp.sxdp_flags = XDP_SHARED_UMEM, sxdp.sxdp_shared_umem_fd = shared_fd;
  for (int tries = 0;; tries++) {
    if (bind(x->fd, (struct sockaddr *)&sxdp, sizeof(sxdp)) == 0) break;
    if (errno != EBUSY || tries >= 30) die("bind(AF_XDP)");
    usleep(100000);
  }
}

static int attach_xsk(struct side *x, int skb) {
  union bpf_attr a;
  memset(&a, 0, sizeof(a));
  a.map_type = BPF_MAP_TYPE_XSKMAP;
  a.key_size = 4;
  a.value_size = 4;
  a.max_entries = 64;
  int map = sys_bpf(BPF_MAP_CREATE, &a);
  if (map < 0) die("bpf(BPF_MAP_CREATE xskmap)");
  uint32_t key = 0, val = x->fd;
  memset(&a, 0, sizeof(a));
  a.map_fd = map;
  a.key = (uintptr_t)&key;
  a.value = (uintptr_t)&val;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a)) die("bpf(BPF_MAP_UPDATE_ELEM xskmap)");
  struct bpf_insn prog[] = {
      {.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 1, .off = 16},
      {.code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = map},
      {.imm = 0},
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 3, .imm = XDP_PASS},
      {.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_redirect_map},
      {.code = BPF_JMP | BPF_EXIT},
  };
  return attach(load_prog(prog, 6, "bpf(BPF_PROG_LOAD xsk redirect)"), x->ifindex, skb);
}

static inline void refill(struct side *x) {
  uint32_t p = *x->fill.producer;
  uint32_t room = RING - (p - load_acq(x->fill.consumer));
  if (room > nfree) room = nfree;
  if (room == 0) return;
  uint64_t *fq = x->fill.desc;
  for (uint32_t i = 0; i < room; i++) fq[(p + i) & x->fill.mask] = freel[--nfree];
  store_rel(x->fill.producer, p + room);
}

static inline void reap(struct side *x) {
  uint32_t c = *x->comp.consumer;
  uint32_t n = load_acq(x->comp.producer) - c;
  uint64_t *cq = x->comp.desc;
  for (uint32_t i = 0; i < n; i++) freel[nfree++] = cq[(c + i) & x->comp.mask];
  if (n) store_rel(x->comp.consumer, c + n);
}

static uint64_t txfull;
static inline void flush_tx(struct side *x) {
  if (!x->ntx) return;
  uint32_t p = *x->tx.producer;
  uint32_t room = RING - (p - load_acq(x->tx.consumer));
  uint32_t k = x->ntx < room ? x->ntx : room;
  struct xdp_desc *td = x->tx.desc;
  for (uint32_t i = 0; i < k; i++) td[(p + i) & x->tx.mask] = (struct xdp_desc){.addr = x->txaddr[i], .len = x->txlen[i]};
  for (uint32_t i = k; i < x->ntx; i++) freel[nfree++] = x->txaddr[i];
  txfull += x->ntx - k;
  if (k) store_rel(x->tx.producer, p + k);
  x->tx_pkts += k;
  x->ntx = 0;
  if (load_acq(x->tx.flags) & XDP_RING_NEED_WAKEUP)
    if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY && errno != ENOBUFS && errno != ENETDOWN)
      die("sendto (tx kick)");
}

static uint64_t drop_noroute, drop_ttl, drop_other;

static void run_fwd(const char *deva, const char *devb, const char **rspec, int nr, int skb, int busy, double duration) {
  umem = mmap(NULL, (size_t)NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (umem == MAP_FAILED) die("mmap umem");
  for (uint32_t i = 0; i < NUM_FRAMES; i++) freel[nfree++] = (uint64_t)(NUM_FRAMES - 1 - i) * FRAME_SIZE;
  struct route rt[32];
  for (int i = 0; i < nr; i++) {
    char buf[128], side;
    unsigned len;
    char macs[32];
    if (sscanf(rspec[i], "%63[0-9.]/%u=%c,%31s", buf, &len, &side, macs) != 4 || len > 32 || (side != 'a' && side != 'b') ||
        parse_mac(macs, rt[i].mac)) {
      fprintf(stderr, "xsk_fwd fwd: route '%s': expected PREFIX/LEN=a|b,NEXTHOP_MAC\n", rspec[i]);
      exit(2);
    }
    rt[i].len = len;
    rt[i].mask = len ? ~0u << (32 - len) : 0;
    rt[i].net = ntohl(inet_addr(buf)) & rt[i].mask;
    rt[i].out = side == 'b';
  }
  // longest prefix first: the first match is the longest
  for (int i = 0; i < nr; i++)
    for (int j = i + 1; j < nr; j++)
      if (rt[j].len > rt[i].len) { struct route t = rt[i]; rt[i] = rt[j]; rt[j] = t; }
  static struct side s[2];
  side_open(&s[0], deva, -1, busy);
  side_open(&s[1], devb, s[0].fd, busy);
  attach_xsk(&s[0], skb);
  attach_xsk(&s[1], skb);
  fprintf(stderr, "xsk_fwd fwd %s <-> %s, shared UMEM, %s copy mode, %s, %d routes\n", deva, devb, skb ? "xdp-skb" : "xdp-drv",
          busy ? "busy-poll" : "poll()", nr);
  struct pollfd pfd[2] = {{.fd = s[0].fd, .events = POLLIN}, {.fd = s[1].fd, .events = POLLIN}};
  double t0 = now(), tlast = t0, tfirst = 0;
  uint64_t last = 0;
  while (!stop) {
    int any = 0;
    for (int k = 0; k < 2; k++) {
      struct side *x = &s[k];
      uint32_t c = *x->rx.consumer;
      uint32_t n = load_acq(x->rx.producer) - c;
      if (n > BATCH) n = BATCH;
      if (!n) continue;
      any = 1;
      if (!tfirst) tfirst = now();
      struct xdp_desc *rd = x->rx.desc;
      for (uint32_t i = 0; i < n; i++) {
        struct xdp_desc d = rd[(c + i) & x->rx.mask];
        uint8_t *f = (uint8_t *)umem + d.addr;
        uint8_t *ip = f + 14;
        if (d.len < 34 || f[12] != 0x08 || f[13] != 0x00 || ip[0] != 0x45) { drop_other++; freel[nfree++] = d.addr; continue; }
        uint32_t dst = ((uint32_t)ip[16] << 24) | (ip[17] << 16) | (ip[18] << 8) | ip[19];
        int r = -1;
        for (int j = 0; j < nr; j++) if ((dst & rt[j].mask) == rt[j].net) { r = j; break; }
        if (r < 0) { drop_noroute++; freel[nfree++] = d.addr; continue; }
        if (ip[8] <= 1) { drop_ttl++; freel[nfree++] = d.addr; continue; }
        ip[8]--; // TTL: checksum += 0x0100 (RFC 1624, as ip_decrease_ttl)
        uint32_t sum = (((uint32_t)ip[10] << 8) | ip[11]) + 0x0100;
        sum = (sum & 0xffff) + (sum >> 16);
        ip[10] = sum >> 8, ip[11] = sum;
        struct side *o = &s[rt[r].out];
        memcpy(f, rt[r].mac, 6);
        memcpy(f + 6, o->mac, 6);
        o->txaddr[o->ntx] = d.addr;
        o->txlen[o->ntx++] = d.len;
        if (o->ntx == BATCH * 2) flush_tx(o);
      }
      store_rel(x->rx.consumer, c + n);
      x->rx_pkts += n;
    }
    flush_tx(&s[0]);
    flush_tx(&s[1]);
    reap(&s[0]);
    reap(&s[1]);
    refill(&s[0]);
    refill(&s[1]);
    if (!any && !busy) {
      if (poll(pfd, 2, 100) < 0 && errno != EINTR) die("poll");
    } else if (!any && busy) {
      recvfrom(s[0].fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
      recvfrom(s[1].fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
    }
    double t = now();
    if (t - tlast >= 1.0) {
      uint64_t fw = s[0].tx_pkts + s[1].tx_pkts;
      fprintf(stderr, "xsk_fwd fwd: %12.0f pps\n", (fw - last) / (t - tlast));
      last = fw, tlast = t;
    }
    if (duration > 0 && t - t0 >= duration) break;
  }
  double secs = tfirst ? now() - tfirst : 0;
  uint64_t fw = s[0].tx_pkts + s[1].tx_pkts;
  printf("{\"tool\":\"xsk_fwd\",\"mode\":\"fwd\",\"attach\":\"%s\",\"busyPoll\":%s,\"rx\":%llu,\"packets\":%llu,\"seconds\":%.6f,"
         "\"pps\":%.1f,\"txRingFull\":%llu,\"noRoute\":%llu,\"ttl\":%llu,\"notIpv4\":%llu}\n",
         skb ? "xdp-skb" : "xdp-drv", busy ? "true" : "false", (unsigned long long)(s[0].rx_pkts + s[1].rx_pkts),
         (unsigned long long)fw, secs, secs > 0 ? fw / secs : 0.0, (unsigned long long)txfull, (unsigned long long)drop_noroute,
         (unsigned long long)drop_ttl, (unsigned long long)drop_other);
  fflush(stdout);
}

static void usage(void) {
  fprintf(stderr,
          "usage: xsk_fwd gen -i IF -s SIZE|imix (-d SEC | -n COUNT) [-D DSTMAC] [-M SRCMAC] [-S SRCIP] [-T DSTIP]\n"
          "       xsk_fwd xdpdrop -i IF [-k] [-4] [-d SEC]\n"
          "       xsk_fwd fwd -a IF_A -b IF_B -r PREFIX/LEN=a|b,MAC [-r ...] [-k] [-p|-B] [-d SEC]\n");
  exit(2);
}

int main(int argc, char **argv) {
  if (argc < 2) usage();
  const char *cmd = argv[1], *dev = NULL, *deva = NULL, *devb = NULL, *sizespec = "64";
  int skb = 0, busy = 0, ipv4only = 0;
  double duration = 0;
  uint64_t count = 0;
  uint8_t dmac[6] = {0x02, 0, 0x0a, 0x01, 0, 0x01}, smac[6] = {0x02, 0, 0x0a, 0x01, 0, 0x02};
  uint32_t sip = inet_addr("10.1.0.2"), dip = inet_addr("10.2.0.2");
  const char *routes[32];
  int nroutes = 0;
  int o;
  optind = 2;
  while ((o = getopt(argc, argv, "i:s:d:n:D:M:S:T:ka:b:r:pB4c:")) != -1) {
    switch (o) {
      case 'i': dev = optarg; break;
      case 's': sizespec = optarg; break;
      case 'd': duration = atof(optarg); break;
      case 'n': count = strtoull(optarg, NULL, 0); break;
      case 'D': if (parse_mac(optarg, dmac)) usage(); break;
      case 'M': if (parse_mac(optarg, smac)) usage(); break;
      case 'S': sip = inet_addr(optarg); break;
      case 'T': dip = inet_addr(optarg); break;
      case 'k': skb = 1; break;
      case 'a': deva = optarg; break;
      case 'b': devb = optarg; break;
      case 'r': if (nroutes < 32) routes[nroutes++] = optarg; break;
      case 'p': busy = 0; break;
      case 'B': busy = 1; break;
      case '4': ipv4only = 1; break;
      case 'c': gen_chunk = atoi(optarg); if (gen_chunk < 64) usage(); break;
      default: usage();
    }
  }
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  setvbuf(stderr, NULL, _IOLBF, 0);
  if (!strcmp(cmd, "gen")) {
    if (!dev || (!count && duration <= 0)) usage();
    run_gen(dev, sizespec, count, duration, dmac, smac, sip, dip);
  } else if (!strcmp(cmd, "xdpdrop")) {
    if (!dev) usage();
    run_xdpdrop(dev, skb, duration, ipv4only);
  } else if (!strcmp(cmd, "fwd")) {
    if (!deva || !devb || !nroutes) usage();
    run_fwd(deva, devb, routes, nroutes, skb, busy, duration);
  } else usage();
  return 0;
}

// xsk_fwd: the C side of the benchmark suite (src/bench): the baselines and the generator that
// every system in a scenario shares.
//
//   xsk_fwd gen -i IF -s SIZE|imix (-d SEC | -n COUNT) [-D DSTMAC] [-M SRCMAC] [-S SRCIP] [-T DSTIP] [-F FLOWS]
//   xsk_fwd xdpdrop -i IF [-k] [-4] [-d SEC]
//   xsk_fwd fwd -a IF_A -b IF_B -r ROUTE [-r ROUTE...] [-k] [-p|-B] [-d SEC]
//
// gen:     BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES (xdp-trafficgen's method, ~5 Mpps
//          here), -c frames per run (default 262144: each run costs ~30 ms of setup). SIZE
//          includes the 4-byte FCS (64 B frame = 60 B sent). `imix` mixes per packet 7:4:1 of
//          64/594/1518 B (a counter and bpf_xdp_adjust_tail in the program). The program rewrites the Ethernet/IPv4/UDP headers on every run, so
//          receivers that rewrite frames in place (routers: TTL, MACs) never see a stale page.
//          -F FLOWS: frame k of the run belongs to flow f = k % FLOWS (a counter in a map): UDP
//          source port 1024 + f % 64512, destination port 9 + f / 64512 (UDP checksum 0: no
//          update), so conntrack and NAT see FLOWS distinct tuples, each again every FLOWS frames.
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
#define TOOL "xsk_fwd"
#include "xsk_common.h"
#include <sys/ioctl.h>
#include <linux/if.h>

// ---------------------------------------------------------------------------------------- gen

#define HDR 42 // Ethernet 14 + IPv4 20 + UDP 8

// The headers, then a byte pattern as payload.
static void build_gen_frame(uint8_t *f, int len, const uint8_t *dmac, const uint8_t *smac, uint32_t sip, uint32_t dip) {
  build_frame(f, len, dmac, smac, sip, dip);
  for (int i = HDR; i < len; i++) f[i] = (uint8_t)i;
}

#define FLOW_PORTS 64512 // source ports 1024..65535

static int emit_lookup_key0(struct bpf_insn *p, int n, int map);

// The -F block (see the header), ctx in r6: f = atomic_fetch_add(counter, 1) % flows; source and
// destination ports from f. Clobbers r0-r5, r7. Returns the index after the block, where the
// frame goes on unchanged when the lookup fails or the frame is short.
static int emit_flows(struct bpf_insn *p, int n, int map, uint32_t flows) {
  n = emit_lookup_key0(p, n, map);
  int j_null = n++; // if r0 == 0 goto end
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 1, .imm = 1};
  p[n++] = (struct bpf_insn){.code = BPF_STX | BPF_ATOMIC | BPF_DW, .dst_reg = 0, .src_reg = 1, .off = 0, .imm = BPF_ADD | BPF_FETCH};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOD | BPF_K, .dst_reg = 1, .imm = (int32_t)flows};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 7, .src_reg = 1};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOD | BPF_K, .dst_reg = 7, .imm = FLOW_PORTS};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 7, .imm = 1024};
  p[n++] = (struct bpf_insn){.code = BPF_ALU | BPF_END | BPF_TO_BE, .dst_reg = 7, .imm = 16};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_DIV | BPF_K, .dst_reg = 1, .imm = FLOW_PORTS};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 1, .imm = 9};
  p[n++] = (struct bpf_insn){.code = BPF_ALU | BPF_END | BPF_TO_BE, .dst_reg = 1, .imm = 16};
  p[n++] = (struct bpf_insn){.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 2, .src_reg = 6, .off = 0};
  p[n++] = (struct bpf_insn){.code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = 3, .src_reg = 6, .off = 4};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 4, .src_reg = 2};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 4, .imm = HDR};
  int j_short = n++; // if r4 > r3 goto end
  p[n++] = (struct bpf_insn){.code = BPF_STX | BPF_MEM | BPF_H, .dst_reg = 2, .src_reg = 7, .off = 34};
  p[n++] = (struct bpf_insn){.code = BPF_STX | BPF_MEM | BPF_H, .dst_reg = 2, .src_reg = 1, .off = 36};
  p[j_null] = (struct bpf_insn){.code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = 0, .imm = 0, .off = (int16_t)(n - j_null - 1)};
  p[j_short] = (struct bpf_insn){.code = BPF_JMP | BPF_JGT | BPF_X, .dst_reg = 4, .src_reg = 3, .off = (int16_t)(n - j_short - 1)};
  return n;
}

// An XDP program that writes the frame's first 42 bytes (Ethernet/IPv4/UDP headers) and
// returns XDP_TX: live-frame pages are recycled, and a receiver may have rewritten them.
static int load_gen_prog(const uint8_t *f, int flowmap, uint32_t flows) {
  struct bpf_insn p[72];
  int n = 0;
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 6, .src_reg = 1}; // r6 = ctx
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
  if (flows) n = emit_flows(p, n, flowmap, flows);
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = XDP_TX};
  p[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_EXIT};
  return load_prog(p, n, "bpf(BPF_PROG_LOAD generator)");
}

// r0 = bpf_map_lookup_elem(map, &key) with a u32 key 0 at fp-4: 6 instructions from p[n]; returns
// the next index. Clobbers r1-r5.
static int emit_lookup_key0(struct bpf_insn *p, int n, int map) {
  p[n++] = (struct bpf_insn){.code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = 10, .off = -4, .imm = 0};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10};
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .imm = -4};
  p[n++] = (struct bpf_insn){.code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = map};
  p[n++] = (struct bpf_insn){.imm = 0};
  p[n++] = (struct bpf_insn){.code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem};
  return n;
}

// IMIX per packet: one 1514 B frame in, a counter picks the size of each packet (7 x 64, 4 x 594,
// 1 x 1518 in every 12, with FCS), bpf_xdp_adjust_tail trims the frame, and the size's own
// headers (IP total length, checksum, UDP length) are written; then XDP_TX.
static int load_imix_prog(uint8_t frames[3][2048], const int *sizes, int map, int flowmap, uint32_t flows) {
  struct bpf_insn p[128];
  int n = 0;
  p[n++] = (struct bpf_insn){.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 6, .src_reg = 1}; // r6 = ctx
  n = emit_lookup_key0(p, n, map);
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
  if (flows) n = emit_flows(p, n, flowmap, flows);
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

static uint32_t gen_chunk = 1 << 18;

static void run_gen(const char *dev, const char *sizespec, uint64_t count, double duration, const uint8_t *dmac,
                    const uint8_t *smac, uint32_t sip, uint32_t dip, uint32_t flows) {
  int flowmap = flows ? map_create(BPF_MAP_TYPE_ARRAY, 8, 1, "bpf(BPF_MAP_CREATE flow counter)") : -1;
  int ifindex = ifindex_of(dev);
  static uint8_t frames[3][2048];
  int imix = !strcmp(sizespec, "imix");
  int prog, len;
  if (imix) {
    static const int sizes[3] = {64, 594, 1518}; // with FCS
    for (int k = 0; k < 3; k++) build_gen_frame(frames[k], sizes[k] - 4, dmac, smac, sip, dip);
    int fcs_less[3] = {sizes[0] - 4, sizes[1] - 4, sizes[2] - 4};
    prog = load_imix_prog(frames, fcs_less, map_create(BPF_MAP_TYPE_ARRAY, 8, 1, "bpf(BPF_MAP_CREATE array)"), flowmap, flows);
    len = fcs_less[2];
  } else {
    int sz = atoi(sizespec);
    if (sz < 64 || sz > 1518) {
      fprintf(stderr, "xsk_fwd gen: size %s: expected 64..1518 (with FCS) or imix\n", sizespec);
      exit(2);
    }
    len = sz - 4;
    build_gen_frame(frames[0], len, dmac, smac, sip, dip);
    prog = load_gen_prog(frames[0], flowmap, flows);
  }
  fprintf(stderr, "xsk_fwd gen on %s: %s B frames (with FCS), %u flows, xdp live frames\n", dev, sizespec, flows ? flows : 1);
  // IMIX: 7 x 64 + 4 x 594 + 1 x 1518 = 4342 B in every 12 frames.
  uint64_t bytes = 0, bytes12 = imix ? 4342 : 12 * (uint64_t)(len + 4);
  double secs;
  uint64_t sent = gen_live(prog, ifindex, frames[imix ? 2 : 0], len, count, duration, gen_chunk, &secs, &bytes, bytes12);
  printf("{\"tool\":\"xsk_fwd\",\"mode\":\"gen\",\"method\":\"xdp-live-frames\",\"size\":\"%s\",\"flows\":%u,\"packets\":%llu,"
         "\"bytes\":%llu,\"seconds\":%.6f,\"pps\":%.1f}\n",
         sizespec, flows ? flows : 1, (unsigned long long)sent, (unsigned long long)bytes, secs, secs > 0 ? sent / secs : 0.0);
  fflush(stdout);
}

// ------------------------------------------------------------------------------------ xdpdrop

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
  int ifindex = ifindex_of(dev);
  int map = map_create(BPF_MAP_TYPE_ARRAY, 8, 1, "bpf(BPF_MAP_CREATE array)");
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
  n = emit_lookup_key0(p, n, map);
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

#define RING 2048
#define BATCH 64

struct side {
  struct xsk xsk;
  const char *dev;
  uint8_t mac[6];
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
  xsk_create(&x->xsk, dev, shared_fd < 0 ? umem : NULL, RING, RING);
  dev_mac(dev, x->mac);
  // Half the frames to each fill ring before bind.
  uint64_t *fq = x->xsk.fill.desc;
  uint32_t n = NUM_FRAMES / 2 < RING ? NUM_FRAMES / 2 : RING;
  for (uint32_t i = 0; i < n; i++) fq[i & x->xsk.fill.mask] = freel[--nfree];
  store_rel(x->xsk.fill.producer, n);
  xsk_bind(&x->xsk, 0, busy, BATCH, shared_fd);
}

static inline void refill(struct side *x) {
  uint32_t p = *x->xsk.fill.producer;
  uint32_t room = RING - (p - load_acq(x->xsk.fill.consumer));
  if (room > nfree) room = nfree;
  if (room == 0) return;
  uint64_t *fq = x->xsk.fill.desc;
  for (uint32_t i = 0; i < room; i++) fq[(p + i) & x->xsk.fill.mask] = freel[--nfree];
  store_rel(x->xsk.fill.producer, p + room);
}

static inline void reap(struct side *x) {
  uint32_t c = *x->xsk.comp.consumer;
  uint32_t n = load_acq(x->xsk.comp.producer) - c;
  uint64_t *cq = x->xsk.comp.desc;
  for (uint32_t i = 0; i < n; i++) freel[nfree++] = cq[(c + i) & x->xsk.comp.mask];
  if (n) store_rel(x->xsk.comp.consumer, c + n);
}

static uint64_t txfull;
static inline void flush_tx(struct side *x) {
  if (!x->ntx) return;
  uint32_t p = *x->xsk.tx.producer;
  uint32_t room = RING - (p - load_acq(x->xsk.tx.consumer));
  uint32_t k = x->ntx < room ? x->ntx : room;
  struct xdp_desc *td = x->xsk.tx.desc;
  for (uint32_t i = 0; i < k; i++) td[(p + i) & x->xsk.tx.mask] = (struct xdp_desc){.addr = x->txaddr[i], .len = x->txlen[i]};
  for (uint32_t i = k; i < x->ntx; i++) freel[nfree++] = x->txaddr[i];
  txfull += x->ntx - k;
  if (k) store_rel(x->xsk.tx.producer, p + k);
  x->tx_pkts += k;
  x->ntx = 0;
  kick_tx(&x->xsk);
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
  side_open(&s[1], devb, s[0].xsk.fd, busy);
  attach_xsk(&s[0].xsk, 0, skb);
  attach_xsk(&s[1].xsk, 0, skb);
  fprintf(stderr, "xsk_fwd fwd %s <-> %s, shared UMEM, %s copy mode, %s, %d routes\n", deva, devb, skb ? "xdp-skb" : "xdp-drv",
          busy ? "busy-poll" : "poll()", nr);
  struct pollfd pfd[2] = {{.fd = s[0].xsk.fd, .events = POLLIN}, {.fd = s[1].xsk.fd, .events = POLLIN}};
  double t0 = now(), tlast = t0, tfirst = 0;
  uint64_t last = 0;
  while (!stop) {
    int any = 0;
    for (int k = 0; k < 2; k++) {
      struct side *x = &s[k];
      uint32_t c = *x->xsk.rx.consumer;
      uint32_t n = load_acq(x->xsk.rx.producer) - c;
      if (n > BATCH) n = BATCH;
      if (!n) continue;
      any = 1;
      if (!tfirst) tfirst = now();
      struct xdp_desc *rd = x->xsk.rx.desc;
      for (uint32_t i = 0; i < n; i++) {
        struct xdp_desc d = rd[(c + i) & x->xsk.rx.mask];
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
      store_rel(x->xsk.rx.consumer, c + n);
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
      recvfrom(s[0].xsk.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
      recvfrom(s[1].xsk.fd, NULL, 0, MSG_DONTWAIT, NULL, NULL);
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
          "usage: xsk_fwd gen -i IF -s SIZE|imix (-d SEC | -n COUNT) [-D DSTMAC] [-M SRCMAC] [-S SRCIP] [-T DSTIP] [-F FLOWS]\n"
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
  uint32_t flows = 0;
  uint8_t dmac[6] = {0x02, 0, 0x0a, 0x01, 0, 0x01}, smac[6] = {0x02, 0, 0x0a, 0x01, 0, 0x02};
  uint32_t sip = inet_addr("10.1.0.2"), dip = inet_addr("10.2.0.2");
  const char *routes[32];
  int nroutes = 0;
  int o;
  optind = 2;
  while ((o = getopt(argc, argv, "i:s:d:n:D:M:S:T:F:ka:b:r:pB4c:")) != -1) {
    switch (o) {
      case 'i': dev = optarg; break;
      case 's': sizespec = optarg; break;
      case 'd': duration = atof(optarg); break;
      case 'n': count = strtoull(optarg, NULL, 0); break;
      case 'D': if (parse_mac(optarg, dmac)) usage(); break;
      case 'M': if (parse_mac(optarg, smac)) usage(); break;
      case 'S': sip = inet_addr(optarg); break;
      case 'T': dip = inet_addr(optarg); break;
      case 'F': {
        unsigned long long f = strtoull(optarg, NULL, 0);
        if (f < 1 || f > 0x7fffffff) usage(); // BPF_MOD takes a signed 32-bit immediate
        flows = (uint32_t)f;
        break;
      }
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
    run_gen(dev, sizespec, count, duration, dmac, smac, sip, dip, flows);
  } else if (!strcmp(cmd, "xdpdrop")) {
    if (!dev) usage();
    run_xdpdrop(dev, skb, duration, ipv4only);
  } else if (!strcmp(cmd, "fwd")) {
    if (!deva || !devb || !nroutes) usage();
    run_fwd(deva, devb, routes, nroutes, skb, busy, duration);
  } else usage();
  return 0;
}

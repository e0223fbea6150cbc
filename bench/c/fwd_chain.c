// The IPv4 forwarding chain of bench/micro-fwd-chain.ts in plain C (-O2, no SIMD), over the same
// bytes: the script writes the UMEM image, the frames' addresses, the routes, the FORWARD rules,
// the local addresses and the neighbour entry to a file, and this program does per packet, run to
// completion, what softnet's stages do on the forwarding path:
//   eth-input:    frame >= 14 B, destination MAC (group bit: broadcast/multicast; else the ingress
//                 device's MAC or dropped as otherhost), EtherType 0x0800 (anything else dropped);
//   ip-rcv:       header present, version 4, IHL >= 5 and within the frame, header checksum,
//                 tot_len within the frame and >= IHL, padding trimmed; martian source/destination
//                 (0/8, 127/8, >= 224) and a source that is one of our addresses dropped; the FIB
//                 lookup (DIR-24-8 built the way src/ipv4/fib/dir24.ts builds it: one-byte tbl24,
//                 the Int32 tbl24 behind it, 256-entry tbl8 groups); a unicast route with a device
//                 is forwarded, everything else (local, broadcast, no route) is dropped here;
//   ip-forward:   only PACKET_HOST, TTL > 1, MTU/DF, TTL decrement with the RFC 1624 checksum
//                 patch, the FORWARD rules in order (proto, source/mask, destination port; -j DROP);
//   neigh-output: the next hop (gateway or destination) looked up in an open-addressing hash of
//                 (device, address), destination/source MAC and EtherType written;
//   dev-xmit:     the descriptor (address, length) appended to the egress port's TX array.
// Not done (softnet answers these with ICMP or local delivery; the benchmark traffic never takes
// them): local delivery, ICMP errors, IP options, fragmentation, VLANs, conntrack.
//
//   fwd_chain FILE --check OUT             one dispatch of each of the file's two batches; per
//                                          frame: verdict, TX address, length, first 34 bytes
//   fwd_chain FILE --samples S --iters N   median over S samples of N x (reset + dispatch) and of
//                                          N x reset, ns/packet: {"full":F,"reset":R}
//   fwd_chain FILE --count full|reset N    after the warm-up, N x (reset + dispatch) or N x reset
//                                          inside counted(), for valgrind --toggle-collect=counted
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_MAX 256
#define HDR 34
#define NARROW_WIDE 254
#define T24 (1u << 24)
#define PACKET_HOST 0
#define PACKET_BROADCAST 1
#define PACKET_MULTICAST 2
#define RTN_UNICAST 1

struct dev { uint32_t hi, lo, mtu; };
struct route { uint32_t prefix, len, type, gw; int32_t oif; uint32_t metric; };
struct rule { uint32_t proto, saddr, smask, dport; };
struct nh { uint32_t type, gw; int32_t oif; };
struct neigh { uint32_t dev, ip, hi, lo, used; };

static uint8_t *umem;
static uint32_t umem_bytes, frame_size, batch_n, n_routes, n_rules, n_local, n_neigh, n_devs;
static struct dev devs[16];
static uint32_t in_dst_hi, in_dst_lo, in_src_hi, in_src_lo;
static uint32_t b_addr[2][BATCH_MAX], b_len[2][BATCH_MAX], b_iif[2][BATCH_MAX];
static struct route *routes;
static struct rule *rules;
static uint32_t *locals;

// The FIB: DIR-24-8.
static uint8_t *n24;
static int32_t *w24;
static int32_t *t8;
static uint32_t groups, group_cap;
static struct nh nhs[1024];
static uint32_t n_nh;

// Neighbours: open addressing on (dev, ip).
#define NEIGH_SLOTS 1024
static struct neigh neigh[NEIGH_SLOTS];

// TX: per port descriptors.
static uint32_t tx_addr[16][BATCH_MAX], tx_len[16][BATCH_MAX], tx_n[16];

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline void wr16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void wr32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

static void die(const char *m) {
  fprintf(stderr, "fwd_chain: %s\n", m);
  exit(1);
}

static uint32_t nh_id(const struct route *r) {
  for (uint32_t k = 0; k < n_nh; k++)
    if (nhs[k].type == r->type && nhs[k].gw == r->gw && nhs[k].oif == r->oif) return k;
  if (n_nh == 1024) die("too many next hops");
  nhs[n_nh] = (struct nh){r->type, r->gw, r->oif};
  return n_nh++;
}

static int32_t new_group(int32_t fill) {
  if (groups == group_cap) {
    group_cap = group_cap ? group_cap * 2 : 256;
    t8 = realloc(t8, (size_t)group_cap * 256 * sizeof(int32_t));
    if (!t8) die("out of memory");
  }
  for (int k = 0; k < 256; k++) t8[groups * 256 + k] = fill;
  return (int32_t)(groups++ | 0x80000000u);
}

static int by_len_then_metric(const void *a, const void *b) {
  const struct route *x = a, *y = b;
  if (x->len != y->len) return x->len < y->len ? -1 : 1;
  // Same length: the lowest metric is written last and wins.
  return x->metric > y->metric ? -1 : x->metric < y->metric;
}

// Routes in increasing prefix length: a longer prefix overwrites what a shorter one wrote, so no
// depth bookkeeping is needed for a table built once.
static void fib_build(void) {
  n24 = calloc(T24, 1);
  w24 = calloc(T24, sizeof(int32_t));
  if (!n24 || !w24) die("out of memory");
  qsort(routes, n_routes, sizeof *routes, by_len_then_metric);
  for (uint32_t k = 0; k < n_routes; k++) {
    const struct route *r = &routes[k];
    int32_t v = (int32_t)nh_id(r) + 1;
    if (r->len <= 24) {
      uint32_t start = r->prefix >> 8, end = start + (1u << (24 - r->len));
      for (uint32_t i = start; i < end; i++) {
        w24[i] = v;
        n24[i] = v < NARROW_WIDE ? (uint8_t)v : NARROW_WIDE;
      }
    } else {
      uint32_t i = r->prefix >> 8;
      if (w24[i] >= 0) {
        w24[i] = new_group(w24[i]);
        n24[i] = NARROW_WIDE;
      }
      uint32_t base = ((uint32_t)w24[i] & 0x7fffffffu) << 8;
      uint32_t from = r->prefix & 255, n = 1u << (32 - r->len);
      for (uint32_t j = from; j < from + n; j++) t8[base + j] = v;
    }
  }
}

static inline int32_t fib_lookup(uint32_t daddr) {
  int32_t e = n24[daddr >> 8];
  if (e == NARROW_WIDE) {
    e = w24[daddr >> 8];
    if (e < 0) e = t8[(((uint32_t)e & 0x7fffffffu) << 8) | (daddr & 255)];
  }
  return e - 1;
}

static inline uint32_t neigh_hash(uint32_t dev, uint32_t ip) { return ((ip * 2654435761u) ^ dev) & (NEIGH_SLOTS - 1); }

static void neigh_add(uint32_t dev, uint32_t ip, uint32_t hi, uint32_t lo) {
  uint32_t h = neigh_hash(dev, ip);
  while (neigh[h].used) h = (h + 1) & (NEIGH_SLOTS - 1);
  neigh[h] = (struct neigh){dev, ip, hi, lo, 1};
}

static inline const struct neigh *neigh_lookup(uint32_t dev, uint32_t ip) {
  uint32_t h = neigh_hash(dev, ip);
  while (neigh[h].used) {
    if (neigh[h].ip == ip && neigh[h].dev == dev) return &neigh[h];
    h = (h + 1) & (NEIGH_SLOTS - 1);
  }
  return NULL;
}

static inline int is_local(uint32_t a) {
  for (uint32_t k = 0; k < n_local; k++)
    if (locals[k] == a) return 1;
  return 0;
}

static inline int martian(uint32_t a) {
  uint32_t top = a >> 24;
  return top == 0 || top == 127 || top >= 224;
}

static inline int ip_csum_ok(const uint8_t *h, uint32_t ihl) {
  uint32_t s = 0;
  for (uint32_t k = 0; k < ihl; k += 2) s += rd16(h + k);
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return s == 0xffff;
}

// FORWARD, in order; the policy is ACCEPT. 1 = dropped by a rule.
static inline int forward_rules(const uint8_t *h, uint32_t ihl, uint32_t tot) {
  uint32_t proto = h[9], saddr = rd32(h + 12);
  uint32_t frag = rd16(h + 6) & 0x1fff;
  for (uint32_t k = 0; k < n_rules; k++) {
    const struct rule *r = &rules[k];
    if (r->proto && r->proto != proto) continue;
    if ((saddr & r->smask) != r->saddr) continue;
    if (r->dport) {
      // As xt_tcpudp: a later fragment or a header too short for the ports never matches.
      uint32_t need = proto == 6 ? 20 : 8;
      if (frag != 0 || tot < ihl + need || rd16(h + ihl + 2) != r->dport) continue;
    }
    return 1;
  }
  return 0;
}

// One packet from the wire to its TX descriptor; 1 = sent.
static inline int forward(uint32_t a, uint32_t len, uint32_t iif) {
  uint8_t *f = umem + a;
  if (len < 14) return 0;
  int pkttype = PACKET_HOST;
  if (f[0] & 1) {
    pkttype = rd32(f) == 0xffffffffu && rd16(f + 4) == 0xffff ? PACKET_BROADCAST : PACKET_MULTICAST;
  } else if (rd32(f) != devs[iif].hi || rd16(f + 4) != devs[iif].lo) {
    return 0; // otherhost
  }
  if (rd16(f + 12) != 0x0800) return 0;
  // ip_rcv_core
  if (len < 14 + 20) return 0;
  uint8_t *h = f + 14;
  uint32_t avail = len - 14;
  uint32_t ihl = (uint32_t)(h[0] & 0x0f) << 2;
  if ((h[0] & 0xf0) != 0x40 || ihl < 20 || ihl > avail) return 0;
  if (!ip_csum_ok(h, ihl)) return 0;
  uint32_t tot = rd16(h + 2);
  if (tot > avail || tot < ihl) return 0;
  len = 14 + tot;
  // route input: forwarded unicast only
  uint32_t saddr = rd32(h + 12), daddr = rd32(h + 16);
  if (martian(saddr) || martian(daddr) || is_local(saddr)) return 0;
  int32_t n = fib_lookup(daddr);
  if (n < 0 || nhs[n].type != RTN_UNICAST || nhs[n].oif < 0) return 0;
  uint32_t oif = (uint32_t)nhs[n].oif;
  uint32_t nhip = nhs[n].gw ? nhs[n].gw : daddr;
  if (ihl > 20) return 0; // options: not handled here (none in the traffic)
  // ip_forward
  if (pkttype != PACKET_HOST) return 0;
  if (h[8] <= 1) return 0;
  if (tot > devs[oif].mtu && (rd16(h + 6) & 0x4000)) return 0;
  uint32_t old = rd16(h + 8), nw = old - 0x100;
  wr16(h + 8, nw);
  uint32_t c = (~rd16(h + 10) & 0xffff) + (~old & 0xffff) + nw;
  c = (c & 0xffff) + (c >> 16);
  c = (c & 0xffff) + (c >> 16);
  wr16(h + 10, ~c & 0xffff);
  if (n_rules && forward_rules(h, ihl, tot)) return 0;
  if (tot > devs[oif].mtu) return 0; // would fragment: not handled here
  // neigh_output
  const struct neigh *e = neigh_lookup(oif, nhip);
  if (!e) return 0;
  wr32(f, e->hi);
  wr16(f + 4, e->lo);
  wr32(f + 6, devs[oif].hi);
  wr16(f + 10, devs[oif].lo);
  wr16(f + 12, 0x0800);
  // dev_queue_xmit
  uint32_t k = tx_n[oif]++;
  tx_addr[oif][k] = a;
  tx_len[oif][k] = len;
  return 1;
}

static void dispatch(int s) {
  for (uint32_t k = 0; k < batch_n; k++) forward(b_addr[s][k], b_len[s][k], b_iif[s][k]);
}

// What the chain rewrote, back as it arrived (micro-fwd-chain.ts reset() does the same).
static void reset(void) {
  for (uint32_t k = 0; k < batch_n; k++) {
    uint8_t *f = umem + b_addr[0][k];
    wr32(f, in_dst_hi);
    wr16(f + 4, in_dst_lo);
    wr32(f + 6, in_src_hi);
    wr16(f + 10, in_src_lo);
    uint8_t *h = f + 14;
    uint32_t old = rd16(h + 8);
    if (old >> 8 != 64) {
      uint32_t nw = 64u << 8 | (old & 0xff);
      wr16(h + 8, nw);
      uint32_t c = (~rd16(h + 10) & 0xffff) + (~old & 0xffff) + nw;
      c = (c & 0xffff) + (c >> 16);
      c = (c & 0xffff) + (c >> 16);
      wr16(h + 10, ~c & 0xffff);
    }
  }
  for (uint32_t d = 0; d < n_devs; d++) tx_n[d] = 0;
}

static uint32_t *cur;
static uint32_t take(void) { return *cur++; }

static void load(const char *file) {
  FILE *fp = fopen(file, "rb");
  if (!fp) die("cannot open the input file");
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)size);
  if (!buf || fread(buf, 1, (size_t)size, fp) != (size_t)size) die("cannot read the input file");
  fclose(fp);
  cur = (uint32_t *)buf;
  if (take() != 0x46574331) die("not a fwd_chain input file");
  umem_bytes = take(), frame_size = take(), batch_n = take(), n_routes = take(), n_rules = take(), n_local = take(), n_neigh = take(), n_devs = take();
  if (batch_n > BATCH_MAX || n_devs > 16) die("batch or devices too large");
  for (uint32_t d = 0; d < n_devs; d++) devs[d].hi = take(), devs[d].lo = take(), devs[d].mtu = take();
  in_dst_hi = take(), in_dst_lo = take(), in_src_hi = take(), in_src_lo = take();
  for (int s = 0; s < 2; s++) {
    for (uint32_t k = 0; k < batch_n; k++) b_addr[s][k] = take();
    for (uint32_t k = 0; k < batch_n; k++) b_len[s][k] = take();
    for (uint32_t k = 0; k < batch_n; k++) b_iif[s][k] = take();
  }
  routes = malloc(n_routes * sizeof *routes);
  for (uint32_t k = 0; k < n_routes; k++) {
    struct route *r = &routes[k];
    r->prefix = take(), r->len = take(), r->type = take(), r->gw = take(), r->oif = (int32_t)take(), r->metric = take();
  }
  rules = malloc((n_rules + 1) * sizeof *rules);
  for (uint32_t k = 0; k < n_rules; k++) rules[k].proto = take(), rules[k].saddr = take(), rules[k].smask = take(), rules[k].dport = take();
  locals = malloc((n_local + 1) * sizeof *locals);
  for (uint32_t k = 0; k < n_local; k++) locals[k] = take();
  for (uint32_t k = 0; k < n_neigh; k++) {
    uint32_t dev = take(), ip = take(), hi = take(), lo = take();
    neigh_add(dev, ip, hi, lo);
  }
  // The UMEM image, copied to its own (page-aligned) buffer like a real UMEM.
  if ((uint8_t *)cur + umem_bytes != buf + size) die("input file size does not match its header");
  if (posix_memalign((void **)&umem, 4096, umem_bytes)) die("out of memory");
  memcpy(umem, cur, umem_bytes);
  free(buf);
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void check(const char *out) {
  FILE *fp = fopen(out, "wb");
  if (!fp) die("cannot write the check file");
  for (int s = 0; s < 2; s++) {
    for (uint32_t d = 0; d < n_devs; d++) tx_n[d] = 0;
    dispatch(s);
    for (uint32_t k = 0; k < batch_n; k++) {
      uint32_t a = b_addr[s][k], row[3 + HDR / 2] = {0};
      for (uint32_t d = 0; d < n_devs; d++)
        for (uint32_t j = 0; j < tx_n[d]; j++)
          if (tx_addr[d][j] == a) row[0] = 1, row[1] = a, row[2] = tx_len[d][j];
      for (int w = 0; w < HDR / 2; w++) row[3 + w] = rd16(umem + a + 2 * w);
      fwrite(row, sizeof row, 1, fp);
    }
  }
  fclose(fp);
}

// The region micro-fwd-chain.ts --instructions counts; noinline so that it exists as a function.
static void __attribute__((noinline)) counted(int full, int n) {
  for (int i = 0; i < n; i++) {
    reset();
    if (full) dispatch(0);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) die("usage: fwd_chain FILE --check OUT | --samples S --iters N | --count full|reset N");
  load(argv[1]);
  fib_build();
  if (strcmp(argv[2], "--check") == 0 && argc == 4) {
    check(argv[3]);
    return 0;
  }
  if (strcmp(argv[2], "--count") == 0 && argc == 5) {
    for (int i = 0; i < 10000; i++) reset(), dispatch(0);
    counted(strcmp(argv[3], "full") == 0, atoi(argv[4]));
    return 0;
  }
  int samples = 0, iters = 0;
  for (int k = 2; k + 1 < argc; k += 2) {
    if (strcmp(argv[k], "--samples") == 0) samples = atoi(argv[k + 1]);
    else if (strcmp(argv[k], "--iters") == 0) iters = atoi(argv[k + 1]);
  }
  if (samples < 1 || iters < 1) die("--samples and --iters must be >= 1");
  double *full = malloc(samples * sizeof(double)), *rs = malloc(samples * sizeof(double));
  // Warm-up: caches and TLB for the frames and the FIB entries used, as the JS side has.
  for (int i = 0; i < 10000; i++) reset(), dispatch(0);
  for (int s = 0; s < samples; s++) {
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) reset(), dispatch(0);
    full[s] = (now_ns() - t0) / iters / batch_n;
  }
  uint32_t sent = 0;
  for (uint32_t d = 0; d < n_devs; d++) sent += tx_n[d];
  if (sent != batch_n) die("a timed dispatch did not forward the whole batch");
  for (int s = 0; s < samples; s++) {
    double t0 = now_ns();
    for (int i = 0; i < iters; i++) reset();
    rs[s] = (now_ns() - t0) / iters / batch_n;
  }
  printf("{\"full\":%.3f,\"reset\":%.3f}\n", median(full, samples), median(rs, samples));
  return 0;
}

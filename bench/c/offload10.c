// The offload scenario's C baseline: src/bench/offload10.ts's 10 rules written in C as one
// would for clang -target bpf -O2, with the same parse (one 802.1Q/802.1ad tag, IHL, first
// fragment only) and the same epilogue as softnet's compiled filters: the verdict counted in a
// per-CPU array, PASS redirected to the queue's AF_XDP socket through an XSKMAP. No libbpf: the
// maps are symbols in section "maps" that src/bench/bpf-obj.ts binds to the fds it creates
// (verdicts: percpu_array u32 -> u64 [5]; xsks: xskmap), and it loads the "xdp" section with
// softnet's own BPF_PROG_LOAD (native/prog.cc).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>

#define SEC(s) __attribute__((section(s), used))
#define bswap16(x) __builtin_bswap16(x)
#define bswap32(x) __builtin_bswap32(x)

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_redirect_map)(void *map, __u64 key, __u64 flags) = (void *)BPF_FUNC_redirect_map;

struct map_sym { int unused; };
struct map_sym verdicts SEC("maps");
struct map_sym xsks SEC("maps");

static __attribute__((always_inline)) __u32 rules(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) return XDP_PASS;
  __u16 type = bswap16(eth->h_proto);
  __u32 l3 = sizeof(*eth);
  if (type == ETH_P_8021Q || type == ETH_P_8021AD) {
    if (data + l3 + 4 > end) return XDP_PASS;
    type = bswap16(*(__u16 *)(data + l3 + 2));
    l3 += 4;
  }
  struct iphdr *ip = data + l3;
  if (type != ETH_P_IP || (void *)(ip + 1) > end) return XDP_PASS;
  if (ip->version != 4 || ip->ihl < 5) return XDP_PASS;
  __u32 src = bswap32(ip->saddr), dst = bswap32(ip->daddr);
  __u8 proto = ip->protocol;
  if ((src & 0xffffff00) == 0xc0000200) return XDP_DROP;  // 1 bogon source
  if ((src & 0xffffff00) == 0xc6336400) return XDP_DROP;  // 2
  if ((dst & 0xffffff00) == 0xcb007100) return XDP_DROP;  // 3 bogon destination
  if (proto == IPPROTO_GRE) return XDP_DROP;              // 4
  if (ip->ttl == 0) return XDP_DROP;                      // 5
  int sport = -1, dport = -1, flags = -1;
  if ((bswap16(ip->frag_off) & 0x1fff) == 0 && (proto == IPPROTO_UDP || proto == IPPROTO_TCP)) {
    void *l4 = (void *)ip + ip->ihl * 4;
    if (l4 + 4 <= end) {
      sport = bswap16(*(__u16 *)l4);
      dport = bswap16(*(__u16 *)(l4 + 2));
    }
    if (proto == IPPROTO_TCP && l4 + 14 <= end) flags = *(__u8 *)(l4 + 13);
  }
  if (proto == IPPROTO_UDP) {
    if (dport == 19) return XDP_DROP;                      // 6 chargen
    if (dport == 1900) return XDP_DROP;                    // 7 SSDP
    if (dport == 11211) return XDP_DROP;                   // 8 memcached
    if (sport == 123 && dport == 123) return XDP_DROP;     // 9 NTP reflection
    if (sport >= 1025 && sport <= 1033) return XDP_DROP;   // 10 a blocked source port range
  } else if (proto == IPPROTO_TCP) {
    if (dport == 23 && flags >= 0 && (flags & 0x02)) return XDP_DROP; // 10' telnet SYN
  }
  return XDP_PASS;
}

SEC("xdp") int offload10(struct xdp_md *ctx) {
  __u32 v = rules(ctx);
  __u64 *c = bpf_map_lookup_elem(&verdicts, &v);
  if (c) *c += 1;
  if (v == XDP_PASS) return bpf_redirect_map(&xsks, ctx->rx_queue_index, XDP_PASS);
  return v;
}

char _license[] SEC("license") = "GPL";

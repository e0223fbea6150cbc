// Hand-assembled XDP programs, the XSKMAP, and the bpf_link that attaches them (no libbpf).
//
// One redirect program per device, shared by every socket on that device's queues:
//   r2 = ctx->rx_queue_index; r1 = &xskmap; r3 = XDP_PASS; return bpf_redirect_map(r1, r2, r3)
// bpf_redirect_map's flags argument is the action when the key has no entry, so queues without
// a socket pass frames on to the kernel stack. The link (not netlink IFLA_XDP) makes the kernel
// detach the program when the last fd closes, including when the process crashes.
#include "common.h"
#include "bpf.h"
#include <net/if.h>
#include <linux/if_link.h>  // XDP_FLAGS_*
#include <sys/syscall.h>
#include <fcntl.h>
#include <unistd.h>
#include <mutex>

// BPF_PROG_LOAD returns EAGAIN when a signal (e.g. a profiler's) interrupts the verifier; retry
// a few times like libbpf does.
long sys_bpf(int cmd, union bpf_attr* attr, unsigned size) {
  long r;
  int tries = 0;
  do r = syscall(__NR_bpf, cmd, attr, size);
  while (r < 0 && (errno == EINTR || (errno == EAGAIN && cmd == BPF_PROG_LOAD)) && ++tries < 5);
  return r;
}

static bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i = {};
  i.code = code;
  i.dst_reg = dst;
  i.src_reg = src;
  i.off = off;
  i.imm = imm;
  return i;
}

int load_xdp_prog(const bpf_insn* insns, unsigned n, bool for_attach, std::string& log) {
  static const char license[] = "GPL";
  bpf_attr a = {};
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.expected_attach_type = for_attach ? BPF_XDP : 0;
  a.insns = (uint64_t)(uintptr_t)insns;
  a.insn_cnt = n;
  a.license = (uint64_t)(uintptr_t)license;
  strncpy(a.prog_name, for_attach ? "softnet_xsk" : "softnet_gen", sizeof a.prog_name - 1);
  int fd = (int)sys_bpf(BPF_PROG_LOAD, &a, sizeof a);
  if (fd >= 0) return fd;
  int err = errno;
  // Load again with the verifier log on, only to explain the failure.
  static char buf[65536];
  buf[0] = 0;
  a.log_level = 1;
  a.log_buf = (uint64_t)(uintptr_t)buf;
  a.log_size = sizeof buf;
  int fd2 = (int)sys_bpf(BPF_PROG_LOAD, &a, sizeof a);
  if (fd2 >= 0) close(fd2);
  log = buf;
  return -err;
}

struct Attach {
  uint32_t ifindex = 0;
  bool skb = false;
  int map = -1, prog = -1, link = -1;
  uint32_t users = 0, max_entries = 0;
  // The caller's program fd it came from (-1: the built-in redirect program): queues of one
  // device must all ask for the same one.
  int custom = -1;
};
// Process-wide (programs and maps are per device, whatever thread opened the queue): guarded.
static std::vector<Attach> g_attach;
static std::mutex g_attach_mu;

static void close_attach(Attach& t) {
  if (t.link >= 0) close(t.link);  // detaches the program
  if (t.prog >= 0) close(t.prog);
  if (t.map >= 0) close(t.map);
  t.link = t.prog = t.map = -1;
  t.users = 0;
  t.custom = -1;
}

static std::string ifname(uint32_t ifindex) {
  char name[IF_NAMESIZE] = "?";
  if_indextoname(ifindex, name);
  return name;
}

bool xdp_acquire(napi_env env, uint32_t ifindex, bool skb, uint32_t queue, int xsk_fd, const XdpProg& custom) {
  std::lock_guard<std::mutex> lock(g_attach_mu);
  Attach* t = nullptr;
  for (auto& e : g_attach)
    if (e.ifindex == ifindex && e.users > 0) t = &e;
  if (t != nullptr && t->skb != skb) {
    throw_sys(env, "bpf(BPF_LINK_CREATE)", EBUSY,
              ifname(ifindex) + " already runs softnet's program in " + (t->skb ? "xdp-skb" : "xdp-drv") +
                  " mode; all queues of a device must use the same mode");
    return false;
  }
  if (t != nullptr && t->custom != custom.prog) {
    throw_sys(env, "bpf(BPF_LINK_CREATE)", EBUSY,
              ifname(ifindex) + " already runs " + (t->custom < 0 ? std::string("softnet's redirect program") : std::string("another compiled filter")) +
                  "; all queues of a device must use the same XDP program");
    return false;
  }
  if (t != nullptr && queue >= t->max_entries) {
    throw_sys(env, "bpf(BPF_MAP_UPDATE_ELEM)", E2BIG, "queue " + std::to_string(queue) + " beyond the XSKMAP");
    return false;
  }
  bool fresh = t == nullptr;
  Attach nt;
  if (fresh && custom.prog >= 0) {
    // A compiled filter: it computes the verdict and redirects to the XSKMAP itself.
    nt.ifindex = ifindex;
    nt.skb = skb;
    nt.custom = custom.prog;
    nt.max_entries = custom.max_entries;
    if (queue >= nt.max_entries) {
      throw_sys(env, "bpf(BPF_MAP_UPDATE_ELEM)", E2BIG, "queue " + std::to_string(queue) + " beyond the filter's XSKMAP");
      return false;
    }
    nt.prog = fcntl(custom.prog, F_DUPFD_CLOEXEC, 3);
    nt.map = fcntl(custom.xskmap, F_DUPFD_CLOEXEC, 3);
    if (nt.prog < 0 || nt.map < 0) {
      int e = errno;
      close_attach(nt);
      throw_sys(env, "fcntl(F_DUPFD_CLOEXEC)", e, "the compiled filter's program or XSKMAP");
      return false;
    }
  } else if (fresh) {
    nt.ifindex = ifindex;
    nt.skb = skb;
    nt.max_entries = queue + 1 > 512 ? queue + 1 : 512;  // room for every queue of big NICs
    bpf_attr a = {};
    a.map_type = BPF_MAP_TYPE_XSKMAP;
    a.key_size = 4;
    a.value_size = 4;
    a.max_entries = nt.max_entries;
    strncpy(a.map_name, "softnet_xsks", sizeof a.map_name - 1);
    nt.map = (int)sys_bpf(BPF_MAP_CREATE, &a, sizeof a);
    if (nt.map < 0) {
      throw_sys(env, "bpf(BPF_MAP_CREATE)", errno, "XSKMAP for " + ifname(ifindex));
      return false;
    }
    bpf_insn p[6] = {
        insn(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 16, 0),                  // r2 = ctx->rx_queue_index
        insn(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, nt.map),  // r1 = map (2 slots)
        insn(0, 0, 0, 0, 0),
        insn(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, XDP_PASS),         // r3 = XDP_PASS (no socket)
        insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_redirect_map),
        insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
    };
    std::string log;
    nt.prog = load_xdp_prog(p, 6, true, log);
    if (nt.prog < 0) {
      int e = -nt.prog;
      nt.prog = -1;
      close_attach(nt);
      throw_sys(env, "bpf(BPF_PROG_LOAD)", e, "XSKMAP redirect program; verifier log: " + (log.empty() ? std::string("(empty)") : log));
      return false;
    }
  } else {
    nt = *t;
  }
  uint32_t key = queue, val = (uint32_t)xsk_fd;
  bpf_attr u = {};
  u.map_fd = nt.map;
  u.key = (uint64_t)(uintptr_t)&key;
  u.value = (uint64_t)(uintptr_t)&val;
  u.flags = BPF_ANY;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &u, sizeof u) < 0) {
    int e = errno;
    if (fresh) close_attach(nt);
    throw_sys(env, "bpf(BPF_MAP_UPDATE_ELEM)", e, "XSKMAP[" + std::to_string(queue) + "] of " + ifname(ifindex));
    return false;
  }
  if (fresh) {
    bpf_attr l = {};
    l.link_create.prog_fd = nt.prog;
    l.link_create.target_ifindex = ifindex;
    l.link_create.attach_type = BPF_XDP;
    l.link_create.flags = skb ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
    nt.link = (int)sys_bpf(BPF_LINK_CREATE, &l, sizeof l);
    if (nt.link < 0) {
      int e = errno;
      close_attach(nt);
      throw_sys(env, "bpf(BPF_LINK_CREATE)", e, std::string(skb ? "generic (xdp-skb)" : "native (xdp-drv)") + " XDP on " + ifname(ifindex));
      return false;
    }
    nt.users = 1;
    for (auto& e : g_attach)
      if (e.users == 0) {
        e = nt;
        return true;
      }
    g_attach.push_back(nt);
  } else {
    t->users++;
  }
  return true;
}

void xdp_release(uint32_t ifindex, uint32_t queue) {
  std::lock_guard<std::mutex> lock(g_attach_mu);
  for (auto& t : g_attach) {
    if (t.ifindex != ifindex || t.users == 0) continue;
    uint32_t key = queue;
    bpf_attr d = {};
    d.map_fd = t.map;
    d.key = (uint64_t)(uintptr_t)&key;
    sys_bpf(BPF_MAP_DELETE_ELEM, &d, sizeof d);
    if (--t.users == 0) close_attach(t);
    return;
  }
}

// xdpAttached() -> [{ifindex, mode, users, compiled}]: what this process has attached (for tests).
static napi_value XdpAttached(napi_env env, napi_callback_info info) {
  std::lock_guard<std::mutex> lock(g_attach_mu);
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t n = 0;
  for (auto& t : g_attach) {
    if (t.users == 0) continue;
    napi_value o, s;
    napi_create_object(env, &o);
    set_num(env, o, "ifindex", t.ifindex);
    set_num(env, o, "users", t.users);
    napi_value c;
    napi_get_boolean(env, t.custom >= 0, &c);
    napi_set_named_property(env, o, "compiled", c);
    napi_create_string_utf8(env, t.skb ? "xdp-skb" : "xdp-drv", NAPI_AUTO_LENGTH, &s);
    napi_set_named_property(env, o, "mode", s);
    napi_set_element(env, arr, n++, o);
  }
  return arr;
}

void init_bpf(napi_env env, napi_value exports) { export_fn(env, exports, "xdpAttached", XdpAttached); }

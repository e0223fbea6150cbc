// UMEM (one mmap, one external ArrayBuffer) and AF_XDP sockets: rings, bind, batch calls.
//
// Hot calls (xskRx/xskFill/xskTx/xskComplete) take only integers: the descriptor typed arrays are
// handed over once at open. Every frame the socket holds (fill ring, kernel, RX ring, TX ring,
// completion ring) is marked in a bitmap, so close() can return exactly those frames to the pool.
#include "common.h"
#include "bpf.h"
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif
#define XDP_MAX_TX_SKB_BUDGET_OPT 9  // kernel >= 6.15; older ones say ENOPROTOOPT

struct Ring {
  uint32_t* prod = nullptr;
  uint32_t* cons = nullptr;
  uint32_t* flags = nullptr;
  void* ring = nullptr;
  uint32_t mask = 0, size = 0;
  uint32_t local = 0;  // our own index (we are the only producer or consumer on our side)
  void* map = nullptr;
  size_t maplen = 0;
};

struct Xsk {
  int fd = -1;
  uint32_t umem = 0, ifindex = 0, queue = 0;
  bool zc = false, busy_poll = false, attached = false, prefetch = true;
  Ring fq, cq, rx, tx;
  uint32_t *rx_addr = nullptr, *rx_len = nullptr, *tx_addr = nullptr, *tx_len = nullptr;
  uint32_t *fill_buf = nullptr, *comp_buf = nullptr;
  uint32_t batch = 0, fill_cap = 0, comp_cap = 0;
  napi_ref refs[6] = {};
  std::vector<uint8_t> owned;  // bitmap by frame index
  // Frames refused by tx() (bad descriptor): handed back by the next xskComplete.
  std::vector<uint32_t> rejected;
  uint32_t shift = 11, frames = 0;
  uint64_t umem_size = 0;
  uint8_t* umem_mem = nullptr;
  uint32_t frame_size = 0;
  double rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0, tx_rejected = 0;
  double kicks = 0, kick_again = 0, kick_errors = 0, fill_wakeups = 0;
  int last_kick_errno = 0;
  Irq irq;
};

static inline uint32_t load_acq(uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void store_rel(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static inline void mark(Xsk* x, uint64_t addr) {
  uint32_t i = (uint32_t)(addr >> x->shift);
  if (i < x->frames) x->owned[i >> 3] |= (uint8_t)(1u << (i & 7));
}
static inline void unmark(Xsk* x, uint64_t addr) {
  uint32_t i = (uint32_t)(addr >> x->shift);
  if (i < x->frames) x->owned[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

// ---------------------------------------------------------------- UMEM

static void umem_finalize(napi_env, void* data, void* hint) {
  UmemRec* r = static_cast<UmemRec*>(hint);
  if (r->live) munmap(r->mem, r->size);
  r->live = false;
}

// umemCreate(frames, frameSize, headroom) -> {id, buffer, hugepage}
static napi_value UmemCreate(napi_env env, napi_callback_info info) {
  ARGS(3);
  uint32_t frames = to_u32(env, argv[0]), fsize = to_u32(env, argv[1]), headroom = to_u32(env, argv[2]);
  if (frames == 0 || fsize < 2048 || fsize > 4096 || (fsize & (fsize - 1)) != 0) {
    throw_msg(env, "umem: frame size must be 2048 or 4096 (AF_XDP aligned chunks), frames > 0");
    return nullptr;
  }
  size_t size = (size_t)frames * fsize;
  // Over-allocate by 2 MiB and align, so transparent huge pages can back the whole area.
  const size_t huge = 2u << 20;
  uint8_t* raw = (uint8_t*)mmap(nullptr, size + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    throw_sys(env, "mmap", errno, "UMEM of " + std::to_string(size) + " bytes");
    return nullptr;
  }
  uint8_t* mem = (uint8_t*)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
  if (mem > raw) munmap(raw, mem - raw);
  size_t tail = (raw + size + huge) - (mem + size);
  if (tail) munmap(mem + size, tail);
  bool hp = madvise(mem, size, MADV_HUGEPAGE) == 0;
  memset(mem, 0, size);  // fault pages in now, not on the first packet
  Ctx* c = ctx_of(env);
  UmemRec* r = new UmemRec();
  r->mem = mem;
  r->size = size;
  r->frame_size = fsize;
  r->frames = frames;
  r->headroom = headroom;
  r->shift = __builtin_ctz(fsize);
  r->live = true;
  uint32_t id = c->umems.size();
  c->umems.push_back(r);
  napi_value out, ab, v;
  napi_create_object(env, &out);
  if (napi_create_external_arraybuffer(env, mem, size, umem_finalize, r, &ab) != napi_ok) {
    munmap(mem, size);
    r->live = false;
    throw_msg(env, "umem: napi_create_external_arraybuffer failed (external buffers disabled?)");
    return nullptr;
  }
  napi_set_named_property(env, out, "buffer", ab);
  napi_set_named_property(env, out, "id", u32v(env, id));
  napi_get_boolean(env, hp, &v);
  napi_set_named_property(env, out, "hugepage", v);
  return out;
}

// ---------------------------------------------------------------- socket setup

static bool map_ring(int fd, Ring& r, const xdp_ring_offset& off, uint32_t size, size_t esz, off_t pgoff) {
  r.maplen = off.desc + (size_t)size * esz;
  void* p = mmap(nullptr, r.maplen, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
  if (p == MAP_FAILED) {
    r.map = nullptr;
    return false;
  }
  r.map = p;
  r.prod = (uint32_t*)((char*)p + off.producer);
  r.cons = (uint32_t*)((char*)p + off.consumer);
  r.flags = (uint32_t*)((char*)p + off.flags);
  r.ring = (char*)p + off.desc;
  r.size = size;
  r.mask = size - 1;
  return true;
}

static void unmap_ring(Ring& r) {
  if (r.map) munmap(r.map, r.maplen);
  r.map = nullptr;
}

static void free_xsk(napi_env env, Xsk* x) {
  irq_close(env, x->irq);
  if (x->attached) xdp_release(x->ifindex, x->queue);
  x->attached = false;
  unmap_ring(x->fq);
  unmap_ring(x->cq);
  unmap_ring(x->rx);
  unmap_ring(x->tx);
  if (x->fd >= 0) close(x->fd);
  x->fd = -1;
  for (auto& r : x->refs)
    if (r) napi_delete_reference(env, r), r = nullptr;
}

static inline Xsk* get_xsk(Ctx* c, uint32_t id) { return id < c->xsks.size() ? c->xsks[id] : nullptr; }

static bool take_array(napi_env env, Xsk* x, int slot, napi_value v, uint32_t** ptr, uint32_t* len, const char* name) {
  size_t n = 0;
  void* p = typed_ptr(env, v, &n);
  if (p == nullptr) {
    throw_msg(env, std::string("xskOpen: ") + name + " must be a Uint32Array");
    return false;
  }
  *ptr = (uint32_t*)p;
  if (len) *len = n;
  napi_create_reference(env, v, 1, &x->refs[slot]);
  return true;
}

static uint32_t opt_u32(napi_env env, napi_value o, const char* name, uint32_t dflt) {
  napi_value v = prop(env, o, name);
  return is_undef(env, v) ? dflt : to_u32(env, v);
}

static void push_note(napi_env env, napi_value arr, const std::string& s) {
  uint32_t n;
  napi_get_array_length(env, arr, &n);
  napi_value v;
  napi_create_string_utf8(env, s.c_str(), s.size(), &v);
  napi_set_element(env, arr, n, v);
}

// xskOpen({umem, ifindex, queue, zeroCopy, fillSize, compSize, rxSize, txSize,
//          rxAddr, rxLen, txAddr, txLen, fillBuf, compBuf, busyPoll, busyPollBudget})
//   -> {id, fd, zeroCopy, shared, notes}
static napi_value XskOpen(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_value o = argv[0];
  Ctx* c = ctx_of(env);
  uint32_t umem = opt_u32(env, o, "umem", 0);
  UmemRec* up = umem_of(c, umem);
  if (up == nullptr) {
    throw_msg(env, "xskOpen: no such UMEM (freed or never created)");
    return nullptr;
  }
  UmemRec& u = *up;
  uint32_t ifindex = opt_u32(env, o, "ifindex", 0), queue = opt_u32(env, o, "queue", 0);
  bool zc = false, bp = false, pf = true;
  napi_get_value_bool(env, prop(env, o, "zeroCopy"), &zc);
  napi_get_value_bool(env, prop(env, o, "busyPoll"), &bp);
  napi_get_value_bool(env, prop(env, o, "prefetch"), &pf);
  uint32_t fsz = opt_u32(env, o, "fillSize", 2048), csz = opt_u32(env, o, "compSize", 2048);
  uint32_t rsz = opt_u32(env, o, "rxSize", 2048), tsz = opt_u32(env, o, "txSize", 2048);
  for (uint32_t s : {fsz, csz, rsz, tsz})
    if (s == 0 || (s & (s - 1)) != 0) {
      throw_msg(env, "xskOpen: ring sizes must be powers of two");
      return nullptr;
    }

  // Another socket of ours on this UMEM? Then share it (XDP_SHARED_UMEM) instead of registering.
  Xsk* owner = nullptr;
  for (Xsk* y : c->xsks) {
    if (y == nullptr || y->umem != umem) continue;
    if (y->ifindex == ifindex && y->queue == queue) {
      throw_sys(env, "bind", EBUSY, "queue " + std::to_string(queue) + " of ifindex " + std::to_string(ifindex) + " already has a socket in this process");
      return nullptr;
    }
    if (owner == nullptr) owner = y;
  }
  if (owner != nullptr && owner->zc != zc) {
    // Sockets sharing a UMEM inherit its copy/zero-copy mode from the first one.
    throw_sys(env, "bind(AF_XDP)", zc ? EOPNOTSUPP : EINVAL,
              std::string("shared UMEM is in ") + (owner->zc ? "zero-copy" : "copy") + " mode, set by its first socket (ifindex " +
                  std::to_string(owner->ifindex) + " queue " + std::to_string(owner->queue) + ")");
    return nullptr;
  }

  Xsk* x = new Xsk();
  x->umem = umem;
  x->ifindex = ifindex;
  x->queue = queue;
  x->busy_poll = bp;
  x->prefetch = pf;
  x->frames = u.frames;
  x->frame_size = u.frame_size;
  x->shift = u.shift;
  x->umem_size = u.size;
  x->umem_mem = u.mem;
  x->owned.assign((u.frames + 7) / 8, 0);
  napi_value notes;
  napi_create_array(env, &notes);
  auto fail = [&](const char* sc, int err, const std::string& d) -> napi_value {
    throw_sys(env, sc, err, d);
    free_xsk(env, x);
    delete x;
    return nullptr;
  };
  if (!take_array(env, x, 0, prop(env, o, "rxAddr"), &x->rx_addr, &x->batch, "rxAddr") ||
      !take_array(env, x, 1, prop(env, o, "rxLen"), &x->rx_len, nullptr, "rxLen") ||
      !take_array(env, x, 2, prop(env, o, "txAddr"), &x->tx_addr, nullptr, "txAddr") ||
      !take_array(env, x, 3, prop(env, o, "txLen"), &x->tx_len, nullptr, "txLen") ||
      !take_array(env, x, 4, prop(env, o, "fillBuf"), &x->fill_buf, &x->fill_cap, "fillBuf") ||
      !take_array(env, x, 5, prop(env, o, "compBuf"), &x->comp_buf, &x->comp_cap, "compBuf")) {
    free_xsk(env, x);
    delete x;
    return nullptr;
  }

  x->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (x->fd < 0) return fail("socket(AF_XDP)", errno, "");
  if (owner == nullptr) {
    xdp_umem_reg reg = {};
    reg.addr = (uint64_t)(uintptr_t)u.mem;
    reg.len = u.size;
    reg.chunk_size = u.frame_size;
    // The kernel already leaves XDP_PACKET_HEADROOM (256) before RX data; ask only for the rest.
    reg.headroom = u.headroom > 256 ? u.headroom - 256 : 0;
    if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_REG, &reg, sizeof reg) < 0)
      return fail("setsockopt(XDP_UMEM_REG)", errno, std::to_string(u.size) + " bytes");
  }
  if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_FILL_RING, &fsz, 4) < 0) return fail("setsockopt(XDP_UMEM_FILL_RING)", errno, "");
  if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &csz, 4) < 0) return fail("setsockopt(XDP_UMEM_COMPLETION_RING)", errno, "");
  if (setsockopt(x->fd, SOL_XDP, XDP_RX_RING, &rsz, 4) < 0) return fail("setsockopt(XDP_RX_RING)", errno, "");
  if (setsockopt(x->fd, SOL_XDP, XDP_TX_RING, &tsz, 4) < 0) return fail("setsockopt(XDP_TX_RING)", errno, "");
  xdp_mmap_offsets off = {};
  socklen_t ol = sizeof off;
  if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol) < 0) return fail("getsockopt(XDP_MMAP_OFFSETS)", errno, "");
  if (!map_ring(x->fd, x->fq, off.fr, fsz, 8, XDP_UMEM_PGOFF_FILL_RING)) return fail("mmap(fill ring)", errno, "");
  if (!map_ring(x->fd, x->cq, off.cr, csz, 8, XDP_UMEM_PGOFF_COMPLETION_RING)) return fail("mmap(completion ring)", errno, "");
  if (!map_ring(x->fd, x->rx, off.rx, rsz, sizeof(xdp_desc), XDP_PGOFF_RX_RING)) return fail("mmap(rx ring)", errno, "");
  if (!map_ring(x->fd, x->tx, off.tx, tsz, sizeof(xdp_desc), XDP_PGOFF_TX_RING)) return fail("mmap(tx ring)", errno, "");

  sockaddr_xdp sa = {};
  sa.sxdp_family = AF_XDP;
  sa.sxdp_ifindex = ifindex;
  sa.sxdp_queue_id = queue;
  if (owner != nullptr) {
    // Copy/zero-copy and need_wakeup are inherited from the UMEM's first socket.
    sa.sxdp_flags = XDP_SHARED_UMEM;
    sa.sxdp_shared_umem_fd = owner->fd;
  } else {
    sa.sxdp_flags = (zc ? XDP_ZEROCOPY : XDP_COPY) | XDP_USE_NEED_WAKEUP;
  }
  if (bind(x->fd, (sockaddr*)&sa, sizeof sa) < 0) {
    int e = errno;
    char name[IF_NAMESIZE] = "?";
    if_indextoname(ifindex, name);
    return fail("bind(AF_XDP)", e, std::string(name) + " queue " + std::to_string(queue) + (zc ? " zero-copy" : " copy"));
  }
  // One sendto() may push only 32 frames by default; let it take a whole TX ring.
  if (setsockopt(x->fd, SOL_XDP, XDP_MAX_TX_SKB_BUDGET_OPT, &tsz, 4) < 0)
    push_note(env, notes, std::string("XDP_MAX_TX_SKB_BUDGET not set: ") + errno_name(errno) + " (TX kicks send 32 frames each)");
  if (bp) {
    int one = 1, usec = 20, budget = (int)opt_u32(env, o, "busyPollBudget", 64);
    const char* what[3] = {"SO_PREFER_BUSY_POLL", "SO_BUSY_POLL", "SO_BUSY_POLL_BUDGET"};
    int opts[3] = {SO_PREFER_BUSY_POLL, SO_BUSY_POLL, SO_BUSY_POLL_BUDGET};
    int vals[3] = {one, usec, budget};
    for (int i = 0; i < 3; i++)
      if (setsockopt(x->fd, SOL_SOCKET, opts[i], &vals[i], sizeof(int)) < 0)
        push_note(env, notes, std::string("busy poll: ") + what[i] + " not set: " + errno_name(errno));
  }
  xdp_options xo = {};
  socklen_t xl = sizeof xo;
  if (getsockopt(x->fd, SOL_XDP, XDP_OPTIONS, &xo, &xl) == 0) x->zc = (xo.flags & XDP_OPTIONS_ZEROCOPY) != 0;

  // Ids are never reused: a stale id (a call on a closed port) finds nothing instead of
  // another port's socket.
  uint32_t id = c->xsks.size();
  c->xsks.push_back(x);

  napi_value out, v;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "id", u32v(env, id));
  napi_set_named_property(env, out, "fd", u32v(env, x->fd));
  napi_get_boolean(env, x->zc, &v);
  napi_set_named_property(env, out, "zeroCopy", v);
  napi_get_boolean(env, owner != nullptr, &v);
  napi_set_named_property(env, out, "shared", v);
  napi_set_named_property(env, out, "notes", notes);
  return out;
}

// xskAttach(id, skbMode, program?: {prog, xskmap, maxEntries}): load/link the redirect program
// (or the caller's compiled filter, which redirects through its own XSKMAP) on the device and
// map this queue.
static napi_value XskAttach(napi_env env, napi_callback_info info) {
  ARGS(3);
  Xsk* x = get_xsk(ctx_of(env), to_u32(env, argv[0]));
  bool skb = false;
  napi_get_value_bool(env, argv[1], &skb);
  if (x == nullptr) return throw_msg(env, "xskAttach: closed socket"), nullptr;
  XdpProg custom;
  if (argc > 2 && !is_undef(env, argv[2])) {
    napi_valuetype t;
    napi_typeof(env, argv[2], &t);
    if (t == napi_object) {
      custom.prog = (int)opt_u32(env, argv[2], "prog", 0);
      custom.xskmap = (int)opt_u32(env, argv[2], "xskmap", 0);
      custom.max_entries = opt_u32(env, argv[2], "maxEntries", 0);
    }
  }
  if (!xdp_acquire(env, x->ifindex, skb, x->queue, x->fd, custom)) return nullptr;
  x->attached = true;
  return undef(env);
}

// xskClose(id, out: Uint32Array) -> number of frames written to out (every frame it held).
static napi_value XskClose(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint32_t id = to_u32(env, argv[0]);
  Xsk* x = get_xsk(ctx_of(env), id);
  if (x == nullptr) return u32v(env, 0);
  size_t cap = 0;
  uint32_t* out = (uint32_t*)typed_ptr(env, argv[1], &cap);
  free_xsk(env, x);
  uint32_t n = 0;
  for (uint32_t addr : x->rejected)
    if (out && n < cap) out[n++] = addr;
  for (uint32_t i = 0; i < x->frames; i++)
    if (x->owned[i >> 3] & (1u << (i & 7)))
      if (out && n < cap) out[n++] = i << x->shift;
  ctx_of(env)->xsks[id] = nullptr;
  delete x;
  return u32v(env, n);
}

// ---------------------------------------------------------------- hot calls (integers only)

static inline Xsk* hot_args(napi_env env, napi_callback_info info, uint32_t* a) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint32_t id = 0;
  napi_get_value_uint32(env, argv[0], &id);
  if (argc > 1) napi_get_value_uint32(env, argv[1], a);
  return get_xsk(ctx_of(env), id);
}

// xskRx(id, max) -> n received into rxAddr/rxLen
static napi_value XskRx(napi_env env, napi_callback_info info) {
  uint32_t max = 0;
  Xsk* x = hot_args(env, info, &max);
  if (x == nullptr) return u32v(env, 0);
  if (max > x->batch) max = x->batch;
  Ring& r = x->rx;
  uint32_t cons = r.local;
  uint32_t avail = load_acq(r.prod) - cons;
  uint32_t n = avail < max ? avail : max;
  const xdp_desc* d = (const xdp_desc*)r.ring;
  double bytes = 0;
  for (uint32_t i = 0; i < n; i++) {
    const xdp_desc& e = d[(cons + i) & r.mask];
    // The kernel wrote the frame on another CPU: start pulling its headers in now, all frames of
    // the batch at once, so the stages' first reads hit the cache (DPDK's and VPP's prefetch).
    if (x->prefetch && e.addr < x->umem_size) __builtin_prefetch(x->umem_mem + e.addr);
    x->rx_addr[i] = (uint32_t)e.addr;
    x->rx_len[i] = e.len;
    bytes += e.len;
    unmark(x, e.addr);
  }
  if (n > 0) {
    r.local = cons + n;
    store_rel(r.cons, r.local);
    x->rx_packets += n;
    x->rx_bytes += bytes;
  } else if (x->busy_poll || (load_acq(x->fq.flags) & XDP_RING_NEED_WAKEUP)) {
    // Nothing ready: drive busy polling, or wake a driver that stopped reading the fill ring.
    recvfrom(x->fd, nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    x->fill_wakeups++;
  }
  return u32v(env, n);
}

// xskFill(id, k) -> how many of fillBuf[0..k) went onto the fill ring
static napi_value XskFill(napi_env env, napi_callback_info info) {
  uint32_t k = 0;
  Xsk* x = hot_args(env, info, &k);
  if (x == nullptr) return u32v(env, 0);
  if (k > x->fill_cap) k = x->fill_cap;
  Ring& r = x->fq;
  uint32_t prod = r.local;
  uint32_t room = r.size - (prod - load_acq(r.cons));
  if (k > room) k = room;
  uint64_t* ring = (uint64_t*)r.ring;
  for (uint32_t i = 0; i < k; i++) {
    uint64_t a = x->fill_buf[i];
    ring[(prod + i) & r.mask] = a;
    mark(x, a);
  }
  if (k > 0) {
    r.local = prod + k;
    store_rel(r.prod, r.local);
  }
  return u32v(env, k);
}

static inline void kick(Xsk* x) {
  x->kicks++;
  if (sendto(x->fd, nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0) {
    int e = errno;
    // EAGAIN: more frames than one kick's budget (we kick again on the next complete);
    // EBUSY/ENOBUFS: the device queue is busy or full. All transient.
    if (e == EAGAIN || e == EBUSY || e == ENOBUFS || e == ENETDOWN) x->kick_again++;
    else x->kick_errors++, x->last_kick_errno = e;
  }
}

// xskTx(id, n) -> how many of txAddr/txLen[0..n) the port took
static napi_value XskTx(napi_env env, napi_callback_info info) {
  uint32_t n = 0;
  Xsk* x = hot_args(env, info, &n);
  if (x == nullptr) return u32v(env, 0);
  if (n > x->batch) n = x->batch;
  Ring& r = x->tx;
  uint32_t prod = r.local;
  uint32_t room = r.size - (prod - load_acq(r.cons));
  if (n > room) n = room;
  xdp_desc* d = (xdp_desc*)r.ring;
  uint32_t k = 0;
  double bytes = 0;
  const uint32_t fmask = x->frame_size - 1;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t a = x->tx_addr[i], len = x->tx_len[i];
    // The kernel silently consumes an invalid descriptor without completing it: keep such a
    // frame ourselves and hand it back through xskComplete instead of losing it.
    if ((uint64_t)a + len > x->umem_size || (a & fmask) + len > x->frame_size || len == 0) {
      if (x->rejected.size() >= x->comp_cap) {
        n = i;
        break;
      }
      x->rejected.push_back(a);
      x->tx_rejected++;
      continue;
    }
    xdp_desc& e = d[(prod + k) & r.mask];
    e.addr = a;
    e.len = len;
    e.options = 0;
    mark(x, a);
    bytes += len;
    k++;
  }
  if (k > 0) {
    r.local = prod + k;
    store_rel(r.prod, r.local);
    x->tx_packets += k;
    x->tx_bytes += bytes;
    if (x->busy_poll || (load_acq(r.flags) & XDP_RING_NEED_WAKEUP)) kick(x);
  }
  return u32v(env, n);
}

// xskComplete(id) -> number of finished TX frames written to compBuf
static napi_value XskComplete(napi_env env, napi_callback_info info) {
  uint32_t unused = 0;
  Xsk* x = hot_args(env, info, &unused);
  if (x == nullptr) return u32v(env, 0);
  uint32_t c = 0;
  while (!x->rejected.empty() && c < x->comp_cap) {
    x->comp_buf[c++] = x->rejected.back();
    x->rejected.pop_back();
  }
  Ring& r = x->cq;
  uint32_t cons = r.local;
  uint32_t avail = load_acq(r.prod) - cons;
  uint32_t room = x->comp_cap - c;
  uint32_t n = avail < room ? avail : room;
  const uint64_t* ring = (const uint64_t*)r.ring;
  for (uint32_t i = 0; i < n; i++) {
    uint64_t a = ring[(cons + i) & r.mask];
    x->comp_buf[c++] = (uint32_t)a;
    unmark(x, a);
  }
  if (n > 0) {
    r.local = cons + n;
    store_rel(r.cons, r.local);
  }
  // Frames still waiting in the TX ring (a kick's budget ran out): kick again.
  if (x->tx.local != load_acq(x->tx.cons) && (load_acq(x->tx.flags) & XDP_RING_NEED_WAKEUP)) kick(x);
  return u32v(env, c);
}

// ---------------------------------------------------------------- slow calls

static napi_value XskStats(napi_env env, napi_callback_info info) {
  ARGS(1);
  Xsk* x = get_xsk(ctx_of(env), to_u32(env, argv[0]));
  napi_value o;
  napi_create_object(env, &o);
  if (x == nullptr) return o;
  set_num(env, o, "rx_packets", x->rx_packets);
  set_num(env, o, "rx_bytes", x->rx_bytes);
  set_num(env, o, "tx_packets", x->tx_packets);
  set_num(env, o, "tx_bytes", x->tx_bytes);
  set_num(env, o, "tx_rejected", x->tx_rejected);
  set_num(env, o, "tx_kicks", x->kicks);
  set_num(env, o, "tx_kick_again", x->kick_again);
  set_num(env, o, "tx_kick_errors", x->kick_errors);
  set_num(env, o, "fill_wakeups", x->fill_wakeups);
  xdp_statistics s = {};
  socklen_t l = sizeof s;
  if (getsockopt(x->fd, SOL_XDP, XDP_STATISTICS, &s, &l) == 0) {
    set_num(env, o, "rx_dropped", (double)s.rx_dropped);
    set_num(env, o, "rx_invalid_descs", (double)s.rx_invalid_descs);
    set_num(env, o, "tx_invalid_descs", (double)s.tx_invalid_descs);
    if (l >= sizeof s) {
      set_num(env, o, "rx_ring_full", (double)s.rx_ring_full);
      set_num(env, o, "rx_fill_ring_empty_descs", (double)s.rx_fill_ring_empty_descs);
      set_num(env, o, "tx_ring_empty_descs", (double)s.tx_ring_empty_descs);
    }
  }
  return o;
}

static napi_value XskArmIrq(napi_env env, napi_callback_info info) {
  ARGS(2);
  Xsk* x = get_xsk(ctx_of(env), to_u32(env, argv[0]));
  if (x == nullptr) return throw_msg(env, "armIrq: port is closed"), nullptr;
  irq_arm(env, x->irq, x->fd, argv[1]);
  return undef(env);
}

static napi_value XskDisarmIrq(napi_env env, napi_callback_info info) {
  ARGS(1);
  Xsk* x = get_xsk(ctx_of(env), to_u32(env, argv[0]));
  if (x != nullptr) irq_disarm(env, x->irq);
  return undef(env);
}

void teardown_xsks(Ctx* c) {
  for (Xsk*& x : c->xsks) {
    if (x == nullptr) continue;
    // The environment is going away: no JS calls, only the libuv handle and kernel objects.
    irq_teardown(x->irq);
    if (x->attached) xdp_release(x->ifindex, x->queue);
    if (x->fd >= 0) close(x->fd);
    x = nullptr;
  }
}

void init_umem_xsk(napi_env env, napi_value exports) {
  export_fn(env, exports, "umemCreate", UmemCreate);
  export_fn(env, exports, "xskOpen", XskOpen);
  export_fn(env, exports, "xskAttach", XskAttach);
  export_fn(env, exports, "xskClose", XskClose);
  export_fn(env, exports, "xskRx", XskRx);
  export_fn(env, exports, "xskFill", XskFill);
  export_fn(env, exports, "xskTx", XskTx);
  export_fn(env, exports, "xskComplete", XskComplete);
  export_fn(env, exports, "xskStats", XskStats);
  export_fn(env, exports, "xskArmIrq", XskArmIrq);
  export_fn(env, exports, "xskDisarmIrq", XskDisarmIrq);
}

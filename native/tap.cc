// TAP ports: /dev/net/tun, IFF_TAP|IFF_NO_PI, non-blocking; frames read and written straight
// from/to UMEM frames. JS lends the port free frames (like a fill ring) with tapFill; tapRx
// reads as many frames as are ready into them, one read() each, all within one call.
#include "common.h"
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct Tap {
  int fd = -1;
  uint32_t umem = 0;
  uint32_t *rx_addr = nullptr, *rx_len = nullptr, *tx_addr = nullptr, *tx_len = nullptr, *fill_buf = nullptr;
  uint32_t batch = 0, fill_cap = 0, free_cap = 0;
  std::vector<uint32_t> free;  // frames lent by the pool, ready for read()
  napi_ref refs[5] = {};
  double rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0, rx_errors = 0, tx_errors = 0, tx_dropped = 0, rx_truncated = 0;
  int last_errno = 0;
  Irq irq;
};
static inline Tap* get_tap(Ctx* c, uint32_t id) { return id < c->taps.size() ? c->taps[id] : nullptr; }

static void free_tap(napi_env env, Tap* t) {
  irq_close(env, t->irq);
  if (t->fd >= 0) close(t->fd);
  t->fd = -1;
  for (auto& r : t->refs)
    if (r) napi_delete_reference(env, r), r = nullptr;
}

// tapOpen({name, umem, rxAddr, rxLen, txAddr, txLen, fillBuf, freeCap, txqueuelen, up})
//   -> {id, fd, name, notes}
static napi_value TapOpen(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_value o = argv[0];
  std::string name = to_str(env, prop(env, o, "name"));
  Ctx* c = ctx_of(env);
  uint32_t umem = to_u32(env, prop(env, o, "umem"));
  if (umem_of(c, umem) == nullptr) return throw_msg(env, "tapOpen: no such UMEM"), nullptr;
  if (name.size() >= IFNAMSIZ) return throw_sys(env, "ioctl(TUNSETIFF)", EINVAL, "name '" + name + "' longer than 15 bytes"), nullptr;
  Tap* t = new Tap();
  t->umem = umem;
  napi_value notes;
  napi_create_array(env, &notes);
  uint32_t nnotes = 0;
  auto note = [&](const std::string& s) {
    napi_value v;
    napi_create_string_utf8(env, s.c_str(), s.size(), &v);
    napi_set_element(env, notes, nnotes++, v);
  };
  auto fail = [&](const char* sc, int e, const std::string& d) -> napi_value {
    throw_sys(env, sc, e, d);
    free_tap(env, t);
    delete t;
    return nullptr;
  };
  const char* names[5] = {"rxAddr", "rxLen", "txAddr", "txLen", "fillBuf"};
  uint32_t** ptrs[5] = {&t->rx_addr, &t->rx_len, &t->tx_addr, &t->tx_len, &t->fill_buf};
  for (int i = 0; i < 5; i++) {
    napi_value v = prop(env, o, names[i]);
    size_t n = 0;
    void* p = typed_ptr(env, v, &n);
    if (p == nullptr) return fail("tapOpen", EINVAL, std::string(names[i]) + " must be a Uint32Array");
    *ptrs[i] = (uint32_t*)p;
    if (i == 0) t->batch = n;
    if (i == 4) t->fill_cap = n;
    napi_create_reference(env, v, 1, &t->refs[i]);
  }
  t->free_cap = to_u32(env, prop(env, o, "freeCap"));
  if (t->free_cap == 0) t->free_cap = 256;
  t->free.reserve(t->free_cap);

  t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (t->fd < 0) return fail("open(/dev/net/tun)", errno, "");
  ifreq ifr = {};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  memcpy(ifr.ifr_name, name.c_str(), name.size());
  if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) return fail("ioctl(TUNSETIFF)", errno, "TAP " + name);
  std::string real = ifr.ifr_name;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s >= 0) {
    // The default txqueuelen (1000) drops frames under load before we can read them.
    ifreq q = {};
    memcpy(q.ifr_name, real.c_str(), real.size());
    q.ifr_qlen = (int)to_u32(env, prop(env, o, "txqueuelen"));
    if (q.ifr_qlen > 0 && ioctl(s, SIOCSIFTXQLEN, &q) < 0) note(std::string("txqueuelen not raised: ") + errno_name(errno));
    bool up = false;
    napi_get_value_bool(env, prop(env, o, "up"), &up);
    ifreq f = {};
    memcpy(f.ifr_name, real.c_str(), real.size());
    if (up && ioctl(s, SIOCGIFFLAGS, &f) == 0) {
      f.ifr_flags |= IFF_UP;
      if (ioctl(s, SIOCSIFFLAGS, &f) < 0) note(std::string("could not bring ") + real + " up: " + errno_name(errno));
    }
    close(s);
  }
  uint32_t id = c->taps.size();  // never reused (see xskOpen)
  c->taps.push_back(t);
  napi_value out, v;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "id", u32v(env, id));
  napi_set_named_property(env, out, "fd", u32v(env, t->fd));
  napi_create_string_utf8(env, real.c_str(), real.size(), &v);
  napi_set_named_property(env, out, "name", v);
  napi_set_named_property(env, out, "notes", notes);
  return out;
}

static inline Tap* hot_tap(napi_env env, napi_callback_info info, uint32_t* a) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint32_t id = 0;
  napi_get_value_uint32(env, argv[0], &id);
  if (argc > 1) napi_get_value_uint32(env, argv[1], a);
  return get_tap(ctx_of(env), id);
}

// tapFill(id, k) -> how many of fillBuf[0..k) the port took as free frames
static napi_value TapFill(napi_env env, napi_callback_info info) {
  uint32_t k = 0;
  Tap* t = hot_tap(env, info, &k);
  if (t == nullptr) return u32v(env, 0);
  if (k > t->fill_cap) k = t->fill_cap;
  uint32_t room = t->free_cap - (uint32_t)t->free.size();
  if (k > room) k = room;
  for (uint32_t i = 0; i < k; i++) t->free.push_back(t->fill_buf[i]);
  return u32v(env, k);
}

// tapRx(id, max) -> frames read into rxAddr/rxLen
static napi_value TapRx(napi_env env, napi_callback_info info) {
  uint32_t max = 0;
  Tap* t = hot_tap(env, info, &max);
  if (t == nullptr || t->fd < 0) return u32v(env, 0);
  UmemRec* up = umem_of(ctx_of(env), t->umem);
  if (up == nullptr) return u32v(env, 0);
  UmemRec& u = *up;
  if (max > t->batch) max = t->batch;
  const uint32_t fmask = u.frame_size - 1;
  uint32_t n = 0;
  double bytes = 0;
  while (n < max && !t->free.empty()) {
    uint32_t a = t->free.back();
    const uint32_t room = u.frame_size - (a & fmask);
    ssize_t r = read(t->fd, u.mem + a, room);
    if (r <= 0) {
      if (r < 0 && errno != EAGAIN && errno != EINTR) t->rx_errors++, t->last_errno = errno;
      break;
    }
    // A frame larger than the buffer is cut to it; never report bytes beyond the frame.
    if ((size_t)r > room) r = room, t->rx_truncated++;
    t->free.pop_back();
    t->rx_addr[n] = a;
    t->rx_len[n] = (uint32_t)r;
    bytes += r;
    n++;
  }
  t->rx_packets += n;
  t->rx_bytes += bytes;
  return u32v(env, n);
}

// tapTx(id, n) -> n: one write() per frame (the TAP API); frames go back to the pool at once.
static napi_value TapTx(napi_env env, napi_callback_info info) {
  uint32_t n = 0;
  Tap* t = hot_tap(env, info, &n);
  if (t == nullptr || t->fd < 0) return u32v(env, 0);
  UmemRec* up = umem_of(ctx_of(env), t->umem);
  if (up == nullptr) return u32v(env, 0);
  UmemRec& u = *up;
  if (n > t->batch) n = t->batch;
  double bytes = 0, sent = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t a = t->tx_addr[i], len = t->tx_len[i];
    if ((uint64_t)a + len > u.size) {
      t->tx_errors++;
      continue;
    }
    ssize_t r = write(t->fd, u.mem + a, len);
    if (r < 0) {
      if (errno == EAGAIN) t->tx_dropped++;
      else t->tx_errors++, t->last_errno = errno;
      continue;
    }
    sent++;
    bytes += len;
  }
  t->tx_packets += sent;
  t->tx_bytes += bytes;
  return u32v(env, n);
}

static napi_value TapFree(napi_env env, napi_callback_info info) {
  uint32_t unused = 0;
  Tap* t = hot_tap(env, info, &unused);
  return u32v(env, t ? (uint32_t)t->free.size() : 0);
}

// tapClose(id, out: Uint32Array) -> number of lent frames written to out
static napi_value TapClose(napi_env env, napi_callback_info info) {
  ARGS(2);
  uint32_t id = to_u32(env, argv[0]);
  Tap* t = get_tap(ctx_of(env), id);
  if (t == nullptr) return u32v(env, 0);
  size_t cap = 0;
  uint32_t* out = (uint32_t*)typed_ptr(env, argv[1], &cap);
  free_tap(env, t);
  uint32_t n = 0;
  for (uint32_t a : t->free)
    if (out && n < cap) out[n++] = a;
  ctx_of(env)->taps[id] = nullptr;
  delete t;
  return u32v(env, n);
}

static napi_value TapStats(napi_env env, napi_callback_info info) {
  ARGS(1);
  Tap* t = get_tap(ctx_of(env), to_u32(env, argv[0]));
  napi_value o;
  napi_create_object(env, &o);
  if (t == nullptr) return o;
  set_num(env, o, "rx_packets", t->rx_packets);
  set_num(env, o, "rx_bytes", t->rx_bytes);
  set_num(env, o, "tx_packets", t->tx_packets);
  set_num(env, o, "tx_bytes", t->tx_bytes);
  set_num(env, o, "rx_errors", t->rx_errors);
  set_num(env, o, "tx_errors", t->tx_errors);
  set_num(env, o, "tx_dropped", t->tx_dropped);
  set_num(env, o, "rx_truncated", t->rx_truncated);
  return o;
}

static napi_value TapArmIrq(napi_env env, napi_callback_info info) {
  ARGS(2);
  Tap* t = get_tap(ctx_of(env), to_u32(env, argv[0]));
  if (t == nullptr) return throw_msg(env, "armIrq: port is closed"), nullptr;
  irq_arm(env, t->irq, t->fd, argv[1]);
  return undef(env);
}

static napi_value TapDisarmIrq(napi_env env, napi_callback_info info) {
  ARGS(1);
  Tap* t = get_tap(ctx_of(env), to_u32(env, argv[0]));
  if (t != nullptr) irq_disarm(env, t->irq);
  return undef(env);
}

void teardown_taps(Ctx* c) {
  for (Tap*& t : c->taps) {
    if (t == nullptr) continue;
    irq_teardown(t->irq);
    if (t->fd >= 0) close(t->fd);
    t = nullptr;
  }
}

void init_tap(napi_env env, napi_value exports) {
  export_fn(env, exports, "tapOpen", TapOpen);
  export_fn(env, exports, "tapFill", TapFill);
  export_fn(env, exports, "tapRx", TapRx);
  export_fn(env, exports, "tapTx", TapTx);
  export_fn(env, exports, "tapFree", TapFree);
  export_fn(env, exports, "tapClose", TapClose);
  export_fn(env, exports, "tapStats", TapStats);
  export_fn(env, exports, "tapArmIrq", TapArmIrq);
  export_fn(env, exports, "tapDisarmIrq", TapDisarmIrq);
}

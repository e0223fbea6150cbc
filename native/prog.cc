// Generic bpf() calls for programs softnet compiles (src/bpf/): load any XDP program (the verifier
// log comes back), create maps and read/write them from JS, run a program over one frame with
// BPF_PROG_TEST_RUN. Programs and maps are plain fds owned by JS (bpfClose); the instructions
// arrive already patched with map fds (BPF_PSEUDO_MAP_FD / BPF_PSEUDO_MAP_VALUE).
#include "common.h"
#include "bpf.h"
#include <unistd.h>
#include <vector>

static const char kMapTypes[] = "hash, array, percpu_array, lru_hash, percpu_hash, lru_percpu_hash, xskmap";
static int map_type(const std::string& s) {
  if (s == "hash") return BPF_MAP_TYPE_HASH;
  if (s == "array") return BPF_MAP_TYPE_ARRAY;
  if (s == "percpu_array") return BPF_MAP_TYPE_PERCPU_ARRAY;
  if (s == "lru_hash") return BPF_MAP_TYPE_LRU_HASH;
  if (s == "percpu_hash") return BPF_MAP_TYPE_PERCPU_HASH;
  if (s == "lru_percpu_hash") return BPF_MAP_TYPE_LRU_PERCPU_HASH;
  if (s == "xskmap") return BPF_MAP_TYPE_XSKMAP;
  return -1;
}

static uint64_t ptr(const void* p) { return (uint64_t)(uintptr_t)p; }

// bpfProgLoad({insns: Uint8Array (8 bytes each), name?, attach?, logLevel?}) -> {fd, log}
// On failure throws with `log` (the verifier's, from a second load with log_level 1: the first
// load runs without a log so a success costs nothing extra).
static napi_value ProgLoad(napi_env env, napi_callback_info info) {
  ARGS(1);
  size_t bytes = 0;
  const uint8_t* code = (const uint8_t*)typed_ptr(env, prop(env, argv[0], "insns"), &bytes);
  if (code == nullptr || bytes == 0 || bytes % 8 != 0) {
    throw_msg(env, "bpfProgLoad: insns must be a non-empty Uint8Array of 8-byte instructions");
    return nullptr;
  }
  std::vector<uint8_t> insns(code, code + bytes);  // the JS buffer may move or change meanwhile
  napi_value v = prop(env, argv[0], "name");
  std::string name = is_undef(env, v) ? std::string("softnet_prog") : to_str(env, v);
  v = prop(env, argv[0], "attach");
  bool attach = false;
  if (!is_undef(env, v)) napi_get_value_bool(env, v, &attach);
  v = prop(env, argv[0], "logLevel");
  uint32_t log_level = is_undef(env, v) ? 0 : to_u32(env, v);
  static const char license[] = "GPL";
  std::vector<char> log;
  bpf_attr a = {};
  a.prog_type = BPF_PROG_TYPE_XDP;
  a.expected_attach_type = attach ? BPF_XDP : 0;
  a.insns = ptr(insns.data());
  a.insn_cnt = (uint32_t)(bytes / 8);
  a.license = ptr(license);
  strncpy(a.prog_name, name.c_str(), sizeof a.prog_name - 1);
  if (log_level) {
    log.resize(1u << 20);
    a.log_level = log_level;
    a.log_buf = ptr(log.data());
    a.log_size = (uint32_t)log.size();
  }
  int fd = (int)sys_bpf(BPF_PROG_LOAD, &a, sizeof a);
  int err = errno;
  if (fd < 0 && !log_level) {
    log.resize(1u << 20);
    a.log_level = 1;
    a.log_buf = ptr(log.data());
    a.log_size = (uint32_t)log.size();
    int fd2 = (int)sys_bpf(BPF_PROG_LOAD, &a, sizeof a);
    if (fd2 >= 0) close(fd2);  // passed with the log on: keep the first errno
  }
  std::string text = log.empty() ? std::string() : std::string(log.data(), strnlen(log.data(), log.size()));
  if (fd < 0) {
    napi_value e = sys_error(env, "bpf(BPF_PROG_LOAD)", err, name + ": " + std::to_string(bytes / 8) + " instructions");
    napi_value l;
    napi_create_string_utf8(env, text.c_str(), text.size(), &l);
    napi_set_named_property(env, e, "log", l);
    napi_throw(env, e);
    return nullptr;
  }
  napi_value o, l;
  napi_create_object(env, &o);
  set_num(env, o, "fd", fd);
  napi_create_string_utf8(env, text.c_str(), text.size(), &l);
  napi_set_named_property(env, o, "log", l);
  return o;
}

// bpfMapCreate({type, keySize, valueSize, maxEntries, name?, flags?}) -> fd
static napi_value MapCreate(napi_env env, napi_callback_info info) {
  ARGS(1);
  std::string type = to_str(env, prop(env, argv[0], "type"));
  int t = map_type(type);
  if (t < 0) {
    throw_msg(env, "bpfMapCreate: unknown map type '" + type + "' (" + kMapTypes + ")");
    return nullptr;
  }
  napi_value v = prop(env, argv[0], "name");
  std::string name = is_undef(env, v) ? std::string("softnet_map") : to_str(env, v);
  bpf_attr a = {};
  a.map_type = (uint32_t)t;
  a.key_size = to_u32(env, prop(env, argv[0], "keySize"));
  a.value_size = to_u32(env, prop(env, argv[0], "valueSize"));
  a.max_entries = to_u32(env, prop(env, argv[0], "maxEntries"));
  v = prop(env, argv[0], "flags");
  a.map_flags = is_undef(env, v) ? 0 : to_u32(env, v);
  strncpy(a.map_name, name.c_str(), sizeof a.map_name - 1);
  int fd = (int)sys_bpf(BPF_MAP_CREATE, &a, sizeof a);
  if (fd < 0) {
    throw_sys(env, "bpf(BPF_MAP_CREATE)", errno,
              type + " '" + name + "' key " + std::to_string(a.key_size) + " B, value " + std::to_string(a.value_size) +
                  " B, " + std::to_string(a.max_entries) + " entries");
    return nullptr;
  }
  return num(env, fd);
}

static bool buf(napi_env env, napi_value v, const char* what, void** p, size_t* n) {
  *p = typed_ptr(env, v, n);
  if (*p == nullptr) throw_msg(env, std::string("bpf map call: ") + what + " must be a Uint8Array");
  return *p != nullptr;
}

// bpfMapUpdate(fd, key, value, flags) -> undefined (throws; EEXIST/ENOENT per flags, E2BIG when full)
static napi_value MapUpdate(napi_env env, napi_callback_info info) {
  ARGS(4);
  void *k, *val;
  size_t kn, vn;
  if (!buf(env, argv[1], "key", &k, &kn) || !buf(env, argv[2], "value", &val, &vn)) return nullptr;
  bpf_attr a = {};
  a.map_fd = to_u32(env, argv[0]);
  a.key = ptr(k);
  a.value = ptr(val);
  a.flags = argc > 3 && !is_undef(env, argv[3]) ? to_u32(env, argv[3]) : (uint32_t)BPF_ANY;
  if (sys_bpf(BPF_MAP_UPDATE_ELEM, &a, sizeof a) < 0) throw_sys(env, "bpf(BPF_MAP_UPDATE_ELEM)", errno, "map fd " + std::to_string(a.map_fd));
  return undef(env);
}

// A map command whose ENOENT means "no such entry" (lookup, delete, next key): true, false on
// ENOENT, otherwise a thrown error (nullptr).
static napi_value map_found(napi_env env, int cmd, const char* what, bpf_attr* a) {
  napi_value r;
  if (sys_bpf(cmd, a, sizeof *a) < 0) {
    if (errno != ENOENT) {
      throw_sys(env, what, errno, "map fd " + std::to_string(a->map_fd));
      return nullptr;
    }
    napi_get_boolean(env, false, &r);
    return r;
  }
  napi_get_boolean(env, true, &r);
  return r;
}

// bpfMapLookup(fd, key, valueOut) -> boolean (false: no entry)
static napi_value MapLookup(napi_env env, napi_callback_info info) {
  ARGS(3);
  void *k, *val;
  size_t kn, vn;
  if (!buf(env, argv[1], "key", &k, &kn) || !buf(env, argv[2], "value", &val, &vn)) return nullptr;
  bpf_attr a = {};
  a.map_fd = to_u32(env, argv[0]);
  a.key = ptr(k);
  a.value = ptr(val);
  return map_found(env, BPF_MAP_LOOKUP_ELEM, "bpf(BPF_MAP_LOOKUP_ELEM)", &a);
}

// bpfMapDelete(fd, key) -> boolean (false: no entry)
static napi_value MapDelete(napi_env env, napi_callback_info info) {
  ARGS(2);
  void* k;
  size_t kn;
  if (!buf(env, argv[1], "key", &k, &kn)) return nullptr;
  bpf_attr a = {};
  a.map_fd = to_u32(env, argv[0]);
  a.key = ptr(k);
  return map_found(env, BPF_MAP_DELETE_ELEM, "bpf(BPF_MAP_DELETE_ELEM)", &a);
}

// bpfMapNextKey(fd, key | null, nextOut) -> boolean (false: no more keys)
static napi_value MapNextKey(napi_env env, napi_callback_info info) {
  ARGS(3);
  void *k = nullptr, *next;
  size_t kn, nn;
  if (!is_undef(env, argv[1]) && !buf(env, argv[1], "key", &k, &kn)) return nullptr;
  if (!buf(env, argv[2], "next key", &next, &nn)) return nullptr;
  bpf_attr a = {};
  a.map_fd = to_u32(env, argv[0]);
  a.key = ptr(k);
  a.next_key = ptr(next);
  return map_found(env, BPF_MAP_GET_NEXT_KEY, "bpf(BPF_MAP_GET_NEXT_KEY)", &a);
}

// bpfMapFreeze(fd): no more writes from user space (constant tables: the verifier may then
// treat reads as known values).
static napi_value MapFreeze(napi_env env, napi_callback_info info) {
  ARGS(1);
  bpf_attr a = {};
  a.map_fd = to_u32(env, argv[0]);
  if (sys_bpf(BPF_MAP_FREEZE, &a, sizeof a) < 0) throw_sys(env, "bpf(BPF_MAP_FREEZE)", errno, "map fd " + std::to_string(a.map_fd));
  return undef(env);
}

// bpfProgTestRun({fd, data, out?, repeat?, ifindex?, queue?}) -> {retval, size, duration}
// One frame through the program (no live frames): `out` receives the frame as the program left
// it, `size` its length. The kernel needs at least ETH_HLEN bytes (EINVAL below).
static napi_value ProgTestRun(napi_env env, napi_callback_info info) {
  ARGS(1);
  size_t dn = 0, on = 0;
  void* data = typed_ptr(env, prop(env, argv[0], "data"), &dn);
  if (data == nullptr) {
    throw_msg(env, "bpfProgTestRun: data must be a Uint8Array");
    return nullptr;
  }
  napi_value v = prop(env, argv[0], "out");
  void* out = is_undef(env, v) ? nullptr : typed_ptr(env, v, &on);
  xdp_md ctx = {};
  ctx.data_end = (uint32_t)dn;
  v = prop(env, argv[0], "ifindex");
  ctx.ingress_ifindex = is_undef(env, v) ? 0 : to_u32(env, v);
  v = prop(env, argv[0], "queue");
  ctx.rx_queue_index = is_undef(env, v) ? 0 : to_u32(env, v);
  bpf_attr a = {};
  a.test.prog_fd = to_u32(env, prop(env, argv[0], "fd"));
  a.test.data_in = ptr(data);
  a.test.data_size_in = (uint32_t)dn;
  a.test.data_out = ptr(out);
  a.test.data_size_out = out ? (uint32_t)on : 0;
  // ctx only when it says something: a zero ingress_ifindex in ctx_in is fine, but keep the
  // plain form (no ctx) for the common case.
  if (ctx.ingress_ifindex != 0 || ctx.rx_queue_index != 0) {
    a.test.ctx_in = ptr(&ctx);
    a.test.ctx_size_in = sizeof ctx;
  }
  v = prop(env, argv[0], "repeat");
  a.test.repeat = is_undef(env, v) ? 1 : to_u32(env, v);
  if (sys_bpf(BPF_PROG_TEST_RUN, &a, sizeof a) < 0) {
    throw_sys(env, "bpf(BPF_PROG_TEST_RUN)", errno, "frame of " + std::to_string(dn) + " B" + (dn < 14 ? " (the kernel needs >= 14)" : ""));
    return nullptr;
  }
  napi_value o;
  napi_create_object(env, &o);
  set_num(env, o, "retval", a.test.retval);
  set_num(env, o, "size", a.test.data_size_out);
  set_num(env, o, "duration", a.test.duration);
  return o;
}

// bpfClose(fd): programs and maps are released when their last fd (or link) goes.
static napi_value Close(napi_env env, napi_callback_info info) {
  ARGS(1);
  int fd = to_i32(env, argv[0]);
  if (fd > 2) close(fd);
  return undef(env);
}

void init_prog(napi_env env, napi_value exports) {
  export_fn(env, exports, "bpfProgLoad", ProgLoad);
  export_fn(env, exports, "bpfMapCreate", MapCreate);
  export_fn(env, exports, "bpfMapUpdate", MapUpdate);
  export_fn(env, exports, "bpfMapLookup", MapLookup);
  export_fn(env, exports, "bpfMapDelete", MapDelete);
  export_fn(env, exports, "bpfMapNextKey", MapNextKey);
  export_fn(env, exports, "bpfMapFreeze", MapFreeze);
  export_fn(env, exports, "bpfProgTestRun", ProgTestRun);
  export_fn(env, exports, "bpfClose", Close);
}

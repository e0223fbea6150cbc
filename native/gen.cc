// The traffic generator: BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES (what xdp-trafficgen
// does). A hand-assembled XDP program rewrites the frame's first (up to 64) bytes from immediates
// on every run — the kernel recycles the pages, and a receiver may have rewritten them in place —
// then returns XDP_TX, which test-run turns into a redirect out of the ingress device. It runs
// on the libuv thread pool (napi async work) so the event loop stays responsive.
#include "common.h"
#include "bpf.h"
#include <time.h>
#include <unistd.h>

struct GenJob {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  uint32_t ifindex = 0, batch = 0;
  double count = 0, duration = 0;
  std::vector<uint8_t> frame;
  int prog = -1;
  double sent = 0, seconds = 0;
  int err = 0;
  std::string log;
  const char* syscall = "";
};

static double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bpf_insn ins(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i = {};
  i.code = code;
  i.dst_reg = dst;
  i.src_reg = src;
  i.off = off;
  i.imm = imm;
  return i;
}

static int build_and_load(const std::vector<uint8_t>& f, std::string& log) {
  uint32_t n = f.size() < 64 ? (uint32_t)f.size() : 64;
  std::vector<bpf_insn> stores;
  uint32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    // 32-bit store of 4 frame bytes; x86 is little-endian, so byte 0 is the low byte.
    int32_t imm = (int32_t)(f[i] | (f[i + 1] << 8) | (f[i + 2] << 16) | ((uint32_t)f[i + 3] << 24));
    stores.push_back(ins(BPF_ST | BPF_MEM | BPF_W, 2, 0, (int16_t)i, imm));
  }
  for (; i < n; i++) stores.push_back(ins(BPF_ST | BPF_MEM | BPF_B, 2, 0, (int16_t)i, f[i]));
  std::vector<bpf_insn> p;
  p.push_back(ins(BPF_LDX | BPF_MEM | BPF_W, 2, 1, 0, 0));  // r2 = ctx->data
  p.push_back(ins(BPF_LDX | BPF_MEM | BPF_W, 3, 1, 4, 0));  // r3 = ctx->data_end
  p.push_back(ins(BPF_ALU64 | BPF_MOV | BPF_X, 4, 2, 0, 0));
  p.push_back(ins(BPF_ALU64 | BPF_ADD | BPF_K, 4, 0, 0, (int32_t)n));
  p.push_back(ins(BPF_JMP | BPF_JGT | BPF_X, 4, 3, (int16_t)(stores.size() + 2), 0));  // too short: drop
  p.insert(p.end(), stores.begin(), stores.end());
  p.push_back(ins(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_TX));
  p.push_back(ins(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  p.push_back(ins(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, XDP_DROP));
  p.push_back(ins(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  return load_xdp_prog(p.data(), p.size(), false, log);
}

static void gen_execute(napi_env, void* data) {
  GenJob* j = static_cast<GenJob*>(data);
  xdp_md ctx = {};
  ctx.data = 0;
  ctx.data_end = j->frame.size();  // must equal the frame length
  ctx.ingress_ifindex = j->ifindex;
  ctx.rx_queue_index = 0;
  const double t0 = now_s();
  const double limit = j->count > 0 ? j->count : 1e18;
  while (j->sent < limit) {
    if (j->duration > 0 && now_s() - t0 >= j->duration) break;
    // Chunks of ~10 ms at 5 Mpps keep the duration check responsive.
    double left = limit - j->sent;
    uint32_t repeat = left < 65536 ? (uint32_t)left : 65536;
    bpf_attr a = {};
    a.test.prog_fd = j->prog;
    a.test.data_in = (uint64_t)(uintptr_t)j->frame.data();
    a.test.data_size_in = j->frame.size();
    a.test.ctx_in = (uint64_t)(uintptr_t)&ctx;
    a.test.ctx_size_in = sizeof ctx;
    a.test.repeat = repeat;
    a.test.flags = BPF_F_TEST_XDP_LIVE_FRAMES;
    a.test.batch_size = j->batch;
    if (sys_bpf(BPF_PROG_TEST_RUN, &a, sizeof a) < 0) {
      if (errno == EINTR) continue;
      j->err = errno;
      j->syscall = "bpf(BPF_PROG_TEST_RUN)";
      break;
    }
    j->sent += repeat;
  }
  j->seconds = now_s() - t0;
}

static void gen_complete(napi_env env, napi_status status, void* data) {
  GenJob* j = static_cast<GenJob*>(data);
  if (j->err != 0 && j->sent == 0) {
    napi_reject_deferred(env, j->deferred,
                         sys_error(env, j->syscall, j->err, "live-frame XDP_TX on ifindex " + std::to_string(j->ifindex)));
  } else {
    napi_value o;
    napi_create_object(env, &o);
    set_num(env, o, "packets", j->sent);
    set_num(env, o, "seconds", j->seconds);
    if (j->err) set_num(env, o, "errnum", j->err);
    napi_resolve_deferred(env, j->deferred, o);
  }
  close(j->prog);
  napi_delete_async_work(env, j->work);
  delete j;
}

// genLive({ifindex, frame: Uint8Array, count, durationSec, batch}) -> Promise<{packets, seconds}>
static napi_value GenLive(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_value o = argv[0];
  GenJob* j = new GenJob();
  j->ifindex = to_u32(env, prop(env, o, "ifindex"));
  j->count = to_f64(env, prop(env, o, "count"));
  j->duration = to_f64(env, prop(env, o, "durationSec"));
  j->batch = to_u32(env, prop(env, o, "batch"));
  size_t flen = 0;
  uint8_t* fp = (uint8_t*)typed_ptr(env, prop(env, o, "frame"), &flen);
  if (fp == nullptr || flen < 14 || flen > 3500) {
    delete j;
    return throw_msg(env, "genLive: frame must be a Uint8Array of 14..3500 bytes"), nullptr;
  }
  j->frame.assign(fp, fp + flen);
  j->prog = build_and_load(j->frame, j->log);
  if (j->prog < 0) {
    int e = -j->prog;
    std::string log = j->log;
    delete j;
    return throw_sys(env, "bpf(BPF_PROG_LOAD)", e, "generator program; verifier log: " + (log.empty() ? std::string("(empty)") : log)), nullptr;
  }
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "softnet.gen", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, nullptr, name, gen_execute, gen_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

void init_gen(napi_env env, napi_value exports) { export_fn(env, exports, "genLive", GenLive); }

// State shared by the native files: the UMEM table and the one-shot interrupt (libuv poll).
#pragma once
#include "errors.h"
#include <uv.h>
#include <vector>

struct UmemRec {
  uint8_t* mem = nullptr;
  size_t size = 0;
  uint32_t frame_size = 0, frames = 0, headroom = 0, shift = 0;
  bool live = false;
};

struct Xsk;
struct Tap;
// Per-environment tables: the main thread and every worker thread (one per NIC queue) have their
// own, so the hot calls never touch state another thread may be resizing. Ids index these.
struct Ctx {
  std::vector<UmemRec*> umems;  // never freed: a UmemRec outlives its buffer's finalizer
  std::vector<Xsk*> xsks;
  std::vector<Tap*> taps;
  // The hot-path clock (addon.cc): a registered Float64Array slot, per thread.
  double* clock_slot = nullptr;
  double clock_offset = 0;
  napi_ref clock_ref = nullptr;
};
inline Ctx* ctx_of(napi_env env) {
  void* p = nullptr;
  napi_get_instance_data(env, &p);
  return static_cast<Ctx*>(p);
}
inline UmemRec* umem_of(Ctx* c, uint32_t id) {
  return id < c->umems.size() && c->umems[id]->live ? c->umems[id] : nullptr;
}
// Environment teardown (worker exit): close sockets/TAPs so no program stays attached.
void teardown_xsks(Ctx* c);
void teardown_taps(Ctx* c);

// The interrupt: libuv watches an fd; readability runs the JS callback once (one-shot) through
// napi_make_callback (so promises/microtasks behave as in any I/O callback). Disarming closes
// the handle, which takes the fd out of epoll (see addon.cc).
struct Irq {
  napi_env env = nullptr;
  uv_poll_t* h = nullptr;
  napi_ref cb = nullptr;
  napi_async_context ctx = nullptr;
  int fd = -1;
  bool armed = false;    // JS wants the next readability event
  bool polling = false;  // h is started (it stays open after firing, until disarmed)
};
bool irq_arm(napi_env env, Irq& irq, int fd, napi_value cb);
void irq_disarm(napi_env env, Irq& irq);
void irq_close(napi_env env, Irq& irq);
// At environment teardown: stop and close the libuv handle only (no JS calls any more).
void irq_teardown(Irq& irq);

void export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb);
void init_umem_xsk(napi_env env, napi_value exports);
void init_bpf(napi_env env, napi_value exports);
void init_tap(napi_env env, napi_value exports);
void init_gen(napi_env env, napi_value exports);
void init_prog(napi_env env, napi_value exports);  // prog.cc: programs, maps, test runs for src/bpf
void init_dev(napi_env env, napi_value exports);   // dev.cc: ifInfo, ethtool statistics

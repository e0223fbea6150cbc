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
extern std::vector<UmemRec> g_umems;

// The interrupt: libuv watches an fd; on readability the poll stops (one-shot) and the JS
// callback runs through napi_make_callback (so promises/microtasks behave as in any I/O callback).
struct Irq {
  napi_env env = nullptr;
  uv_poll_t* h = nullptr;
  napi_ref cb = nullptr;
  napi_async_context ctx = nullptr;
  int fd = -1;
};
bool irq_arm(napi_env env, Irq& irq, int fd, napi_value cb);
void irq_disarm(napi_env env, Irq& irq);
void irq_close(napi_env env, Irq& irq);

void export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb);
void init_umem_xsk(napi_env env, napi_value exports);
void init_bpf(napi_env env, napi_value exports);
void init_tap(napi_env env, napi_value exports);
void init_gen(napi_env env, napi_value exports);

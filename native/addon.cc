// softnet.node: registration, the interrupt helper, and a no-op call for measuring call cost.
// Only what JS cannot do lives in native code: mmap, AF_XDP rings, bpf(), TAP fds, the generator.
#include "common.h"
#include <sched.h>
#include <time.h>

void export_fn(napi_env env, napi_value exports, const char* name, napi_callback cb) {
  napi_value fn;
  napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, nullptr, &fn);
  napi_set_named_property(env, exports, name, fn);
}

// An interrupt is a uv_poll handle on the socket's fd. Firing is one-shot but leaves the handle
// started, so re-arming after a wake-up is a flag, not an epoll_ctl pair (measured ~10% of a
// receiver's CPU when it was one); an event that finds the interrupt unarmed stops the handle.
// Disarming closes it: a socket in epoll has a waiter on its wait queue, and then every frame
// it transmits takes the wait-queue and epoll locks (irqsave) in sock_wfree to offer an EPOLLOUT
// wakeup nobody asked for (~5% of a router's CPU). uv_poll_stop leaves the fd in epoll until an
// event arrives for it (never, on a port that only transmits); uv_close removes it at once. The
// poll loop disarms the ports it is polling anyway (napi.defer_hard_irqs).
//
// Handles are malloc'd and closed with libc's free as the close callback: a close still in
// flight when the environment goes away must not call into this library, which may be
// unloaded by then (a worker's addon instance is dlclose'd on exit).
static void close_handle(Irq& irq) {
  irq.polling = false;
  if (irq.h == nullptr) return;
  irq.h->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(irq.h), reinterpret_cast<uv_close_cb>(&free));
  irq.h = nullptr;
}

static void on_poll(uv_poll_t* h, int status, int events) {
  Irq* irq = static_cast<Irq*>(h->data);
  if (irq == nullptr) return;  // closing
  if (!irq->armed || irq->cb == nullptr) {
    uv_poll_stop(h);
    irq->polling = false;
    return;
  }
  irq->armed = false;  // one-shot: the poll loop re-arms when it runs dry
  napi_env env = irq->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, result;
  napi_get_reference_value(env, irq->cb, &cb);
  napi_get_global(env, &recv);
  if (napi_make_callback(env, irq->ctx, recv, cb, 0, nullptr, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

bool irq_arm(napi_env env, Irq& irq, int fd, napi_value cb) {
  if (irq.ctx == nullptr) {
    irq.env = env;
    irq.fd = fd;
    napi_value name;
    napi_create_string_utf8(env, "softnet.irq", NAPI_AUTO_LENGTH, &name);
    napi_async_init(env, nullptr, name, &irq.ctx);
  }
  // Keep the reference while the same function re-arms (the poll loop passes one bound callback).
  bool same = false;
  if (irq.cb != nullptr) {
    napi_value old;
    napi_get_reference_value(env, irq.cb, &old);
    napi_strict_equals(env, old, cb, &same);
    if (!same) {
      napi_delete_reference(env, irq.cb);
      irq.cb = nullptr;
    }
  }
  if (irq.cb == nullptr) napi_create_reference(env, cb, 1, &irq.cb);
  irq.armed = true;
  if (irq.h == nullptr) {
    uv_loop_t* loop;
    napi_get_uv_event_loop(env, &loop);
    uv_poll_t* h = static_cast<uv_poll_t*>(malloc(sizeof(uv_poll_t)));
    int r = h == nullptr ? UV_ENOMEM : uv_poll_init(loop, h, fd);
    if (r != 0) {
      free(h);
      irq.armed = false;
      throw_sys(env, "uv_poll_init", -r, "cannot watch fd " + std::to_string(fd));
      return false;
    }
    h->data = &irq;
    irq.h = h;
    irq.polling = false;
  }
  if (!irq.polling) {
    int r = uv_poll_start(irq.h, UV_READABLE, on_poll);
    if (r != 0) {
      close_handle(irq);
      irq.armed = false;
      throw_sys(env, "uv_poll_start", -r, "cannot watch fd " + std::to_string(fd));
      return false;
    }
    irq.polling = true;
  }
  return true;
}

void irq_disarm(napi_env env, Irq& irq) {
  irq.armed = false;
  close_handle(irq);
  if (irq.cb != nullptr) {
    napi_delete_reference(env, irq.cb);
    irq.cb = nullptr;
  }
}

// Must run before the fd is closed: libuv must not watch a closed fd.
void irq_close(napi_env env, Irq& irq) {
  irq_disarm(env, irq);
  if (irq.ctx != nullptr) {
    napi_async_destroy(env, irq.ctx);
    irq.ctx = nullptr;
  }
}

// At environment teardown: no JS calls any more, only the handle goes.
void irq_teardown(Irq& irq) {
  irq.armed = false;
  close_handle(irq);
}

// An empty call through the C API: the bench measures the per-call floor with it.
static napi_value Noop(napi_env env, napi_callback_info info) {
  ARGS(2);
  return argv[0];
}

// Pin the calling thread (not the process) to one CPU, as VPP's main-core / DPDK's lcore do:
// V8's compiler and GC helper threads stay free to run elsewhere instead of preempting a
// poll loop pinned with taskset (measured: busy-poll p99 0.55 ms pinned whole, 0.07 ms so).
static napi_value PinThread(napi_env env, napi_callback_info info) {
  ARGS(1);
  int cpu = to_i32(env, argv[0]);
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu < 0 || cpu >= CPU_SETSIZE) {
    throw_sys(env, "sched_setaffinity", EINVAL, "cpu " + std::to_string(cpu) + " is out of range");
    return nullptr;
  }
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    int e = errno;
    throw_sys(env, "sched_setaffinity", e,
              "cannot pin the poll thread to cpu " + std::to_string(cpu) + " (is it online and in this cpuset? see nproc)");
    return nullptr;
  }
  return undef(env);
}

// The hot-path clock (per thread, in Ctx): CLOCK_MONOTONIC in ms (plus an offset onto performance.now()'s scale)
// written into a Float64Array registered once. performance.now() allocates in Node 20 and a
// returned double is a heap number; a store into the array is not.
static double monotonic_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static napi_value ClockInit(napi_env env, napi_callback_info info) {
  ARGS(2);
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, &ab, &off) != napi_ok || type != napi_float64_array || length < 1) {
    napi_throw_type_error(env, nullptr, "clockInit: expected a Float64Array");
    return nullptr;
  }
  Ctx* c = ctx_of(env);
  if (c->clock_ref != nullptr) napi_delete_reference(env, c->clock_ref);
  napi_create_reference(env, argv[0], 1, &c->clock_ref);
  c->clock_slot = static_cast<double*>(data);
  // offset so that the clock reads on the caller's scale (performance.now()).
  c->clock_offset = to_f64(env, argv[1]) - monotonic_ms();
  return undef(env);
}

static napi_value ClockNow(napi_env env, napi_callback_info info) {
  Ctx* c = ctx_of(env);
  if (c->clock_slot != nullptr) *c->clock_slot = monotonic_ms() + c->clock_offset;
  return nullptr;
}

void init_link(napi_env env, napi_value exports);  // link.cc: rtnetlink link events

static void ctx_finalize(napi_env, void* data, void*) { delete static_cast<Ctx*>(data); }

// Runs before the thread's event loop closes (worker exit, process exit): close our sockets,
// TAPs and libuv handles, so the loop closes cleanly and no XDP program stays attached.
static void ctx_cleanup(void* arg) {
  Ctx* c = static_cast<Ctx*>(arg);
  teardown_xsks(c);
  teardown_taps(c);
}

static napi_value Init(napi_env env, napi_value exports) {
  Ctx* c = new Ctx();
  napi_set_instance_data(env, c, ctx_finalize, nullptr);
  napi_add_env_cleanup_hook(env, ctx_cleanup, c);
  export_fn(env, exports, "noop", Noop);
  export_fn(env, exports, "pinThread", PinThread);
  export_fn(env, exports, "clockInit", ClockInit);
  export_fn(env, exports, "clockNow", ClockNow);
  init_umem_xsk(env, exports);
  init_bpf(env, exports);
  init_tap(env, exports);
  init_gen(env, exports);
  init_dev(env, exports);
  init_prog(env, exports);
  init_link(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)

// Link events: an rtnetlink socket (NETLINK_ROUTE, group RTMGRP_LINK) watched by libuv, so a port
// learns at once that its device went down, lost carrier, disappeared or came back (the kernel's
// netdevice notifier, seen from user space). No polling loop: the socket wakes the event loop.
// The watch handle is unref'd: listening for link events never keeps a process alive.
//
// linkWatch(cb) -> id        cb(events) once per wake-up with every message read
// linkUnwatch(id)
// linkDump() -> events       every link of this network namespace now (RTM_GETLINK dump)
//
// An event is {event: 'new'|'del'|'overrun', ifindex, name, flags, operstate, moved}; 'overrun'
// means the socket buffer overflowed (ENOBUFS) and events were lost: re-read with linkDump().
// `moved`: a 'del' because the device went to another namespace (IFLA_NEW_NETNSID), not deleted.
#include "common.h"
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

struct LinkWatch {
  napi_env env = nullptr;
  int fd = -1;
  uv_poll_t* h = nullptr;
  napi_ref cb = nullptr;
  napi_async_context actx = nullptr;
};

// Per environment (main thread, each worker): ids index this; ids are never reused.
struct LinkTable {
  std::vector<LinkWatch*> w;
};

LinkTable* table_of(napi_env env) {
  // A small per-env table kept beside Ctx (instance data belongs to addon.cc).
  static thread_local LinkTable* t = nullptr;
  static thread_local napi_env owner = nullptr;
  if (t == nullptr || owner != env) {
    t = new LinkTable();
    owner = env;
  }
  return t;
}

struct Ev {
  const char* kind;
  int ifindex;
  uint32_t flags;
  int operstate;
  std::string name;
  bool moved = false;
};

// Parse one buffer of netlink messages; the bytes come from the kernel but every length is checked.
void parse(const uint8_t* buf, size_t len, std::vector<Ev>& out) {
  for (const nlmsghdr* nh = (const nlmsghdr*)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
    if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) continue;
    if (nh->nlmsg_type != RTM_NEWLINK && nh->nlmsg_type != RTM_DELLINK) continue;
    if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg))) continue;
    const ifinfomsg* ifi = (const ifinfomsg*)NLMSG_DATA(nh);
    // AF_BRIDGE copies describe bridge ports, not the device itself.
    if (ifi->ifi_family != AF_UNSPEC) continue;
    Ev e{nh->nlmsg_type == RTM_NEWLINK ? "new" : "del", ifi->ifi_index, ifi->ifi_flags, -1, std::string()};
    int alen = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(ifinfomsg));
    for (const rtattr* a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
      size_t plen = RTA_PAYLOAD(a);
      if (a->rta_type == IFLA_IFNAME && plen > 0) {
        const char* s = (const char*)RTA_DATA(a);
        e.name.assign(s, strnlen(s, plen < IFNAMSIZ ? plen : IFNAMSIZ));
      } else if (a->rta_type == IFLA_OPERSTATE && plen >= 1) {
        e.operstate = *(const uint8_t*)RTA_DATA(a);
      } else if (a->rta_type == IFLA_NEW_NETNSID) {
        e.moved = true;
      }
    }
    out.push_back(std::move(e));
  }
}

napi_value to_js(napi_env env, const std::vector<Ev>& evs) {
  napi_value arr;
  napi_create_array_with_length(env, evs.size(), &arr);
  for (size_t i = 0; i < evs.size(); i++) {
    const Ev& e = evs[i];
    napi_value o, v;
    napi_create_object(env, &o);
    napi_create_string_utf8(env, e.kind, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, o, "event", v);
    set_num(env, o, "ifindex", e.ifindex);
    napi_create_string_utf8(env, e.name.c_str(), e.name.size(), &v);
    napi_set_named_property(env, o, "name", v);
    set_num(env, o, "flags", e.flags);
    set_num(env, o, "operstate", e.operstate);
    napi_get_boolean(env, e.moved, &v);
    napi_set_named_property(env, o, "moved", v);
    napi_set_element(env, arr, i, o);
  }
  return arr;
}

// Read everything queued (bounded per wake-up so a storm cannot hold the loop).
void drain(LinkWatch* w, std::vector<Ev>& evs) {
  alignas(nlmsghdr) static thread_local uint8_t buf[65536];
  for (int k = 0; k < 256; k++) {
    sockaddr_nl from = {};
    iovec iov = {buf, sizeof buf};
    msghdr m = {};
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    ssize_t r = recvmsg(w->fd, &m, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      // The kernel dropped messages for us: the caller must re-read the state.
      if (errno == ENOBUFS) {
        evs.push_back(Ev{"overrun", 0, 0, -1, std::string()});
        continue;
      }
      return;  // EAGAIN: drained
    }
    if (r == 0) return;
    if (from.nl_pid != 0) continue;  // only the kernel speaks on this socket
    if (m.msg_flags & MSG_TRUNC) {
      evs.push_back(Ev{"overrun", 0, 0, -1, std::string()});
      continue;
    }
    parse(buf, (size_t)r, evs);
  }
}

void on_readable(uv_poll_t* h, int status, int) {
  LinkWatch* w = static_cast<LinkWatch*>(h->data);
  if (w == nullptr || w->cb == nullptr) return;
  std::vector<Ev> evs;
  if (status < 0) evs.push_back(Ev{"overrun", 0, 0, -1, std::string()});
  drain(w, evs);
  if (evs.empty()) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv, result, arg = to_js(env, evs);
  napi_get_reference_value(env, w->cb, &cb);
  napi_get_global(env, &recv);
  if (napi_make_callback(env, w->actx, recv, cb, 1, &arg, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

void close_watch(napi_env env, LinkWatch* w, bool js) {
  if (w->h != nullptr) {
    uv_poll_stop(w->h);
    w->h->data = nullptr;
    // As irq_teardown: no close callback into this library (it may be unloaded by then).
    uv_close(reinterpret_cast<uv_handle_t*>(w->h), nullptr);
    w->h = nullptr;
  }
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
  if (js) {
    if (w->cb != nullptr) napi_delete_reference(env, w->cb);
    if (w->actx != nullptr) napi_async_destroy(env, w->actx);
  }
  w->cb = nullptr;
  w->actx = nullptr;
}

// Environment teardown (worker or process exit): stop watching before the loop closes.
void cleanup_hook(void* arg) {
  LinkWatch* w = static_cast<LinkWatch*>(arg);
  close_watch(w->env, w, false);
}

int open_socket(unsigned groups, std::string& err_call, int& err) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    err_call = "socket(AF_NETLINK)";
    err = errno;
    return -1;
  }
  // A burst of link changes (many veths created at once) must not overflow a default buffer;
  // FORCE works as root, the plain one up to rmem_max otherwise.
  int sz = 1 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  sockaddr_nl sa = {};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = groups;
  if (bind(fd, (sockaddr*)&sa, sizeof sa) < 0) {
    err_call = "bind(NETLINK_ROUTE)";
    err = errno;
    close(fd);
    return -1;
  }
  return fd;
}

napi_value LinkWatchFn(napi_env env, napi_callback_info info) {
  ARGS(1);
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t != napi_function) return napi_throw_type_error(env, nullptr, "linkWatch: expected a callback"), nullptr;
  std::string call;
  int e = 0;
  int fd = open_socket(RTMGRP_LINK, call, e);
  if (fd < 0) return throw_sys(env, call.c_str(), e, "cannot listen for link events (RTMGRP_LINK)"), nullptr;
  LinkWatch* w = new LinkWatch();
  w->env = env;
  w->fd = fd;
  uv_loop_t* loop;
  napi_get_uv_event_loop(env, &loop);
  w->h = new uv_poll_t;
  int r = uv_poll_init(loop, w->h, fd);
  if (r == 0) {
    w->h->data = w;
    r = uv_poll_start(w->h, UV_READABLE, on_readable);
    if (r != 0) {
      w->h->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(w->h), nullptr);
      w->h = nullptr;
    }
  } else {
    delete w->h;
    w->h = nullptr;
  }
  if (r != 0) {
    close(fd);
    delete w;
    return throw_sys(env, "uv_poll_start", -r, "cannot watch the rtnetlink socket"), nullptr;
  }
  // Listening must not keep the process alive: the stack's own handles decide that.
  uv_unref(reinterpret_cast<uv_handle_t*>(w->h));
  napi_create_reference(env, argv[0], 1, &w->cb);
  napi_value name;
  napi_create_string_utf8(env, "softnet.link", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, nullptr, name, &w->actx);
  napi_add_env_cleanup_hook(env, cleanup_hook, w);
  LinkTable* tb = table_of(env);
  uint32_t id = tb->w.size();
  tb->w.push_back(w);
  return u32v(env, id);
}

napi_value LinkUnwatch(napi_env env, napi_callback_info info) {
  ARGS(1);
  LinkTable* tb = table_of(env);
  uint32_t id = to_u32(env, argv[0]);
  if (id >= tb->w.size() || tb->w[id] == nullptr) return undef(env);
  LinkWatch* w = tb->w[id];
  napi_remove_env_cleanup_hook(env, cleanup_hook, w);
  close_watch(env, w, true);
  tb->w[id] = nullptr;
  delete w;
  return undef(env);
}

// The current state of every link: an RTM_GETLINK dump on a socket of its own, read to
// NLMSG_DONE (setup and resynchronisation after an overrun only).
napi_value LinkDump(napi_env env, napi_callback_info info) {
  std::string call;
  int e = 0;
  int fd = open_socket(0, call, e);
  if (fd < 0) return throw_sys(env, call.c_str(), e, "cannot read the link table"), nullptr;
  struct {
    nlmsghdr nh;
    ifinfomsg ifi;
  } req = {};
  req.nh.nlmsg_len = sizeof req;
  req.nh.nlmsg_type = RTM_GETLINK;
  req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.nh.nlmsg_seq = 1;
  req.ifi.ifi_family = AF_UNSPEC;
  sockaddr_nl to = {};
  to.nl_family = AF_NETLINK;
  if (sendto(fd, &req, sizeof req, 0, (sockaddr*)&to, sizeof to) < 0) {
    e = errno;
    close(fd);
    return throw_sys(env, "sendto(RTM_GETLINK)", e, "cannot read the link table"), nullptr;
  }
  std::vector<Ev> evs;
  alignas(nlmsghdr) static thread_local uint8_t buf[65536];
  bool done = false;
  // Bounded: a dump of even thousands of links is a few dozen reads.
  for (int k = 0; k < 100000 && !done; k++) {
    pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0) {
      close(fd);
      return throw_sys(env, "recv(RTM_GETLINK)", ETIMEDOUT, "no answer to the link dump within 2 s"), nullptr;
    }
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      e = errno;
      close(fd);
      return throw_sys(env, "recv(RTM_GETLINK)", e, "cannot read the link table"), nullptr;
    }
    size_t len = (size_t)r;
    for (const nlmsghdr* nh = (const nlmsghdr*)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len))
      if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) done = true;
    parse(buf, (size_t)r, evs);
  }
  close(fd);
  return to_js(env, evs);
}

}  // namespace

void init_link(napi_env env, napi_value exports) {
  export_fn(env, exports, "linkWatch", LinkWatchFn);
  export_fn(env, exports, "linkUnwatch", LinkUnwatch);
  export_fn(env, exports, "linkDump", LinkDump);
}

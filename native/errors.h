// Errors and small N-API helpers shared by the native files.
// A failed syscall becomes a JS Error carrying `syscall`, `errno` (the name, e.g. "EBUSY") and
// `errnum`; src/driver/native.ts turns it into a DriverError with an actionable hint.
#pragma once
#include <node_api.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <string>

inline const char* errno_name(int err) {
  const char* n = strerrorname_np(err);
  return n ? n : "E?";
}

inline napi_value sys_error(napi_env env, const char* syscall, int err, const std::string& detail) {
  std::string msg = std::string(syscall) + ": " + errno_name(err) + " (" + strerror(err) + ")";
  if (!detail.empty()) msg += ": " + detail;
  napi_value m, e, v;
  napi_create_string_utf8(env, msg.c_str(), msg.size(), &m);
  napi_create_error(env, nullptr, m, &e);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "syscall", v);
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "errno", v);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, e, "errnum", v);
  napi_create_string_utf8(env, detail.c_str(), detail.size(), &v);
  napi_set_named_property(env, e, "detail", v);
  return e;
}

inline void throw_sys(napi_env env, const char* syscall, int err, const std::string& detail) {
  napi_throw(env, sys_error(env, syscall, err, detail));
}

inline void throw_msg(napi_env env, const std::string& msg) {
  napi_throw_error(env, nullptr, msg.c_str());
}

// --- argument helpers (setup calls; hot calls read integers directly) ---
inline uint32_t to_u32(napi_env env, napi_value v) {
  uint32_t x = 0;
  napi_get_value_uint32(env, v, &x);
  return x;
}
inline int32_t to_i32(napi_env env, napi_value v) {
  int32_t x = 0;
  napi_get_value_int32(env, v, &x);
  return x;
}
inline double to_f64(napi_env env, napi_value v) {
  double x = 0;
  napi_get_value_double(env, v, &x);
  return x;
}
inline std::string to_str(napi_env env, napi_value v) {
  char buf[256];
  size_t n = 0;
  if (napi_get_value_string_utf8(env, v, buf, sizeof buf, &n) != napi_ok) return std::string();
  return std::string(buf, n);
}
inline napi_value prop(napi_env env, napi_value obj, const char* name) {
  napi_value v = nullptr;
  napi_get_named_property(env, obj, name, &v);
  return v;
}
inline bool is_undef(napi_env env, napi_value v) {
  napi_valuetype t;
  if (v == nullptr || napi_typeof(env, v, &t) != napi_ok) return true;
  return t == napi_undefined || t == napi_null;
}
// Pointer to a typed array's elements (stable: backing stores do not move).
inline void* typed_ptr(napi_env env, napi_value v, size_t* length) {
  napi_typedarray_type type;
  size_t len = 0, off = 0;
  void* data = nullptr;
  napi_value ab;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, &ab, &off) != napi_ok) return nullptr;
  if (length) *length = len;
  return data;
}
inline napi_value num(napi_env env, double x) {
  napi_value v;
  napi_create_double(env, x, &v);
  return v;
}
inline napi_value u32v(napi_env env, uint32_t x) {
  napi_value v;
  napi_create_uint32(env, x, &v);
  return v;
}
inline void set_num(napi_env env, napi_value obj, const char* name, double x) {
  napi_set_named_property(env, obj, name, num(env, x));
}
inline napi_value undef(napi_env env) {
  napi_value v;
  napi_get_undefined(env, &v);
  return v;
}

#define ARGS(n)                                                        \
  size_t argc = n;                                                     \
  napi_value argv[n > 0 ? n : 1];                                      \
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);

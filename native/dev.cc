// Device queries for the control plane: ifInfo (ifindex, MAC, MTU, driver) and the driver's
// ethtool statistics (`ethtool -S`), read through SIOCETHTOOL so no tool has to be installed.
#include "common.h"
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <memory>

// One SIOCETHTOOL call on `name`; false (errno set) when the driver lacks the op.
static bool ethtool(int s, const std::string& name, void* cmd) {
  ifreq ifr = {};
  memcpy(ifr.ifr_name, name.c_str(), name.size());
  ifr.ifr_data = static_cast<char*>(cmd);
  return ioctl(s, SIOCETHTOOL, &ifr) == 0;
}

// Device facts the TS layer needs: ifindex (if_nametoindex) and MAC (SIOCGIFHWADDR).
static napi_value IfInfo(napi_env env, napi_callback_info info) {
  ARGS(1);
  std::string name = to_str(env, argv[0]);
  if (name.empty() || name.size() >= IF_NAMESIZE) return throw_sys(env, "if_nametoindex", ENODEV, "bad interface name '" + name + "'"), nullptr;
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) return throw_sys(env, "if_nametoindex", errno, name), nullptr;
  napi_value o, mac;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "ifindex", u32v(env, idx));
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifreq ifr = {};
  memcpy(ifr.ifr_name, name.c_str(), name.size());
  void* data;
  napi_create_arraybuffer(env, 6, &data, &mac);
  if (s >= 0 && ioctl(s, SIOCGIFHWADDR, &ifr) == 0) memcpy(data, ifr.ifr_hwaddr.sa_data, 6);
  napi_value u8;
  napi_create_typedarray(env, napi_uint8_array, 6, mac, 0, &u8);
  napi_set_named_property(env, o, "mac", u8);
  ifr = {};
  memcpy(ifr.ifr_name, name.c_str(), name.size());
  if (s >= 0 && ioctl(s, SIOCGIFMTU, &ifr) == 0) set_num(env, o, "mtu", ifr.ifr_mtu);
  // ETHTOOL_GDRVINFO: the driver ("veth", "mlx5_core"...); ETHTOOL_GTXCSUM: tx-checksumming, i.e.
  // whether the kernel hands this device frames with partial checksums (veth peers). Best effort:
  // a driver without the op simply leaves the property out.
  ethtool_drvinfo di = {};
  di.cmd = ETHTOOL_GDRVINFO;
  if (s >= 0 && ethtool(s, name, &di)) {
    napi_value drv;
    napi_create_string_utf8(env, di.driver, strnlen(di.driver, sizeof(di.driver)), &drv);
    napi_set_named_property(env, o, "driver", drv);
  }
  ethtool_value ev = {};
  ev.cmd = ETHTOOL_GTXCSUM;
  if (s >= 0 && ethtool(s, name, &ev)) set_num(env, o, "txCsum", ev.data);
  if (s >= 0) close(s);
  return o;
}

// ethtoolStats(dev): {name: value} as `ethtool -S` prints them: the string set ETH_SS_STATS
// (ETHTOOL_GSSET_INFO for its size, ETHTOOL_GSTRINGS for the names), then ETHTOOL_GSTATS.
static napi_value EthtoolStats(napi_env env, napi_callback_info info) {
  ARGS(1);
  std::string name = to_str(env, argv[0]);
  if (name.empty() || name.size() >= IF_NAMESIZE) return throw_sys(env, "SIOCETHTOOL", ENODEV, "bad interface name '" + name + "'"), nullptr;
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return throw_sys(env, "socket", errno, "AF_INET for SIOCETHTOOL"), nullptr;
  // ethtool_sset_info ends in a flexible array: one u32 (the set's length) follows it.
  alignas(ethtool_sset_info) uint8_t ssbuf[sizeof(ethtool_sset_info) + sizeof(uint32_t)] = {};
  auto* ss = reinterpret_cast<ethtool_sset_info*>(ssbuf);
  ss->cmd = ETHTOOL_GSSET_INFO;
  ss->sset_mask = 1ULL << ETH_SS_STATS;
  if (!ethtool(s, name, ss)) {
    int e = errno;
    close(s);
    return throw_sys(env, "SIOCETHTOOL", e, "ETHTOOL_GSSET_INFO on " + name), nullptr;
  }
  // No stats string set: the driver has no ethtool statistics.
  uint32_t n = (ss->sset_mask & (1ULL << ETH_SS_STATS)) ? ss->data[0] : 0;
  napi_value o;
  napi_create_object(env, &o);
  if (n == 0) return close(s), o;
  std::unique_ptr<uint8_t[]> strs(new uint8_t[sizeof(ethtool_gstrings) + size_t(n) * ETH_GSTRING_LEN]());
  std::unique_ptr<uint8_t[]> vals(new uint8_t[sizeof(ethtool_stats) + size_t(n) * sizeof(uint64_t)]());
  auto* gs = reinterpret_cast<ethtool_gstrings*>(strs.get());
  gs->cmd = ETHTOOL_GSTRINGS;
  gs->string_set = ETH_SS_STATS;
  gs->len = n;
  auto* st = reinterpret_cast<ethtool_stats*>(vals.get());
  st->cmd = ETHTOOL_GSTATS;
  st->n_stats = n;
  const char* failed = !ethtool(s, name, gs) ? "ETHTOOL_GSTRINGS" : !ethtool(s, name, st) ? "ETHTOOL_GSTATS" : nullptr;
  int e = errno;
  close(s);
  if (failed != nullptr) return throw_sys(env, "SIOCETHTOOL", e, std::string(failed) + " on " + name), nullptr;
  // The kernel may report fewer than it announced if the set shrank in between.
  uint32_t k = gs->len < st->n_stats ? gs->len : st->n_stats;
  for (uint32_t i = 0; i < k && i < n; i++) {
    const char* str = reinterpret_cast<const char*>(gs->data + size_t(i) * ETH_GSTRING_LEN);
    std::string key(str, strnlen(str, ETH_GSTRING_LEN));
    set_num(env, o, key.c_str(), double(st->data[i]));
  }
  return o;
}

void init_dev(napi_env env, napi_value exports) {
  export_fn(env, exports, "ifInfo", IfInfo);
  export_fn(env, exports, "ethtoolStats", EthtoolStats);
}

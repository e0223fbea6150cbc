// The XSKMAP redirect program per device (bpf.cc), used by the AF_XDP sockets (umem_xsk.cc).
#pragma once
#include <node_api.h>
#include <stdint.h>

// A program of the caller's (a filter src/bpf compiled) with the XSKMAP it redirects through:
// fds the caller keeps open; xdp_acquire links duplicates of them. prog < 0: the built-in one.
struct XdpProg {
  int prog = -1, xskmap = -1;
  uint32_t max_entries = 0;
};
// Make sure `ifindex` runs the redirect program, or `custom` (loading and linking it on first
// use, in generic mode when `skb`) and point queue `queue` at socket `xsk_fd`. Throws and
// returns false on failure.
bool xdp_acquire(napi_env env, uint32_t ifindex, bool skb, uint32_t queue, int xsk_fd, const XdpProg& custom);
// Remove the queue's entry; the last socket of a device closes the link, prog and map.
void xdp_release(uint32_t ifindex, uint32_t queue);

#include <linux/bpf.h>
#include <string>
// bpf(2) without libbpf.
long sys_bpf(int cmd, union bpf_attr* attr, unsigned size);
// BPF_PROG_LOAD an XDP program; on failure returns -errno and fills `log` with the verifier log.
int load_xdp_prog(const struct bpf_insn* insns, unsigned n, bool for_attach, std::string& log);

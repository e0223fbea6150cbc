#!/usr/bin/env bash
# Installs the Debian tools softnet's tests, lab and benchmarks drive (the kernel-side peers).
# Idempotent: does nothing when everything is present.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip        || need+=(iproute2)
have ethtool   || need+=(ethtool)
have tcpdump   || need+=(tcpdump)
have ping      || need+=(iputils-ping)
have arping    || need+=(iputils-arping)
have nc        || need+=(netcat-openbsd)
have curl      || need+=(curl)          # the HTTP client of the TCP tests and the demo
have traceroute || need+=(traceroute)
have tracepath || need+=(iputils-tracepath)
have setpriv   || need+=(util-linux)
have capsh     || need+=(libcap2-bin)
have iptables  || need+=(iptables)
have taskset   || need+=(util-linux)
have gcc       || need+=(gcc)
have clang     || need+=(clang)         # builds the bench's offload scenario's C XDP baseline (clang -target bpf -O2)
have python3   || need+=(python3-minimal)
have wrk       || need+=(wrk)           # HTTP load generator of the bench's tcp-http scenario
have valgrind  || need+=(valgrind)      # micro-fwd-chain --instructions: instruction counts (callgrind)
have chromium  || need+=(chromium)      # headless browser that loads softnet up --http's page in its test
[ -f /usr/include/linux/if_xdp.h ] || need+=(linux-libc-dev)  # uapi headers for bench/c/xsk_ref.c
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "deps: missing ${need[*]}; run as root to install them" >&2; exit 1; fi
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

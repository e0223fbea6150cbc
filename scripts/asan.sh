#!/usr/bin/env bash
# npm run test:asan: build the addon with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/ (the normal build/ is untouched), then run the native and driver tests with it.
#
# Node itself is not instrumented, so the ASan runtime must be the first library loaded:
# LD_PRELOAD of gcc's libasan. Leak detection is off because Node does not free its heap at exit
# (every run would "leak" megabytes that are not softnet's). Any ASan/UBSan report aborts the
# process (halt_on_error), so a report fails the test that triggered it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build-asan"
src="$out/src"

libasan=$(gcc -print-file-name=libasan.so)
if [ ! -e "$libasan" ] || [ "$libasan" = libasan.so ]; then
  echo "test:asan: gcc's libasan.so was not found (install libasan / gcc with sanitizers)" >&2
  exit 2
fi

# A private copy of the sources: node-gyp always builds into ./build of the directory it runs in.
rm -rf "$src"
mkdir -p "$src"
cp -r "$root/binding.gyp" "$root/native" "$src/"
ln -s "$root/node_modules" "$src/node_modules"
# npm's own node-gyp (what `npm run build` uses); npm sets npm_config_node_gyp for scripts.
gyp="${npm_config_node_gyp:-$(dirname "$(command -v node)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js}"
# Node's headers: the installed ones next to the node binary when present (no download), as the
# normal build found them; else node-gyp's own cache/download.
nodedir_arg=()
prefix=$(dirname "$(dirname "$(command -v node)")")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/node.h" ]; then nodedir_arg=(--nodedir="$prefix"); fi
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g -O1"
(cd "$src" && CFLAGS="$flags" CXXFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" node "$gyp" rebuild "${nodedir_arg[@]}" >"$out/build.log" 2>&1) || {
  tail -30 "$out/build.log" >&2
  echo "test:asan: the ASan build failed (full log: $out/build.log)" >&2
  exit 1
}
addon="$src/build/Release/softnet.node"
# (grep -c, not -q: -q closes the pipe early and nm's SIGPIPE fails the pipeline under pipefail)
if [ "$(nm -D "$addon" | grep -c __asan_)" = 0 ]; then
  echo "test:asan: $addon has no ASan instrumentation (were CXXFLAGS ignored?)" >&2
  exit 1
fi
echo "test:asan: built $addon with -fsanitize=address,undefined"

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  tests=(test/integration/driver-*.test.ts test/integration/cli-drop.test.ts test/integration/stack-kill.test.ts test/unit/core-nogc.test.ts)
fi
cd "$root"
export SOFTNET_ADDON="$addon"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:allow_user_segv_handler=1:log_path=$out/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$out/ubsan"
rm -f "$out"/asan.* "$out"/ubsan.*
# The tests must really load this addon under the ASan runtime: check a process's own maps.
LD_PRELOAD="$libasan" node --import tsx -e "
  const { native } = await import('./src/driver/native.ts');
  native();
  const maps = (await import('node:fs')).readFileSync('/proc/self/maps', 'utf8');
  if (!maps.includes('$addon') || !maps.includes('libasan')) { console.error('test:asan: the ASan addon or libasan is not loaded'); process.exit(1); }
"
# These tests create namespaces and attach XDP programs: one lab user at a time on this machine.
status=0
LD_PRELOAD="$libasan" flock /tmp/softnet-lab.lock "$root/node_modules/.bin/vitest" run "${tests[@]}" || status=$?
reports=$(ls "$out"/asan.* "$out"/ubsan.* 2>/dev/null || true)
if [ -n "$reports" ]; then
  echo "test:asan: sanitizer reports:" >&2
  for f in $reports; do echo "== $f" >&2; head -60 "$f" >&2; done
  exit 1
fi
if [ $status -ne 0 ]; then
  echo "test:asan: tests failed (exit $status) without a sanitizer report" >&2
  exit $status
fi
echo "test:asan: clean (no ASan/UBSan report; ${#tests[@]} test files)"

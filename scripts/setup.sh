#!/usr/bin/env bash
# Installs every Debian package contprof needs to build, run and test.
# Idempotent: when everything is present it installs nothing and says so.
# Debian's npm comes too when there is no npm command (stock Debian 12).
# Then installs the web UI's npm packages (web/node_modules, from the
# committed web/package-lock.json) when they are missing or the lock changed.
set -euo pipefail

PACKAGES=(
  # toolchain and BPF chain
  make gcc clang llvm pkg-config bpftool libbpf-dev
  # libraries the binary links
  libelf-dev libdw-dev zlib1g-dev libsqlite3-dev libpq-dev libmicrohttpd-dev
  libcurl4-openssl-dev libjansson-dev libyaml-dev libssl-dev libgnutls28-dev
  libiberty-dev   # demangling (C++, Rust) in the symbolizer
  # tests: formatting, coverage, integration runner, sanitizer runtime
  clang-format gcovr nodejs procps iproute2 util-linux
  # fuzzing (make fuzz): libFuzzer and clang's sanitizer runtimes for clang 14
  libclang-rt-14-dev
  # fault tests: the store read directly, the agent's wall clock stepped
  sqlite3 faketime
  # browser tests of the web UI (playwright-core drives it headless)
  chromium
  # bench/profilers.sh: the tools our on-CPU profiler is compared with
  linux-perf bpftrace
  # bench/profilers.sh: the off-CPU peer (offcputime)
  libbpf-tools
  # HTTP monitor tests and bench/httpmon.sh: real servers, clients, reference
  nginx wrk python3 curl
  # CFI unwinding tests: the C library's own symbols (start_thread, clone3)
  libc6-dbg
  # tests: a throwaway PostgreSQL cluster (scripts/pg-cluster.sh; the
  # system service is never used)
  postgresql
  # bench/store_size.sh reads the store's page sizes (dbstat); the install
  # test checks the systemd units with systemd-analyze
  sqlite3 systemd
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
# npm (the web UI's packages): Debian's nodejs does not include it, its npm
# package does. A node that brings its own npm (NodeSource's nodejs, which
# conflicts with Debian's npm) is left alone: npm is installed only when
# there is no npm command at all.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

install_web_packages() {
  local lock=web/package-lock.json stamp=web/node_modules/.contprof-lock.sha256 want
  cd "$(dirname "$0")/.."
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    echo "setup: web packages present"
    return 0
  fi
  echo "setup: npm ci in web/"
  (cd web && npm ci --no-audit --no-fund --loglevel=error) && echo "$want" >"$stamp"
}

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  install_web_packages
  exit 0
fi

if ((EUID != 0)); then
  echo "setup: need root to install: ${missing[*]}" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
install_web_packages

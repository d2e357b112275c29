# Shared by run.sh and test.sh: install what is missing (idempotent), quietly.
set -euo pipefail

log() { printf '%s\n' "$*" >&2; }

need_dotnet() {
  if ! command -v dotnet >/dev/null 2>&1; then
    log "error: the .NET 10 SDK ('dotnet') is not on PATH; install it (https://dot.net) and rerun."
    exit 1
  fi
}

# apt_install PKG... : installs the Debian packages that are not installed yet (needs root or sudo).
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"; } >/tmp/quantsharp-apt.log 2>&1; then
    log "warning: could not install ${missing[*]} (see /tmp/quantsharp-apt.log); tests that need them will be skipped"
  fi
}

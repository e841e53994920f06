# Sourced by the install-*.sh scripts: `ensure_command CMD REQUIRED WHY PACKAGE...` does nothing
# when CMD is on PATH; as root, installs the Debian PACKAGEs quietly; otherwise prints the command
# to run and returns 1 when REQUIRED is "required" (the caller fails, nothing is skipped silently),
# 0 when it is "optional" (the caller goes on without).
ensure_command() {
  local command=$1 required=$2 why=$3
  shift 3
  if command -v "$command" >/dev/null 2>&1; then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "$command is not on PATH ($why). Run as root:" >&2
    echo "  apt-get update && apt-get install -y $*" >&2
    [[ $required == optional ]]
    return
  fi
  echo "installing Debian's $* ($why)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  command -v "$command" >/dev/null 2>&1 || { echo "apt-get finished but $command is still not on PATH" >&2; return 1; }
}

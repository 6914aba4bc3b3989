#!/usr/bin/env bash
# Prepares what torchimg's end-to-end tests and `make demo` run on (internal/testenv), as root on
# Debian 12. Idempotent: every step is skipped when its result is already there.
#
#   1. runc and mmdebstrap from apt (apt-get update first) when missing
#   2. buildkitd, built from the github.com/moby/buildkit version in go.mod, into the cache
#   3. the base rootfs tarball (Debian bookworm + Python, mmdebstrap) into the cache
#
# Cache dir: $TORCHIMG_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/torchimg. File names carry their
# version/inputs and must match internal/testenv/cache.go; files appear atomically (temp + rename).
set -euo pipefail

die() { echo "prereqs: ERROR: $*" >&2; exit 1; }
now() { date +%s; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${TORCHIMG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/torchimg}
mkdir -p "$cache/bin" || die "cannot create cache dir $cache"

# Keep in sync with internal/testenv/cache.go (rootfsName, rootfsCreatedBy), which runs this script
# when a file is missing.
rootfs_suite=bookworm
rootfs_packages=python3-minimal,python3-pip,python3-venv,ca-certificates
rootfs="$cache/rootfs-bookworm-python3-v1.tar"

tmpfiles=()
cleanup() { if ((${#tmpfiles[@]})); then rm -rf -- "${tmpfiles[@]}"; fi; }
trap cleanup EXIT

# 1. runc, mmdebstrap
missing=()
command -v runc >/dev/null 2>&1 || [[ -x /usr/sbin/runc ]] || missing+=(runc)
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
if ((${#missing[@]} == 0)); then
  echo "prereqs: runc, mmdebstrap: installed"
else
  [[ $(id -u) == 0 ]] || die "need root to apt-get install ${missing[*]} (run as root, or install them first)"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install ${missing[*]} by hand (Debian 12 packages runc, mmdebstrap)"
  t0=$(now)
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
  echo "prereqs: ${missing[*]}: installed with apt-get in $(( $(now) - t0 )) s"
fi

# 2. buildkitd (`go install ...@version` does not work: buildkit's go.mod has exclude directives)
command -v go >/dev/null 2>&1 || die "go not found on PATH (needed to build buildkitd)"
bk_version=$(cd "$repo" && go list -m -f '{{.Version}}' github.com/moby/buildkit) \
  || die "cannot read the github.com/moby/buildkit version from $repo/go.mod"
buildkitd="$cache/bin/buildkitd-$bk_version"
if [[ -x $buildkitd ]]; then
  echo "prereqs: buildkitd $bk_version: cached ($buildkitd)"
else
  t0=$(now)
  moddir=$(cd "$repo" && go mod download -json "github.com/moby/buildkit@$bk_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [[ -n $moddir && -d $moddir ]] || die "go mod download github.com/moby/buildkit@$bk_version gave no module dir"
  src=$(mktemp -d /tmp/torchimg-buildkit-src-XXXXXX); tmpfiles+=("$src")
  cp -a "$moddir" "$src/buildkit" && chmod -R u+w "$src/buildkit" || die "cannot copy $moddir"
  out="$buildkitd.tmp-$$"; tmpfiles+=("$out")
  log="$src/build.log"
  if ! (cd "$src/buildkit" && GOFLAGS=-mod=mod CGO_ENABLED=0 GOWORK=off go build -trimpath -o "$out" ./cmd/buildkitd) >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "building buildkitd $bk_version failed (log above)"
  fi
  mv -f "$out" "$buildkitd"
  echo "prereqs: buildkitd $bk_version: built in $(( $(now) - t0 )) s ($buildkitd)"
fi

# 3. base rootfs
if [[ -s $rootfs ]]; then
  echo "prereqs: base rootfs: cached ($rootfs)"
else
  [[ $(id -u) == 0 ]] || die "mmdebstrap needs root here to make $rootfs"
  sources=
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [[ -s $f ]]; then sources=$f; break; fi
  done
  [[ -n $sources ]] || die "no apt sources on this host for mmdebstrap (/etc/apt/sources.list.d/debian.sources)"
  t0=$(now)
  out="${rootfs%.tar}.tmp-$$.tar"; tmpfiles+=("$out")
  log=$(mktemp /tmp/torchimg-mmdebstrap-XXXXXX.log); tmpfiles+=("$log")
  # The mirror argument is the host's own sources file; mmdebstrap pastes it.
  if ! mmdebstrap --variant=essential --include="$rootfs_packages" "$rootfs_suite" "$out" "$sources" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "mmdebstrap $rootfs_suite failed (log above)"
  fi
  mv -f "$out" "$rootfs"
  echo "prereqs: base rootfs: built in $(( $(now) - t0 )) s ($rootfs, $(du -m "$rootfs" | cut -f1) MB)"
fi

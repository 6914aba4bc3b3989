#!/usr/bin/env bash
# Prepares what torchimg's end-to-end tests and `make demo` run on (internal/testenv), as root on
# Debian 12. Idempotent: every step is skipped when its result is already there.
#
#   hack/prereqs.sh [STEP ...]     (no STEP: all of them, in this order)
#
#   tools      runc and mmdebstrap from apt (apt-get update first) when missing
#   docker     Debian's docker.io (dockerd 20.10, containerd) when dockerd is missing, for the docker
#              smoke runner's end-to-end test; installing it starts no service (the test starts its
#              own dockerd on its own socket)
#   buildkitd  buildkitd, built from the github.com/moby/buildkit version in go.mod, into the cache
#   base       the base rootfs tarball (Debian bookworm + Python, mmdebstrap) into the cache
#   torch      the real-torch rootfs tarball (the base + Debian's python3-torch 1.13.1, a CPU build;
#              ~250 MB download, ~3 min fresh) into the cache, for smoke/realtorch_e2e_test.go
#
# Cache dir: $TORCHIMG_CACHE, else ${XDG_CACHE_HOME:-$HOME/.cache}/torchimg. File names carry their
# version/inputs and must match internal/testenv/cache.go; files appear atomically (temp + rename).
set -euo pipefail

die() { echo "prereqs: ERROR: $*" >&2; exit 1; }
now() { date +%s; }

all_steps=(tools docker buildkitd base torch)
steps=("$@")
((${#steps[@]})) || steps=("${all_steps[@]}")
for s in "${steps[@]}"; do
  [[ " ${all_steps[*]} " == *" $s "* ]] || die "unknown step '$s' (steps: ${all_steps[*]})"
done
want() { [[ " ${steps[*]} " == *" $1 "* ]]; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${TORCHIMG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/torchimg}
mkdir -p "$cache/bin" || die "cannot create cache dir $cache"

# Keep in sync with internal/testenv/cache.go (rootfsName, rootfsPackages; torchRootfsName,
# torchRootfsPackages), which runs this script when a file is missing.
rootfs_suite=bookworm
rootfs_packages=python3-minimal,python3-pip,python3-venv,ca-certificates
rootfs="$cache/rootfs-bookworm-python3-v1.tar"
torch_rootfs_packages=python3-minimal,python3-pip,python3-venv,ca-certificates,python3-torch
torch_rootfs="$cache/rootfs-bookworm-python3-torch-v1.tar"

tmpfiles=()
cleanup() { if ((${#tmpfiles[@]})); then rm -rf -- "${tmpfiles[@]}"; fi; }
trap cleanup EXIT

apt_updated=
# apt_install PKG...: apt-get install as root, starting no service (a policy-rc.d that refuses
# every start is put in place for the install when the machine has none).
apt_install() {
  [[ $(id -u) == 0 ]] || die "need root to apt-get install $* (run as root, or install them first)"
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand (Debian 12 packages)"
  export DEBIAN_FRONTEND=noninteractive
  if [[ -z $apt_updated ]]; then
    apt-get update -qq >/dev/null || die "apt-get update failed"
    apt_updated=1
  fi
  local policy=/usr/sbin/policy-rc.d ours=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# torchimg hack/prereqs.sh: start no service while it installs packages\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    ours=1
  fi
  local rc=0
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
  if [[ -n $ours ]]; then rm -f "$policy"; fi
  ((rc == 0)) || die "apt-get install $* failed (exit $rc)"
}

# 1. runc, mmdebstrap
if want tools; then
  missing=()
  command -v runc >/dev/null 2>&1 || [[ -x /usr/sbin/runc ]] || missing+=(runc)
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  if ((${#missing[@]} == 0)); then
    echo "prereqs: runc, mmdebstrap: installed"
  else
    t0=$(now)
    apt_install "${missing[@]}"
    echo "prereqs: ${missing[*]}: installed with apt-get in $(( $(now) - t0 )) s"
  fi
fi

# 2. docker.io (dockerd and containerd; the docker CLI may come from elsewhere)
if want docker; then
  # Where internal/testenv/docker.go looks too (a user's PATH may lack the sbin dirs).
  find_bin() {
    local d
    command -v "$1" 2>/dev/null && return
    for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
      if [[ -x $d/$1 ]]; then echo "$d/$1"; return; fi
    done
    return 1
  }
  if dockerd=$(find_bin dockerd) && find_bin containerd >/dev/null; then
    echo "prereqs: dockerd, containerd: installed ($("$dockerd" --version 2>/dev/null || echo "$dockerd"))"
  else
    t0=$(now)
    apt_install docker.io
    dockerd=$(find_bin dockerd) || die "apt-get installed docker.io but there is no dockerd"
    echo "prereqs: docker.io: installed with apt-get in $(( $(now) - t0 )) s, no service started ($("$dockerd" --version))"
  fi
fi

# 3. buildkitd (`go install ...@version` does not work: buildkit's go.mod has exclude directives)
if want buildkitd; then
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
fi

# mkrootfs WHAT TARBALL PACKAGES [MMDEBSTRAP OPTION ...]: mmdebstrap the suite with the host's own
# apt sources into TARBALL (atomically).
mkrootfs() {
  local what=$1 tarball=$2 packages=$3
  shift 3
  if [[ -s $tarball ]]; then
    echo "prereqs: $what: cached ($tarball)"
    return
  fi
  [[ $(id -u) == 0 ]] || die "mmdebstrap needs root here to make $tarball"
  command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap is not installed (hack/prereqs.sh tools installs it)"
  local sources= f
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [[ -s $f ]]; then sources=$f; break; fi
  done
  [[ -n $sources ]] || die "no apt sources on this host for mmdebstrap (/etc/apt/sources.list.d/debian.sources)"
  local t0 out log
  t0=$(now)
  out="${tarball%.tar}.tmp-$$.tar"; tmpfiles+=("$out")
  log=$(mktemp /tmp/torchimg-mmdebstrap-XXXXXX.log); tmpfiles+=("$log")
  # The mirror argument is the host's own sources file; mmdebstrap pastes it.
  if ! mmdebstrap --variant=essential "$@" --include="$packages" "$rootfs_suite" "$out" "$sources" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "mmdebstrap $rootfs_suite --include=$packages failed (log above)"
  fi
  mv -f "$out" "$tarball"
  echo "prereqs: $what: built in $(( $(now) - t0 )) s ($tarball, $(du -m "$tarball" | cut -f1) MB)"
}

# 4. base rootfs
if want base; then
  mkrootfs "base rootfs" "$rootfs" "$rootfs_packages"
fi

# 5. real-torch rootfs: no Recommends (they add ~60 packages torch does not need) and no
# documentation, manual pages or translations (a smaller image to push and pull in every run).
if want torch; then
  mkrootfs "real-torch rootfs (python3-torch)" "$torch_rootfs" "$torch_rootfs_packages" \
    --aptopt='Apt::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*'
fi

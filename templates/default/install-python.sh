#!/bin/sh
# Installs Python $1 (if the base image lacks it) and creates the virtual environment /opt/venv.
# Usage: install-python.sh 3.12 runtime|devel
# What apt leaves behind that depends on time or the machine (package lists, caches, logs, the
# ld.so aux cache) is removed, so the layer holds the same bytes on every build.
set -eu
want="$1"
flavor="${2:-runtime}"
py="python${want}"

clean_apt() {
	rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial \
		/var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache \
		/var/cache/debconf/*-old /var/lib/dpkg/*-old
}

have_python() {
	command -v "$py" >/dev/null 2>&1 && "$py" -c 'import venv, ensurepip' >/dev/null 2>&1
}

if ! have_python; then
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "torchimg: $py (with venv) is not in the base image and there is no apt-get to install it" >&2
		exit 1
	fi
	apt-get update
	helpers=""
	if ! apt-cache show "$py" >/dev/null 2>&1; then
		# Ubuntu ships one Python per release; other versions come from the deadsnakes PPA.
		helpers="software-properties-common gpg-agent"
		apt-get install -y --no-install-recommends $helpers
		add-apt-repository -y ppa:deadsnakes/ppa
		apt-get update
	fi
	apt-get install -y --no-install-recommends ca-certificates "$py" "$py-venv"
	if [ -n "$helpers" ]; then
		apt-get purge -y --auto-remove $helpers
	fi
	clean_apt
fi

if [ "$flavor" = devel ] && command -v apt-get >/dev/null 2>&1; then
	# Headers and a C++ compiler for building CUDA extensions against torch.
	if ! command -v g++ >/dev/null 2>&1 || ! [ -e "/usr/include/$py/Python.h" ]; then
		apt-get update
		apt-get install -y --no-install-recommends g++ "$py-dev"
		clean_apt
	fi
fi

"$py" -m venv /opt/venv
/opt/venv/bin/python -c 'import sys; print("torchimg: Python", sys.version.split()[0], "in /opt/venv")'

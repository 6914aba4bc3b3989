#!/bin/sh
# Installs Python $1 (if the base image lacks it) and, with "compiler", gcc, g++ and Python's
# headers (if the base lacks them; torch.compile needs them at run time, CUDA extensions to build),
# all in one apt step, and creates the virtual environment /opt/venv.
# Usage: install-python.sh 3.12 compiler|no-compiler
# What apt leaves behind that depends on time or the machine (package lists, caches, logs, the
# ld.so aux cache) is removed, so the layer holds the same bytes on every build.
set -eu
want="$1"
compiler="${2:-compiler}"
py="python${want}"

clean_apt() {
	rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial \
		/var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache \
		/var/cache/debconf/*-old /var/lib/dpkg/*-old
}

have_python() {
	command -v "$py" >/dev/null 2>&1 && "$py" -c 'import venv, ensurepip' >/dev/null 2>&1
}

have_compiler() {
	command -v gcc >/dev/null 2>&1 && command -v g++ >/dev/null 2>&1 && [ -e "/usr/include/$py/Python.h" ]
}

pkgs=""
if ! have_python; then
	pkgs="ca-certificates $py $py-venv"
fi
if [ "$compiler" = compiler ] && ! have_compiler; then
	pkgs="$pkgs gcc g++ $py-dev"
fi

if [ -n "$pkgs" ]; then
	if ! command -v apt-get >/dev/null 2>&1; then
		if ! have_python; then
			echo "torchimg: $py (with venv) is not in the base image and there is no apt-get to install it" >&2
		else
			echo "torchimg: gcc, g++ and the headers of $py are not all in the base image and there is no apt-get to install them;" \
				"set compiler: false in the matrix to build without them (torch.compile then fails with \"Failed to find C compiler\")" >&2
		fi
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
	apt-get install -y --no-install-recommends $pkgs
	if [ -n "$helpers" ]; then
		apt-get purge -y --auto-remove $helpers
	fi
	clean_apt
fi

"$py" -m venv /opt/venv
/opt/venv/bin/python -c 'import sys; print("torchimg: Python", sys.version.split()[0], "in /opt/venv")'

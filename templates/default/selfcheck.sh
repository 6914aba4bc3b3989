#!/bin/sh
# torchimg self-check. Reads the image's facts from /etc/torchimg/image.env and the driver version
# from /proc/driver/nvidia/version (no nvidia-smi needed), and says precisely what is wrong:
# no GPU passed in, container toolkit missing, or a driver too old for this image's CUDA,
# with the driver or the tag that would work.
# The default is templates/imageenv.Path (a test keeps them equal); the facts come from torchimg's
# driver and architecture rules, rendered at build time.
facts=${TORCHIMG_FACTS_FILE:-/etc/torchimg/image.env}
[ -r "$facts" ] || exit 0
. "$facts"

say() { echo "torchimg: $*" >&2; }

# ge A B: true when version A >= version B, number by number.
ge() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		na = split(a, x, "."); nb = split(b, y, ".");
		n = na > nb ? na : nb;
		for (i = 1; i <= n; i++) { p = (i <= na) ? x[i] + 0 : 0; q = (i <= nb) ? y[i] + 0 : 0;
			if (p > q) exit 0; if (p < q) exit 1 }
		exit 0 }'
}

version_file="${TORCHIMG_NVIDIA_VERSION_FILE:-/proc/driver/nvidia/version}"
driver=""
if [ -r "$version_file" ]; then
	# "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  ..." or, for the open modules,
	# "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  560.35.03  ...": the first dotted number.
	driver=$(awk '/Kernel Module/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+(\.[0-9]+)?$/) { print $i; exit } }' "$version_file")
fi

devices=""
for d in "${TORCHIMG_DEV_DIR:-/dev}"/nvidia[0-9]* ; do
	[ -e "$d" ] && devices="$devices $d"
done

if [ -z "$driver" ] && [ -z "$devices" ]; then
	say "no NVIDIA GPU in this container (no driver, no /dev/nvidia* devices): torch will use the CPU."
	say "to use a GPU: docker run --gpus all ... (NVIDIA Container Toolkit), or --device nvidia.com/gpu=all (CDI)."
	exit 0
fi
if [ -n "$driver" ] && [ -z "$devices" ]; then
	say "the host has NVIDIA driver $driver but no GPU was passed into this container: torch will use the CPU."
	say "run with --gpus all (docker) or --device nvidia.com/gpu=all (CDI)."
	exit 0
fi

libcuda=""
for f in /usr/lib/x86_64-linux-gnu/libcuda.so.1 /usr/lib64/libcuda.so.1 /usr/lib/aarch64-linux-gnu/libcuda.so.1 /usr/local/nvidia/lib64/libcuda.so.1 /usr/lib/wsl/lib/libcuda.so.1; do
	[ -e "$f" ] && libcuda="$f"
done
if [ -z "$libcuda" ] && command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
	libcuda=ldconfig
fi
if [ -z "$libcuda" ]; then
	say "GPU devices are present ($devices ) but the driver library libcuda.so.1 is not: the NVIDIA Container Toolkit is missing or not configured."
	say "install it and run 'nvidia-ctk runtime configure' (docker --gpus), or generate a CDI spec with 'nvidia-ctk cdi generate'."
fi

# GPU architectures: nvidia-smi (mounted by the toolkit with the utility capability) names each
# GPU's compute capability; image.env lists how this image's torch runs on each.
if command -v nvidia-smi >/dev/null 2>&1; then
	for cc in $(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null); do
		case " ${TORCHIMG_GPU_PTX:-} " in *" $cc "*)
			say "GPU compute capability $cc runs this image's torch only through PTX JIT: the first start compiles every kernel (minutes; cached in ~/.nv/ComputeCache)." ;;
		esac
		case " ${TORCHIMG_GPU_NONE:-} " in *" $cc "*)
			say "this image's torch has no kernels for GPU compute capability $cc (built for ${TORCHIMG_CUDA_ARCHS:-?}): CUDA calls will fail with 'no kernel image is available'. Use a torch build that lists $cc." ;;
		esac
	done
fi

if [ -z "$driver" ]; then
	say "cannot read the driver version from $version_file; skipping the driver check."
	exit 0
fi

cuda="${TORCHIMG_CUDA:-?}"
min="${TORCHIMG_DRIVER_MIN:-}"
compat="${TORCHIMG_DRIVER_MIN_COMPAT:-}"
if [ -n "$min" ] && ge "$driver" "$min"; then
	[ "${TORCHIMG_SELFCHECK:-1}" = verbose ] && say "driver $driver supports CUDA $cuda (needs >= $min): OK."
	exit 0
fi
if [ -z "$min" ] && [ -z "$compat" ]; then
	say "the minimum driver of CUDA $cuda is not known to torchimg; cannot check driver $driver."
	exit 0
fi

# Alternatives: the other CUDA variants of this torch release, as CUDA=DRIVER_MIN.
works=""
for alt in ${TORCHIMG_ALTERNATIVES:-}; do
	acuda=${alt%%=*}; amin=${alt#*=}
	if [ -n "$amin" ] && ge "$driver" "$amin"; then
		works="$works CUDA $acuda (driver >= $amin);"
	fi
done

if [ -n "$compat" ] && ge "$driver" "$compat"; then
	say "driver $driver is older than CUDA $cuda's ($min) but runs it through CUDA minor-version compatibility (>= $compat)."
	say "torch works; kernels JIT-compiled from PTX (new GPUs, torch.compile/Triton) may fail with 'unsupported toolchain'. Driver >= $min removes that limit."
	exit 0
fi
need="$min"
[ -n "$compat" ] && need="$min (or >= $compat with minor-version compatibility)"
say "driver $driver is too old for CUDA $cuda: this image needs driver >= $need. torch.cuda.is_available() will be False."
if [ -n "$works" ]; then
	say "torch ${TORCHIMG_TORCH:-} is also built for${works%;}, which run on driver $driver: pull that variant's tag of ${TORCHIMG_REPOSITORY:-this repository} (torchimg check IMAGE lists the tags)."
fi
if [ -n "${TORCHIMG_FORWARD_COMPAT:-}" ]; then
	say "or install an NVIDIA driver >= ${min:-$compat}. Datacenter GPUs on driver branch $(echo "$TORCHIMG_FORWARD_COMPAT" | tr ' ' '/') also run it, through the image's forward-compatibility libraries (not GeForce)."
else
	say "or install an NVIDIA driver >= ${min:-$compat}."
fi
exit 0

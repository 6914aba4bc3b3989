"""Loads the facts baked into this wheel (torch/_fixture.json) and the fake GPU list."""
import json
import os

_path = os.path.join(os.path.dirname(__file__), "_fixture.json")
try:
    with open(_path, encoding="utf-8") as f:
        FACTS = json.load(f)
except FileNotFoundError:
    raise ImportError(
        "fixture torch: %s is missing; this package is a test fixture and must be built into a wheel "
        "by torchimg's internal/testenv (Index.AddTorch)" % _path) from None

VERSION = FACTS["version"]
CUDA = FACTS.get("cuda") or None
CUDNN = FACTS.get("cudnn") or None
NCCL = FACTS.get("nccl") or None
ARCHS = FACTS.get("archs") or ""


def arch_flags():
    """TORCH_CUDA_ARCH_LIST form ("8.6;9.0;12.0+PTX") to nvcc flags ("sm_86 sm_90 sm_120 compute_120")."""
    flags = []
    for entry in ARCHS.replace(" ", ";").split(";"):
        entry = entry.strip()
        if not entry:
            continue
        ptx = entry.endswith("+PTX")
        num = entry[: -len("+PTX")] if ptx else entry
        num = num.replace(".", "")
        flags.append("sm_" + num)
        if ptx:
            flags.append("compute_" + num)
    return " ".join(flags)


def gpus():
    """[(name, (major, minor))] from TORCHIMG_FIXTURE_GPUS="NAME=9.0;NAME=8.0"; none for a CPU wheel."""
    if CUDA is None:
        return []
    out = []
    for dev in os.environ.get("TORCHIMG_FIXTURE_GPUS", "").split(";"):
        dev = dev.strip()
        if not dev:
            continue
        name, _, cc = dev.rpartition("=")
        if not name:
            raise RuntimeError("TORCHIMG_FIXTURE_GPUS: want NAME=MAJOR.MINOR, got %r" % dev)
        major, _, minor = cc.partition(".")
        out.append((name, (int(major), int(minor or 0))))
    return out

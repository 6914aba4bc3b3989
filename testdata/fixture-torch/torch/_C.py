"""Stands in for the compiled torch._C. Only what a probe calls exists."""
from torch import _fixture


def _cuda_getArchFlags():
    # Real torch returns the CUDA_ARCH_FLAGS it was compiled with, or None without CUDA.
    if _fixture.CUDA is None:
        return None
    return _fixture.arch_flags()


_has_cudnn = _fixture.CUDNN is not None

if _fixture.NCCL is not None:
    def _nccl_version():
        major, minor, patch = (int(x) for x in (_fixture.NCCL.split(".") + ["0", "0"])[:3])
        return (major << 32) | (minor << 16) | patch

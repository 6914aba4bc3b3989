"""torch.cuda: the device queries a probe makes. GPUs come from TORCHIMG_FIXTURE_GPUS (see README.md)."""
from collections import namedtuple

from torch import _C, _fixture
from torch.cuda import nccl  # noqa: F401

_CudaDeviceProperties = namedtuple("_CudaDeviceProperties", "name major minor total_memory multi_processor_count")


def is_available():
    return len(_fixture.gpus()) > 0


def device_count():
    return len(_fixture.gpus())


def is_initialized():
    return is_available()


def current_device():
    _device(0)
    return 0


def _device(i):
    if _fixture.CUDA is None:
        raise AssertionError("Torch not compiled with CUDA enabled")
    devs = _fixture.gpus()
    if not devs:
        raise RuntimeError(
            "Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU and "
            "installed a driver from http://www.nvidia.com/Download/index.aspx")
    if hasattr(i, "index"):
        i = i.index if i.index is not None else 0
    if i is None:
        i = 0
    if not 0 <= int(i) < len(devs):
        raise AssertionError("Invalid device id")
    return devs[int(i)]


def get_device_name(device=None):
    return _device(device)[0]


def get_device_capability(device=None):
    return _device(device)[1]


def get_device_properties(device=None):
    name, (major, minor) = _device(device)
    return _CudaDeviceProperties(name, major, minor, 80 * 1024 ** 3, 132)


def get_arch_list():
    if not is_available():
        return []
    flags = _C._cuda_getArchFlags()
    if flags is None:
        return []
    return flags.split()

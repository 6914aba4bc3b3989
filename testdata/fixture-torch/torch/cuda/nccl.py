"""torch.cuda.nccl.version(): a tuple like (2, 27, 5), as real torch decodes _nccl_version()."""
from torch import _C


def version():
    ver = _C._nccl_version()  # AttributeError without NCCL, like a torch built without it
    major = ver >> 32
    minor = (ver >> 16) & 65535
    patch = ver & 65535
    return (major, minor, patch)

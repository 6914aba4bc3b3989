"""torch.backends.cudnn: availability and version encoded as real torch does (CUDNN_VERSION)."""
from torch import _C, _fixture

enabled = True
benchmark = False
deterministic = False


def is_available():
    return _C._has_cudnn


def version():
    if not _C._has_cudnn:
        return None
    parts = [int(x) for x in (_fixture.CUDNN.split(".") + ["0", "0"])[:3]]
    major, minor, patch = parts
    if major >= 9:
        return major * 10000 + minor * 100 + patch
    return major * 1000 + minor * 100 + patch

"""Like torch/version.py, which PyTorch's build writes."""
from torch import _fixture

__version__ = _fixture.VERSION
cuda = _fixture.CUDA
hip = None
debug = False
git_version = "0000000000000000000000000000000000000000"

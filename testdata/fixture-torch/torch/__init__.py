"""Fake torch for torchimg tests (testdata/fixture-torch). NOT PyTorch; see README.md.

The facts of the wheel (version, CUDA, cuDNN, NCCL, arch list) come from _fixture.json, which the
wheel builder (internal/testenv) writes next to this file.
"""
from torch import _fixture, _C, version, cuda, backends  # noqa: F401

__version__ = version.__version__
__fixture__ = True  # lets a probe tell this fixture from the real torch

# A user template: builds on the same facts, adds its own step.
FROM nvidia/cuda:12.6.3-base-ubuntu24.04
RUN echo "torch 2.9.1 for cu126" > /etc/motd
COPY extra.txt /etc/extra.txt
LABEL io.torchimg.cuda.archs="5.0;6.0;7.0;7.5;8.0;8.6;9.0" \
      io.torchimg.cuda.version="12.6.3" \
      io.torchimg.cudnn.version="9.10.2.21" \
      io.torchimg.driver.minimum="560.35.05" \
      io.torchimg.driver.minimum-compat="525" \
      io.torchimg.flavor="runtime" \
      io.torchimg.nccl.version="2.27.5" \
      io.torchimg.os="ubuntu24.04" \
      io.torchimg.python.version="3.12" \
      io.torchimg.schema-version="2" \
      io.torchimg.torch.cuda="12.6" \
      io.torchimg.torch.cuda-variant="cu126" \
      io.torchimg.torch.version="2.9.1" \
      io.torchimg.variant="2.9.1-cu126-py3.12-runtime-ubuntu24.04" \
      org.example.cost-center="ml-\$infra" \
      org.opencontainers.image.base.name="nvidia/cuda:12.6.3-base-ubuntu24.04" \
      org.opencontainers.image.description="PyTorch 2.9.1 (cu126) with CUDA 12.6.3, cuDNN 9.10.2.21, Python 3.12 on ubuntu24.04 (runtime)" \
      org.opencontainers.image.licenses="BSD-3-Clause" \
      org.opencontainers.image.source="https://github.com/example/images" \
      org.opencontainers.image.title="pytorch-cuda" \
      org.opencontainers.image.version="2.9.1"

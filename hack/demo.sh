#!/usr/bin/env bash
# The offline demo of the whole pipeline, run by `make demo` inside internal/testenv/devenv, which
# provides a real buildkitd, a registry on 127.0.0.1:5055 and a package index on 127.0.0.1:5056
# (TORCHIMG_BUILDER, TORCHIMG_TEST_REGISTRY, ...).
set -euo pipefail
T=${TORCHIMG:-bin/torchimg}
M=examples/offline/matrix.yaml
REG=${TORCHIMG_TEST_REGISTRY:?run through make demo}
mkdir -p dist

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "validate the matrix"
$T validate -f "$M"

step "plan: variants, tags, minimum drivers"
$T plan -f "$M"

step "lock: every variant's base digest and exact wheels (pip resolves on the daemon), into dist/matrix.lock"
$T lock -f "$M" --lock dist/matrix.lock --builder "$TORCHIMG_BUILDER"
sed -n '1,40p' dist/matrix.lock
echo "..."
$T lock -f "$M" --lock dist/matrix.lock --check

step "render one Dockerfile for review (from the lock: FROM base@sha256, pip --require-hashes --no-deps)"
$T render -f "$M" --lock dist/matrix.lock --only id=2.13.0-cu130-py3.11-runtime-debian12 | sed -n '1,30p'
echo "..."

step "what a publish would change (nothing is published yet)"
$T plan -f "$M" --lock dist/matrix.lock --diff

step "build all variants through BuildKit; each image is probed before it is pushed to staging"
$T build -f "$M" --lock dist/matrix.lock --builder "$TORCHIMG_BUILDER" --stage "$REG/torchimg-demo/staging" \
  --progress plain --report dist/build.json 2> >(grep -E '^\[|^#[0-9]+ \[|VARIANT|passed|failed|variant\(s\)|build report|^  ' >&2 || true)

step "publish: copy by digest, immutable tags, then floating tags"
$T publish --report dist/build.json --matrix "$M" --record dist/release.json --record-md dist/release.md

step "publish again: nothing to do"
$T publish --report dist/build.json --matrix "$M"

step "the release record"
cat dist/release.md

step "next week, nothing changed: plan --diff, then build + publish again (nothing is built, copied or tagged)"
$T plan -f "$M" --lock dist/matrix.lock --diff | tail -n 12
$T build -f "$M" --lock dist/matrix.lock --builder "$TORCHIMG_BUILDER" --stage "$REG/torchimg-demo/staging" \
  --progress quiet --report dist/build-2.json 2>&1 | grep -E 'VARIANT|unchanged|variant\(s\)' || true
$T publish --report dist/build-2.json --matrix "$M" --record dist/release-2.json 2>&1 | tail -n 3

step "will 2.13-cu130 run on a GeForce RTX 4090 (8.9) with driver 560.35.05? (what-if; exit 3 = no)"
set +e
$T check "$REG/torchimg-demo/pytorch-cuda:2.13-cu130" --driver 560.35.05 --gpu-cc 8.9 --brand geforce
echo "exit status: $?"

step "2.13-cu126 on driver 550.54.15: the legacy hook refuses it, CDI starts it (exit 4 = depends on the runtime mode)"
$T check "$REG/torchimg-demo/pytorch-cuda:2.13-cu126" --driver 550.54.15 --gpu-cc 8.9 --brand geforce --no-suggest
echo "exit status: $?"
$T check "$REG/torchimg-demo/pytorch-cuda:2.13-cu126" --driver 550.54.15 --gpu-cc 8.9 --brand geforce --runtime cdi
echo "exit status: $?"

step "forward compatibility: an image with nvidia/cuda:12.1.1-base-ubuntu22.04's environment, on driver 525"
bin/writelayout dist/oci/nvidia-cuda-12.1.1-env 12.1.1 ubuntu22.04
$T check oci:dist/oci/nvidia-cuda-12.1.1-env --driver 525.147.05 --brand geforce
echo "exit status: $? (GeForce: error 804)"
$T check oci:dist/oci/nvidia-cuda-12.1.1-env --driver 470.256.02 --brand tesla
echo "exit status: $? (Tesla on 470: forward compatibility)"
set -e

step "inspect a published tag (manifest and config only, no layers)"
$T inspect "$REG/torchimg-demo/pytorch-cuda:2.13-cu130"

step "upstream rebuilds the base image under its tag: the lock shows the drift (exit 1) before any build"
bin/rebase "$REG/torchimg-test/debian-python:bookworm"
set +e
$T lock -f "$M" --lock dist/matrix.lock --check
echo "exit status: $?"
set -e
$T plan -f "$M" --lock dist/matrix.lock --diff | tail -n 4

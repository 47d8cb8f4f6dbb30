#!/usr/bin/env bash
# Fetch the wheels that a lent GPU machine lacks for `thermo bench` (it has JAX with CUDA, numpy,
# scipy, pyyaml and rich, but no pydantic and no package registry) into .whl/ (ignored by git),
# for docs/scripts/gpu_bench.sh; the device call carries .whl.
set -eu
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl pydantic pydantic-core annotated-types typing-inspection typing-extensions
# pydantic pins its core exactly: keep the pair that pip resolved together
unzip -p .whl/pydantic-2*.whl '*/METADATA' | grep '^Requires-Dist: pydantic-core'
ls .whl

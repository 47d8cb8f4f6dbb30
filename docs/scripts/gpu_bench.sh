#!/usr/bin/env bash
# Issue 6's GPU figures in one call on a lent GPU machine (docs/performance.md, "On a GPU").
#
# The machine has JAX with CUDA but no package registry: pydantic (and its own needs) travel as
# wheels in .whl/ (docs/scripts/gpu_wheels.sh fetches them; the call carries .whl); pyvista, meshio and matplotlib are not
# needed by `thermo bench`.  Each stage runs in its own process under its own time limit, so a
# stage that fails or runs long costs only itself; every record and the whole log go to $OUT.
#
#   OUT=/tmp/out bash docs/scripts/gpu_bench.sh          # the full set (about 8 minutes)
#   SMALL=1 OUT=/tmp/out bash docs/scripts/gpu_bench.sh  # the same stages at toy sizes (CPU check)
set -u
OUT=${OUT:?set OUT to a folder for the records}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -d .whl ] && ! python3 -c "import pydantic" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
LOG=$OUT/log.txt
DEVICE=gpu
if [ "${SMALL:-0}" = 1 ]; then
    DEVICE=cpu; SIZES_F32="16 24"; SIZES_F64="16"; HALL=(--cell 0.6 --max-steps 200); RACKS_CELL=0.6; RACKS_STEPS=10
else
    SIZES_F32="64 128 256"; SIZES_F64="128"; HALL=(--cell 0.1); RACKS_CELL=0.05; RACKS_STEPS=100
fi

stage() {  # stage NAME SECONDS ARGS...: one `thermo bench` under a time limit
    local name=$1 seconds=$2; shift 2
    echo "=== $name ($(date +%T), limit ${seconds} s): thermo $*" | tee -a "$LOG"
    local begin=$SECONDS
    timeout "$seconds" python3 -m thermo "$@" >>"$LOG" 2>&1
    local rc=$?
    echo "=== $name: exit $rc after $((SECONDS - begin)) s" | tee -a "$LOG"
}

{
    date -u; nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv 2>&1
    python3 -c "import jax, sys; print('python', sys.version.split()[0], 'jax', jax.__version__, jax.devices())"
} 2>&1 | tee -a "$LOG"

# 1. full-step throughput on the buoyant cavity (target: 2 G cell-steps/s at 8 M cells or more)
stage cavity-f32 110 bench --device $DEVICE --sizes $SIZES_F32 --steps 20 --repeats 5 --json "$OUT/cavity_f32.json"
# 2. hall-small at 0.1 m to a steady state (target 1 s); its intakes are compared with the CPU record
stage hall-small 170 bench --device $DEVICE --case hall-small "${HALL[@]}" --turbulence mixing_length \
    --json "$OUT/hall_small_0.1_mixing_length.json"
# 3. the 200-rack hall at 0.05 m (24 M cells): the cost of a step, capped (target: steady in 60 s)
stage racks-200 130 bench --device $DEVICE --racks 200 --cell $RACKS_CELL --max-steps $RACKS_STEPS \
    --json "$OUT/racks200_0.05_capped.json"
# 4. float64 throughput
stage cavity-f64 50 bench --device $DEVICE --precision f64 --sizes $SIZES_F64 --steps 20 --repeats 5 \
    --json "$OUT/cavity_f64.json"
grep -h "Mcell-steps/s\|^N = \|records written\|Error\|error" "$LOG" | tail -20

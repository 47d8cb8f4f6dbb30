"""Anderson acceleration of the steady march's chunk map, against the plain march (issue 6 probe).

    python3 docs/scripts/anderson_chunks.py SCENARIO CELL LTS plain|anderson DEPTH CHUNK [MAX_STEPS [coarse]]

Each chunk of CHUNK steps is a map x -> G(x) of the velocity and temperature; with
``anderson`` the next state is G(x_k) - dY gamma, gamma the least-squares fit of the last
DEPTH residual differences dF to the residual f = G(x_k) - x_k (Anderson type II, mixing 1),
from step 300 on.  The run stops when every rack intake (mean, max) and return temperature
stayed within 2 x monitor_tolerance over 1,000 steps with the energy balance within 0.2 %
(thermo's "settled" test).  ``coarse``: start from thermo's 3x coarser pre-solve.  Logs in
docs/data/probes/hall-small-*-anderson5.log and hall-small-0.3-plain-lts10.log.
"""
import sys, time
from dataclasses import replace
import numpy as np, jax, jax.numpy as jnp
from thermo import hall
from thermo.scene.load import load as load_scene
from thermo.solve import Solver

path, cell, lts, mode, m_hist, chunk = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
max_steps = int(sys.argv[7]) if len(sys.argv) > 7 else 12000
scene = load_scene(path)
model = hall.build(scene, cell_size=cell)
model.numerics = replace(model.numerics, local_time_step=lts)
solver = Solver(model.problem, model.numerics, chunk=chunk, coupling=model.coupling, layout=None)
rack_probe = hall._rack_probe(model); balance_probe = hall._balance_probe(model, model.coupling)
control = hall._controller(model, solver)
n = model.racks.count
def probe(s):
    b, r = balance_probe(solver.problem, s)
    return np.concatenate([np.asarray(rack_probe(s)), np.asarray(r)]), float(b)

def flat(s):
    return jnp.concatenate([*(v.ravel() for v in s.velocity), s.temperature.ravel()])
def unflat(s, x):
    out, k = [], 0
    for v in s.velocity:
        out.append(x[k:k + v.size].reshape(v.shape)); k += v.size
    return s.replace(velocity=tuple(out), temperature=x[k:k + s.temperature.size].reshape(s.temperature.shape))

mix = jax.jit(lambda Y, F, f, y: y - Y.T @ jnp.linalg.lstsq(F.T, f)[0])
state = solver.initial_state()
if len(sys.argv) > 8 and sys.argv[8] == "coarse":
    tc = time.perf_counter()
    state, info = hall._coarse_start(model, "auto", None)
    print("coarse start", info, f"{time.perf_counter()-tc:.1f}s", flush=True)
t0 = time.perf_counter()
state, _ = solver.run_chunk(state, 1); jax.block_until_ready(state)
steps = 1; recent = [probe(state)[0]]; X, Fh = [], []
window = max(1, 1000 // chunk)
while steps < max_steps:
    x = flat(state)
    new, diag = solver.run_chunk(state, chunk); steps += chunk
    if not bool(diag["finite"]):
        print("diverged", steps); break
    control(new)
    y = flat(new); f = y - x
    if mode == "anderson" and steps > 300:
        X.append(y); Fh.append(f)
        X, Fh = X[-(m_hist + 1):], Fh[-(m_hist + 1):]
        if len(Fh) > 1:
            dY = jnp.stack([X[i + 1] - X[i] for i in range(len(X) - 1)])
            dF = jnp.stack([Fh[i + 1] - Fh[i] for i in range(len(Fh) - 1)])
            ynew = mix(dY, dF, f, y)
            new = unflat(new, ynew.astype(y.dtype))
    state = new
    values, bal = probe(state)
    change = float(np.max(np.abs(values - recent[-1])))
    recent = (recent + [values])[-(window + 1):]
    spread = float(np.max(np.ptp(np.stack(recent), axis=0))) if len(recent) > window else 99
    if steps % 500 == 1 or steps % 500 < chunk:
        print(f"{steps:6d} rv={float(diag['rate_velocity']):.3g} rt={float(diag['rate_temperature']):.3g} |f|={float(jnp.linalg.norm(f)):.3g} mon={change:.3f} spread={spread:.3f} bal={bal:+.3f} tmax={values[n:2*n].max():.2f} {time.perf_counter()-t0:.0f}s", flush=True)
    if spread < 2 * scene.solver.monitor_tolerance and abs(bal) < 0.2:
        print(f"settled at {steps} spread {spread:.3f} bal {bal:+.3f} {time.perf_counter()-t0:.1f}s"); break
print("intake mean", np.round(values[:n], 2).tolist()); print("intake max", np.round(values[n:2*n], 2).tolist())

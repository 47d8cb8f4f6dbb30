"""Every loop that drives the step to an answer: the steady Newton-Krylov solve
(:mod:`thermo.solvers.newton`) and the Krylov method it and the adjoint share
(:mod:`thermo.solvers.krylov`).  May import the core, physics and the step
(:mod:`thermo.solve`); never the equipment, scene, hall or design layers."""

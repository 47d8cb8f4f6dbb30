"""thermo: differentiable finite-volume solver for data-center cooling."""

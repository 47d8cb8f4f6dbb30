"""Physical terms on the staggered grid: they see grids and fields only."""

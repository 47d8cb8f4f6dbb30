"""Memory bandwidth as JAX sees it: a STREAM-style triad a + 2 b on float32 cubes.

Run: python docs/scripts/bandwidth.py  (figures quoted in docs/performance.md)
"""

import statistics
import time

import jax
import jax.numpy as jnp


def triad_bandwidth(n: int, repeats: int = 9) -> float:
    """Bytes moved per second (GB/s) by c = a + 2 b on n^3 float32 arrays (2 reads, 1 write)."""
    a = jnp.ones((n, n, n), jnp.float32)
    b = jnp.ones((n, n, n), jnp.float32)
    triad = jax.jit(lambda a, b: a + 2.0 * b)
    triad(a, b).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        triad(a, b).block_until_ready()
        times.append(time.perf_counter() - start)
    return 3 * 4 * n**3 / statistics.median(times) / 1e9


if __name__ == "__main__":
    print(f"device: {jax.devices()[0].device_kind}, JAX {jax.__version__}")
    for n in (64, 128, 256):
        print(f"n = {n:4d}: {triad_bandwidth(n):6.1f} GB/s")

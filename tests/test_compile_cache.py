"""The command line's persistent compilation cache: where it goes, when it is off, and that
compiled programs land in it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from thermo.cli import build_parser, compile_cache_folder


def _args(*flags):
    return build_parser().parse_args(["run", "scenario.yaml", *flags])


def test_the_folder_defaults_to_the_user_cache_and_follows_the_environment(tmp_path):
    home = {"HOME": str(tmp_path)}
    assert compile_cache_folder(_args(), {**home, "XDG_CACHE_HOME": str(tmp_path / "c")}) == tmp_path / "c/thermo/xla"
    assert compile_cache_folder(_args(), {"THERMO_COMPILE_CACHE": str(tmp_path / "x")}) == tmp_path / "x"
    assert compile_cache_folder(_args("--compile-cache", str(tmp_path / "y")),
                                {"THERMO_COMPILE_CACHE": str(tmp_path / "x")}) == tmp_path / "y"


def test_the_cache_is_off_by_flag_or_environment(tmp_path):
    assert compile_cache_folder(_args("--no-compile-cache"), {}) is None
    assert compile_cache_folder(_args("--no-compile-cache", "--compile-cache", str(tmp_path)), {}) is None
    for off in ("off", "OFF", "0", "none"):
        assert compile_cache_folder(_args(), {"THERMO_COMPILE_CACHE": off}) is None
    bench = build_parser().parse_args(["bench", "--no-compile-cache"])
    assert compile_cache_folder(bench, {}) is None


def test_compiled_programs_land_in_the_folder_and_are_loaded_again(tmp_path):
    # A fresh process (JAX reads the setting at its first compile, once per process); a
    # minimum compile time of 0 so that a small program is kept.
    script = (
        "import json, sys, jax, jax.numpy as jnp\n"
        "from pathlib import Path\n"
        "from thermo.cli import enable_compile_cache\n"
        "used = enable_compile_cache(Path(sys.argv[1]))\n"
        "jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)\n"
        "hits = []\n"
        "jax.monitoring.register_event_listener(lambda name, **kw: hits.append(name) if 'cache_hits' in name else None)\n"
        "y = jax.jit(lambda x: jnp.cumsum(jnp.sin(x) * 3.0))(jnp.arange(64.0))\n"
        "print(json.dumps({'used': used, 'hits': len(hits), 'value': float(y[-1])}))\n")
    folder = tmp_path / "xla"
    env = {k: v for k, v in os.environ.items() if k not in ("THERMO_COMPILE_CACHE", "JAX_COMPILATION_CACHE_DIR")}
    runs = [json.loads(subprocess.run([sys.executable, "-c", script, str(folder)], env=env, check=True,
                                      capture_output=True, text=True).stdout.splitlines()[-1]) for _ in range(2)]
    assert runs[0]["used"] == str(folder)
    assert any(Path(folder).iterdir()), "nothing was written to the cache folder"
    assert runs[0]["hits"] == 0 and runs[1]["hits"] >= 1
    assert runs[0]["value"] == runs[1]["value"]

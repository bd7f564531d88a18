"""One BLAS thread while the model is fitted.

L-BFGS-B's per-step work is level-1 BLAS on vectors of a few thousand to a few hundred thousand entries:
OpenBLAS's threads cost more to wake than they save, and on a busy machine they spin. Measured on the
project's 2-core box under load (4,500 rating rows): 43 s with OpenBLAS's default threads, 8 s with one.
threadpoolctl would do this portably but is not a dependency; OpenBLAS's own setter, found among the
libraries this process has loaded, does it here. Where there is none (another BLAS, not Linux) nothing
changes.
"""

from __future__ import annotations

import ctypes
import re
from contextlib import contextmanager
from pathlib import Path

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads")


def _openblas() -> list[tuple]:
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    out = []
    for path in sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", maps))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        get = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
        put = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
        if get is not None and put is not None:
            out.append((get, put))
    return out


@contextmanager
def one_blas_thread():
    libs = _openblas()
    before = [get() for get, _ in libs]
    for _, put in libs:
        put(1)
    try:
        yield
    finally:
        for (_, put), n in zip(libs, before):
            put(n)

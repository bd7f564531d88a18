"""Environment checks that must fail before any metric starts, with one line naming the cause."""

from __future__ import annotations

from storage.errors import CurateError


def check_torchvision() -> None:
    """torchmetrics imports torchvision whenever it is installed; PyPI's CUDA torchvision beside a CPU
    torch fails that import (``operator torchvision::nms does not exist``), deep inside torchmetrics.

    Raises:
        CurateError: torchvision is installed but does not import.
    """
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        return
    try:
        import torchvision  # noqa: F401
    except Exception as e:  # noqa: BLE001 - any failure of a broken build: RuntimeError, ImportError, OSError
        first = (str(e).splitlines() or [type(e).__name__])[0][:200]
        raise CurateError(
            f"torchvision is installed but does not import beside this torch ({type(e).__name__}: {first}); "
            "curate eval does not need it: `pip uninstall torchvision`, or install the build that matches torch."
        ) from None

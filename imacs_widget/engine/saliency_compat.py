"""Make ``saliency.core.GuidedIG`` (saliency 0.2.1) work with NumPy >= 2.4.

``saliency/core/guided_ig.py`` calls ``np.quantile(..., interpolation='lower')``. NumPy 1.22
renamed that keyword to ``method`` and NumPy 2.4 removed the old name, so Guided IG fails with
``TypeError: quantile() got an unexpected keyword argument 'interpolation'``.

The fix touches neither NumPy nor site-packages: :func:`ensure_guided_ig_compat` rebinds the
*module-level name* ``np`` inside ``saliency.core.guided_ig`` to a thin proxy module. Every
attribute of the proxy is NumPy's own, except ``quantile``, which renames ``interpolation=`` to
``method=`` and calls ``numpy.quantile``. The global ``numpy.quantile`` and every other module's
``np`` are left as they are.

The patch is applied only when the installed NumPy's ``quantile`` has no ``interpolation``
parameter (:func:`needs_guided_ig_compat`), at most once (idempotent), and can be undone with
:func:`remove_guided_ig_compat` (used by the tests). The ranking module calls
:func:`ensure_guided_ig_compat` before running Guided IG, so users never need to.
"""

from __future__ import annotations

import inspect
import threading
import types

import numpy

_LOCK = threading.Lock()


def _quantile_accepts_interpolation() -> bool:
    try:
        params = inspect.signature(numpy.quantile).parameters
    except (TypeError, ValueError):  # pragma: no cover - C function without a signature
        return True
    return "interpolation" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def needs_guided_ig_compat() -> bool:
    """True when the installed NumPy rejects ``np.quantile(..., interpolation=...)``."""
    return not _quantile_accepts_interpolation()


def _compat_quantile(a, q, *args, interpolation=None, **kwargs):
    """``numpy.quantile`` that also accepts the pre-1.22 ``interpolation=`` keyword."""
    if interpolation is not None:
        if "method" in kwargs:
            raise TypeError("quantile() got both 'interpolation' and 'method'")
        kwargs["method"] = interpolation
    return numpy.quantile(a, q, *args, **kwargs)


class _NumpyProxy(types.ModuleType):
    """A stand-in for the ``numpy`` module: NumPy's attributes, with a compatible ``quantile``."""

    def __init__(self):
        super().__init__("numpy", "NumPy proxy installed by imacs_widget.saliency_compat")
        self.quantile = _compat_quantile

    def __getattr__(self, name):  # only called for names not set on the proxy itself
        return getattr(numpy, name)

    def __dir__(self):
        return sorted(set(dir(numpy)) | {"quantile"})

    def __repr__(self) -> str:
        return "<numpy proxy (imacs_widget.saliency_compat; quantile accepts interpolation=)>"


def _guided_ig_module():
    from saliency.core import guided_ig

    return guided_ig


def is_guided_ig_compat_applied() -> bool:
    """True when ``saliency.core.guided_ig.np`` is the proxy installed by this module."""
    return isinstance(getattr(_guided_ig_module(), "np", None), _NumpyProxy)


def ensure_guided_ig_compat(force: bool = False) -> bool:
    """Install the NumPy proxy in ``saliency.core.guided_ig`` if needed; idempotent.

    Parameters
    ----------
    force : bool
        Install the proxy even when the installed NumPy still accepts ``interpolation=``
        (it is harmless there; used by tests).

    Returns
    -------
    bool
        Whether the proxy is in place after the call.
    """
    with _LOCK:
        mod = _guided_ig_module()
        if isinstance(getattr(mod, "np", None), _NumpyProxy):
            return True
        if not (force or needs_guided_ig_compat()):
            return False
        mod.np = _NumpyProxy()
        return True


def remove_guided_ig_compat() -> None:
    """Restore ``saliency.core.guided_ig.np`` to the real ``numpy`` module."""
    with _LOCK:
        mod = _guided_ig_module()
        if isinstance(getattr(mod, "np", None), _NumpyProxy):
            mod.np = numpy

"""Read a pickle that may come from a stranger: plain containers and numpy arrays, nothing that runs code.

``pickle.load`` calls whatever function the file names, so a crafted dataset can run any command. This reader
resolves only the names a pyskl / mmaction2 dataset needs (numpy's array, dtype and scalar reconstruction, the
set, bytearray and OrderedDict containers) and refuses every other name before anything of it is imported.
Its errors read as the end of a sentence that starts with the file's name (``f"{path} {exc}"``).
"""

from __future__ import annotations

import codecs
import collections
import io
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

try:  # numpy 2 moved the reconstruction helpers to numpy._core; files name either module
    from numpy._core.multiarray import _reconstruct, scalar
    from numpy._core.numeric import _frombuffer
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct, scalar
    from numpy.core.numeric import _frombuffer


class PickleError(Exception):
    """A pickle cannot be read safely; the message continues a sentence that starts with the file's name."""


# Stands for numpy.ndarray in a pickle: an argument of _reconstruct, not a callable a file may use to allocate
# an array of any size.
_ARRAY_TYPE = object()


def _checked_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    """numpy's own ``_reconstruct`` for plain arrays. The shape is numpy's placeholder ``(0,)``: the real shape
    comes with the array's data (``__setstate__`` checks they agree), so a file cannot make it allocate more
    than it holds."""
    if subtype is not _ARRAY_TYPE:
        raise pickle.UnpicklingError("an array of a type other than numpy.ndarray")
    return _reconstruct(np.ndarray, (0,), dtype)


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """How pickle protocol 2 stores bytes (``_codecs.encode(text, "latin1")``); no other codec."""
    try:
        latin1 = codecs.lookup(encoding).name == "iso8859-1"
    except LookupError:
        latin1 = False
    if not latin1 or not isinstance(text, str):
        raise pickle.UnpicklingError("a codec other than latin1")
    return text.encode("latin1")


_NUMPY = {"_reconstruct": _checked_reconstruct, "scalar": scalar}
ALLOWED: dict[tuple[str, str], Any] = {
    **{(module, name): obj for module in ("numpy.core.multiarray", "numpy._core.multiarray")
       for name, obj in _NUMPY.items()},
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,  # protocol 5 arrays; the shape must match the data
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): _ARRAY_TYPE,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("_codecs", "encode"): _latin1_encode,
}
PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}  # names in pickles written by Python 2


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the names in ``ALLOWED``."""

    def find_class(self, module: str, name: str) -> Any:
        module = PY2_MODULES.get(module, module)
        if (module, name) not in ALLOWED:
            raise _Refused(f"{module}.{name}")
        return ALLOWED[(module, name)]


class _Refused(pickle.UnpicklingError):
    """A name outside ``ALLOWED``; carries the name."""


def load_file(path: str | Path) -> Any:
    """The object in a pickle file, read with ``SafeUnpickler``; raises ``PickleError``."""
    try:
        with open(path, "rb") as f:
            return load_stream(f)
    except OSError as exc:
        raise PickleError(f"cannot be read ({exc.strerror or type(exc).__name__})") from None


def loads(data: bytes) -> Any:
    return load_stream(io.BytesIO(data))


def load_stream(f: BinaryIO) -> Any:
    try:
        return SafeUnpickler(f).load()
    except _Refused as exc:
        raise PickleError(f"is not a safe dataset file: it asks to load '{exc}', which a dataset never "
                          "needs") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            RecursionError, MemoryError, OverflowError, UnicodeDecodeError) as exc:
        raise PickleError(f"is not a readable pickle ({type(exc).__name__})") from None

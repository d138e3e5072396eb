"""A pickle reader that builds only what CIFAR-10's python batches hold: dicts, lists, strings, bytes,
numbers and numpy arrays. Any other global (`os.system`, `builtins.eval`, a class with `__reduce__`) is
refused before it is looked up, so a crafted batch file runs nothing.
"""

from __future__ import annotations

import io
import pickle

# (module, name) pairs the format needs: numpy's array and scalar reconstructors (both numpy 1 and 2
# spellings), its dtype and ndarray types, and `_codecs.encode`, which Python 3 writes for bytes in protocol 2.
ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class RefusedGlobal(pickle.UnpicklingError):
    """The file asks for a Python object beyond the allowed data types."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise RefusedGlobal(f"it asks for {module}.{name}, which a data file never needs")
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise RefusedGlobal("it uses persistent ids, which a data file never needs")


def load(data: bytes, encoding: str = "bytes"):
    """Unpickle `data` with only the allowed globals; raises `pickle.UnpicklingError` (or a subclass) otherwise."""
    return _Restricted(io.BytesIO(data), encoding=encoding).load()

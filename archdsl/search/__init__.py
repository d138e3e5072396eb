"""Architecture search on Ray Tune. The package is callable: `archdsl.search(space, data=..., samples=...)` is
`archdsl.api.search` (see its docstring).

Importing a submodule (`import archdsl.search.runner`) binds the name `archdsl.search` to this package, so the
package itself is made callable rather than shadowing a function of that name.
"""

import importlib
import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        # by name: archdsl.api sits above this package (it also runs one-shot searches)
        return importlib.import_module("archdsl.api").search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

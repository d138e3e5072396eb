"""Architecture search on Ray Tune. `archdsl.search(space, ...)` runs one (see `api.search`).

The package is also that function: `import archdsl.search.runner` binds the name `archdsl.search` to this
module, so the module itself is made callable rather than shadowing a function of the same name.
"""

import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from .api import search

        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

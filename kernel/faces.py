"""Package faces that load some of their names on first use.

A package's `__init__` exports its public names (`__all__`). Where one of them lives in a
module that importing the package should not load (a rarely used command's helper, one that
pulls a heavy stack in), the face binds it lazily:

    if TYPE_CHECKING:  # the type checker sees the real name
        from jobs.spec.secrets import store_password
    __getattr__ = lazy_names(__name__, {"store_password": "secrets"})

`from jobs.spec import store_password` then imports `jobs.spec.secrets` at that moment. A
lazy name is never also the name of a module of the package: once that module is imported,
the package's attribute of that name is the module, and `__getattr__` is not asked.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["lazy_names"]


def lazy_names(package: str, where: Mapping[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` for `package` that loads each name of `where` from its module
    (`where[name]`, relative to the package) when first asked for, and keeps it."""

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__

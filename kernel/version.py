"""The installed version of a distribution, "unknown" when run from an uninstalled checkout."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["installed_version"]


def installed_version(distribution: str = "lungscreen") -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"

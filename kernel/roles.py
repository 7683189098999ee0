"""The kinds of users of the service, each reaching only its own (DESIGN.md: who uses it)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Role"]


class Role(StrEnum):
    """authority: campaigns, recall, clinical exports; analyst: published aggregates only;
    ops: status, health, metrics; reader: the reading worklist."""

    AUTHORITY = "authority"
    ANALYST = "analyst"
    OPS = "ops"
    READER = "reader"

"""The kinds of study source a spec can name (`folder`, `dicomweb`, ...), one registry.

A kind is declared once, as a `SourceKind`: the key a spec writes, the type its entry
validates as, how messages show it, what makes two entries the same source, and how to open
it. Validation (`jobs.spec.sources.SourceSpec`), the duplicate check, intake's
messages and the source factory all iterate over `SOURCE_KINDS`; none of them names a kind.

The registry sits in the spec layer, which validates entries; the kinds live with the
sources they open, in the ingest layer: jobs.ingest.sources.builtin_kinds declares the built-in ones
and registers every kind (one line each) when the `jobs` package is imported. `open`
returns whatever the ingest layer calls a source.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

__all__ = ["SOURCE_KINDS", "SourceKind", "expected_sources", "register_source_kind"]

# open(entry, env, workers): env is the CLI's environment (credentials), workers the
# processes that may read headers
Opener = Callable[[Any, Mapping[str, str], int], Any]


@dataclass(frozen=True, eq=False)
class SourceKind:
    """One kind of source.

    name: the key a spec writes (`{folder: PATH}`); also where errors point.
    model: the type the entry validates as (a SpecModel, or an annotated type).
    form: how the entry is written, for "expected ..." messages.
    label: the entry as messages name it (a folder's path, an archive's URL).
    key: what identifies the source; `same(key_a, key_b)` says two entries read the same
        studies (equality unless given, e.g. overlapping folders).
    duplicate: the error when they do, a template over {where}, {value}, {other_where} and
        {other_value} (the labels of the two entries).
    open: the source an entry names, as `open(entry, env, workers)`.
    """

    name: str
    model: Any
    form: str
    label: Callable[[Any], str]
    key: Callable[[Any], Hashable]
    duplicate: str
    open: Opener
    same: Callable[[Any, Any], bool] = operator.eq

    @cached_property
    def entry_model(self) -> type[BaseModel]:
        """A one-field model `{name: model}`, so validation errors point at `<name>.<field>`."""
        return create_model(  # type: ignore[call-overload, no-any-return]
            f"{self.name.title()}SourceEntry",
            __config__=ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True),
            **{self.name: (self.model, ...)},
        )


class _Kinds(Mapping[str, SourceKind]):
    """The registered kinds by name, in registration order."""

    def __init__(self) -> None:
        self._kinds: dict[str, SourceKind] = {}

    def __getitem__(self, name: str) -> SourceKind:
        return self._kinds[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)

    def add(self, kind: SourceKind) -> None:
        if self._kinds.get(kind.name, kind) is not kind:
            raise ValueError(f"source kind {kind.name!r} is already registered")
        self._kinds[kind.name] = kind

    def remove(self, name: str) -> None:
        self._kinds.pop(name, None)


SOURCE_KINDS = _Kinds()


def register_source_kind(kind: SourceKind) -> contextlib.AbstractContextManager[SourceKind]:
    """Register `kind` (again: a no-op). The result, used as a context manager, unregisters
    it on exit if this call registered it (tests that add a kind of their own)."""
    added = kind.name not in SOURCE_KINDS
    SOURCE_KINDS.add(kind)

    @contextlib.contextmanager
    def registered() -> Iterator[SourceKind]:
        try:
            yield kind
        finally:
            if added:
                SOURCE_KINDS.remove(kind.name)

    return registered()


def expected_sources() -> str:
    """What a source entry may be, for messages: `{folder: PATH} or {dicomweb: ...}`."""
    forms = [k.form for k in SOURCE_KINDS.values()]
    return " or ".join([", ".join(forms[:-1]), forms[-1]] if len(forms) > 1 else forms)

"""Campaign spec v1, the source part: a region's sources (of the kinds jobs.spec.kinds
registers: folders, DICOMweb archives, ...), and the credentials an archive needs (resolved
from the environment at the edge, never stored)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    ValidationInfo,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from jobs.spec.kinds import SOURCE_KINDS, SourceKind, expected_sources
from kernel.errors import BadInput

__all__ = [
    "ENV_PATTERN",
    "NAME_PATTERN",
    "OTHER_SITE",
    "Credentials",
    "DicomWebSpec",
    "FolderPath",
    "RegionSpec",
    "SiteSpec",
    "SourceSpec",
    "SpecModel",
    "SpecPath",
    "SyntheticSpec",
    "institution_key",
    "resolve_credentials",
    "without_userinfo",
]

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
ENV_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
OTHER_SITE = "other"
"""The site of a region's studies whose institution no declared site names."""


class SpecModel(BaseModel):
    """Base of every spec model: immutable, and unknown keys are errors (typos surface)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    """Relative paths are relative to the spec file's folder (context "base_dir")."""
    ctx = info.context or {}
    value = value.expanduser()
    if not value.is_absolute():
        value = Path(ctx.get("base_dir") or Path.cwd()) / value
    return Path(os.path.normpath(value))


SpecPath = Annotated[Path, AfterValidator(_resolve_path)]


def _readable_folder(value: Path, info: ValidationInfo) -> Path:
    if not (info.context or {}).get("check_paths", False):
        return value
    if not value.exists():
        raise PydanticCustomError("path", "does not exist; expected a readable folder")
    if not value.is_dir():
        raise PydanticCustomError("path", "is not a folder; expected a readable folder")
    if not os.access(value, os.R_OK | os.X_OK):
        raise PydanticCustomError(
            "path", "is not readable by this user; expected a readable folder"
        )
    return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("url", "is not an http(s) URL; expected http(s)://HOST/PATH")
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError(
            "url", "carries credentials (user:password@); a spec names them instead: "
            "username_env / password_env, the environment variables that hold them")
    return value.rstrip("/")


def without_userinfo(text: str) -> str:
    """`text` with any `user:password@` of a URL replaced by `***@` (for messages)."""
    parts = urlsplit(text)
    if "://" not in text or "@" not in parts.netloc:
        return text
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


class DicomWebSpec(SpecModel):
    """A DICOMweb archive (QIDO-RS/WADO-RS root). Credentials are named, not given: the
    environment variables that hold them at run time."""

    url: Annotated[str, AfterValidator(_http_url)]
    username_env: Annotated[str, Field(pattern=ENV_PATTERN)] | None = None
    password_env: Annotated[str, Field(pattern=ENV_PATTERN)] | None = None
    timeout_s: Annotated[float, Field(gt=0, le=3_600, allow_inf_nan=False)] = 30.0
    # an archive listing more studies than this is refused (a hostile or misnamed root)
    max_studies: Annotated[int, Field(ge=1, le=100_000_000)] = 1_000_000

    @model_validator(mode="after")
    def _both_or_neither(self) -> DicomWebSpec:
        if (self.username_env is None) != (self.password_env is None):
            raise PydanticCustomError(
                "credentials",
                "username_env and password_env go together; expected both or neither",
            )
        return self


class SyntheticSpec(SpecModel):
    """Generated load-test studies (jobs.ingest.sources.synthetic): `studies` of them, the
    same ones for the same `seed`. Also written as the URL `synthetic://N?seed=S`."""

    studies: Annotated[int, Field(ge=1, le=100_000_000)]
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] = 0

    @property
    def url(self) -> str:
        return f"synthetic://{self.studies}?seed={self.seed}"


FolderPath = Annotated[SpecPath, AfterValidator(_readable_folder)]
"""A `folder` source's entry: a folder, readable when the spec's paths are checked."""


class SourceSpec(SpecModel):
    """One source of studies, written `{KIND: ENTRY}` with exactly one registered kind
    (jobs.spec.kinds: `folder`, `dicomweb`, ...). `source.<kind>` is the entry when the
    source is of that kind, else None (`source.folder`, `source.dicomweb`)."""

    kind: str
    entry: Any

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any, info: ValidationInfo) -> Any:
        kinds = list(data) if isinstance(data, dict) else []
        if len(kinds) != 1 or kinds[0] not in SOURCE_KINDS:
            raise PydanticCustomError("source", "is not a source; expected " + expected_sources())
        kind = SOURCE_KINDS[kinds[0]]
        # validated as {kind: entry}, so an error points at `<kind>.<field>`
        entry = kind.entry_model.model_validate(data, context=info.context)
        return {"kind": kind.name, "entry": getattr(entry, kind.name)}

    @model_serializer(mode="plain")
    def _as_written(self, info: SerializationInfo) -> dict[str, Any]:
        written = self.source_kind.entry_model.model_construct(**{self.kind: self.entry})
        dumped: dict[str, Any] = written.model_dump(mode=info.mode,
                                                    exclude_none=info.exclude_none)
        return dumped

    @property
    def source_kind(self) -> SourceKind:
        """The registered kind of this source."""
        return SOURCE_KINDS[self.kind]

    @property
    def label(self) -> str:
        """The source as messages name it: its folder, its archive's URL, ..."""
        return self.source_kind.label(self.entry)

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            if name in SOURCE_KINDS:
                return self.entry if name == self.kind else None
            return super().__getattr__(name)


def institution_key(name: str) -> str:
    """How institution names are compared: case, outer and repeated spaces ignored."""
    return " ".join(name.split()).upper()


class SiteSpec(SpecModel):
    """A declared imaging site: a public code (reports and tables show it) and the
    InstitutionName values its studies carry."""

    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=63)]
    institutions: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]],
                            Field(min_length=1)]


class RegionSpec(SpecModel):
    """A region: a name (lowercase letters, digits, '-'; used in shard ids, metric labels
    and Ray resources), its sources and its declared sites.

    A study's site is the declared site whose `institutions` hold its InstitutionName, else
    `other`: sites come from this declaration, never from the data, so a one-off spelling
    cannot make a one-person site whose existence a table would reveal."""

    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=63)]
    sources: Annotated[list[SourceSpec], Field(min_length=1)]
    sites: list[SiteSpec] = []

    @model_validator(mode="after")
    def _unique_sites(self) -> RegionSpec:
        names: set[str] = set()
        owner: dict[str, str] = {}
        for i, site in enumerate(self.sites):
            if site.name == OTHER_SITE or site.name in names:
                raise PydanticCustomError(
                    "sites", "sites[{i}].name: '{name}' is {why}; expected a unique name "
                    "other than '{other}'", {"i": i, "name": site.name, "other": OTHER_SITE,
                                              "why": "reserved" if site.name == OTHER_SITE
                                              else "declared twice"})
            names.add(site.name)
            for institution in site.institutions:
                key = institution_key(institution)
                if key in owner:
                    raise PydanticCustomError(
                        "sites", "sites[{i}]: institution '{inst}' is also listed under site "
                        "'{other}'; expected each institution under one site",
                        {"i": i, "inst": institution, "other": owner[key]})
                owner[key] = site.name
        return self

    def site_of(self) -> dict[str, str]:
        """Institution (compared as `institution_key`) -> declared site code."""
        return {institution_key(i): s.name for s in self.sites for i in s.institutions}

    @property
    def site_codes(self) -> tuple[str, ...]:
        """Every site a study of this region can have: the declared ones and `other`."""
        return (*sorted(s.name for s in self.sites), OTHER_SITE)


@dataclass(frozen=True)
class Credentials:
    """A username and password read from the environment. The password is never shown."""

    username: str
    password: str = field(repr=False)


def resolve_credentials(spec: DicomWebSpec, env: Mapping[str, str]) -> Credentials | None:
    """The credentials a DICOMweb source names, read from `env` (pass os.environ at the
    CLI edge). None for an archive without authentication. BadInput names a missing
    variable."""
    if spec.username_env is None or spec.password_env is None:
        return None
    values = []
    for role, var in (("username_env", spec.username_env), ("password_env", spec.password_env)):
        value = env.get(var)
        if not value:
            raise BadInput(
                f"environment variable {var} (dicomweb.{role} of {spec.url}) is not set; "
                f"expected the archive's {role.removesuffix('_env')}: export {var}=... "
                "before running"
            )
        values.append(value)
    return Credentials(values[0], values[1])

"""Campaign spec v1, the source part: a region's folders and DICOMweb archives, and the
credentials they need (resolved from the environment at the edge, never stored)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from kernel.errors import BadInput

__all__ = [
    "ENV_PATTERN",
    "NAME_PATTERN",
    "Credentials",
    "DicomWebSpec",
    "RegionSpec",
    "SourceSpec",
    "SpecModel",
    "SpecPath",
    "resolve_credentials",
    "without_userinfo",
]

NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
ENV_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


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


class SourceSpec(SpecModel):
    """One source of studies: exactly one of `folder` and `dicomweb`."""

    folder: Annotated[SpecPath, AfterValidator(_readable_folder)] | None = None
    dicomweb: DicomWebSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_kind(cls, data: Any) -> Any:
        kinds = list(data) if isinstance(data, dict) else []
        if len(kinds) != 1 or kinds[0] not in ("folder", "dicomweb"):
            raise PydanticCustomError(
                "source",
                "is not a source; expected {folder: PATH} or "
                "{dicomweb: {url: URL, username_env: VAR, password_env: VAR}}",
            )
        return data

    @property
    def kind(self) -> Literal["folder", "dicomweb"]:
        return "folder" if self.folder is not None else "dicomweb"


class RegionSpec(SpecModel):
    """A region: a name (lowercase letters, digits, '-'; used in shard ids, metric labels
    and Ray resources) and its sources."""

    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=63)]
    sources: Annotated[list[SourceSpec], Field(min_length=1)]


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

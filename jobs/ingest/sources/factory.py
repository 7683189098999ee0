"""The one place sources are built: from a spec's source entries (campaigns, recall) and
from what a user types on the command line (`lungscreen scan`), which becomes a source
entry first, so both paths validate and open the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError

from jobs.ingest.sources.base import Source
from jobs.spec.sources import (
    DicomWebSpec,
    RegionSpec,
    SourceSpec,
    SyntheticSpec,
    without_userinfo,
)
from kernel.errors import BadInput

__all__ = [
    "PASSWORD_ENV",
    "USER_ENV",
    "open_source",
    "region_sources",
    "source_spec_from_text",
    "synthetic_spec_from_url",
]

# the variables `lungscreen scan` reads a DICOMweb archive's credentials from
USER_ENV, PASSWORD_ENV = "LUNGSCREEN_DICOMWEB_USER", "LUNGSCREEN_DICOMWEB_PASSWORD"


def open_source(spec: SourceSpec, env: Mapping[str, str], *, workers: int = 1) -> Source:
    """The source one spec entry names, opened by its kind (jobs.ingest.sources.builtin_kinds):
    credentials come from `env` (the CLI's environment), headers are read by `workers`
    processes where the kind can."""
    source: Source = spec.source_kind.open(spec.entry, env, workers)
    return source


def region_sources(region: RegionSpec, env: Mapping[str, str]) -> list[Source]:
    """The region's sources, in the spec's order."""
    return [open_source(s, env) for s in region.sources]


def source_spec_from_text(text: str, env: Mapping[str, str]) -> SourceSpec:
    """A command-line source: an http(s):// DICOMweb root (credentials from USER_ENV and
    PASSWORD_ENV when set, both or neither), generated load-test studies
    (`synthetic://N?seed=S`) or an existing folder."""
    if text.startswith("synthetic://"):
        return SourceSpec.model_validate({"synthetic": synthetic_spec_from_url(text)})
    if text.startswith(("http://", "https://")):
        user, password = env.get(USER_ENV), env.get(PASSWORD_ENV)
        if bool(user) != bool(password):
            raise BadInput(f"set both {USER_ENV} and {PASSWORD_ENV}, or neither")
        try:
            web = (DicomWebSpec(url=text, username_env=USER_ENV, password_env=PASSWORD_ENV)
                   if user else DicomWebSpec(url=text))
        except ValidationError as exc:
            why = str(exc.errors()[0].get("msg", "")) if exc.errors() else ""
            raise BadInput(f"source {without_userinfo(text)!r}: {why or 'not a DICOMweb root'}"
                           f"; expected http(s)://HOST/PATH (credentials in {USER_ENV} and "
                           f"{PASSWORD_ENV})") from None
        return SourceSpec.model_validate({"dicomweb": web})
    path = Path(text)
    if not path.is_dir():
        raise BadInput(
            f"source {text!r} is neither a folder nor an http(s):// DICOMweb URL; "
            "pass an existing folder or a DICOMweb root"
        )
    return SourceSpec.model_validate({"folder": path.absolute()})


def synthetic_spec_from_url(text: str) -> SyntheticSpec:
    """`synthetic://N?seed=S` (seed 0 when omitted) as a synthetic source's entry."""
    parts = urlsplit(text)
    try:
        seeds = parse_qs(parts.query, strict_parsing=bool(parts.query)).get("seed", ["0"])
        return SyntheticSpec(studies=int(parts.netloc), seed=int(seeds[-1]))
    except (ValueError, ValidationError):
        raise BadInput(f"source {text!r}: expected synthetic://N?seed=S (N studies, N >= 1, "
                       "seed S >= 0)") from None

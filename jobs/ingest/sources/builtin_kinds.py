"""The source kinds a spec can name, registered with the spec's registry (jobs.spec.kinds).

Each kind is declared once, here or in its own module beside its `Source`: its key in the
spec, its entry's type, its form and label for messages, its duplicate key and `open()`.
A new kind is its module plus its line in `BUILT_IN`. The `jobs` package imports this
module, so every spec is validated with these kinds registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jobs.ingest.sources.base import Source
from jobs.ingest.sources.dicomweb import DicomWebSource
from jobs.ingest.sources.folder import FolderSource
from jobs.ingest.sources.synthetic import SyntheticSource
from jobs.spec.kinds import SourceKind, register_source_kind
from jobs.spec.sources import DicomWebSpec, FolderPath, SyntheticSpec, resolve_credentials

__all__ = ["BUILT_IN", "DICOMWEB", "FOLDER", "SYNTHETIC"]


def _open_folder(folder: Path, env: Mapping[str, str], workers: int) -> Source:
    return FolderSource(folder, workers=workers)


def _overlap(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


FOLDER = SourceKind(
    name="folder",
    model=FolderPath,
    form="{folder: PATH}",
    label=str,
    key=lambda folder: folder,
    same=_overlap,
    duplicate="{where}.folder: '{value}' overlaps {other_where}.folder '{other_value}'; "
              "expected each folder in one source only (a study would be read twice)",
    open=_open_folder,
)


def _open_dicomweb(spec: DicomWebSpec, env: Mapping[str, str], workers: int) -> Source:
    """The archive, with the credentials the spec names read from `env`."""
    creds = resolve_credentials(spec, env)
    auth = (creds.username, creds.password) if creds is not None else None
    names = ((spec.username_env, spec.password_env) if creds is not None
             and spec.username_env and spec.password_env else None)
    return DicomWebSource(spec.url, auth=auth, credentials_env=names, timeout_s=spec.timeout_s,
                          max_studies=spec.max_studies)


DICOMWEB = SourceKind(
    name="dicomweb",
    model=DicomWebSpec,
    form="{dicomweb: {url: URL, username_env: VAR, password_env: VAR}}",
    label=lambda spec: str(spec.url),
    key=lambda spec: str(spec.url).lower(),
    duplicate="{where}.dicomweb.url: '{value}' is also {other_where}.dicomweb.url; "
              "expected each archive in one source only",
    open=_open_dicomweb,
)


def _open_synthetic(spec: SyntheticSpec, env: Mapping[str, str], workers: int) -> Source:
    return SyntheticSource(spec.studies, spec.seed)


SYNTHETIC = SourceKind(
    name="synthetic",
    model=SyntheticSpec,
    form="{synthetic: {studies: N, seed: S}}",
    label=lambda spec: spec.url,
    key=lambda spec: spec.seed,
    duplicate="{where}.synthetic: '{value}' has the seed of {other_where}.synthetic "
              "'{other_value}'; expected a distinct seed per source (the same seed generates "
              "the same studies)",
    open=_open_synthetic,
)

BUILT_IN = (FOLDER, DICOMWEB, SYNTHETIC)
for _kind in BUILT_IN:
    register_source_kind(_kind)

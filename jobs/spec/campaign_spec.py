"""Campaign spec v1: the YAML a health authority writes (jobs/examples/), validated once at
the edge and passed down as an immutable `CampaignSpec`.

Relative paths in a spec (source folders, data_dir, privacy.key_file, privacy.opt_out, a
`sqlite:///relative.db` store) are relative to the folder that holds the spec file, so a
spec means the same thing from any working directory. `data_dir` defaults to
`lungscreen-data` beside the spec; the store defaults to `<data_dir>/results.db` and the
pseudonym key to `<state folder>/pseudonym.key` (jobs.spec.state), outside the data folder
(a key already at `<data_dir>/pseudonym.key`, from earlier versions, is still used).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import reprlib
from collections.abc import Hashable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import make_url

from jobs.spec.kinds import SOURCE_KINDS
from jobs.spec.sources import (
    ENV_PATTERN,
    NAME_PATTERN,
    RegionSpec,
    SourceSpec,
    SpecModel,
    SpecPath,
    without_userinfo,
)
from jobs.spec.state import default_state_dir
from jobs.store.urls import (
    default_sqlite_url,
    normalize_url,
    redact,
    refuse_password,
    sqlite_path,
)
from kernel.contract import MODEL_NAME
from kernel.defaults import INFERENCE_TIMEOUT_S, MIN_CELL
from kernel.errors import BadInput

__all__ = [
    "CampaignSpec",
    "ModelRef",
    "PrivacySpec",
    "TritonSpec",
    "load_spec",
    "parse_spec",
    "spec_digest",
]


def _version(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ModelRef(SpecModel):
    """The Triton model and version the campaign runs (every result records the version)."""

    name: str = MODEL_NAME
    version: Annotated[str, Field(pattern=r"^[0-9]+$")] = "1"

    @model_validator(mode="before")
    @classmethod
    def _int_version(cls, data: Any) -> Any:
        if isinstance(data, dict) and "version" in data:
            return {**data, "version": _version(data["version"])}
        return data


def _triton_url(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    if scheme not in ("grpc", "http", "https") or not sep or not rest.split("/")[0]:
        raise PydanticCustomError(
            "url", "is not a Triton URL; expected grpc://HOST:PORT or http(s)://HOST:PORT"
        )
    return value.rstrip("/")


class TritonSpec(SpecModel):
    """Existing Triton servers; omit `triton` to start the bundled local server."""

    urls: Annotated[list[Annotated[str, AfterValidator(_triton_url)]], Field(min_length=1)]
    timeout_s: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] = INFERENCE_TIMEOUT_S


def _existing_file(value: Path | None, info: ValidationInfo) -> Path | None:
    if value is None or not (info.context or {}).get("check_paths", False):
        return value
    if not value.is_file():
        raise PydanticCustomError(
            "path", "does not exist; expected a text file with one patient id per line"
        )
    return value


def _at_floor(value: int) -> int:
    """A report threshold may raise the deployment's floor (MIN_CELL), never lower it."""
    if value < MIN_CELL:
        raise PydanticCustomError(
            "spec", "privacy.min_cell: {value} is below the deployment's floor {floor} "
            "(smaller published counts can single people out); set min_cell to {floor} or "
            "more, or leave it out for {floor}", {"value": value, "floor": MIN_CELL})
    return value


class PrivacySpec(SpecModel):
    key_file: SpecPath | None = None  # None: <state folder>/pseudonym.key, created once
    min_cell: Annotated[int, Field(ge=1, le=1_000), AfterValidator(_at_floor)] = MIN_CELL
    opt_out: Annotated[SpecPath | None, AfterValidator(_existing_file)] = None


def _store(value: str | None, info: ValidationInfo) -> str | None:
    if value is None:
        return None
    base = (info.context or {}).get("base_dir")
    try:
        url = normalize_url(value, base_dir=Path(base) if base else None)
    except BadInput as exc:
        raise PydanticCustomError("spec", "{why}", {"why": str(exc)}) from None
    try:
        refuse_password(url, "the spec, which is saved and copied")
    except BadInput as exc:
        raise PydanticCustomError("spec", "{why}", {"why": str(exc)}) from None
    return url.render_as_string(hide_password=False)


class CampaignSpec(SpecModel):
    """A campaign spec, v1 (jobs/examples/local.yaml and production.yaml show every field)."""

    id: Annotated[str, Field(pattern=NAME_PATTERN, max_length=63)]
    model: ModelRef = ModelRef()
    triton: TritonSpec | None = None
    store: Annotated[str | None, AfterValidator(_store)] = None
    # the store's password: from this environment variable, or the first line of this file
    store_password_env: Annotated[str, Field(pattern=ENV_PATTERN)] | None = None
    store_password_file: SpecPath | None = None
    shard_size: Annotated[int, Field(ge=1, le=10_000)] = 8
    max_shards_in_flight: Annotated[int, Field(ge=1, le=10_000)] = 4
    residency: Literal["none", "strict"] = "none"
    deadline: date | None = None
    privacy: PrivacySpec = PrivacySpec()
    regions: Annotated[list[RegionSpec], Field(min_length=1)]
    data_dir: Annotated[SpecPath, Field(validate_default=True)] = Path("lungscreen-data")
    # earlier screening rounds (campaign ids in the same store, under the same key): each
    # study is read against the person's latest screen in them (jobs.rounds)
    priors: Annotated[tuple[Annotated[str, Field(pattern=NAME_PATTERN, max_length=63)], ...],
                      Field(max_length=100)] = ()
    _default_key: Path = PrivateAttr(default=Path("pseudonym.key"))

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> CampaignSpec:
        legacy = self.data_dir / "pseudonym.key"
        state = (info.context or {}).get("state_dir") or default_state_dir(os.environ)
        self._default_key = legacy if legacy.is_file() else Path(state) / "pseudonym.key"
        seen: dict[str, int] = {}
        for i, region in enumerate(self.regions):
            if region.name in seen:
                raise PydanticCustomError(
                    "spec",
                    "regions[{i}].name: '{name}' is also the name of regions[{j}]; "
                    "expected unique region names",
                    {"i": i, "j": seen[region.name], "name": region.name},
                )
            seen[region.name] = i
        _check_duplicate_sources(self.regions)
        if self.id in self.priors or len(set(self.priors)) != len(self.priors):
            raise PydanticCustomError(
                "spec", "priors: {priors} names this campaign or one campaign twice; expected "
                "earlier campaigns, each once", {"priors": list(self.priors)})
        if self.store_password_env and self.store_password_file:
            raise PydanticCustomError(
                "spec", "store_password_env and store_password_file: both are set; expected "
                "one place for the store's password", {})
        db = sqlite_path(make_url(self.store_url))
        if db is not None and self.key_path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            raise PydanticCustomError(
                "spec",
                "privacy.key_file: '{key}' is the results store's own file; expected the key "
                "outside the results store's folder (omit it: the state folder's key)",
                {"key": str(self.key_path)},
            )
        return self

    @property
    def store_url(self) -> str:
        """The store URL in use: `store`, or SQLite in the data folder."""
        return self.store or default_sqlite_url(self.data_dir)

    @property
    def key_path(self) -> Path:
        """The pseudonym key file in use: privacy.key_file, else the state folder's
        pseudonym.key (or <data_dir>/pseudonym.key where an earlier version made one)."""
        return self.privacy.key_file or self._default_key

    def key_beside_store(self) -> bool:
        """True when the pseudonym key and a SQLite store share a folder: one copied folder
        then carries both the pseudonyms and the means to re-identify them."""
        db = sqlite_path(make_url(self.store_url))
        return db is not None and db.parent.resolve() == self.key_path.parent.resolve()


def _check_duplicate_sources(regions: list[RegionSpec]) -> None:
    """No two sources of a kind read the same studies (the kind says when they do)."""
    seen: list[tuple[SourceSpec, Hashable, str]] = []
    for i, region in enumerate(regions):
        for j, src in enumerate(region.sources):
            kind, where = src.source_kind, f"regions[{i}].sources[{j}]"
            key = kind.key(src.entry)
            for other, other_key, other_where in seen:
                if other.kind == src.kind and kind.same(key, other_key):
                    raise PydanticCustomError(
                        "spec", kind.duplicate,
                        {"where": where, "value": src.label, "other_where": other_where,
                         "other_value": other.label},
                    )
            seen.append((src, key, where))


def parse_spec(
    data: Any,
    *,
    base_dir: Path | None = None,
    check_paths: bool = True,
    state_dir: Path | None = None,
) -> CampaignSpec:
    """Validate already-parsed YAML/JSON data; relative paths against `base_dir` (default
    cwd). With check_paths, source folders and the opt-out file must exist. The default
    key lives in `state_dir` (default: jobs.spec.state.default_state_dir(os.environ)).
    BadInput lists every problem, each as `field.path: value problem; expected ...`."""
    if data is None:
        raise BadInput("campaign spec is empty; expected a mapping with id, regions, ... "
                       "(see jobs/examples/local.yaml)")
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({data!r:.40})"
        raise BadInput(
            f"campaign spec is {kind}; expected a mapping with id, regions, ... (see "
            "jobs/examples/local.yaml)"
        )
    base = base_dir or Path.cwd()
    try:
        return CampaignSpec.model_validate(
            data, context={"base_dir": base, "check_paths": check_paths, "state_dir": state_dir}
        )
    except ValidationError as exc:
        problems = [_describe(err, base) for err in exc.errors(include_url=False)]
        raise BadInput("campaign spec is invalid:\n  " + "\n  ".join(problems)) from None


def load_spec(
    path: Path | str, *, check_paths: bool = True, state_dir: Path | None = None
) -> CampaignSpec:
    """Read and validate a campaign spec file. BadInput names the file, the field path,
    the value and what was expected."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BadInput(f"campaign spec {str(path)!r}: cannot read it ({why})") from exc
    if len(text) > _MAX_SPEC_BYTES:
        raise BadInput(f"campaign spec {str(path)!r} is {len(text)} bytes; a spec is at most "
                       f"{_MAX_SPEC_BYTES} (it names sources, it does not list studies)")
    try:
        data = yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader without aliases
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise BadInput(
            f"campaign spec {str(path)!r}{where}: {problem}; expected valid YAML"
        ) from None
    try:
        return parse_spec(data, base_dir=path.absolute().parent, check_paths=check_paths,
                          state_dir=state_dir)
    except BadInput as exc:
        raise BadInput(f"{str(path)!r}: {exc}") from None


_MAX_SPEC_BYTES = 1 << 20
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple = 2, 4, 4, 4
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 80, 80, 40


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (`*name`): a spec has no use for them, and nested
    aliases expand exponentially (a few hundred bytes become gigabytes)."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a campaign spec; write "
                "the value out", event.start_mark)
        return super().compose_node(parent, index)


def spec_digest(spec: CampaignSpec) -> str:
    """Digest of what defines a campaign's results (id, model, regions and sources, shard
    size, key and opt-out files), not of run-time settings (Triton URLs, store, in-flight
    limit, deadline, min_cell), so those may change between runs and resumes."""
    doc = spec.model_dump(mode="json", include={"id", "model", "regions", "shard_size", "privacy"})
    doc["privacy"].pop("min_cell", None)
    doc["privacy"]["key_file"] = str(spec.key_path)
    for region in doc["regions"]:
        for source in region["sources"]:
            # the keys every source carried when the spec model had one field per kind: the
            # digests of campaigns that started then stay the same (never add a kind here)
            for kind in ("folder", "dicomweb"):
                source.setdefault(kind, None)
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _describe(err: Any, base_dir: Path) -> str:
    loc = _loc(err["loc"])
    kind = err["type"]
    if kind == "spec":
        return str(err["msg"])
    if kind == "missing":
        return f"{loc}: is missing; expected a value (see jobs/examples/local.yaml)"
    if kind == "extra_forbidden":
        return f"{loc}: is not a known field; {_suggest(err['loc'])}"
    value = err.get("input")
    if isinstance(value, bool) and kind == "literal_error":
        word = "yes/true/on" if value else "no/false/off"
        return (f"{loc}: {word} reads as a YAML boolean, not a word; expected: "
                f"{str(err['msg'])[0].lower()}{str(err['msg'])[1:]} (quote it if needed)")
    shown = (redact(value) if loc == "store" and isinstance(value, str) else
             without_userinfo(value) if isinstance(value, str) else value)
    # bounded: a hostile value (deeply nested, huge) is never rendered whole
    text = _REPR.repr(shown if not isinstance(shown, Path) else str(shown))
    text = text if len(text) <= 80 else text[:77] + "..."
    msg = str(err["msg"])
    if kind == "path" and isinstance(value, str) and not Path(value).expanduser().is_absolute():
        return f"{loc}: {text} (relative to the spec's folder {str(base_dir)!r}) {msg}"
    if kind in ("path", "url", "source", "credentials", "store"):
        return f"{loc}: {text} {msg}"
    if kind == "string_pattern_mismatch" and (loc == "id" or loc.endswith(".name")):
        return f"{loc}: {text} is not valid; expected lowercase letters, digits and '-'"
    return f"{loc}: {text} is not valid; expected: {msg[0].lower()}{msg[1:]}"


def _fields_at(parts: tuple[Any, ...]) -> list[str]:
    """The field names a spec allows where `parts` (a location ending in the unknown key)
    points: walk the models from CampaignSpec, through lists and optionals."""
    model: Any = CampaignSpec
    for part in parts[:-1]:
        if isinstance(part, int) or str(part).startswith("function-"):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if model is SourceSpec and part in SOURCE_KINDS:  # {kind: entry}
            model = _model_in(SOURCE_KINDS[part].model)
        elif field is None:
            return []
        else:
            model = _model_in(field.annotation)
        if model is None:
            return []
    return sorted(getattr(model, "model_fields", {}))


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, SpecModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or getattr(annotation, "__metadata__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    origin = getattr(annotation, "__origin__", None)
    return _model_in(origin) if origin is not None and origin is not annotation else None


def _suggest(parts: tuple[Any, ...]) -> str:
    known = _fields_at(parts)
    if not known:
        return "check its spelling (see jobs/examples/local.yaml)"
    close = difflib.get_close_matches(str(parts[-1]), known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}known here: {', '.join(known)}"


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif str(p).startswith("function-"):
            continue
        else:
            out += f".{p}" if out else str(p)
    return out or "(spec)"

"""Which representation a request gets: the `format` query parameter when given, else the
best match of its Accept header (RFC 9110 section 12.5.1: q-values, `type/*` and `*/*`,
the most specific range deciding), ties going to the order offered."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["NotAcceptable", "UnknownFormat", "choose"]


class UnknownFormat(ValueError):
    """A `format` the route does not render."""


class NotAcceptable(ValueError):
    """An Accept header none of the route's media types satisfies."""


def _ranges(accept: str) -> list[tuple[str, str, float]]:
    out = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if "/" not in media:
            continue
        kind, _, sub = media.lower().partition("/")
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = -1.0  # an unreadable range is ignored
        if 0.0 <= q <= 1.0:
            out.append((kind, sub, q))
    return out


def _quality(media: str, ranges: list[tuple[str, str, float]]) -> float:
    kind, _, sub = media.partition("/")
    best, specificity = 0.0, -1
    for r_kind, r_sub, q in ranges:
        if (r_kind, r_sub) == (kind, sub):
            rank = 2
        elif (r_kind, r_sub) == (kind, "*"):
            rank = 1
        elif (r_kind, r_sub) == ("*", "*"):
            rank = 0
        else:
            continue
        if rank > specificity:
            best, specificity = q, rank
    return best


def choose(offered: Mapping[str, str], fmt: str | None, accept: str | None) -> str:
    """The name (a key of `offered`, name -> media type) to render: `fmt` when given
    (UnknownFormat when not offered), else the Accept header's best (the first offered when
    there is none; NotAcceptable when it accepts none of them)."""
    if fmt is not None:
        if fmt not in offered:
            raise UnknownFormat(fmt)
        return fmt
    ranges = _ranges(accept or "")
    if not ranges:
        return next(iter(offered))
    scored = [(_quality(media, ranges), -i, name)
              for i, (name, media) in enumerate(offered.items())]
    q, _, name = max(scored)
    if q <= 0.0:
        raise NotAcceptable(accept)
    return name

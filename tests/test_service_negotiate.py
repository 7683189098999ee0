"""Which representation a request gets (jobs.service.negotiate): the `format` query
parameter wins, else the Accept header's best match with q-values and wildcards."""

from __future__ import annotations

import pytest

from jobs.service.negotiate import NotAcceptable, UnknownFormat, choose

OFFERED = {"json": "application/json", "csv": "text/csv"}


@pytest.mark.parametrize(("accept", "expected"), [
    (None, "json"),
    ("", "json"),
    ("*/*", "json"),
    ("text/csv", "csv"),
    ("text/*", "csv"),
    ("application/json", "json"),
    ("text/csv;q=0.9, application/json;q=0.5", "csv"),
    ("application/json;q=0.1, text/csv", "csv"),
    ("*/*;q=0.1, text/csv;q=0", "json"),  # csv excluded by its own, more specific range
    ("text/html, */*;q=0.8", "json"),  # a browser's
    ("TEXT/CSV", "csv"),
    ("text/csv;q=bad, application/json", "json"),  # an unreadable range is ignored
])
def test_the_accept_header_picks_the_best_offered(accept, expected):
    assert choose(OFFERED, None, accept) == expected


@pytest.mark.parametrize("accept", ["application/xml", "text/html", "text/csv;q=0, "
                                    "application/json;q=0", "image/*"])
def test_nothing_acceptable_is_refused(accept):
    with pytest.raises(NotAcceptable):
        choose(OFFERED, None, accept)


def test_the_format_parameter_wins_over_accept():
    assert choose(OFFERED, "csv", "application/json") == "csv"
    assert choose(OFFERED, "json", "application/xml") == "json"
    with pytest.raises(UnknownFormat):
        choose(OFFERED, "xml", None)

"""The analysts' downloads of a released table, HTML and Parquet: the same numbers as the
JSON (one value per cell whatever the format), the noise's parameters in each, no asset from
the network, byte-identical reruns, and text from the store escaped."""

from __future__ import annotations

import dataclasses
import html
import io
import json
import re

import pyarrow.parquet as pq
import pytest

from cli.main import main
from jobs.release import measure_increment, released_table, render_released
from jobs.release.formats import to_parquet
from jobs.release.html import to_html
from jobs.store import ResultsStore
from tests.report_results import cohort, sites_of
from tests.store_helpers import audit_key

CID = "exports-2027"
BY = ("region", "site")


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    results = cohort(900, seed=17)
    url = f"sqlite:///{tmp_path_factory.mktemp('exports') / 'r.db'}"
    with ResultsStore.open(url, audit_key=audit_key()) as s:
        s.ensure_campaign(CID, spec_digest="d", model_name="m", model_version="1",
                          sites=sites_of(results))
        for part in (results[:500], results[500:]):
            s.commit_results(CID, part)
            assert measure_increment(s, CID) is not None
    return url


@pytest.fixture(scope="module")
def table(url):
    with ResultsStore.open(url) as s:
        return released_table(s, CID, by=BY)


def _json_rows(table):
    doc = json.loads(render_released(table, "json"))
    return {tuple(g["key"].values()): g["counts"] for g in doc["groups"]}, doc["privacy"]


def test_the_html_shows_the_json_numbers_and_the_noise(table):
    page = render_released(table, "html")
    assert page == to_html(table)  # byte-identical
    rows, privacy = _json_rows(table)
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    cells = [re.findall(r"<td>([^<]*)</td>", tr) for tr in body.split("<tr>")[1:]]
    assert len(cells) == len(rows)
    measures = list(next(iter(rows.values())))
    for tds, (key, counts) in zip(cells, rows.items(), strict=True):
        label = html.unescape(tds[0]).replace("\u00a0", "").strip()
        assert label == (" / ".join(key) or "all")
        assert [int(v) for v in tds[1:1 + len(measures)]] == [counts[m] for m in measures]
    assert f"<dd>{privacy['sigma']:.3f}</dd>" in page and f"<dd>{privacy['rho']}</dd>" in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page)  # nothing from the network
    assert "<script" not in page
    # the charts draw the finest groups (region / site), not the regions only
    assert "region-0 / r0-site-0" in page[:page.index("<tbody>")]


def test_text_from_the_store_is_escaped_in_the_html(table):
    row = table.rows[1]
    evil = dataclasses.replace(row, key=("<script>alert(1)</script>", *row.key[1:]))
    page = to_html(dataclasses.replace(table, rows=(table.rows[0], evil, *table.rows[2:])))
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_the_parquet_holds_the_json_numbers_and_the_privacy_object(table):
    data = to_parquet(table)
    assert data == to_parquet(table)  # byte-identical
    read = pq.read_table(io.BytesIO(data))
    rows, privacy = _json_rows(table)
    cols = read.to_pydict()
    for i, (key, counts) in enumerate(rows.items()):
        assert tuple(cols[d][i] for d in BY[:len(key)]) == key
        assert all(cols[m][i] == v for m, v in counts.items())
    meta = {k.decode(): v.decode() for k, v in read.schema.metadata.items()}
    assert json.loads(meta["privacy"]) == privacy
    assert read.schema.field("seen").type == "int64"


def test_the_cli_writes_html_and_parquet_downloads(url, table, tmp_path, capsys):
    argv = ["report", CID, "--store", url, "--released", "--by", ",".join(BY)]
    assert main([*argv, "--format", "html", "--out", str(tmp_path / "t.html")]) == 0
    assert (tmp_path / "t.html").read_text(encoding="utf-8") == to_html(table)
    assert main([*argv, "--format", "parquet", "--out", str(tmp_path / "t.parquet")]) == 0
    assert (tmp_path / "t.parquet").read_bytes() == to_parquet(table)
    capsys.readouterr()
    assert main([*argv, "--format", "parquet"]) == 2
    assert "add --out" in capsys.readouterr().err

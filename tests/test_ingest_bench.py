"""The ingest benchmark runs and reports every syntax (figures are not asserted: no timed tests)."""

from __future__ import annotations

from bench.ingest import SYNTAXES, format_table, main, run_ingest_bench


def test_bench_reports_every_syntax(tmp_path, capsys):
    rows = run_ingest_bench(slices=3, matrix=64, runs=1, workdir=tmp_path)
    assert [r.syntax for r in rows] == [s.name for s in SYNTAXES]
    assert all(r.headers_per_s > 0 and r.load_mb_per_s > 0 and r.file_mb > 0 for r in rows)
    assert rows[0].file_mb > rows[1].file_mb  # RLE compresses the phantom
    assert "JPEG-LS" in format_table(rows)
    assert main(["--slices", "2", "--matrix", "64", "--runs", "1"]) == 0
    assert "headers/s" in capsys.readouterr().out

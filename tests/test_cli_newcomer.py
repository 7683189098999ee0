"""What a new user trips on first: sources that hold nothing, a Ray address where nothing
listens. Each ends at once, in one line that says what to check."""

from __future__ import annotations

import socket
import time

import pytest

from cli.main import main
from cluster.ray.connect import RayOptions, connect
from kernel.errors import RetryableError
from tests.campaign_helpers import write_spec


def test_a_campaign_over_empty_sources_stops_at_intake_with_exit_2(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.chdir(tmp_path)
    north, south = tmp_path / "north", tmp_path / "south"
    north.mkdir()
    south.mkdir()
    (south / "notes.txt").write_text("not DICOM")
    spec = write_spec(tmp_path / "campaign.yaml", {"north": [north], "south": [south]},
                      campaign_id="empty-1")
    assert main(["campaign", "run", str(spec), "--backend", "inprocess", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    line = err[-1]
    assert "0 studies found" in line and str(north) in line and str(south) in line, line
    assert "1 files rejected" in line and "lungscreen scan" in line
    assert not any("Traceback" in e or "ray" in e.lower() for e in err)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("form", ["127.0.0.1:{port}", "ray://127.0.0.1:{port}"])
def test_a_ray_address_where_nothing_listens_fails_fast_in_one_line(form):
    address = form.format(port=_closed_port())
    start = time.monotonic()
    with pytest.raises(RetryableError) as err, connect(RayOptions(address=address)):
        pass
    assert time.monotonic() - start < 30
    message = str(err.value)
    assert "\n" not in message and address in message and "ray status" in message


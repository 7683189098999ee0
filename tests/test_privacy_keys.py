"""The pseudonym key: created once, owner-only, atomically; refused when exposed."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from jobs.ingest.privacy import load_or_create_key
from jobs.ingest.privacy.keys import KEY_BYTES
from kernel.errors import BadInput


def test_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "pseudonym.key"
    key = load_or_create_key(path)
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_key(path) == key  # loaded, not recreated
    assert [p.name for p in path.parent.iterdir()] == ["pseudonym.key"]  # no temp left


def test_different_deployments_get_different_keys(tmp_path: Path) -> None:
    assert load_or_create_key(tmp_path / "a.key") != load_or_create_key(tmp_path / "b.key")


def test_refuses_a_key_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "pseudonym.key"
    load_or_create_key(path)
    path.chmod(0o644)
    with pytest.raises(BadInput) as info:
        load_or_create_key(path)
    message = str(info.value)
    assert str(path) in message and f"chmod 600 {path}" in message and "0644" in message
    path.chmod(0o600)
    assert len(load_or_create_key(path)) == KEY_BYTES


def test_refuses_a_truncated_key_and_a_folder(tmp_path: Path) -> None:
    path = tmp_path / "short.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"too short")
    os.close(fd)
    with pytest.raises(BadInput, match="holds 9 bytes; expected 32"):
        load_or_create_key(path)
    folder = tmp_path / "folder.key"
    folder.mkdir(mode=0o700)
    with pytest.raises(BadInput, match="not a regular file"):
        load_or_create_key(folder)


def test_unwritable_location_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="cannot create the folder"):
        load_or_create_key(Path("/proc/lungscreen-nope/pseudonym.key"))


def _load(path: str) -> bytes:
    return load_or_create_key(path)


def test_concurrent_creators_agree_on_one_key(tmp_path: Path) -> None:
    for round_ in range(3):
        path = str(tmp_path / f"race{round_}" / "pseudonym.key")
        with ProcessPoolExecutor(max_workers=4) as pool:
            keys = list(pool.map(_load, [path] * 8))
        assert len(set(keys)) == 1
        assert keys[0] == Path(path).read_bytes()

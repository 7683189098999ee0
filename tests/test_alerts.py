"""Alert rules and scrape configs through the real promtool: syntax, and a unit test that
fires and one that stays quiet for every rule."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from monitoring.scrape_config import ALERTS_PATH, JOBS, PROMETHEUS_PATH, render_config

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
TESTS_PATH = ALERTS_PATH.parent / "alerts_test.yml"



def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, check=False)


def test_rules_are_valid() -> None:
    done = promtool("check", "rules", str(ALERTS_PATH))
    assert done.returncode == 0, done.stdout + done.stderr


def test_rule_unit_tests_pass() -> None:
    done = promtool("test", "rules", TESTS_PATH.name, cwd=TESTS_PATH.parent)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_rule_has_a_firing_and_a_quiet_case_and_its_annotations() -> None:
    rules = [r for g in yaml.safe_load(ALERTS_PATH.read_text())["groups"] for r in g["rules"]]
    tests = yaml.safe_load(TESTS_PATH.read_text())["tests"]
    cases = [c for t in tests for c in t.get("alert_rule_test", [])]
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert {"summary", "description", "runbook"} <= set(rule["annotations"]), name
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in mine), f"{name}: no case where it fires"
        assert any(not c["exp_alerts"] for c in mine), f"{name}: no case where it stays quiet"


def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n- name: x\n  rules:\n  - alert: X\n    expr: rate(foo[5m]\n")
    assert promtool("check", "rules", str(bad)).returncode != 0


def test_shipped_scrape_config_is_valid_and_scrapes_every_job() -> None:
    done = promtool("check", "config", str(PROMETHEUS_PATH))
    assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.safe_load(PROMETHEUS_PATH.read_text())
    assert [j["job_name"] for j in config["scrape_configs"]] == list(JOBS)
    ray = config["scrape_configs"][2]
    assert ray["file_sd_configs"][0]["files"] == ["/tmp/ray/prom_metrics_service_discovery.json"]
    assert config["rule_files"] == [ALERTS_PATH.name]


def test_rendered_config_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(render_config(lungscreen=["127.0.0.1:40001"], triton=["127.0.0.1:40002"],
                                  ray_sd_file=tmp_path / "sd.json", scrape_interval_s=1))
    done = promtool("check", "config", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.safe_load(path.read_text())
    assert config["global"]["scrape_interval"] == "1s"
    assert [j["job_name"] for j in config["scrape_configs"]] == list(JOBS)

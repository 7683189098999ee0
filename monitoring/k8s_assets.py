"""Keep the Kubernetes copies of the monitoring assets identical to their sources.

kustomize cannot read files outside its root, so k8s/base holds a PrometheusRule built from
monitoring/alerts.yml and a copy of the Grafana dashboard. `python -m monitoring.k8s_assets`
rewrites both; a test fails when they drift.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

__all__ = ["REPO_ROOT", "expected_assets", "prometheus_rule", "write_assets"]

REPO_ROOT = Path(__file__).resolve().parent.parent
ALERTS = REPO_ROOT / "monitoring" / "alerts.yml"
DASHBOARD = REPO_ROOT / "monitoring" / "dashboards" / "lungscreen.json"
K8S_RULE = REPO_ROOT / "k8s" / "base" / "prometheusrule.yaml"
K8S_DASHBOARD = REPO_ROOT / "k8s" / "base" / "dashboards" / "lungscreen.json"

_HEADER = (
    "# Generated from monitoring/alerts.yml by `python -m monitoring.k8s_assets`; do not edit.\n"
)


def prometheus_rule(alerts: dict[str, Any]) -> dict[str, Any]:
    """A prometheus-operator PrometheusRule carrying exactly the groups of `alerts`."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "lungscreen", "labels": {"role": "alert-rules"}},
        "spec": {"groups": alerts["groups"]},
    }


def expected_assets() -> dict[Path, str]:
    """The text each generated k8s file must have."""
    alerts = yaml.safe_load(ALERTS.read_text())
    rule = _HEADER + yaml.safe_dump(prometheus_rule(alerts), sort_keys=False, width=100)
    dashboard = json.dumps(json.loads(DASHBOARD.read_text()), indent=2, sort_keys=True) + "\n"
    return {K8S_RULE: rule, K8S_DASHBOARD: dashboard}


def write_assets() -> list[Path]:
    """Rewrite the generated files that differ; returns those written."""
    written = []
    for path, text in expected_assets().items():
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    for path in write_assets():
        print(f"wrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()

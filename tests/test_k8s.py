"""Render every kustomize overlay and check each object: core kinds against Kubernetes'
schemas (kubernetes-validate, offline), KubeRay and Prometheus-operator resources against
their upstream CRDs, and lungscreen's own rules (limits, probes, non-root, no secrets in
ConfigMaps, entrypoints that exist, monitoring assets in sync, residency resources)."""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from monitoring.k8s_assets import expected_assets

REPO = Path(__file__).resolve().parent.parent
OVERLAYS = sorted(p.name for p in (REPO / "k8s" / "overlays").iterdir() if p.is_dir())
K8S_VERSION = "1.32.0"  # oldest Kubernetes the manifests promise to run on


def crd_dir() -> Path | None:
    """Where the upstream CRDs are: $LUNGSCREEN_K8S_CRDS, else ../shared/k8s-crds."""
    env = os.environ.get("LUNGSCREEN_K8S_CRDS")
    if env:
        return Path(env)
    default = REPO.parent / "shared" / "k8s-crds"
    return default if default.is_dir() else None


def render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) is needed to render k8s/ overlays"
    out = subprocess.run(
        [kubectl, "kustomize", str(REPO / "k8s" / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@functools.cache
def render_cached(overlay: str) -> list[dict[str, Any]]:
    return render(overlay)


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render_cached(request.param)


def python_patterns(node: Any) -> Any:
    """CRD schemas use Go regexps; Python needs inline flags such as `(?i)` first."""
    if isinstance(node, dict):
        out = {k: python_patterns(v) for k, v in node.items()}
        pattern = out.get("pattern")
        if isinstance(pattern, str):
            flags = re.match(r"^\^(\(\?[a-z]+\))", pattern)
            if flags:
                out["pattern"] = flags.group(1) + "^" + pattern[len(flags.group(0)) :]
        return out
    if isinstance(node, list):
        return [python_patterns(v) for v in node]
    return node


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema for every CRD file in crd_dir()."""
    root = crd_dir()
    if root is None:
        pytest.fail("no CRD directory: set LUNGSCREEN_K8S_CRDS or provide ../shared/k8s-crds")
    schemas = {}
    for path in sorted(root.glob("*.yaml")):
        crd = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = python_patterns(version["schema"]["openAPIV3Schema"])
            schemas[(f"{group}/{version['name']}", kind)] = schema
    return schemas


def pod_specs(obj: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where, pod spec) for every pod template an object carries."""
    kind, spec = obj["kind"], obj.get("spec", {})
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return [(kind, spec["template"]["spec"])]
    if kind == "RayCluster":
        found = [("head", spec["headGroupSpec"]["template"]["spec"])]
        found += [(g["groupName"], g["template"]["spec"]) for g in spec["workerGroupSpecs"]]
        return found
    if kind == "RayJob":
        return [("submitter", spec["submitterPodTemplate"]["spec"])]
    return []


def test_every_object_validates(rendered):
    overlay, docs = rendered
    schemas = crd_schemas()
    custom = {k for k in schemas}
    for obj in docs:
        key = (obj["apiVersion"], obj["kind"])
        name = f"{overlay}: {obj['kind']}/{obj['metadata']['name']}"
        if key in custom:
            try:
                jsonschema.validate(obj, schemas[key])
            except jsonschema.ValidationError as exc:
                pytest.fail(f"{name} does not match its CRD: {exc.message} at {list(exc.path)}")
        else:
            try:
                kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{name}: {exc.message} at {list(exc.path)}")


def test_crd_validation_catches_a_wrong_field():
    """The CRD check is live: a RayCluster with a misspelt required field fails."""
    schemas = crd_schemas()
    bad = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "x"},
        "spec": {"headGroupSpecs": {}},
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schemas[("ray.io/v1", "RayCluster")])


def test_containers_have_limits_probes_and_run_as_non_root(rendered):
    overlay, docs = rendered
    for obj in docs:
        for where, pod in pod_specs(obj):
            label = f"{overlay}: {obj['kind']}/{obj['metadata']['name']} [{where}]"
            assert pod.get("automountServiceAccountToken") is False, label
            pod_sc = pod.get("securityContext", {})
            assert pod_sc.get("runAsNonRoot") is True, label
            assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", label
            for c in pod["containers"] + pod.get("initContainers", []):
                limits = c.get("resources", {}).get("limits", {})
                assert {"cpu", "memory"} <= set(limits), f"{label} {c['name']}: limits"
                sc = c.get("securityContext", {})
                assert sc.get("allowPrivilegeEscalation") is False, f"{label} {c['name']}"
                assert sc.get("capabilities", {}).get("drop") == ["ALL"], f"{label} {c['name']}"
                assert sc.get("readOnlyRootFilesystem") is True, f"{label} {c['name']}"
                assert sc.get("privileged") is not True, f"{label} {c['name']}"
                is_init = c in pod.get("initContainers", [])
                if where != "submitter" and not is_init:  # run-to-completion: nothing to probe
                    assert "readinessProbe" in c and "livenessProbe" in c, f"{label} probes"


SECRETISH = re.compile(r"(password|passwd|secret|token|private[_-]?key)\s*[:=]\s*\S+", re.I)


def test_no_secret_values_in_configmaps(rendered):
    overlay, docs = rendered
    for obj in docs:
        if obj["kind"] != "ConfigMap":
            continue
        for key, value in (obj.get("data") or {}).items():
            for line in str(value).splitlines():
                if line.strip().startswith("#"):
                    continue
                hit = SECRETISH.search(line)
                # "*_env: NAME" names an env variable filled from a Secret: allowed
                if hit and not re.search(r"_env\s*:", line):
                    pytest.fail(f"{overlay}: ConfigMap {obj['metadata']['name']}/{key}: {line!r}")
                assert not re.search(r"://[^/\s:@]+:[^@\s]+@", line), "credentials in a URL"


def test_secrets_come_from_secret_objects_only(rendered):
    _, docs = rendered
    assert not [d for d in docs if d["kind"] == "Secret"], "Secrets are created out of band"
    for obj in docs:
        for _, pod in pod_specs(obj):
            for c in pod["containers"]:
                for env in c.get("env", []):
                    if re.search(r"PASSWORD|TOKEN|USER", env["name"]):
                        assert "secretKeyRef" in env.get("valueFrom", {}), env["name"]


def test_entrypoints_exist_in_the_package(rendered):
    from cli.main import build_parser

    parser = build_parser()
    _, docs = rendered
    for obj in docs:
        if obj["kind"] == "RayJob":
            argv = shlex.split(obj["spec"]["entrypoint"])
            assert argv[0] == "lungscreen"
            args = parser.parse_args(argv[1:])  # SystemExit when a subcommand is unknown
            assert callable(args.func)
    scripts = (REPO / "pyproject.toml").read_text()
    assert 'lungscreen = "cli.entry:main"' in scripts  # which hands over to cli.main
    dockerfile = (REPO / "k8s" / "images" / "lungscreen.Dockerfile").read_text()
    assert 'ENTRYPOINT ["lungscreen"]' in dockerfile
    for line in dockerfile.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for src in line.split()[1:-1]:
                if not src.startswith("--"):
                    assert (REPO / src).exists(), f"Dockerfile copies missing {src}"


def test_triton_deployment_probes_health_endpoints(rendered):
    _, docs = rendered
    [dep] = [d for d in docs if d["kind"] == "Deployment" and "triton" in d["metadata"]["name"]]
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert c["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert c["resources"]["limits"]["nvidia.com/gpu"]


def test_prometheus_rule_and_dashboard_match_monitoring():
    for path, text in expected_assets().items():
        assert path.read_text() == text, f"{path} drifted: run python -m monitoring.k8s_assets"


def test_strict_residency_groups_advertise_their_region():
    from cluster.ray.connect import region_resource

    docs = render_cached("prod")
    [campaign] = [
        d for d in docs if d["kind"] == "ConfigMap" and "campaign" in d["metadata"]["name"]
    ]
    spec = yaml.safe_load(campaign["data"]["campaign.yaml"])
    assert spec["residency"] == "strict"
    [rc] = [d for d in docs if d["kind"] == "RayCluster"]
    groups = {g["groupName"]: g for g in rc["spec"]["workerGroupSpecs"]}
    for region in (r["name"] for r in spec["regions"]):
        g = groups[f"cpu-{region}"]
        assert region_resource(region) in g["resources"], g["resources"]
        assert g["template"]["spec"]["nodeSelector"] == {"lungscreen.io/region": region}


def test_dashboard_configmap_is_valid_json(rendered):
    _, docs = rendered
    [cm] = [d for d in docs if d["kind"] == "ConfigMap" and "dashboard" in d["metadata"]["name"]]
    assert json.loads(cm["data"]["lungscreen.json"])


def test_ray_vm_launcher_config_matches_rays_schema_and_node_types():
    import ray.autoscaler

    schema_path = Path(ray.autoscaler.__file__).parent / "ray-schema.json"
    config = yaml.safe_load((REPO / "cluster" / "ray-cluster.yaml").read_text())
    jsonschema.validate(config, json.loads(schema_path.read_text()))
    types = config["available_node_types"]
    assert types[config["head_node_type"]]["resources"] == {"CPU": 0}
    from cluster.ray.connect import region_resource

    for region in ("north", "south"):
        assert region_resource(region) in types[f"cpu_{region}"]["resources"]

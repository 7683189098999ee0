"""Each package's public names, pinned (as httpx pins its own): adding or dropping an export
is a decision this file records, not an accident. And every module says what it exports:
`__all__` names only what the module binds."""

from __future__ import annotations

import ast
import importlib

import pytest

from tests.test_architecture import modules

PUBLIC: dict[str, list[str]] = {
    "bench": [],
    "cli": [],
    "cli.commands": [],
    "cluster": [],
    "cluster.ray": ["RayOptions", "connect", "submit_campaign"],
    "cluster.triton": ["LocalTritonServer", "TritonBackend", "TritonClientConfig",
                       "TritonServerConfig"],
    "jobs": [],
    "jobs.ingest": ["Intake", "take_in"],
    "jobs.ingest.dicom": [],
    "jobs.ingest.privacy": ["LocatorSeal", "OptOutList", "Pseudonymizer", "SealedSelection",
                            "StudyFields", "StudyHeader",
                            "age_band", "age_from_header", "load_or_create_key", "minimise",
                            "unscreened_result"],
    "jobs.ingest.sources": [],
    "jobs.release": ["Budget", "BudgetExhausted", "DEFAULT_RHO", "RELEASE_FORMATS", "Measured",
                     "ReleasedTable", "derive_table", "measure_increment", "released_table",
                     "render_released", "to_parquet"],
    "jobs.report": ["FORMATS", "Report", "build_report", "campaign_report", "render"],
    "jobs.run": ["CampaignRun", "DriverSettings", "Prepared", "RunOptions", "campaign_key",
                 "cancel_campaign", "drive", "inference_backend", "load_study",
                 "open_executor", "plan_shards", "prepare", "run_campaign", "warm_up"],
    "jobs.service": ["ServiceConfig", "create_app"],
    "jobs.service.routes": [],
    "jobs.spec": ["CampaignSpec", "SpecRegistry", "load_spec", "parse_spec"],
    "jobs.rounds": ["lung_box", "read_round"],
    "jobs.store": ["AuditEvent", "AuditKey", "Campaign", "CampaignState", "OutcomeCount",
                   "RegionLedger", "ResultsStore", "TokenKey", "default_sqlite_url",
                   "normalize_url", "redact"],
    "kernel": ["BadInput", "CampaignObserver", "Category", "FileReason", "LungsNotCovered",
               "LungscreenError", "Nodule", "NoduleType", "NullObserver", "Outcome",
               "PermanentError", "Reason", "RetryableError", "ShardPlan", "StudyRecord",
               "StudyResult", "categorize_study"],
    "models": [],
    "models.detection": [],
    "models.tooling": [],
    "monitoring": [],
    "synth": ["CohortSummary", "NoduleTruth", "Phantom", "make_phantom", "study_category",
              "write_cohort", "write_follow_up"],
}


def _packages() -> list[str]:
    return sorted(m for m, p in modules().items() if p.name == "__init__.py")


def test_every_package_is_pinned():
    assert _packages() == sorted(PUBLIC)


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_a_package_exports_exactly_its_pinned_names(package):
    mod = importlib.import_module(package)
    assert sorted(mod.__all__) == sorted(PUBLIC[package])
    assert [n for n in mod.__all__ if not hasattr(mod, n)] == []


def _bound(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
            for t in node.targets:
                if isinstance(t, ast.Tuple):
                    names.update(e.id for e in t.elts if isinstance(e, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def _declared(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        target = (node.targets[0] if isinstance(node, ast.Assign) else
                  node.target if isinstance(node, ast.AnnAssign) else None)
        if isinstance(target, ast.Name) and target.id == "__all__" and node.value is not None:
            return list(ast.literal_eval(node.value))
    return None


def test_every_module_declares_what_it_exports():
    missing, unbound = [], []
    for name, path in modules().items():
        tree = ast.parse(path.read_text(), str(path))
        declared = _declared(tree)
        if declared is None:
            missing.append(name)
            continue
        unbound += [f"{name}.{n}" for n in declared if n not in _bound(tree)]
    assert missing == [] and unbound == []

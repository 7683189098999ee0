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
    "jobs.clinical": ["ClinicalExport", "Sent", "SrIdentity", "StowReport", "build_bundle",
                      "build_sr", "export_fhir", "export_sr", "patient_point", "send_report",
                      "sr_bytes", "sr_uid", "stow_sr"],
    "jobs.ingest": ["Intake", "Policy", "Selected", "discover", "load_volume", "select_series",
                    "take_in"],
    "jobs.ingest.dicom": [],
    "jobs.ingest.privacy": ["LocatorSeal", "OptOutList", "Pseudonymizer", "SealedSelection",
                            "StudyFields", "StudyHeader",
                            "age_band", "age_from_header", "load_or_create_key", "minimise",
                            "unscreened_result"],
    "jobs.ingest.sources": ["FolderSource", "PASSWORD_ENV", "Source", "SyntheticSource",
                            "USER_ENV", "open_source", "source_spec_from_text"],
    "jobs.release": ["Budget", "BudgetExhausted", "DEFAULT_RHO", "RELEASE_FORMATS", "Measured",
                     "ReleasedTable", "derive_table", "groupings", "measure_increment",
                     "page_context", "parse_increments", "released_table", "render_released",
                     "to_parquet"],
    "jobs.report": ["BelowThreshold", "FORMATS", "Report", "Threshold", "aggregate",
                    "build_report", "campaign_report", "grouping_problem", "parse_by", "render",
                    "report_threshold", "threshold_in_force", "to_parquet"],
    "jobs.run": ["CampaignRun", "DriverSettings", "Prepared", "RunOptions", "campaign_key",
                 "campaign_metrics", "cancel_campaign", "default_env", "drive",
                 "inference_backend", "load_study", "open_executor", "plan_shards", "prepare",
                 "run_campaign", "store_source", "warm_up"],
    "jobs.service": ["OidcConfig", "ServiceConfig", "check_bind", "check_private_files",
                     "create_app", "parse_role_map", "private_files", "uvicorn_options"],
    "jobs.service.routes": [],
    "jobs.rounds": ["lung_box", "read_round", "register_prior"],
    "jobs.spec": ["CampaignSpec", "SpecRegistry", "default_audit_key", "default_state_dir",
                  "default_token_key", "load_spec", "open_spec_store", "os_operator",
                  "parse_spec", "store_password", "write_private"],
    "jobs.store": ["AuditEvent", "AuditKey", "Campaign", "CampaignState", "Identity",
                   "OutcomeCount", "RegionLedger", "ResultsStore", "TOKEN_KEY_FILE", "TokenInfo",
                   "TokenKey", "default_sqlite_url", "normalize_url", "redact",
                   "refuse_password", "role_grants", "sqlite_path"],
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
    "synth_varied": ["DEFAULT_FAMILY", "FAMILIES", "VariedNodule", "VariedStudy",
                     "check_family", "make_varied", "write_family_cohort",
                     "write_family_follow_up", "write_varied_cohort",
                     "write_varied_follow_up"],
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


def _type_checking(node: ast.stmt) -> list[ast.stmt]:
    """The body of `if TYPE_CHECKING:` (a face's names loaded on first use, kernel.faces)."""
    if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and (
            node.test.id == "TYPE_CHECKING"):
        return node.body
    return []


def _bound(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in [n for top in tree.body for n in (top, *_type_checking(top))]:
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

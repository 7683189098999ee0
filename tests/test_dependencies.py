"""Known vulnerabilities in what is installed: every package below its advisory's fixed
version fails here. `.ci/audit` runs pip-audit over the installed set where its
vulnerability service answers; this machine reaches only the package index (pypi.org's JSON
API answers 404, api.osv.dev does not resolve), so this table, kept from the advisories,
stands in for it: add a row when an advisory lands on a dependency."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.version import Version

# (package, first fixed version, advisory): the installed version must be at least it
ADVISORIES = [
    ("requests", "2.32.4", "CVE-2024-47081: .netrc credentials sent to the wrong host"),
    ("urllib3", "2.5.0", "CVE-2025-50181: redirects not disabled through PoolManager retries"),
    ("jinja2", "3.1.6", "CVE-2025-27516: sandbox breakout through the attr filter"),
    ("setuptools", "78.1.1", "CVE-2025-47273: path traversal in PackageIndex"),
    ("torch", "2.6.0", "CVE-2025-32434: torch.load(weights_only=True) runs code"),
    ("protobuf", "6.31.1", "CVE-2025-4565: unbounded recursion in the pure-Python parser"),
    ("pillow", "11.3.0", "CVE-2025-48379: heap overflow writing DDS images"),
    ("cryptography", "44.0.1", "CVE-2024-12797: bundled OpenSSL RPK authentication"),
    ("aiohttp", "3.12.14", "CVE-2025-53643: request smuggling in the pure-Python parser"),
    ("idna", "3.7", "CVE-2024-3651: quadratic time in idna.encode"),
    ("certifi", "2024.7.4", "CVE-2024-39689: GLOBALTRUST roots still trusted"),
    ("pyarrow", "14.0.1", "CVE-2023-47248: arbitrary code in IPC / Parquet reading"),
    ("zipp", "3.19.1", "CVE-2024-5569: infinite loop on crafted zip names"),
    ("virtualenv", "20.26.6", "CVE-2024-53899: command injection through activation"),
    ("pydicom", "2.4.4", "CVE-2024-34076 / GHSA-v856-2rxw-3wcv: FileSet path traversal"),
    ("pip", "25.3", "CVE-2025-8869: tarfile extraction outside the target folder"),
    ("pyjwt", "2.13.0", "PYSEC-2026-175..179: jku SSRF, unbounded JWKS refetch on an "
     "unknown kid, HMAC key confusion (2.12.0: CVE-2026-32597, unknown crit headers)"),
]


@pytest.mark.parametrize(("package", "fixed", "advisory"), ADVISORIES,
                         ids=[a[0] for a in ADVISORIES])
def test_no_installed_package_is_below_its_advisory_fix(package, fixed, advisory):
    try:
        installed = version(package)
    except PackageNotFoundError:
        pytest.skip(f"{package} is not installed")
    assert Version(installed) >= Version(fixed), f"{package} {installed}: {advisory}"

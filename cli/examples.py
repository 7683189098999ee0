"""Examples shown at the end of each command's `--help`, keyed by the command's words."""

from __future__ import annotations

__all__ = ["EXAMPLES"]

EXAMPLES: dict[str, tuple[str, ...]] = {
    "serve": (
        "lungscreen serve --store postgresql://ls@db/ls --spec c.yaml --port 8443 "
        "--certfile tls.crt --keyfile tls.key",
        "lungscreen serve --store sqlite:///lungscreen-data/results.db --port 0  # a free port",
        "lungscreen serve --store URL --port 8443 --forwarded-allow-ips 10.0.0.5  # behind a "
        "proxy",
        "lungscreen serve --store URL --port 8443 --certfile tls.crt --keyfile tls.key "
        "--oidc-issuer https://kc.example.org/realms/health --oidc-audience lungscreen "
        "--oidc-jwks-url https://kc.example.org/realms/health/protocol/openid-connect/certs "
        "--oidc-role-map lungscreen-analyst=analyst,lungscreen-authority=authority  # Keycloak",
    ),
    "token init": ("lungscreen token init",),
    "token create": (
        "lungscreen token create --role analyst --name alice --store URL  # expires in 90 days",
        "lungscreen token create --role ops --name probe --expires never",
    ),
    "audit verify": (
        "lungscreen audit verify --spec campaign.yaml   # the store and the data folder's log",
        "lungscreen audit verify --store postgresql://ls@db/ls --campaign north-2027q1",
    ),
    "audit show": (
        "lungscreen audit show --spec campaign.yaml --who dr.smith --since 2027-01-01",
        "lungscreen audit show --store sqlite:///lungscreen-data/results.db --json",
    ),
    "store init": (
        "lungscreen store init --store postgresql://ls@db/ls   # as the schema owner, once",
        "lungscreen store init --store sqlite:///lungscreen-data/results.db",
    ),
    "store roles": (
        "lungscreen store roles --driver lungscreen_driver --service lungscreen_service  "
        "# pipe to psql as the owner",
    ),
    "token list": ("lungscreen token list --store URL", "lungscreen token list --json"),
    "token revoke": ("lungscreen token revoke --name alice --store URL",),
    "demo": (
        "lungscreen demo                          # 12 synthetic studies, end to end",
        "lungscreen demo --studies 60 --regions 3 --out /tmp/demo",
    ),
    "synth": (
        "lungscreen synth --out cohort --studies 20 --regions 2",
        "lungscreen synth --out bad --studies 10 --defects   # with broken studies to quarantine",
        "lungscreen synth --out cohort-2 --follow-up cohort --months 12   # the next round",
        "lungscreen synth --out varied --studies 10 --family varied   # varied anatomy and scans",
    ),
    "scan": (
        "lungscreen scan /data/north --region north",
        "lungscreen scan https://pacs.example/dicom-web --json",
    ),
    "campaign run": (
        "lungscreen campaign run campaign.yaml",
        "lungscreen campaign run campaign.yaml --address 10.0.0.5:6379 --metrics-port 9400",
    ),
    "campaign resume": ("lungscreen campaign resume north-2027q1",),
    "campaign cancel": ("lungscreen campaign cancel north-2027q1",),
    "campaign validate": (
        "lungscreen campaign validate campaign.yaml",
        "lungscreen campaign validate k8s/overlays/prod/campaign.yaml --no-paths",
    ),
    "campaign list": (
        "lungscreen campaign list --store sqlite:///lungscreen-data/results.db",
        "lungscreen campaign list --server https://lungscreen.example --json",
    ),
    "campaign status": (
        "lungscreen campaign status north-2027q1 --spec campaign.yaml",
        "lungscreen campaign status north-2027q1 --server https://lungscreen.example",
    ),
    "campaign submit": (
        "lungscreen campaign submit campaign.yaml --address http://ray-head:8265",
    ),
    "status": (
        "lungscreen status --once --spec campaign.yaml",
        "lungscreen status --store postgresql://lungscreen@db/lungscreen --json",
        "lungscreen status --server https://lungscreen.example --once  # LUNGSCREEN_TOKEN",
    ),
    "report": (
        "lungscreen report north-2027q1 --by region,sex",
        "lungscreen report north-2027q1 --format html --out report.html",
        "lungscreen report north-2027q1 --released --by age_band,sex --format json",
        "lungscreen report north-2027q1 --server https://lungscreen.example --format json  "
        "# LUNGSCREEN_TOKEN",
    ),
    "release measure": (
        "lungscreen release measure north-2027q1 --spec campaign.yaml",
        "lungscreen release measure north-2027q1 --store sqlite:///lungscreen-data/results.db",
    ),
    "recall": (
        "lungscreen recall north-2027q1 --out recall.csv --min-category 4A",
        "lungscreen recall north-2027q1 --out recall.csv --confirmed-only  # read by a reader",
        "lungscreen recall north-2027q1 --technical --out technical.csv  # repeat scan or "
        "manual read",
        "lungscreen recall north-2027q1 --out recall.csv --server https://lungscreen.example "
        "--token-file ~/.lungscreen-token",
    ),
    "review": (
        "lungscreen review north-2027q1  # list the tasks (threshold 3, 5% of negatives)",
        "lungscreen review north-2027q1 --threshold 4A --sample 0.1 --seed 7  # first listing",
        "lungscreen review north-2027q1 --confirm 3f2a9c01",
        "lungscreen review north-2027q1 --change 3f2a9c01 --category 2 --reader dr-lee",
        "lungscreen review north-2027q1 --reject-finding 3f2a9c01 --nodule 2",
    ),
    "export": (
        "lungscreen export north-2027q1 --format sr --out sr-reports/",
        "lungscreen export north-2027q1 --format sr --out sr-reports/ --spec campaign.yaml",
    ),
    "triton serve": ("lungscreen triton serve --grpc-port 8001",),
    "model train": ("lungscreen model train --out weights.pt --phantoms 200 --epochs 8",),
    "model combine": (
        "lungscreen model combine a.pt b.pt --out combined.pt --version 3 --threshold 0.5",
    ),
    "model evaluate": ("lungscreen model evaluate --phantoms 50 --seed 1000001",),
    "model evaluate-rounds": ("lungscreen model evaluate-rounds r1 r2 --oracle",
                              "lungscreen model evaluate-rounds r1 r2 --register --out r.json"),
    "model dump": ("lungscreen model dump a.pt b.pt --phantoms 50 --seed 7 --out dumps",),
    "model tune": ("lungscreen model tune dumps --combos a+b,a --list",),
    "model export": ("lungscreen model export --out exported/",),
    "bench": (
        "lungscreen bench report --runs 3",
        "lungscreen bench release --results 10000,100000 --runs 3",
        "lungscreen bench campaign --backend inprocess --studies 40 --json",
        "lungscreen bench scale --studies 10000 --nodes 2 --json",
    ),
}

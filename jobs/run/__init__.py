"""Running a campaign: shard planning, the driver, the executor (Ray or in-process), the worker.

`lifecycle.run_campaign` is the life cycle (key, store, lease) around the two steps every
run takes, the CLI's, the demo's and the benchmarks' alike: `prepare` (intake, early
results, the plan) and `drive` (the shards to commit), on the backend and executor that
`inference_backend` and `open_executor` open. `planning` is pure; every use of Ray is in
`executor`. `campaign_metrics` (the exporter of a run) and `store_source` (the store as
monitoring reads it) load on first use.
"""

from typing import TYPE_CHECKING

from jobs.run.campaignkey import campaign_key
from jobs.run.driver import DriverSettings
from jobs.run.driving import drive
from jobs.run.lifecycle import CampaignRun, RunOptions, cancel_campaign, default_env, run_campaign
from jobs.run.planning import plan_shards
from jobs.run.prepared import Prepared, prepare
from jobs.run.runtime import inference_backend, open_executor, warm_up
from jobs.run.worker import load_study
from kernel.faces import lazy_names

if TYPE_CHECKING:
    from jobs.run.metrics_exporter import campaign_metrics
    from jobs.run.store_progress import store_source

# the monitoring side (prometheus_client): off the workers' `import jobs.run`
__getattr__ = lazy_names(__name__, {"campaign_metrics": "metrics_exporter",
                                    "store_source": "store_progress"})

__all__ = [
    "CampaignRun",
    "DriverSettings",
    "Prepared",
    "RunOptions",
    "campaign_key",
    "campaign_metrics",
    "cancel_campaign",
    "default_env",
    "drive",
    "inference_backend",
    "load_study",
    "open_executor",
    "plan_shards",
    "prepare",
    "run_campaign",
    "store_source",
    "warm_up",
]

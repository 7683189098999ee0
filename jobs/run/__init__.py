"""Running a campaign: shard planning, the driver, the executor (Ray or in-process), the worker.

`campaign.run_campaign` is the entry point; `planning` is pure; every use of Ray is in
`executor`.
"""

from jobs.run.campaign import CampaignRun, RunOptions, cancel_campaign, run_campaign

__all__ = [
    "CampaignRun",
    "RunOptions",
    "cancel_campaign",
    "run_campaign",
]

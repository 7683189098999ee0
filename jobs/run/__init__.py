"""Running a campaign: shard planning, the driver, the executor (Ray or in-process), the worker.

`campaign.run_campaign` is the entry point; `planning` is pure; every use of Ray is in
`executor`.
"""

__all__: list[str] = []

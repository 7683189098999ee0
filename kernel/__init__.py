"""The kernel: what every layer shares and that imports nothing else of the project.

Errors (`kernel.errors`), reason codes (`kernel.reasons`) and their next steps
(`kernel.next_steps`), domain records (`kernel.records`, `kernel.plans`, `kernel.progress`;
a screen read against its prior: `kernel.rounds`; the reading worklist: `kernel.worklist`),
the model contract (`kernel.contract`), the
Lung-RADS rules (`kernel.lungrads`; with a prior screen, `kernel.followup`), the campaign
observer protocol (`kernel.observer`), the defaults that several layers read
(`kernel.defaults`) and the lazy names of package faces (`kernel.faces`).
"""

from kernel.contract import Nodule, NoduleType
from kernel.errors import BadInput, LungscreenError, LungsNotCovered, PermanentError, RetryableError
from kernel.lungrads import Category, categorize_study
from kernel.observer import CampaignObserver, NullObserver
from kernel.plans import ShardPlan
from kernel.reasons import FileReason, Reason
from kernel.records import Outcome, StudyRecord, StudyResult

__all__ = [
    "BadInput",
    "CampaignObserver",
    "Category",
    "FileReason",
    "LungsNotCovered",
    "LungscreenError",
    "Nodule",
    "NoduleType",
    "NullObserver",
    "Outcome",
    "PermanentError",
    "Reason",
    "RetryableError",
    "ShardPlan",
    "StudyRecord",
    "StudyResult",
    "categorize_study",
]

"""Who the caller is."""

from __future__ import annotations

from fastapi import APIRouter

from jobs.service.deps import Caller, serves
from jobs.service.models import Whoami
from kernel.roles import Role

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["tokens"])


@router.get("/whoami", response_model=Whoami, **serves(*Role))
def whoami(who: Caller) -> Whoami:
    """The token's name and role."""
    return Whoami(name=who.name, role=who.role.value)

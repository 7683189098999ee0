"""Campaign rows of the results store: create or match a campaign, read it, set its state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select, update

from jobs.store import schema as t
from jobs.store.base import StoreBase, utc_now
from jobs.store.engine import mapped_errors
from jobs.store.records import Campaign, CampaignState
from jobs.store.rows import campaign_from_row
from kernel.errors import BadInput

__all__ = ["CampaignTable"]


class CampaignTable(StoreBase):
    """Campaigns: one row each, with the spec digest and key fingerprint they ran with."""

    def ensure_campaign(
        self,
        campaign_id: str,
        *,
        spec_digest: str,
        model_name: str,
        model_version: str,
        key_fingerprint: str | None = None,
        sites: Mapping[str, Sequence[str]] | None = None,
    ) -> Campaign:
        """The campaign, created in state running if new. BadInput if it exists with a
        different spec digest or model (a new campaign needs a new id), or was pseudonymised
        under another key (`Pseudonymizer.fingerprint()`; fail closed: a new key would
        change every pseudonym). `sites` (region -> site codes) is recorded with a new
        campaign: its declared geography (`declared_sites`)."""
        now = utc_now()
        with mapped_errors(self._url, "creating a campaign"), self._writer.begin() as conn:
            self._insert_ignore(
                conn,
                t.campaigns,
                [
                    {
                        "id": campaign_id,
                        "spec_digest": spec_digest,
                        "model_name": model_name,
                        "model_version": str(model_version),
                        "state": CampaignState.RUNNING.value,
                        "key_fingerprint": key_fingerprint,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
            self._insert_ignore(conn, t.campaign_sites, [
                {"campaign_id": campaign_id, "region": region, "site": site}
                for region, codes in (sites or {}).items() for site in codes])
            camp = self._campaign(conn, campaign_id)
            assert camp is not None
            if camp.key_fingerprint is None and key_fingerprint is not None:
                conn.execute(
                    update(t.campaigns)
                    .where(t.campaigns.c.id == campaign_id)
                    .values(key_fingerprint=key_fingerprint)
                )
                camp = self._campaign(conn, campaign_id)
                assert camp is not None
        if key_fingerprint is not None and camp.key_fingerprint != key_fingerprint:
            raise BadInput(
                f"campaign {campaign_id!r} was pseudonymised under the key with fingerprint "
                f"{camp.key_fingerprint}, but the key given has fingerprint {key_fingerprint}: "
                "restore the deployment's original key file (privacy.key_file); a new key "
                "would change every pseudonym"
            )
        for field, want in (
            ("spec_digest", spec_digest),
            ("model_name", model_name),
            ("model_version", str(model_version)),
        ):
            have = getattr(camp, field)
            if have != want:
                raise BadInput(
                    f"campaign {campaign_id!r} already exists with {field} {have!r}, not "
                    f"{want!r}; resume it with its original spec, or give the new campaign "
                    "a new id"
                )
        return camp

    def campaign(self, campaign_id: str) -> Campaign | None:
        with mapped_errors(self._url, "reading a campaign"), self._engine.connect() as conn:
            return self._campaign(conn, campaign_id)

    def declared_sites(self, campaign_id: str) -> dict[str, tuple[str, ...]]:
        """Region -> its declared site codes, as the campaign recorded them at its start;
        empty for a campaign from before declared sites."""
        c = t.campaign_sites.c
        with mapped_errors(self._url, "reading the sites"), self._engine.connect() as conn:
            rows = conn.execute(select(c.region, c.site).where(c.campaign_id == campaign_id)
                                .order_by(c.region, c.site)).all()
        out: dict[str, tuple[str, ...]] = {}
        for region, site in rows:
            out[str(region)] = (*out.get(str(region), ()), str(site))
        return out

    def campaigns(self) -> list[Campaign]:
        """Every campaign in the store, oldest first."""
        with mapped_errors(self._url, "listing campaigns"), self._engine.connect() as conn:
            rows = conn.execute(select(t.campaigns).order_by(t.campaigns.c.created_at))
            return [campaign_from_row(r._mapping) for r in rows]

    def set_state(self, campaign_id: str, state: CampaignState) -> None:
        """Set the campaign's state (and log it to the audit table). BadInput if unknown."""
        state = CampaignState(state)
        with self.write_transaction("setting campaign state") as conn:
            res = conn.execute(
                update(t.campaigns)
                .where(t.campaigns.c.id == campaign_id)
                .values(state=state.value, updated_at=utc_now())
            )
            if res.rowcount == 0:
                raise self._unknown(conn, campaign_id)
            self._audit(conn, campaign_id, "state", {"state": state.value})

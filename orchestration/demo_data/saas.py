"""The demo's SaaS syncs: every stand-in started on 127.0.0.1, the syncs of `saas_syncs/` run against them, and
what each stand-in received reported. `tessera demo` calls it after the pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from reverse_etl.engine import SyncResult, load_syncs, run_syncs
from reverse_etl.standins.base import StandIn
from reverse_etl.standins.braze import BrazeStandIn
from reverse_etl.standins.google_ads import GoogleAdsStandIn
from reverse_etl.standins.hubspot import HubSpotStandIn
from reverse_etl.standins.klaviyo import KlaviyoStandIn
from reverse_etl.standins.mailchimp import MailchimpStandIn
from reverse_etl.standins.meta import MetaStandIn
from reverse_etl.standins.salesforce import SalesforceStandIn
from tessera.settings import consent_purposes, environment

DEMO_SYNCS = Path(__file__).parent / "saas_syncs"
ENV_PREFIX = "TESSERA_DEMO_"
STAND_INS: dict[str, type[StandIn]] = {
    "hubspot": HubSpotStandIn,
    "salesforce": SalesforceStandIn,
    "klaviyo": KlaviyoStandIn,
    "mailchimp": MailchimpStandIn,
    "braze": BrazeStandIn,
    "meta": MetaStandIn,
    "google_ads": GoogleAdsStandIn,
}
# sync destination type -> stand-in
SERVES = {"meta_custom_audience": "meta", "google_ads_customer_match": "google_ads"}


@dataclass
class DemoSync:
    result: SyncResult
    stand_in: str
    requests: int
    throttled: int
    received: str

    def render(self) -> str:
        counts = f"{self.result.sent:,} sent, {self.result.accepted:,} accepted, {self.result.rejected:,} rejected"
        status = self.result.status + (f" ({self.result.error})" if self.result.error else "")
        reasons = "".join(f"\n      rejected {n:,}: {why}" for why, n in self.result.reasons.most_common(3))
        return (
            f"  {self.result.name} -> {self.stand_in}: {status}; {counts}{reasons}\n"
            f"      {self.stand_in} received {self.requests} request(s), {self.throttled} answered as throttled; "
            f"it holds {self.received}"
        )


@contextmanager
def running_stand_ins() -> Iterator[dict[str, StandIn]]:
    """Every stand-in, started, with the TESSERA_DEMO_<NAME>_URL/_TOKEN variables the demo syncs read."""
    with ExitStack() as stack:
        stand_ins = {name: stack.enter_context(cls()) for name, cls in STAND_INS.items()}
        variables = {}
        for name, stand_in in stand_ins.items():
            variables.update(stand_in.environment(f"{ENV_PREFIX}{name.upper()}"))
        with environment(variables):
            yield stand_ins


def sync_to_stand_ins(warehouse: Path, folder: Path = DEMO_SYNCS) -> list[DemoSync]:
    syncs = load_syncs(folder, purposes=consent_purposes())
    with running_stand_ins() as stand_ins:
        results = run_syncs(warehouse, syncs)
        report = []
        for sync, result in zip(syncs, results, strict=True):
            name = SERVES.get(sync.destination_type, sync.destination_type)
            stand_in = stand_ins[name]
            report.append(
                DemoSync(result, name, len(stand_in.requests), stand_in.rejected_for_rate, stand_in.received())
            )
        return report

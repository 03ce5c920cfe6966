"""How good is identity resolution? `customer_source_records` scored against a labelled truth.

The truth is a CSV of `source, record_id, person_id` (the demo generator writes `_truth/identity.csv`; a team with
a hand-labelled sample can write the same). Scores, computed in DuckDB so that millions of records are cheap:

- coverage: the share of labelled records that have a customer at all;
- pairwise precision/recall/F1: over pairs of records, "same customer" against "same person";
- B-cubed precision/recall/F1: per record, how much of its customer is its person and vice versa, averaged;
- over-merged customers (holding records of more than one person), of which those holding two account holders
  (two people with their own shop account: the shared-family case), split persons (spread over more than one
  customer), the largest customer, and the most persons any customer holds;
- the values identity resolution does not link on, by kind (`marts.identity_blocked_values`), for review.

People who asked to be erased are left out: their records leave the marts by design. They are found through the
truth's own labels of erasure requests (`marts.privacy_requests` says which requests were erase requests).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from .terminal import table, text


@dataclass(frozen=True)
class IdentityScores:
    labelled_records: int
    erased_records: int
    matched_records: int
    coverage: float
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    customers: int
    persons: int
    over_merged_customers: int
    customers_with_two_account_holders: int
    split_persons: int
    largest_customer_records: int
    most_persons_in_a_customer: int
    blocked_values: dict[str, int]  # by kind (rule, hot, conflict): marts.identity_blocked_values, for review

    def render(self) -> str:
        rows = [
            ("labelled records", f"{self.labelled_records:,}"),
            ("left out (records of erased people)", f"{self.erased_records:,}"),
            ("coverage", f"{self.coverage:.4f}  ({self.matched_records:,} with a customer)"),
            (
                "pairwise precision / recall / F1",
                _three(self.pairwise_precision, self.pairwise_recall, self.pairwise_f1),
            ),
            ("B-cubed precision / recall / F1", _three(self.bcubed_precision, self.bcubed_recall, self.bcubed_f1)),
            ("customers / persons", f"{self.customers:,} / {self.persons:,}"),
            ("over-merged customers", f"{self.over_merged_customers:,}"),
            ("  of which two account holders", f"{self.customers_with_two_account_holders:,}"),
            ("split persons", f"{self.split_persons:,}"),
            ("largest customer (records)", f"{self.largest_customer_records:,}"),
            ("most persons in one customer", f"{self.most_persons_in_a_customer:,}"),
            (
                "values not linked on",
                ", ".join(f"{count:,} {kind}" for kind, count in sorted(self.blocked_values.items())) or "none",
            ),
        ]
        scores = table("", "")
        scores.show_header = False
        for name, value in rows:
            scores.add_row(name, value)
        return text(scores, indent=2)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _three(a: float, b: float, c: float) -> str:
    return f"{a:.4f} / {b:.4f} / {c:.4f}"


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


SCORES_SQL = """
with labelled as (
    select distinct source, record_id, person_id from read_csv(?, header = true, all_varchar = true)
),
erased_persons as (
    select distinct labelled.person_id
    from labelled
    inner join marts.privacy_requests as requests
        on labelled.source = 'erasure_requests' and requests.request_id = labelled.record_id
    where requests.request_type = 'erase'
),
truth as (
    select * from labelled where person_id not in (select person_id from erased_persons)
),
matched as (
    select truth.source, truth.record_id, truth.person_id, records.customer_id
    from truth
    inner join marts.customer_source_records as records
        on records.source = truth.source and records.source_record_id = truth.record_id
),
cells as (select customer_id, person_id, count(*) as n from matched group by 1, 2),
customer_sizes as (select customer_id, sum(n) as n, count(*) as persons from cells group by 1),
person_sizes as (select person_id, sum(n) as n, count(*) as customers from cells group by 1),
account_holders as (
    select distinct matched.customer_id, matched.person_id
    from matched
    inner join marts.customer_identities as identities
        on identities.customer_id = matched.customer_id and identities.identifier_type = 'user_id'
    inner join intermediate.int_identifiers_extracted as extracted
        on extracted.source = matched.source and extracted.source_record_id = matched.record_id
        and extracted.identifier_type = 'user_id'
)
select
    (select count(*) from truth) as labelled,
    (select count(*) from labelled) - (select count(*) from truth) as erased,
    (select count(*) from matched) as matched,
    (select sum(n * (n - 1) / 2) from cells) as true_positive_pairs,
    (select sum(n * (n - 1) / 2) from customer_sizes) as predicted_pairs,
    (select sum(n * (n - 1) / 2) from person_sizes) as actual_pairs,
    (select sum(cells.n * cells.n / customer_sizes.n) from cells join customer_sizes using (customer_id)) as bcubed_p,
    (select sum(cells.n * cells.n / person_sizes.n) from cells join person_sizes using (person_id)) as bcubed_r,
    (select count(*) from customer_sizes) as customers,
    (select count(*) from person_sizes) as persons,
    (select count(*) from customer_sizes where persons > 1) as over_merged,
    (select count(*) from (select customer_id from account_holders group by 1 having count(*) > 1)) as two_holders,
    (select count(*) from person_sizes where customers > 1) as split_persons,
    (select coalesce(max(n), 0) from customer_sizes) as largest,
    (select coalesce(max(persons), 0) from customer_sizes) as most_persons
"""
BLOCKED_SQL = "select kind, count(*) from marts.identity_blocked_values group by 1"


def evaluate_identity(warehouse: Path, truth: Path) -> IdentityScores:
    """Scores the warehouse's `marts.customer_source_records` against the labelled records in `truth`."""
    if not truth.is_file():
        raise FileNotFoundError(f"{truth}: no truth file (source, record_id, person_id) there")
    if not warehouse.is_file():
        raise FileNotFoundError(f"{warehouse}: no warehouse there; run `tessera run` first")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute(SCORES_SQL, [str(truth)]).fetchone()
        blocked = dict(con.execute(BLOCKED_SQL).fetchall())
    (labelled, erased, matched, true_pairs, predicted_pairs, actual_pairs, bcubed_p, bcubed_r, customers, persons,
     over_merged, two_holders, split_persons, largest, most_persons) = row  # fmt: skip
    pairwise_p = float(true_pairs) / float(predicted_pairs) if predicted_pairs else 1.0
    pairwise_r = float(true_pairs) / float(actual_pairs) if actual_pairs else 1.0
    bcubed_precision = float(bcubed_p) / matched if matched else 0.0
    bcubed_recall = float(bcubed_r) / matched if matched else 0.0
    return IdentityScores(
        labelled_records=labelled,
        erased_records=erased,
        matched_records=matched,
        coverage=matched / labelled if labelled else 0.0,
        pairwise_precision=pairwise_p,
        pairwise_recall=pairwise_r,
        pairwise_f1=_f1(pairwise_p, pairwise_r),
        bcubed_precision=bcubed_precision,
        bcubed_recall=bcubed_recall,
        bcubed_f1=_f1(bcubed_precision, bcubed_recall),
        customers=customers,
        persons=persons,
        over_merged_customers=over_merged,
        customers_with_two_account_holders=two_holders,
        split_persons=split_persons,
        largest_customer_records=largest,
        most_persons_in_a_customer=most_persons,
        blocked_values=blocked,
    )

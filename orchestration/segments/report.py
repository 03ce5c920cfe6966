"""`tessera segments`: what the segments hold now, what the last run changed, how they overlap, how they grew.

For the marketer who asks "how big is my audience and did it move?" and the data team checking a new segment
against the others. Reads marts.segments, segment_memberships and segment_membership_changes; the chart of
sizes over time is rebuilt from the change log (each run that changed something is a point).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from ..terminal import table, text


@dataclass(frozen=True)
class SegmentRow:
    name: str
    kind: str
    consent_purpose: str
    owner: str
    members: int
    entered: int
    exited: int


@dataclass(frozen=True)
class SegmentReport:
    segments: list[SegmentRow]
    last_change_at: datetime | None
    overlaps: dict[tuple[str, str], int]
    sizes_over_time: dict[str, list[tuple[datetime, int]]]

    def render(self) -> str:
        if not self.segments:
            return "No segments yet: add one in segments/*.yml or models/segments/, then `tessera run`."
        when = f"{self.last_change_at:%Y-%m-%d %H:%M} UTC" if self.last_change_at else "never"
        header = ("#", "segment", "kind", "consent", "members", "entered", "exited", "owner")
        rows = [
            (str(i), s.name, s.kind, s.consent_purpose, f"{s.members:,}", f"+{s.entered:,}", f"-{s.exited:,}", s.owner)
            for i, s in enumerate(self.segments, 1)
        ]
        lines = [f"Segments (entered / exited: in the last run that changed any segment, {when})", ""]
        lines += _table(header, rows, right_aligned={0, 4, 5, 6})
        numbers = [str(i) for i in range(1, len(self.segments) + 1)]
        overlap_rows = [
            (str(i), row.name, *(f"{self.overlaps.get((row.name, other.name), 0):,}" for other in self.segments))
            for i, row in enumerate(self.segments, 1)
        ]
        lines += ["", "Overlap (customers in both; the diagonal is the segment's size)", ""]
        lines += _table(("#", "segment", *numbers), overlap_rows, right_aligned={0, *range(2, 2 + len(numbers))})
        return "\n".join(lines)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]], right_aligned: set[int]) -> list[str]:
    made = table(*header, right=right_aligned)
    for row in rows:
        made.add_row(*row)
    return text(made, indent=2).splitlines()


def segment_report(con: duckdb.DuckDBPyConnection) -> SegmentReport:
    """Reads the segment marts through `con` (a read-only connection to the warehouse)."""
    last_run = con.execute(
        "select run_id, changed_at from marts.segment_membership_changes order by changed_at desc limit 1"
    ).fetchone()
    rows = con.execute(
        """
        select
            segments.segment_name, segments.kind, segments.consent_purpose, segments.owner,
            (select count(*) from marts.segment_memberships as m where m.segment_name = segments.segment_name),
            (select count(*) from marts.segment_membership_changes as c
             where c.segment_name = segments.segment_name and c.run_id = $run and c.change = 'entered'),
            (select count(*) from marts.segment_membership_changes as c
             where c.segment_name = segments.segment_name and c.run_id = $run and c.change = 'exited')
        from marts.segments as segments
        order by segments.segment_name
        """,
        {"run": last_run[0] if last_run else ""},
    ).fetchall()
    overlaps = con.execute(
        """
        select a.segment_name, b.segment_name, count(*)
        from marts.segment_memberships as a
        inner join marts.segment_memberships as b on b.customer_id = a.customer_id
        group by 1, 2
        """
    ).fetchall()
    steps = con.execute(
        """
        with per_run as (
            select segment_name, changed_at,
                sum(case when change = 'entered' then 1 else -1 end) as net_change
            from marts.segment_membership_changes
            group by 1, 2
        )
        select segment_name, changed_at,
            sum(net_change) over (partition by segment_name order by changed_at) as members
        from per_run
        order by segment_name, changed_at
        """
    ).fetchall()
    sizes: dict[str, list[tuple[datetime, int]]] = {}
    for name, changed_at, members in steps:
        sizes.setdefault(name, []).append((changed_at, int(members)))
    return SegmentReport(
        segments=[SegmentRow(*row) for row in rows],
        last_change_at=last_run[1] if last_run else None,
        overlaps={(a, b): n for a, b, n in overlaps},
        sizes_over_time=sizes,
    )


def write_size_chart(report: SegmentReport, path: Path) -> Path:
    """A PNG of every segment's size after each run that changed any segment (one line per segment)."""
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    import matplotlib.pyplot as plt

    runs = sorted({at for points in report.sizes_over_time.values() for at, _ in points})
    figure, axes = plt.subplots(figsize=(10, 5.5), dpi=120)
    for segment in report.segments:
        changes = dict(report.sizes_over_time.get(segment.name, []))
        sizes, size = [], 0
        for run in runs:
            size = changes.get(run, size)
            sizes.append(size)
        axes.plot(range(len(runs)), sizes, marker="o", label=segment.name)
    axes.set_xticks(range(len(runs)), [f"{run:%m-%d %H:%M}" for run in runs], rotation=30, ha="right")
    axes.set_xlim(-0.5, max(len(runs) - 0.5, 0.5))
    axes.set_ylim(bottom=0)
    axes.set_title("Segment sizes after each run that changed a segment")
    axes.set_ylabel("members")
    axes.set_xlabel("run (UTC)")
    axes.grid(alpha=0.3)
    if report.segments:
        axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path

"""Figures, the one printed table, and bench/results.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    """One measured figure: runflow's value, the floor's value measured in the same run, and their ratio.

    `ratio` is value / floor. For times, event counts and memory it says how many times the floor runflow costs
    (1.0 = no overhead above bare Temporal / raw SQL); for throughput (`higher_is_better`) it is the share of the
    floor's rate that runflow reaches.
    """

    key: str
    label: str
    value: float
    unit: str
    floor: float | None
    floor_label: str = ""
    higher_is_better: bool = False
    ratio_applies: bool = True
    details: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if not self.ratio_applies or self.floor is None or self.floor == 0:
            return None
        return self.value / self.floor

    def as_json(self) -> dict:
        out = asdict(self)
        out["ratio"] = None if self.ratio is None else round(self.ratio, 3)
        return out


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"


def table(figures: list[Figure]) -> str:
    rows = [("benchmark", "runflow", "floor", "ratio", "unit", "floor is")]
    for f in figures:
        ratio = "-" if f.ratio is None else f"{f.ratio:.2f}x"
        rows.append((f.label, _fmt(f.value), _fmt(f.floor), ratio, f.unit, f.floor_label))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {1, 2, 3}
    lines = []
    for n, row in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=False))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_json(
    path: Path, machine: dict, config: dict, figures: list[Figure], started: str, seconds: float, notes: list[str]
) -> None:
    path.write_text(
        json.dumps(
            {
                "started_at": started,
                "duration_seconds": round(seconds, 1),
                "machine": machine,
                "config": config,
                "notes": notes,
                "figures": [f.as_json() for f in figures],
            },
            indent=2,
            ensure_ascii=False,
            default=str,
        )
        + "\n"
    )

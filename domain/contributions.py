"""The municipalities' contributions: the action plan's rate (kronor per inhabitant) times each one's population on
31 December of the year before, and the year's means (the contributions and the surplus carried over).

Population is reference data in `data/population.yaml` (SCB's "Folkmängd 31 december"), one entry per year of
contributions, with its source and date. Everything here is whole öre: sums are exact, nothing is rounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field

POPULATION_FILE = Path(__file__).parent / "data" / "population.yaml"


class PopulationYear(BaseModel):
    """The population figures the contributions of `year` rest on: as of `as_of` (31 December the year before)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    year: Annotated[int, Field(ge=2000, le=2100)]
    as_of: date
    source: str
    note: str = ""
    population: dict[str, Annotated[int, Field(ge=0, le=10_000_000)]]


class PopulationData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    years: list[PopulationYear]

    def for_year(self, year: int) -> PopulationYear | None:
        """The figures for `year`, or else the latest ones before it (see `YearMeans.exact`); None when there are
        none that old."""
        earlier = [entry for entry in self.years if entry.year <= year]
        return max(earlier, key=lambda entry: entry.year) if earlier else None


def parse_population(text: str) -> PopulationData:
    return PopulationData.model_validate(yaml.safe_load(text))


@lru_cache(maxsize=1)
def default_population() -> PopulationData:
    """The population figures shipped with runflow."""
    return parse_population(POPULATION_FILE.read_text(encoding="utf-8"))


class Contribution(BaseModel):
    model_config = ConfigDict(frozen=True)

    organisation_id: str
    population: int | None  # None: no figure for this municipality
    amount_ore: int


class YearMeans(BaseModel):
    """What the year has to spend: each municipality's contribution, their total, and the surplus carried over."""

    model_config = ConfigDict(frozen=True)

    year: int
    rate_ore: int  # öre per inhabitant
    as_of: date  # the population figures' date
    exact: bool  # False: the figures are an earlier year's (none for this year yet)
    source: str
    contributions: list[Contribution]
    total_ore: int
    carried_over_ore: int
    means_ore: int

    @property
    def population(self) -> int:
        return sum(c.population or 0 for c in self.contributions)

    @property
    def missing(self) -> list[str]:
        """Municipalities without a population figure (they contribute nothing here)."""
        return [c.organisation_id for c in self.contributions if c.population is None]


def contribution_ore(population: int, rate_ore: int) -> int:
    """One municipality's contribution in öre."""
    return population * rate_ore


def contributions(population: dict[str, int], rate_ore: int, municipalities: Sequence[str]) -> list[Contribution]:
    """Each of `municipalities`' contribution, in their order (a municipality without a figure: None, 0 öre)."""
    out = []
    for organisation_id in municipalities:
        count = population.get(organisation_id)
        out.append(
            Contribution(
                organisation_id=organisation_id,
                population=count,
                amount_ore=contribution_ore(count, rate_ore) if count is not None else 0,
            )
        )
    return out


def year_means(
    year: int, rate_ore: int, carried_over_ore: int, figures: PopulationYear, municipalities: Sequence[str]
) -> YearMeans:
    """The year's means: the contributions at `rate_ore` per inhabitant by `figures`, their total, and the total
    with the surplus carried over from the year before (a deficit when negative)."""
    parts = contributions(figures.population, rate_ore, municipalities)
    total = sum(c.amount_ore for c in parts)
    return YearMeans(
        year=year,
        rate_ore=rate_ore,
        as_of=figures.as_of,
        exact=figures.year == year,
        source=figures.source,
        contributions=parts,
        total_ore=total,
        carried_over_ore=carried_over_ore,
        means_ore=total + carried_over_ore,
    )

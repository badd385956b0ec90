"""The municipalities' contributions: the shipped population figures cover RUN's 19 municipalities, and the sums are
exact whatever the figures and the rate."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from domain.contributions import (
    PopulationYear,
    contributions,
    default_population,
    parse_population,
    year_means,
)
from domain.reference import OrganisationKind, default_reference

MUNICIPALITIES = [o.id for o in default_reference().organisations if o.kind is OrganisationKind.MUNICIPALITY]


def test_the_shipped_figures_are_the_19_municipalities_with_their_source():
    figures = default_population().for_year(2020)
    assert figures is not None and figures.year == 2020 and figures.as_of == date(2019, 12, 31)
    assert sorted(figures.population) == sorted(MUNICIPALITIES) and len(MUNICIPALITIES) == 19
    assert "SCB" in figures.source and "31 december 2019" in figures.source
    jamtland = ["berg", "bracke", "harjedalen", "krokom", "ragunda", "stromsund", "are", "ostersund"]
    vasternorrland = ["harnosand", "kramfors", "solleftea", "sundsvall", "timra", "ange", "ornskoldsvik"]
    assert sum(figures.population[m] for m in jamtland) == 130_810  # SCB's county totals, 31 December 2019
    assert sum(figures.population[m] for m in vasternorrland) == 245_347


def test_2020_at_two_kronor_per_inhabitant():
    figures = default_population().for_year(2020)
    means = year_means(2020, 200, 0, figures, MUNICIPALITIES)
    assert means.exact and means.population == 467_631
    assert means.total_ore == 935_262_00 == means.means_ore
    assert [c.organisation_id for c in means.contributions] == MUNICIPALITIES
    sundsvall = next(c for c in means.contributions if c.organisation_id == "sundsvall")
    assert (sundsvall.population, sundsvall.amount_ore) == (99_449, 198_898_00)


def test_a_later_year_uses_the_latest_figures_and_says_so():
    later = year_means(2023, 200, 455_000_00, default_population().for_year(2023), MUNICIPALITIES)
    assert not later.exact and later.as_of == date(2019, 12, 31)
    assert later.means_ore == later.total_ore + 455_000_00
    assert default_population().for_year(2019) is None


def test_a_municipality_without_a_figure_contributes_nothing_and_is_named():
    data = parse_population(
        "years:\n  - year: 2021\n    as_of: 2020-12-31\n    source: x\n    population: {berg: 10}\n"
    )
    means = year_means(2021, 250, -100, data.for_year(2021), ["berg", "bracke"])
    assert means.missing == ["bracke"] and means.total_ore == 2500 and means.means_ore == 2400


populations = st.dictionaries(st.sampled_from(MUNICIPALITIES), st.integers(0, 10_000_000))


@given(populations, st.integers(0, 100_00), st.integers(-100_000_000_00, 100_000_000_00))
def test_the_sums_are_exact(population, rate_ore, carried_over_ore):
    figures = PopulationYear(year=2030, as_of=date(2029, 12, 31), source="test", population=population)
    means = year_means(2030, rate_ore, carried_over_ore, figures, MUNICIPALITIES)
    assert means.total_ore == sum(c.amount_ore for c in means.contributions)
    assert means.total_ore == rate_ore * sum(population.values())
    assert means.means_ore == means.total_ore + carried_over_ore
    assert all(c.amount_ore == (c.population or 0) * rate_ore for c in means.contributions)
    assert set(means.missing) == set(MUNICIPALITIES) - set(population)


@given(populations, st.integers(0, 100_00))
def test_contributions_follow_the_order_given(population, rate_ore):
    order = list(reversed(MUNICIPALITIES))
    assert [c.organisation_id for c in contributions(population, rate_ore, order)] == order

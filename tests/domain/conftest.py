"""Shared fixtures for the domain tests: the example plan, as raw data and parsed."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from domain.lifecycle import LifecyclePlan
from domain.plan import ActivityPlan, PlanError, parse_plan
from domain.reference import ReferenceData, default_reference

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lasa-skriva.yaml"
_EXAMPLE_DATA = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture
def example_path() -> Path:
    return EXAMPLE


@pytest.fixture
def reference() -> ReferenceData:
    return default_reference()


@pytest.fixture
def plan_data() -> dict:
    """A fresh, mutable copy of the example plan as loaded from YAML."""
    return copy.deepcopy(_EXAMPLE_DATA)


@pytest.fixture
def plan(plan_data, reference) -> ActivityPlan:
    return parse_plan(plan_data, reference)


@pytest.fixture
def lifecycle(plan) -> LifecyclePlan:
    return plan.lifecycle()


@pytest.fixture
def problems(reference):
    """problems(data) -> the PlanError problems parse_plan reports (fails if the plan is accepted)."""

    def check(data):
        with pytest.raises(PlanError) as info:
            parse_plan(data, reference)
        assert info.value.problems, "PlanError without problems"
        return info.value.problems

    return check

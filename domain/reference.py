"""Reference data (organisations, target groups, focus areas, contacts) as shipped in data/reference.yaml."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, field_validator

from domain.email_address import parse_email

REFERENCE_FILE = Path(__file__).parent / "data" / "reference.yaml"


class OrganisationKind(StrEnum):
    MUNICIPALITY = "municipality"
    UNIVERSITY = "university"
    AGENCY = "agency"
    REGION = "region"
    ASSOCIATION = "association"
    INDEPENDENT = "independent"


class OrganisationRef(BaseModel):
    id: str
    name: str
    short_name: str
    kind: OrganisationKind
    region: str | None = None


class ContactRef(BaseModel):
    organisation: str
    target_group: str | None = None
    name: str
    email: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return parse_email(value)  # InvalidEmail is a ValueError: pydantic names the contact


class ReferenceData(BaseModel):
    organisations: list[OrganisationRef]
    target_groups: list[str]
    focus_areas: dict[str, list[str]]
    contacts: list[ContactRef] = []

    @property
    def organisation_ids(self) -> set[str]:
        return {o.id for o in self.organisations}

    def organisation(self, org_id: str) -> OrganisationRef | None:
        return next((o for o in self.organisations if o.id == org_id), None)


def parse_reference(text: str) -> ReferenceData:
    return ReferenceData.model_validate(yaml.safe_load(text))


@lru_cache(maxsize=1)
def default_reference() -> ReferenceData:
    """The reference data shipped with runflow (what `db seed` loads into the store)."""
    return parse_reference(REFERENCE_FILE.read_text(encoding="utf-8"))

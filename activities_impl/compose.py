"""Composing the Swedish e-mails from templates: subject on the first line, body after it."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from domain.signed_links import sign, verify
from domain.texts import FORMAT_NAMES, survey_text, when

__all__ = ["FORMAT_NAMES", "Composer", "sign", "survey_text", "verify", "when"]


class Composer:
    def __init__(self, web_base_url: str, secret: str):
        self.web_base_url = web_base_url.rstrip("/")
        self.secret = secret
        self.env = Environment(
            loader=PackageLoader("activities_impl", "templates"),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, template: str, **context: Any) -> tuple[str, str]:
        text = self.env.get_template(f"{template}.txt.j2").render(**context)
        subject, _, body = text.partition("\n")
        return subject.strip(), body.lstrip("\n")

    def activity_url(self, activity_id: str) -> str:
        return f"{self.web_base_url}/a/{activity_id}"

    def withdraw_url(self, registration_id: str) -> str:
        return f"{self.web_base_url}/w/{sign(registration_id, self.secret)}"

    def survey_url(self, token: str) -> str:
        return f"{self.web_base_url}/s/{token}"

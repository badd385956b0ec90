"""What commands print, with the standard library only (the console script's entry prints with it before typer is
imported): one JSON object for programs, and `runflow activity show`'s lines for people, from that same object
(whichever way it was asked)."""

from __future__ import annotations

import json
from typing import Any


def json_text(data: dict[str, Any]) -> str:
    """Exactly one JSON object: what every command prints with `--json`."""
    return json.dumps(data, ensure_ascii=False, default=str)


def activity_lines(data: dict[str, Any]) -> list[str]:
    lines = [
        f"{data['id']}: {data['title']}",
        f"phase: {data['phase']}",
        f"confirmed: {data['confirmed']}/{data['capacity']} (min {data['min_participants']}), "
        f"waitlisted: {data['waitlisted']}, withdrawn: {data['withdrawn']}",
        f"deadline: {data['deadline']}",
    ]
    if data.get("next_due"):
        lines.append(f"next: {data['next_due']['what']} at {data['next_due']['at']}")
    for s in data["sessions"]:
        lines.append(
            f"  session {s['no']}: {s['start']} {s['location']}, attended {s['attended']}, survey {s['survey']}"
        )
    for d in data["decisions"]:
        lines.append(f"  {d['at']} {d['kind']} by {d['by']}: {d['reason']}")
    for c in data["surveys"]:
        lines.append(f"  survey {c['survey']}: {c['answered']}/{c['invited']} answered, {c['reminded']} reminded")
    if data["undeliverable"]:
        lines.append(f"undeliverable e-mails: {len(data['undeliverable'])}")
        lines += [f"  {u['recipient']} ({u['purpose']}): {u['reason']}" for u in data["undeliverable"]]
    return lines


def activity_text(data: dict[str, Any], as_json: bool) -> str:
    """What `activity show` prints: one JSON object, or the lines."""
    return json_text(data) if as_json else "\n".join(activity_lines(data))

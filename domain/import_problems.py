"""A problem found in an imported file (an action plan, a list of costs): where it is, what is wrong, in two languages.

`row` is the row as the file shows it (a spreadsheet's row number, a YAML file's line), None for the file as a whole;
`field` names the column (its Swedish header) or the YAML key path. `code` is for programs, `message` English for
logs and the CLI, `text` the Swedish sentence people read, with the place in it ("Rad 7, budget: ...").
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ImportProblem(BaseModel):
    model_config = ConfigDict(frozen=True)

    row: int | None = None
    field: str
    code: str
    message: str
    text: str
    details: dict[str, Any] = {}

    def __str__(self) -> str:
        where = f"row {self.row}, {self.field}" if self.row is not None else self.field
        return f"{where}: {self.message}"


def problem(row: int | None, field: str, code: str, message: str, text: str, **details: Any) -> ImportProblem:
    """An ImportProblem whose Swedish `text` is prefixed with its place: "Rad 7, budget: <text>"."""
    where = f"Rad {row}, {field}" if row is not None else field[:1].upper() + field[1:]
    return ImportProblem(row=row, field=field, code=code, message=message, text=f"{where}: {text}", details=details)


def summary(problems: list[ImportProblem]) -> str:
    """One line for the CLI: the first problem, and how many more there are."""
    if not problems:
        return ""
    more = len(problems) - 1
    return str(problems[0]) + (f" ({more} more)" if more else "")

"""The `runflow` console script: `activity show` answered by a running web before the command line is built.

Building the command line costs more than answering this command: typer, its click and pydantic (for the
parameters) take ~110 ms to import, runflow's commands module more. `runflow activity show ID [--json]` is what
scripts and people ask most, and a running `runflow web` answers it in a few milliseconds (runflow/web_client.py:
only with the API token and the web's address in the environment, over HTTPS or to this machine). So the entry
looks at the arguments first: exactly that command, in its plain forms (the id, and `--json` before or after it),
goes to the web; every other command line, and every time the web gives no full answer, goes to the command line
as before (runflow.cli), whose `activity show` asks Temporal and the store. The output is the
command's own (runflow/output.py), the same either way.
"""

from __future__ import annotations

import sys


def show_arguments(args: list[str]) -> tuple[str, bool] | None:
    """(activity id, --json) when `args` are `activity show ID` with or without `--json`; None otherwise."""
    if len(args) not in (3, 4) or args[:2] != ["activity", "show"]:
        return None
    rest = args[2:]
    as_json = "--json" in rest
    ids = [a for a in rest if a != "--json"]
    if len(ids) != 1 or len(rest) - len(ids) != int(as_json) or ids[0].startswith("-"):
        return None
    return ids[0], as_json


def _print(text: str) -> None:
    """As the command line prints: a reader that went away (`| head`) ends the command quietly."""
    import os

    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
        sys.exit(1)


def main() -> None:
    shown = show_arguments(sys.argv[1:])
    if shown is not None:
        from runflow.web_client import activity_through_web

        data = activity_through_web(shown[0])
        if data is not None:
            from runflow.output import activity_text

            try:
                text = activity_text(data, shown[1])
            except (KeyError, TypeError, ValueError):  # a web of another version: the direct way
                text = None
            if text is not None:
                _print(text)
                return
    from runflow.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()

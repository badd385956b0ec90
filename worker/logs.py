"""structlog set-up: JSON lines in production, readable console output in dev."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
import temporalio.activity
import temporalio.workflow
from structlog.tracebacks import ExceptionDictTransformer
from structlog.typing import EventDict, Processor, WrappedLogger

TEMPORAL_FIELDS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "activity_id": "temporal_activity_id",
    "activity_type": "activity_type",
    "workflow_type": "workflow_type",
    "attempt": "attempt",
}


def _flatten_temporal(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    """Bind Temporal's ids as top-level fields: workflow_id, run_id, activity type and id."""
    for key in ("temporal_workflow", "temporal_activity"):
        info = event.pop(key, None) or {}
        for source, target in TEMPORAL_FIELDS.items():
            if source in info:
                event.setdefault(target, info[source])
    return event


def configure_logging(fmt: str = "console", level: str = "INFO", stream: TextIO | None = None) -> None:
    # Tracebacks never show local variables (they hold names and addresses): JSON gets the frames as a list,
    # the console a plain traceback.
    renderers: list[Processor]
    if fmt == "json":
        renderers = [
            structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False)),
            structlog.processors.JSONRenderer(),
        ]
    else:
        renderers = [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)]
    # Temporal's workflow/activity loggers put their ids in `extra`; keep them as fields, not in the message.
    temporalio.workflow.logger.workflow_info_on_message = False
    temporalio.activity.logger.activity_info_on_message = False
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.ExtraAdder(allow=("temporal_workflow", "temporal_activity")),
        _flatten_temporal,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderers],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiosmtpd", "mail.log", "uvicorn.access", "alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

"""Logging set-up for ``mcu serve``: one line per event on stderr, secrets redacted."""

from __future__ import annotations

import logging
import sys

from gateway.log import format_value, log_event, redact

__all__ = ["configure_logging", "log_event"]


class _LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = redact(record.getMessage()).replace("\n", "\\n")
        stamp = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
        line = f"{stamp} {record.levelname} {record.name} {message}"
        if record.exc_info:
            trace = self.formatException(record.exc_info).replace("\n", "\\n")
            line += " exc=" + format_value(trace)
        return line


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

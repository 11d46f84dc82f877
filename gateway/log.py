"""Structured logging: one line per event, ``key=value`` fields, secrets redacted.

Call sites use ``log_event(logger, "event.name", field=value, ...)``. Fields whose
name says they are secret (pin, password, token, credentials...) are never printed,
and ``user:password@`` in URLs is masked, so a careless call site cannot leak them.
Lives in ``gateway`` because both layers log and imports point from mcu to gateway.
"""

from __future__ import annotations

import logging
import re

_SECRET_FIELDS = re.compile(r"(pin|password|passwd|secret|token|credential|authorization)", re.I)
_URL_CREDENTIALS = re.compile(r"(://)[^/@\s:]+:[^/@\s]+@")


def redact(text: str) -> str:
    return _URL_CREDENTIALS.sub(r"\1***:***@", text)


def format_value(value: object) -> str:
    text = redact(str(value))
    if not text or any(c in text for c in ' ="'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields: object):
    if not logger.isEnabledFor(level):
        return
    parts = [event]
    for name, value in fields.items():
        shown = "***" if _SECRET_FIELDS.search(name) else format_value(value)
        parts.append(f"{name}={shown}")
    logger.log(level, " ".join(parts))

"""The web control layer: JSON API under /api/v1 and server-rendered pages.

`create_app(store, live)` builds the FastAPI application; `WebServer` runs it with
uvicorn inside the MCU's own event loop. Every request is decided by
`mcu.permissions.authorize` (see `access.require`), and every change is audited.
"""

from __future__ import annotations

from mcu.control.app import create_app
from mcu.control.server import WebServer

__all__ = ["WebServer", "create_app"]

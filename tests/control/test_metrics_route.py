"""GET /metrics: what the live MCU renders, without a session (as Prometheus scrapes)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.control.fakes import FakeLive


async def test_metrics_need_no_session_and_are_prometheus_text(
        client: httpx.AsyncClient, live: FakeLive) -> None:
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert families["mcu_conferences"].samples[0].value == 1
    assert ("metrics",) in live.calls


async def test_metrics_are_not_in_the_api_documentation(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert "/metrics" not in spec["paths"]

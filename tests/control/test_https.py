"""WebServer with a TLS identity: HTTPS only (TLS 1.2+), the identity's certificate,
HSTS on every answer, Secure session cookies; plain HTTP keeps neither, and warns
when bound beyond loopback. The start-up line names the fingerprint, never the key."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from gateway.tls import TlsIdentity, TlsSettings, load_identity
from mcu.control import WebServer, create_app
from mcu.control.access import SESSION_COOKIE
from mcu.control.hsts import StrictTransportSecurity
from mcu.store import Store
from tests.control.conftest import ADMIN_PASSWORD
from tests.control.fakes import FakeLive

HSTS = "max-age=31536000"


@pytest.fixture
def identity(tmp_path: Path) -> TlsIdentity:
    return load_identity(TlsSettings(directory=str(tmp_path / "tls")))


@pytest.fixture
async def app(store: Store) -> FastAPI:
    return create_app(store, FakeLive())


@pytest.fixture
async def https_server(app: FastAPI, identity: TlsIdentity) -> AsyncIterator[WebServer]:
    server = WebServer(graceful_shutdown_s=1.0)
    await server.start(app, "127.0.0.1", 0, identity)
    try:
        yield server
    finally:
        await server.stop()


def trusting(identity: TlsIdentity) -> ssl.SSLContext:
    """A client that trusts exactly the identity's certificate (and checks the name)."""
    return ssl.create_default_context(cafile=str(identity.certificate))


async def log_in(client: httpx.AsyncClient) -> httpx.Response:
    form = await client.get("/login")
    csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return await client.post("/login", data={"csrf_token": csrf, "username": "admin",
                                             "password": ADMIN_PASSWORD, "next": "/"})


async def test_https_serves_the_identity_with_hsts_and_secure_cookies(
    https_server: WebServer, identity: TlsIdentity
) -> None:
    assert https_server.scheme == "https"
    base = f"https://127.0.0.1:{https_server.port}"
    async with httpx.AsyncClient(base_url=base, verify=trusting(identity)) as client:
        answer = await log_in(client)
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        assert answer.headers["strict-transport-security"] == HSTS
        session = [c for c in answer.headers.get_list("set-cookie")
                   if c.startswith(f"{SESSION_COOKIE}=")]
        assert len(session) == 1 and "; secure" in session[0].lower(), session
        for path in ("/", "/api/v1/users", "/metrics", "/no-such-page", "/static/control.css"):
            got = await client.get(path)
            assert got.headers.get("strict-transport-security") == HSTS, path


async def test_tls_1_2_at_least_and_plain_http_refused(
    https_server: WebServer, identity: TlsIdentity
) -> None:
    # The identity's context (TLS 1.2 minimum) is the one serving.
    served = https_server._server.config.ssl  # type: ignore[union-attr]
    assert served.minimum_version == ssl.TLSVersion.TLSv1_2
    tls12 = trusting(identity)
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    async with httpx.AsyncClient(verify=tls12) as client:
        got = await client.get(f"https://127.0.0.1:{https_server.port}/login")
        assert got.status_code == 200
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.HTTPError):  # the server answers a ClientHello, not HTTP
            await client.get(f"http://127.0.0.1:{https_server.port}/login")
    async with httpx.AsyncClient(verify=trusting(identity)) as client:  # still serving
        got = await client.get(f"https://127.0.0.1:{https_server.port}/login")
        assert got.status_code == 200


async def test_plain_http_has_no_hsts_and_no_secure_cookie(app: FastAPI) -> None:
    server = WebServer(graceful_shutdown_s=1.0)
    await server.start(app, "127.0.0.1", 0)
    try:
        assert server.scheme == "http"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            answer = await log_in(client)
            assert answer.status_code == 303
            assert "strict-transport-security" not in answer.headers
            assert not any("secure" in c.lower() for c in answer.headers.get_list("set-cookie"))
            assert "strict-transport-security" not in (await client.get("/")).headers
    finally:
        await server.stop()


async def test_the_start_up_line_names_the_fingerprint_never_the_key(
    app: FastAPI, identity: TlsIdentity, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcu.control")
    server = WebServer(graceful_shutdown_s=1.0)
    await server.start(app, "127.0.0.1", 0, identity)
    await server.stop()
    line = next(r.getMessage() for r in caplog.records
                if r.getMessage().startswith("control.http.listening"))
    assert "scheme=https" in line and identity.fingerprint in line
    key_lines = identity.private_key.read_text().splitlines()[1:-1]
    assert key_lines and not any(part in caplog.text for part in key_lines)
    assert "PRIVATE KEY" not in caplog.text


async def test_plain_http_beyond_loopback_warns(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcu.control")
    for host, warned in (("127.0.0.1", False), ("0.0.0.0", True)):
        caplog.clear()
        server = WebServer(graceful_shutdown_s=1.0)
        await server.start(app, host, 0)
        await server.stop()
        assert ("control.http.plaintext" in caplog.text) is warned, host


async def test_hsts_replaces_a_header_the_app_set() -> None:
    sent: list[dict[str, object]] = []

    async def inner(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                    "headers": [(b"Strict-Transport-Security", b"max-age=1")]})

    async def record(message: dict[str, object]) -> None:
        sent.append(message)

    await StrictTransportSecurity(inner)({"type": "http"}, None, record)  # type: ignore[arg-type]
    assert sent[0]["headers"] == [(b"strict-transport-security", HSTS.encode())]

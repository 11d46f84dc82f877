"""HTTPS for the web control end to end (issue 16, parts 4 and 5).

A real MCU with ``http.tls = true`` and a generated certificate: headless Chromium logs
in over https, its session cookie is Secure and every answer carries HSTS; httpx that
trusts only the generated certificate reaches the same server (so the certificate
served is the identity's); plain HTTP to that port gets no page. A mismatched
certificate and key stop ``mcu serve`` with exit status 2 and an error naming the
setting. The private key's PEM body appears in none of the logs, pages, API answers or
audit rows of the run.
"""

from __future__ import annotations

import datetime
import logging
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.tls import GENERATED_CERTIFICATE, GENERATED_KEY, _generate, load_identity
from mcu.control.access import SESSION_COOKIE
from tests.peers.baresip import free_sip_port
from tests.system_deps import optional_module, require_browser

sync_api: Any = optional_module("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
HSTS = "max-age=31536000"
NOW = datetime.datetime.now(datetime.UTC)
REPO = Path(__file__).resolve().parents[2]
PAGES = ("/", "/records", "/audit", "/users", "/users/admin")
API = ("/api/v1/users", "/api/v1/audit", "/api/v1/cdr", "/api/v1/conferences",
       "/api/v1/openapi.json", "/metrics")


def key_body(path: Path) -> list[str]:
    """The base64 lines of a PEM private key (what must never be shown)."""
    lines = path.read_text().splitlines()
    assert lines[0].startswith("-----BEGIN") and len(lines) > 2
    return lines[1:-1]


def assert_no_key(where: str, text: str, body: list[str]) -> None:
    leaked = [line for line in body if line in text]
    assert not leaked, f"the private key appears in {where}"
    assert "PRIVATE KEY-----" not in text, where


def chromium_log_in(browser: Any, base: str, password: str) -> tuple[Any, list[str]]:
    """Log in as admin in a fresh context; the HSTS values of the documents it loaded."""
    context = browser.new_context(ignore_https_errors=True)  # self-signed certificate
    page = context.new_page()
    hsts: list[str] = []
    page.on("response", lambda r: hsts.append(r.headers.get("strict-transport-security", "")))
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", password)
    page.click("button[data-action=login]")
    page.wait_for_url(f"{base}/")
    return page, hsts


def test_chromium_logs_in_over_https(start_mcu, tmp_path: Path, caplog, capsys) -> None:
    require_browser(CHROMIUM)
    caplog.set_level(logging.INFO)
    folder = tmp_path / "tls"
    mcu = start_mcu(http={"tls": True}, tls={"directory": str(folder)})
    store = mcu.mcu.store
    password = store.generated_admin_password
    assert mcu.mcu.web.scheme == "https"
    base = f"https://127.0.0.1:{mcu.mcu.web.port}"
    identity = load_identity(mcu.settings.tls)  # the files generated at start, reused
    assert identity.generated and identity.certificate == folder / GENERATED_CERTIFICATE
    shown: list[tuple[str, str]] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page, hsts = chromium_log_in(browser, base, password)
            sync_api.expect(page.locator("button[data-action=logout]")).to_have_count(1)
            assert hsts and all(value == HSTS for value in hsts), hsts
            cookies = {c["name"]: c for c in page.context.cookies()}
            session = cookies[SESSION_COOKIE]
            assert session["secure"] and session["httpOnly"], session
            for path in PAGES:
                response = page.goto(f"{base}{path}")
                assert response is not None and response.status == 200, path
                assert response.headers["strict-transport-security"] == HSTS, path
                shown.append((f"page {path}", page.content()))
            token = session["value"]
        finally:
            browser.close()

    # A client that trusts only the generated certificate, checking the name too.
    trust = ssl.create_default_context(cafile=str(identity.certificate))
    with httpx.Client(base_url=base, verify=trust, cookies={SESSION_COOKIE: token}) as client:
        for path in API:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["strict-transport-security"] == HSTS, path
            shown.append((f"API {path}", answer.text))
    with httpx.Client() as client, pytest.raises(httpx.HTTPError):
        client.get(f"http://127.0.0.1:{mcu.mcu.web.port}/login")

    audit = mcu.run(store.list_audit(limit=1000))
    assert any(row.operation == "login" and row.outcome == "ok" for row in audit)
    shown.append(("audit rows", "\n".join(repr(row) for row in audit)))
    listening = [r.getMessage() for r in caplog.records
                 if r.getMessage().startswith("control.http.listening")]
    assert listening and "scheme=https" in listening[0]
    assert identity.fingerprint in listening[0]
    shown += [("logs", caplog.text), ("output", "".join(capsys.readouterr()))]
    body = key_body(folder / GENERATED_KEY)
    for where, text in shown:
        assert_no_key(where, text, body)


def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`mcu serve` (this checkout's) with only these settings, expected to stop at once."""
    base = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(REPO),
        "MCU_SIP__PORT": str(free_sip_port()),
        "MCU_SIP__TLS_PORT": "0",  # SIP over TLS on any free port
        "MCU_HTTP__PORT": "0",
        "MCU_RTSP__PORT": "0",
        "MCU_H323__PORT": "0",
        "MCU_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/mcu.db",
        "MCU_TLS__DIRECTORY": str(tmp_path / "generated"),
    }
    return subprocess.run([sys.executable, "-m", "mcu.cli", "serve"], cwd=tmp_path,
                          env=base | env, capture_output=True, text=True, timeout=60)


def test_a_bad_certificate_setting_stops_serve_naming_it(tmp_path: Path) -> None:
    one, other = tmp_path / "one", tmp_path / "other"
    _generate(one / "cert.pem", one / "key.pem", NOW)
    _generate(other / "cert.pem", other / "key.pem", NOW)
    body = key_body(other / "key.pem") + key_body(one / "key.pem")
    cases = [
        ({"MCU_TLS__CERTIFICATE": str(one / "cert.pem"),
          "MCU_TLS__PRIVATE_KEY": str(other / "key.pem")}, "tls.private_key"),
        ({"MCU_TLS__CERTIFICATE": str(tmp_path / "missing.pem"),
          "MCU_TLS__PRIVATE_KEY": str(one / "key.pem")}, "tls.certificate"),
        ({"MCU_TLS__CERTIFICATE": str(one / "key.pem"),
          "MCU_TLS__PRIVATE_KEY": str(one / "key.pem")}, "tls.certificate"),
        ({"MCU_TLS__CERTIFICATE": str(one / "cert.pem")}, "tls.private_key"),
    ]
    for env, setting in cases:
        done = serve(tmp_path, MCU_HTTP__TLS="true", **env)
        assert done.returncode == 2, (env, done.stdout, done.stderr)
        assert "mcu: invalid settings" in done.stderr and setting in done.stderr, done.stderr
        assert_no_key("mcu serve's output", done.stdout + done.stderr, body)

"""The TLS identity: generated once and reused, or the configured pair checked; every
unusable certificate or key names the setting at fault, never the key's bytes."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.tls import (
    GENERATED_CERTIFICATE,
    GENERATED_KEY,
    TlsSettings,
    TlsSettingsError,
    _generate,
    client_context,
    load_identity,
)

NOW = datetime.datetime(2026, 12, 4, tzinfo=datetime.UTC)


def test_a_self_signed_pair_is_generated_once_then_reused(tmp_path: Path) -> None:
    settings = TlsSettings(directory=str(tmp_path / "tls"))
    first = load_identity(settings, NOW)
    assert first.generated and first.certificate.name == GENERATED_CERTIFICATE
    assert first.private_key.stat().st_mode & 0o777 == 0o600
    assert first.fingerprint.startswith("SHA-256 ") and len(first.fingerprint) == 8 + 95
    again = load_identity(settings, NOW)
    assert again.fingerprint == first.fingerprint  # the same files, not a new pair
    assert isinstance(first.server_context(), ssl.SSLContext)
    assert first.server_context().minimum_version == ssl.TLSVersion.TLSv1_2
    assert client_context().verify_mode == ssl.CERT_NONE
    assert client_context(verify=True).verify_mode == ssl.CERT_REQUIRED


def test_configured_files_are_checked_naming_the_setting(tmp_path: Path) -> None:
    good, other = tmp_path / "good", tmp_path / "other"
    _generate(good / "c.pem", good / "k.pem", NOW)
    _generate(other / "c.pem", other / "k.pem", NOW)
    ok = load_identity(TlsSettings(certificate=str(good / "c.pem"),
                                   private_key=str(good / "k.pem")), NOW)
    assert not ok.generated
    cases = [
        (good / "c.pem", other / "k.pem", NOW, "tls.private_key", "is not the key of"),
        (good / "missing.pem", good / "k.pem", NOW, "tls.certificate", "cannot read"),
        (good / "k.pem", good / "k.pem", NOW, "tls.certificate", "not a PEM certificate"),
        (good / "c.pem", good / "c.pem", NOW, "tls.private_key", "not an unencrypted PEM"),
        (good / "c.pem", good / "k.pem", NOW + datetime.timedelta(days=4000),
         "tls.certificate", "expired"),
        (good / "c.pem", good / "k.pem", NOW - datetime.timedelta(days=3),
         "tls.certificate", "not valid before"),
    ]
    secret = (good / "k.pem").read_text().splitlines()[1]
    for cert, key, when, setting, problem in cases:
        with pytest.raises(TlsSettingsError) as error:
            load_identity(TlsSettings(certificate=str(cert), private_key=str(key)), when)
        assert error.value.setting == setting and problem in str(error.value)
        assert str(error.value).startswith(setting) and secret not in str(error.value)


def test_certificate_and_key_go_together() -> None:
    with pytest.raises(ValidationError, match="tls.private_key"):
        TlsSettings(certificate="/x.pem")
    with pytest.raises(ValidationError, match="tls.certificate"):
        TlsSettings(private_key="/x.pem")


def test_an_unwritable_directory_names_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TlsSettingsError, match="^tls.directory"):
        load_identity(TlsSettings(directory=str(blocker / "tls")), NOW)
    assert not (blocker.parent / GENERATED_KEY).exists()

"""The cluster's settings (issue 18): defaults work on one machine; a cluster needs a
shared PostgreSQL store and a lease that outlives a lost heartbeat; each a start-up
error naming the setting."""

from __future__ import annotations

import socket

import pytest
from pydantic import ValidationError

from mcu.settings import ClusterSettings, Settings

PG = "postgresql+asyncpg://mcu@192.0.2.10/mcu"


def test_off_by_default_and_named_after_the_host() -> None:
    settings = Settings()
    assert settings.cluster.enabled is False
    assert settings.cluster.name() == socket.gethostname()
    assert settings.cluster.address("0.0.0.0") == "127.0.0.1"
    assert settings.cluster.address("192.0.2.7") == "192.0.2.7"
    assert ClusterSettings(advertised_address="mcu-a.example").address("0.0.0.0") == (
        "mcu-a.example")


def test_a_cluster_on_sqlite_stops_start_up() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(cluster={"enabled": True})
    assert "cluster.enabled" in str(error.value) and "database.url" in str(error.value)
    assert Settings(cluster={"enabled": True}, database={"url": PG}).cluster.enabled


@pytest.mark.parametrize(("section", "named"), [
    ({"heartbeat_s": 5, "lease_s": 8}, "cluster.lease_s"),
    ({"node_id": "a b"}, "node_id"),
    ({"heartbeat_s": 0}, "heartbeat_s"),
])
def test_bad_values_name_the_setting(section: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(cluster=section, database={"url": PG})
    assert named in str(error.value)


def test_the_environment_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCU_CLUSTER__ENABLED", "true")
    monkeypatch.setenv("MCU_CLUSTER__NODE_ID", "node-7")
    monkeypatch.setenv("MCU_DATABASE__URL", PG)
    settings = Settings()
    assert (settings.cluster.enabled, settings.cluster.name()) == (True, "node-7")

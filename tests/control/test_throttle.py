"""LoginThrottle on a fake clock, then through POST /api/v1/auth/token and the /login form."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from mcu.control import create_app
from mcu.control.throttle import LoginThrottle
from mcu.store import Store, passwords
from tests.control.conftest import ADMIN_PASSWORD, PASSWORD
from tests.control.fakes import FakeLive

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(throttle: LoginThrottle, source: str, times: int) -> None:
    for _ in range(times):
        assert throttle.begin(source).allowed


# Sans-IO -------------------------------------------------------------------


def test_eleventh_failure_in_window_is_refused_for_the_lockout() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(limit=10, window=300, lockout=120, clock=clock)
    fail(throttle, "192.0.2.1", 10)
    refused = throttle.begin("192.0.2.1")
    assert (refused.allowed, refused.retry_after, refused.lockout_started) == (False, 120, True)
    clock.now += 100.5
    again = throttle.begin("192.0.2.1")
    assert (again.allowed, again.retry_after, again.lockout_started) == (False, 20, False)
    assert throttle.retry_after("192.0.2.1") == 20
    clock.now += 20
    assert throttle.retry_after("192.0.2.1") == 0
    # After the lockout a fresh allowance of `limit` attempts.
    fail(throttle, "192.0.2.1", 10)
    assert not throttle.begin("192.0.2.1").allowed


def test_sources_are_independent() -> None:
    throttle = LoginThrottle(limit=3, clock=FakeClock())
    fail(throttle, "192.0.2.1", 3)
    assert not throttle.begin("192.0.2.1").allowed
    assert throttle.begin("192.0.2.2").allowed


def test_failures_older_than_the_window_expire() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(limit=3, window=300, clock=clock)
    fail(throttle, "a", 2)
    clock.now += 200
    fail(throttle, "a", 1)
    clock.now += 100  # the first two are now exactly window old: gone
    assert throttle.failures("a") == 1
    fail(throttle, "a", 2)
    assert not throttle.begin("a").allowed


def test_success_uncounts_only_itself_and_resets_nothing() -> None:
    throttle = LoginThrottle(limit=3, clock=FakeClock())
    fail(throttle, "a", 2)
    assert throttle.begin("a").allowed
    throttle.succeeded("a")
    assert throttle.failures("a") == 2  # the two failures before it stay
    fail(throttle, "a", 1)
    assert not throttle.begin("a").allowed


def test_success_during_lockout_changes_nothing() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(limit=1, lockout=60, clock=clock)
    fail(throttle, "a", 1)
    assert not throttle.begin("a").allowed
    throttle.succeeded("a")
    assert throttle.retry_after("a") == 60


def test_parallel_attempts_are_counted_before_their_outcome() -> None:
    # Ten guesses started together, none finished: the eleventh is refused already.
    throttle = LoginThrottle(limit=10, clock=FakeClock())
    admitted = [throttle.begin("a").allowed for _ in range(11)]
    assert admitted == [True] * 10 + [False]


def test_memory_is_bounded() -> None:
    clock = FakeClock()
    throttle = LoginThrottle(limit=2, max_sources=3, clock=clock)
    for i in range(10):
        clock.now += 1
        throttle.begin(f"198.51.100.{i}")
    assert len(throttle._sources) <= 3
    assert throttle.failures("198.51.100.9") == 1  # the newest kept


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        LoginThrottle(limit=0)
    with pytest.raises(ValueError):
        LoginThrottle(window=0)


# Through the app ---------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def app_and_throttle(
    store: Store, live: FakeLive, clock: FakeClock
) -> tuple[FastAPI, LoginThrottle]:
    throttle = LoginThrottle(limit=10, window=300, lockout=300, clock=clock)
    return create_app(store, live, throttle=throttle), throttle


def client_from(app: FastAPI, host: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def attacker(
    app_and_throttle: tuple[FastAPI, LoginThrottle],
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_from(app_and_throttle[0], "203.0.113.7") as c:
        yield c


async def token(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )


async def test_api_429_after_ten_failures_with_retry_after(
    attacker: httpx.AsyncClient,
    app_and_throttle: tuple[FastAPI, LoginThrottle],
    clock: FakeClock,
    store: Store,
) -> None:
    for i in range(10):
        # Known and unknown usernames count alike.
        r = await token(attacker, "admin" if i % 2 else f"nobody{i}", "wrong")
        assert r.status_code == 401
    r = await token(attacker, "admin", ADMIN_PASSWORD)  # even the right password
    assert r.status_code == 429
    assert r.headers["retry-after"] == "300"
    assert r.json()["detail"] == "too many failed logins; try again later"
    assert "access_token" not in r.json()
    outcomes = [a.outcome for a in await store.list_audit(limit=3)]
    assert outcomes[0] == "throttled: 300s lockout"
    # Another source is unaffected.
    async with client_from(app_and_throttle[0], "198.51.100.1") as other:
        assert (await token(other, "admin", ADMIN_PASSWORD)).status_code == 200
    clock.now += 299
    r = await token(attacker, "admin", ADMIN_PASSWORD)
    assert (r.status_code, r.headers["retry-after"]) == (429, "1")
    clock.now += 1
    assert (await token(attacker, "admin", ADMIN_PASSWORD)).status_code == 200


async def test_successes_do_not_reset(attacker: httpx.AsyncClient) -> None:
    for _ in range(9):
        assert (await token(attacker, "admin", "wrong")).status_code == 401
    assert (await token(attacker, "conference_detail", PASSWORD)).status_code == 200
    assert (await token(attacker, "admin", "wrong")).status_code == 401  # the tenth
    assert (await token(attacker, "admin", ADMIN_PASSWORD)).status_code == 429


async def test_malformed_bodies_are_not_counted(attacker: httpx.AsyncClient) -> None:
    for _ in range(20):
        assert (await attacker.post("/api/v1/auth/token", json={"x": 1})).status_code == 422
    assert (await token(attacker, "admin", ADMIN_PASSWORD)).status_code == 200


async def _login_form(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    form = await client.get("/login")
    found = CSRF.search(form.text)
    assert found
    return await client.post(
        "/login",
        data={"csrf_token": found.group(1), "username": username, "password": password},
    )


async def test_login_form_shares_the_count_and_answers_429(
    attacker: httpx.AsyncClient, clock: FakeClock
) -> None:
    for _ in range(5):
        assert (await token(attacker, "admin", "wrong")).status_code == 401
    for _ in range(5):
        assert (await _login_form(attacker, "admin", "wrong")).status_code == 401
    r = await _login_form(attacker, "admin", ADMIN_PASSWORD)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "300"
    assert "Too many failed logins" in r.text
    assert "mcu_session" not in attacker.cookies
    clock.now += 300
    assert (await _login_form(attacker, "admin", ADMIN_PASSWORD)).status_code == 303


async def test_default_app_throttles_too(client: httpx.AsyncClient) -> None:
    for _ in range(10):
        assert (await token(client, "admin", "wrong")).status_code == 401
    r = await token(client, "admin", ADMIN_PASSWORD)
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


# Wrong password: same answer, same work, whether or not the user exists ----------------


@pytest.fixture
def real_cost_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """argon2 at its default cost, so the hash dominates the time of a login."""
    monkeypatch.setattr(passwords, "_hasher", PasswordHasher())
    passwords.dummy_hash.cache_clear()
    yield
    passwords.dummy_hash.cache_clear()  # the next test's hasher makes its own dummy


async def test_unknown_user_costs_one_real_verify_like_a_known_one(
    store: Store, live: FakeLive, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    real_verify = passwords.verify_hash

    def counting(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_hash", counting)
    async with client_from(create_app(store, live), "192.0.2.50") as client:
        known = await token(client, "admin", "wrong")
        assert len(verified) == 1
        unknown = await token(client, "no-such-user", "wrong")
        assert len(verified) == 2
    assert known.status_code == unknown.status_code == 401
    assert known.json() == unknown.json()
    assert known.headers.keys() == unknown.headers.keys()
    # The unknown user was checked against the dummy: a real argon2 hash of the same kind.
    assert verified[1] == passwords.dummy_hash()
    assert verified[0].split("$")[1] == verified[1].split("$")[1] == "argon2id"
    assert verified[0] != verified[1]


async def test_wrong_password_timing_roughly_equal(
    store: Store, live: FakeLive, real_cost_hashes: None
) -> None:
    await store.create_user("timed", "the-right-one", "conference_detail")
    passwords.dummy_hash()  # made at start in production (open_store), not on first use
    app = create_app(store, live, throttle=LoginThrottle(limit=1000))
    known: list[float] = []
    unknown: list[float] = []
    async with client_from(app, "192.0.2.51") as client:
        await token(client, "timed", "warm-up")
        for _ in range(7):
            for name, times in (("timed", known), ("nobody-here", unknown)):
                start = time.perf_counter()
                r = await token(client, name, "wrong")
                times.append(time.perf_counter() - start)
                assert r.status_code == 401
    ratio = statistics.median(unknown) / statistics.median(known)
    # Generous: the hash is tens of ms; a missing dummy hash would make this ~0.05.
    assert 1 / 3 < ratio < 3, (known, unknown)

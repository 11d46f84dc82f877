"""A real Kamailio 5.6 (Debian package ``kamailio``) as registrar, digest authenticator
and stateful proxy for the tests, on loopback only, one instance per test.

``kamailio(tmp_path, users={"mcu": "pw1", "alice": "pw2"})`` writes ``kamailio.cfg`` and a
db_text database (``version``, ``subscriber``, ``location``) into a folder of its own,
runs ``kamailio -f CFG -DD -E`` with its stderr in ``kamailio.log``, and yields a
:class:`Kamailio` that knows its address, realm and users, reads the location table and
stops it with SIGTERM.  Several instances run side by side (own port, run dir, pid file).

Routing (``request_route`` in :func:`config_text`):

- Max-Forwards is checked first: 0 gets ``483 Too Many Hops`` (a missing header is added).
- In-dialog requests (To tag): ``loose_route()`` then ``t_relay()``; an in-dialog ACK or
  request without Route that matches a transaction is relayed, anything else gets 404.
- CANCEL is relayed when it matches a transaction.
- REGISTER for the realm: an unknown To user gets 403 at once; no or wrong credentials get
  a ``401`` challenge (``www_authorize(REALM, "subscriber")``, passwords in clear text,
  ``calculate_ha1``); credentials of another user than the To user get 403; then
  ``save("location")``.  A REGISTER for another domain gets 403.
- Every other initial request is record-routed.  One whose From domain is the realm must
  carry proxy credentials (``407``, ``proxy_authorize``) unless it comes from a trusted IP
  (``trusted=``); so must one from a ``challenged=`` IP whatever its From (a trunk such as
  the MCU, whose From is a conference number at its own address, authenticates as its
  account: the auth user need not be the From user there).  For the proxy's own domains
  (the realm, the listen IP) the R-URI user is
  looked up in the location table; when not registered and the user matches
  ``static_pattern`` (digits by default) and ``static_target`` is set, the R-URI becomes
  ``sip:USER@<static_target host:port>``; otherwise 404.  Requests for other domains are
  relayed as addressed (the outbound-proxy case).

Kamailio traps hit while building this (5.6.3):

- ``/usr/sbin`` is not on a non-root user's PATH: the binary is looked for there too.
- ``-D`` alone means "do not fork (almost) at all"; ``-DD`` keeps the main process in
  the foreground but still forks the ``children``; ``-E`` sends the log to stderr, the
  only log there is (no syslog in a test).  SIGTERM to the main process stops them all.
- ``-Y`` (runtime dir) and ``-P`` (pid file) must be per instance, or a second instance
  collides with the first; no ``ctl``/``jsonrpcs`` module is loaded, so there is no FIFO
  or control socket either (and no ``kamctl``/``kamcmd``).
- db_text keeps its tables in memory and writes them to disk only at shutdown, even with
  usrloc ``db_mode=1`` (write-through goes to db_text's memory): the ``location`` file is
  only complete after :meth:`Kamailio.stop`.  Live registrations are asked of Kamailio
  itself: an OPTIONS with ``X-Location-Query: USER`` that the script answers with
  ``reg_fetch_contacts`` (:meth:`Kamailio.contacts`).
- db_text reads an empty field of a ``string`` column (not ``string,null``) as NULL and
  then refuses the whole table ("null value not allowed", then "table subscriber does
  not exist"): ``ha1``/``ha1b`` are written, computed, although ``calculate_ha1`` uses
  the clear-text password.  Fields escape ``:`` as ``\\:``.
- db_text needs the ``version`` table with the right versions (location 9, subscriber 7
  in 5.6) or the modules refuse to start; the table headers are the ones Debian ships in
  /usr/share/kamailio/dbtext/kamailio/.
- ``is_subscriber(uri, table, 0)`` queries no column, which db_text rejects ("no
  columns"): auth_db gets a ``load_credentials`` column and the call flag 2.
- ``www_authorize``/``proxy_authorize`` say -3 (unknown user) only once there are
  credentials, so ``is_subscriber`` answers 403 before any challenge.
- An ``alias`` without port matches any port, so ``uri==myself`` holds for the realm;
  ``auto_aliases=no``, ``dns=no``/``rev_dns=no`` keep it from resolving host names.
- Function parameters are not expressions: ``"sip:" + $rU`` works in an assignment
  (``$ru = ...``) but a function argument must be one string with variables in it.
- baresip's contact user is ``NAME-0x<address>``, not ``NAME``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.system_deps import require_program

KAMAILIO = "kamailio"
KAMAILIO_SBIN = Path("/usr/sbin/kamailio")
MODULES = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
PROXY_IP = "127.0.0.5"
REALM = "example.test"
PORT_RANGE = (25060, 29999)
STATIC_PATTERN = "^[0-9]+$"
START_ATTEMPTS = 3

# db_text table headers of Kamailio 5.6 (as in /usr/share/kamailio/dbtext/kamailio/).
VERSION_HEADER = "id(int,auto) table_name(string) table_version(int) "
SUBSCRIBER_HEADER = (
    "id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) "
)
LOCATION_HEADER = (
    "id(int,auto) ruid(string) username(string) domain(string,null) contact(string) "
    "received(string,null) path(string,null) expires(int) q(double) callid(string) "
    "cseq(int) last_modified(int) flags(int) cflags(int) user_agent(string) "
    "socket(string,null) methods(int,null) instance(string,null) reg_id(int) "
    "server_id(int) connection_id(int) keepalive(int) partition(int) "
)
TABLE_VERSIONS = {"version": 1, "subscriber": 7, "location": 9, "location_attrs": 1}
LOCATION_ATTRS_HEADER = (
    "id(int,auto) ruid(string) username(string) domain(string,null) aname(string) "
    "atype(int) avalue(string) last_modified(int) "
)


class KamailioError(RuntimeError):
    """Kamailio failed to start or to stop, or an expected state never came."""


@dataclass(frozen=True)
class Registration:
    """One row of the location table."""

    user: str
    contact: str
    expires: int  # Unix time
    user_agent: str


def kamailio_binary() -> str:
    """Kamailio's path; fails the test, naming the install step, when it is missing."""
    if shutil.which(KAMAILIO) is None and KAMAILIO_SBIN.exists():
        return str(KAMAILIO_SBIN)  # /usr/sbin is not on a non-root user's PATH
    return require_program(KAMAILIO)


def _port_free(host: str, port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def free_port(host: str = PROXY_IP) -> int:
    """A port free for both UDP and TCP on ``host``, from a random start in PORT_RANGE."""
    start, stop = PORT_RANGE
    offset = int.from_bytes(os.urandom(2), "big")
    for i in range(stop - start):
        port = start + (offset + i) % (stop - start)
        if _port_free(host, port):
            return port
    raise KamailioError(f"no free port on {host} in {start}-{stop}")


def _escape(value: str) -> str:
    """A db_text field: ':' and '\\' escaped, newlines refused."""
    if "\n" in value:
        raise ValueError(f"db_text value with a newline: {value!r}")
    return value.replace("\\", "\\\\").replace(":", "\\:")


def _fields(row: str) -> list[str]:
    """Split one db_text row on unescaped ':' and unescape the fields."""
    fields: list[str] = []
    current: list[str] = []
    chars = iter(row)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _sip_hostport(target: str) -> str:
    """``sip:127.0.0.1:5070`` (or ``127.0.0.1:5070``) -> ``127.0.0.1:5070``."""
    hostport = target.removeprefix("sip:")
    if "@" in hostport or not hostport or '"' in hostport:
        raise ValueError(f"static_target must be sip:HOST[:PORT][;params], got {target!r}")
    return hostport


class Kamailio:
    """One Kamailio instance: its config, database, process and log.

    Attributes: ``host``, ``port``, ``realm``, ``users`` (user -> password),
    ``trusted`` (IPs that need no proxy auth), ``challenged`` (IPs whose every initial
    request needs proxy auth, whatever the From domain), ``static_target``, ``dir``, ``db_dir``,
    ``cfg_path``, ``log_path``.
    """

    def __init__(
        self,
        workdir: str | Path,
        users: Mapping[str, str],
        *,
        host: str = PROXY_IP,
        port: int = 0,  # 0: a free one
        realm: str = REALM,
        trusted: Sequence[str] = (),
        challenged: Sequence[str] = (),
        static_target: str | None = None,
        static_pattern: str = STATIC_PATTERN,
        name: str = "kamailio",
        debug: int = 2,
    ) -> None:
        for user, password in users.items():
            _escape(user)
            _escape(password)
        self.users = dict(users)
        self.host = host
        self._auto_port = not port
        self.port = port or free_port(host)
        self.realm = realm
        self.trusted = tuple(trusted)
        self.challenged = tuple(challenged)
        self.static_target = static_target
        self.static_hostport = _sip_hostport(static_target) if static_target else None
        self.static_pattern = static_pattern
        self.name = name
        self.debug = debug
        self.dir = Path(workdir) / name
        self.db_dir = self.dir / "db"
        self.run_dir = self.dir / "run"
        self.cfg_path = self.dir / "kamailio.cfg"
        self.log_path = self.dir / "kamailio.log"
        self.pid_path = self.run_dir / "kamailio.pid"
        self.proc: subprocess.Popen[bytes] | None = None
        self.shm_mb = 32  # shared memory: transactions live there until their wait timer

    # ---- addresses -------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        """(IP, port) it listens on, UDP and TCP."""
        return self.host, self.port

    @property
    def uri(self) -> str:
        """The proxy's SIP URI, e.g. for an outbound proxy: ``sip:127.0.0.5:PORT``."""
        return f"sip:{self.host}:{self.port}"

    def outbound(self, transport: str = "udp") -> str:
        """The proxy's URI with a transport and ``;lr`` (an outbound proxy setting)."""
        suffix = "" if transport == "udp" else f";transport={transport}"
        return f"sip:{self.host}:{self.port}{suffix};lr"

    def aor(self, user: str) -> str:
        """A user's address of record in the realm: ``sip:USER@REALM``."""
        return f"sip:{user}@{self.realm}"

    # ---- files -----------------------------------------------------------
    def config_text(self) -> str:
        """The kamailio.cfg (see the module docstring for the routing)."""
        return config_text(self)

    def write_files(self) -> None:
        """The config and the db_text database (the location table starts empty)."""
        self.db_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        versions = [f"{i}:{table}:{v}" for i, (table, v) in enumerate(TABLE_VERSIONS.items())]
        subscribers = [
            f"{i}:{_escape(user)}:{_escape(self.realm)}:{_escape(password)}:"
            f"{_md5(f'{user}:{self.realm}:{password}')}:"
            f"{_md5(f'{user}@{self.realm}:{self.realm}:{password}')}"
            for i, (user, password) in enumerate(self.users.items(), start=1)
        ]
        tables = {
            "version": [VERSION_HEADER, *versions],
            "subscriber": [SUBSCRIBER_HEADER, *subscribers],
            "location": [LOCATION_HEADER],
            "location_attrs": [LOCATION_ATTRS_HEADER],
        }
        for table, lines in tables.items():
            (self.db_dir / table).write_text("\n".join(lines) + "\n")
        self.cfg_path.write_text(self.config_text())

    def process_env(self) -> dict[str, str] | None:
        """The environment Kamailio runs with (None: the test's own)."""
        return None

    # ---- process ---------------------------------------------------------
    def start(self, timeout: float = 15.0) -> Kamailio:
        """Write the files, run Kamailio and wait until it answers an OPTIONS.

        When the port was picked here and another process took it meanwhile, picks
        another and tries again.
        """
        if self.proc is not None:
            raise KamailioError(f"{self.name}: already started")
        binary = kamailio_binary()
        for attempt in range(START_ATTEMPTS):
            try:
                return self._start_once(binary, timeout)
            except KamailioError:
                self.stop()
                taken = "Address already in use" in self.log_text()
                if not (taken and self._auto_port) or attempt + 1 == START_ATTEMPTS:
                    raise
                self.proc = None
                self.port = free_port(self.host)
        raise AssertionError("unreachable")

    def _start_once(self, binary: str, timeout: float) -> Kamailio:
        self.write_files()
        check = subprocess.run([binary, "-c", "-f", str(self.cfg_path), "-L", str(MODULES)],
                               capture_output=True, text=True, timeout=30,
                               env=self.process_env())
        if check.returncode != 0:
            raise KamailioError(f"{self.name}: config check failed\n{check.stderr[-4000:]}")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [binary, "-f", str(self.cfg_path), "-DD", "-E", "-L", str(MODULES),
                 "-m", str(self.shm_mb), "-M", "8", "-Y", str(self.run_dir),
                 "-P", str(self.pid_path),
                 "-w", str(self.dir)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                cwd=self.dir, start_new_session=True, env=self.process_env(),
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise KamailioError(f"{self.name}: exited at start\n{self.log_tail()}")
            if self._answers_options():
                return
            if time.monotonic() > deadline:
                raise KamailioError(f"{self.name}: not answering\n{self.log_tail()}")
            time.sleep(0.1)

    def _answers_options(self) -> bool:
        """True once an OPTIONS to the proxy itself gets a response over UDP."""
        return self._query("Subject: ready?", 0.3).startswith("SIP/2.0 ")

    def alive(self) -> bool:
        """The main process is running."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM the main process (it stops its children), SIGKILL the group if slow."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        # The children get SIGTERM from the main process; give them a moment, then
        # SIGKILL whatever of the group is left (never leaves a process behind).
        deadline = time.monotonic() + 2.0
        while self._group_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        return self.proc.returncode

    def _group_alive(self) -> bool:
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def __enter__(self) -> Kamailio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- log -------------------------------------------------------------
    def log_text(self) -> str:
        """Everything Kamailio logged (stderr), for debugging a failed test."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes().decode("utf-8", errors="replace")

    def log_tail(self, count: int = 40) -> str:
        """The last ``count`` log lines."""
        return "\n".join(self.log_text().splitlines()[-count:])

    def wait_log(self, pattern: str | re.Pattern[str], timeout: float = 10.0) -> str:
        """Wait for a log line matching ``pattern`` (a regex); return the line."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_text().splitlines():
                if regex.search(line):
                    return line
            if time.monotonic() > deadline:
                raise KamailioError(f"{self.name}: no log line {regex.pattern!r}\n"
                                    f"{self.log_tail()}")
            time.sleep(0.1)

    # ---- location table --------------------------------------------------
    def registrations(self) -> list[Registration]:
        """The rows of the db_text ``location`` file: only complete after :meth:`stop`
        (db_text writes its tables to disk at shutdown; use :meth:`registered` live)."""
        path = self.db_dir / "location"
        if not path.exists():
            return []
        lines = path.read_text(errors="replace").splitlines()
        header = [col.split("(")[0] for col in lines[0].split()] if lines else []
        rows = []
        for line in lines[1:]:
            if not line.strip():
                continue
            values = dict(zip(header, _fields(line), strict=False))
            rows.append(Registration(
                user=values.get("username", ""),
                contact=values.get("contact", ""),
                expires=int(values.get("expires") or 0),
                user_agent=values.get("user_agent", ""),
            ))
        return rows

    def contacts(self, user: str, timeout: float = 3.0) -> list[str]:
        """The contact URIs ``user`` has registered now, asked of the running Kamailio.

        An OPTIONS with ``X-Location-Query: USER`` is answered by the script itself
        (``reg_fetch_contacts``) with one ``X-Registered: <URI>`` header per contact.
        """
        reply = self._query(f"X-Location-Query: {user}", timeout)
        return re.findall(r"^X-Registered: <([^>]*)>", reply, re.MULTILINE)

    def registered(self, users: Sequence[str] | None = None) -> dict[str, list[str]]:
        """User -> registered contact URIs, for ``users`` (all subscribers if None);
        users without a registration are left out."""
        found = {user: self.contacts(user) for user in (users or list(self.users))}
        return {user: contacts for user, contacts in found.items() if contacts}

    def wait_registered(self, user: str, timeout: float = 10.0) -> list[str]:
        """Wait until ``user`` has a contact in the location table; return its contacts."""
        deadline = time.monotonic() + timeout
        while True:
            contacts = self.contacts(user)
            if contacts:
                return contacts
            if not self.alive() or time.monotonic() > deadline:
                raise KamailioError(f"{self.name}: {user} never registered "
                                    f"({self.registered()})\n{self.log_tail()}")
            time.sleep(0.1)

    def _query(self, header: str, timeout: float) -> str:
        """Send an OPTIONS to the proxy itself with ``header``; return the reply text."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((self.host if self.host.startswith("127.") else "127.0.0.1", 0))
            sock.settimeout(timeout)
            local_ip, local_port = sock.getsockname()
            request = (
                f"OPTIONS sip:{self.host}:{self.port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {local_ip}:{local_port};rport;"
                f"branch=z9hG4bK-{os.urandom(6).hex()}\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:harness@{local_ip}>;tag={os.urandom(4).hex()}\r\n"
                f"To: <sip:{self.host}:{self.port}>\r\n"
                f"Call-ID: {os.urandom(8).hex()}@harness\r\n"
                f"CSeq: 1 OPTIONS\r\n{header}\r\nContent-Length: 0\r\n\r\n"
            )
            sock.sendto(request.encode(), self.address)
            try:
                data, _ = sock.recvfrom(65536)
            except (TimeoutError, ConnectionRefusedError):
                return ""
        return data.decode("utf-8", errors="replace")


@contextlib.contextmanager
def kamailio(
    tmp_path: str | Path,
    users: Mapping[str, str] | None = None,
    *,
    host: str = PROXY_IP,
    port: int = 0,
    realm: str = REALM,
    trusted: Sequence[str] = (),
    challenged: Sequence[str] = (),
    static_target: str | None = None,
    static_pattern: str = STATIC_PATTERN,
    name: str = "kamailio",
    debug: int = 2,
) -> Iterator[Kamailio]:
    """A running Kamailio for the duration of the ``with`` block; stopped afterwards.

    ``users`` (user -> password) defaults to ``{"mcu": "pw1", "alice": "pw2"}``; the
    other arguments are :class:`Kamailio`'s.
    """
    proxy = Kamailio(
        tmp_path, {"mcu": "pw1", "alice": "pw2"} if users is None else users,
        host=host, port=port, realm=realm, trusted=trusted, challenged=challenged,
        static_target=static_target, static_pattern=static_pattern, name=name, debug=debug,
    )
    try:
        yield proxy.start()
    finally:
        proxy.stop()


def _quoted(value: str) -> str:
    if '"' in value or "\n" in value:
        raise ValueError(f"cannot quote {value!r} in kamailio.cfg")
    return f'"{value}"'


def config_text(proxy: Kamailio) -> str:
    """The kamailio.cfg for ``proxy`` (routing described in the module docstring)."""
    db_url = _quoted(f"text://{proxy.db_dir}")
    realm = _quoted(proxy.realm)
    trusted = " || ".join(f'$si == "{ip}"' for ip in proxy.trusted) or "0"
    challenged = " || ".join(f'$si == "{ip}"' for ip in proxy.challenged) or "0"
    if proxy.static_hostport is not None:
        static = (
            f'        if ($rU =~ {_quoted(proxy.static_pattern)}) {{\n'
            f'            $ru = "sip:" + $rU + "@{proxy.static_hostport}";\n'
            '            xlog("L_INFO", "static route: $rm $ru\\n");\n'
            "            route(RELAY);\n"
            "            exit;\n"
            "        }\n"
        )
    else:
        static = ""
    return f"""#!KAMAILIO
# Written by tests/peers/kamailio.py for one test; not for production.
debug={proxy.debug}
log_stderror=yes
log_facility=LOG_LOCAL0
fork=yes
children=2
tcp_children=2
mhomed=0
auto_aliases=no
dns=no
rev_dns=no
use_dns_cache=off
dns_try_naptr=no
disable_sctp=yes
enable_tls=no
listen=udp:{proxy.host}:{proxy.port}
listen=tcp:{proxy.host}:{proxy.port}
alias={proxy.realm}
server_header="Server: kamailio-test"
user_agent_header="User-Agent: kamailio-test"

mpath="{MODULES}/"
loadmodule "db_text.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
loadmodule "auth_db.so"

modparam("tm", "fr_timer", 5000)
modparam("tm", "fr_inv_timer", 30000)
modparam("rr", "enable_full_lr", 1)
modparam("rr", "append_fromtag", 1)
modparam("usrloc", "db_url", {db_url})
modparam("usrloc", "db_mode", 1)
modparam("usrloc", "use_domain", 0)
modparam("registrar", "min_expires", 10)
modparam("registrar", "max_expires", 3600)
modparam("auth_db", "db_url", {db_url})
modparam("auth_db", "calculate_ha1", 1)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "use_domain", 0)
modparam("auth_db", "load_credentials", "$avp(subscriber_id)=id")

request_route {{
    xlog("L_INFO", "request: $rm $ru from $si:$sp (From $fu, To $tu)\\n");
    if (!mf_process_maxfwd_header("10")) {{
        xlog("L_INFO", "483: $rm $ru Max-Forwards exhausted\\n");
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (has_totag()) {{
        route(WITHINDLG);
        exit;
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (is_method("ACK")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (is_method("OPTIONS") && is_present_hf("X-Location-Query")) {{
        route(LOCATION_QUERY);
        exit;
    }}
    t_check_trans();
    if (is_method("REGISTER")) {{
        route(REGISTRAR);
        exit;
    }}
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
        sl_send_reply("200", "OK");
        exit;
    }}
    remove_hf("Route");
    record_route();
    if (($fd == {realm} || {challenged}) && !({trusted})) {{
        if (!proxy_authorize({realm}, "subscriber")) {{
            xlog("L_INFO", "407: $rm $ru from $fu ($rc)\\n");
            proxy_challenge({realm}, "0");
            exit;
        }}
        if ($fd == {realm} && $au != $fU) {{
            xlog("L_INFO", "403: $rm auth user $au is not $fU\\n");
            sl_send_reply("403", "Forbidden auth ID");
            exit;
        }}
        consume_credentials();
    }}
    if (uri != myself) {{
        route(RELAY);
        exit;
    }}
    if (lookup("location")) {{
        xlog("L_INFO", "location: $rm $ru\\n");
        route(RELAY);
        exit;
    }}
{static}    xlog("L_INFO", "404: $rm $ru not found\\n");
    sl_send_reply("404", "Not Found");
    exit;
}}

route[RELAY] {{
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

route[WITHINDLG] {{
    if (loose_route()) {{
        route(RELAY);
        exit;
    }}
    if (is_method("ACK")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    sl_send_reply("404", "Not here");
    exit;
}}

# The harness's window on the location table (db_text writes it only at shutdown).
route[LOCATION_QUERY] {{
    if (reg_fetch_contacts("location", "sip:$hdr(X-Location-Query)@{proxy.realm}", "q")) {{
        $var(i) = 0;
        while ($var(i) < $(ulc(q=>count))) {{
            append_to_reply("X-Registered: <$(ulc(q=>addr)[$var(i)])>\r\n");
            $var(i) = $var(i) + 1;
        }}
        reg_free_contacts("q");
    }}
    sl_send_reply("200", "Location");
    exit;
}}

route[REGISTRAR] {{
    if ($td != {realm} && $td != "{proxy.host}") {{
        sl_send_reply("403", "Not my domain");
        exit;
    }}
    if (!is_subscriber("$tu", "subscriber", "2")) {{
        xlog("L_INFO", "403: REGISTER of unknown user $tU\\n");
        sl_send_reply("403", "Unknown user");
        exit;
    }}
    if (!www_authorize({realm}, "subscriber")) {{
        xlog("L_INFO", "401: REGISTER $tU ($rc)\\n");
        www_challenge({realm}, "0");
        exit;
    }}
    if ($au != $tU) {{
        sl_send_reply("403", "Forbidden auth ID");
        exit;
    }}
    consume_credentials();
    if (!save("location")) {{
        sl_reply_error();
        exit;
    }}
    xlog("L_INFO", "registered: $tU\\n");
    exit;
}}
"""

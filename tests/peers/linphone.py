"""Drive a real linphonec 5.1 (Debian 12 `linphone-cli`) SIP user agent, on loopback only.

Why linphone: it sends DTMF as SIP INFO (`application/dtmf-relay`, body
"Signal=5\\r\\nDuration=250"), which baresip 1.0 cannot.

Each peer gets its own HOME (linphonec keeps its databases under
``$HOME/.local/share/linphone``), its own rc file, SIP port and RTP port.
Commands are lines written to linphonec's stdin (a pipe, no tty needed); its
console output goes to ``console.log`` and its library log to ``linphone.log``.

Things that matter in linphonec 5.1.65 (Debian 12):
- The core stays in LinphoneGlobalStartup (no SIP socket, every call fails with
  "Error from linphone_core_invite") unless ``$HOME/.local/share/linphone``
  exists: it cannot open its sqlite database otherwise.
- ``[sip] bind_address=127.0.0.1`` + ``sip_port=P`` binds UDP 127.0.0.1:P only;
  ``sip_tcp_port=0``/``sip_tls_port=0`` keep TCP/TLS closed.
- The SDP address is NOT the SIP one: without ``[rtp] bind_address=127.0.0.1`` it
  offers eth0's address, and 5.1's "IPv6 settings migration" turns ``use_ipv6`` back
  on (offering ``IN IP6 fd00::...``) unless ``[sip] ipv6_migration_done=1``.
- ``[sip] use_info=1`` + ``use_rfc2833=0``: a digit typed on its own line during a
  call is sent as one INFO ``application/dtmf-relay`` (and the SDP offers no
  telephone-event).  linphonec then sleeps 1 s (playing the digit locally) without
  running its SIP stack, and belle-sip holds a dialog's next INFO until the last
  one is answered: send_dtmf() waits for each INFO's answer (about 1.3 s a digit).
- No sound card here: ``soundcard use files`` makes it play a WAV file as its
  microphone (``play <wav>``, mono 16-bit, 8 kHz for PCMU; make it longer than
  the call) and record what it hears (``record <wav>``); without a file it sends
  silence.  The ALSA/PulseAudio errors in its log are harmless.
- Codecs not listed in the rc are added enabled by default, so start() disables
  every codec but PCMU with ``codec disable <index>``.
- Console events: "Call 1 with sip:... connected.", "... ended (...)." etc.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
import wave
from pathlib import Path

from tests.peers.baresip import LOOPBACK, free_sip_port, free_udp_port
from tests.peers.process import PeerProcess

LINPHONEC = "linphonec"
START_ATTEMPTS = 5
DIGIT_GAP_S = 0.2
CODEC_LINE = re.compile(r"^\s*(\d+): (\S+) \((\d+)\) (enabled|disabled)\s*$")
# "Call 1 with sip:4321@127.0.0.1:15000 connected." (also after re-INVITEs: "... resumed")
ESTABLISHED = re.compile(r"Call \d+ with \S+ connected")
TERMINATED = re.compile(r"Call \d+ with \S+ (ended|error)|Call \d+ .*(declined|busy|not found)")
READY = "LinphoneGlobalOn"
# belle-sip: an INFO of ours got its final response.
INFO_COMPLETED = re.compile(r"\[client\] \[INFO\] transaction \[\w+\], "
                            r"from state \[\w+\] to \[COMPLETED\]")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class LinphoneError(RuntimeError):
    """linphonec failed to start, or an expected console line never came."""


def linphone_available() -> bool:
    return shutil.which(LINPHONEC) is not None


class LinphonePeer(PeerProcess):
    """One linphonec instance: writes its rc, runs it, types commands on its stdin.

    Use as a context manager (or call start()/close()); close() always leaves no
    process behind.  `audio_file` (a mono 16-bit WAV, 8 kHz for PCMU) is what it
    sends as its microphone during a call; otherwise it sends silence.
    """

    error = LinphoneError
    established = ESTABLISHED
    terminated = TERMINATED

    def __init__(
        self,
        workdir: str | Path,
        name: str,
        audio_file: Path | None = None,
        local_sip_port: int = 0,  # 0: pick a free one
    ) -> None:
        self.name = name
        self._auto_sip = not local_sip_port
        self.sip_port = local_sip_port or free_sip_port()
        self.rtp_port = free_udp_port()
        self.audio_file = audio_file
        self.dir = Path(workdir) / name
        self.rc_path = self.dir / "linphonerc"
        self.log_path = self.dir / "console.log"
        self.lib_log_path = self.dir / "linphone.log"
        self.record_path = self.dir / "received.wav"
        self.proc: subprocess.Popen[bytes] | None = None
        if audio_file is not None:
            with wave.open(str(audio_file)) as wav:
                if wav.getnchannels() != 1 or wav.getsampwidth() != 2:
                    raise ValueError(f"{audio_file}: linphone plays mono 16-bit WAV only")

    @property
    def aor(self) -> str:
        return f"sip:{self.name}@{LOOPBACK}:{self.sip_port}"

    # ---- config ----------------------------------------------------------
    def rc_text(self) -> str:
        return "\n".join([
            "[sip]",
            f"sip_port={self.sip_port}",
            "sip_tcp_port=0",
            "sip_tls_port=0",
            f"bind_address={LOOPBACK}",
            f'contact="{self.name}" <{self.aor}>',
            "use_info=1",
            "use_rfc2833=0",
            "use_ipv6=0",
            "ipv6_migration_done=1",  # else 5.1 turns use_ipv6 back on
            "prefer_ipv6=0",
            "guess_hostname=0",
            "ping_with_options=0",
            "register_only_when_network_is_up=0",
            "inc_timeout=30",
            "[net]",
            "firewall_policy=0",  # no STUN, no ICE, no TURN
            "stun_server=",
            "mtu=1300",
            "[rtp]",
            f"bind_address={LOOPBACK}",  # also the SDP c= address (else eth0's)
            f"audio_rtp_port={self.rtp_port}",
            "rtcp_mux=0",
            "nortp_timeout=30",
            "[sound]",
            "echocancellation=0",
            "[video]",
            "enabled=0",
            "capture=0",
            "display=0",
            "automatically_initiate=0",
            "automatically_accept=0",
            "[misc]",
            "history_max_size=0",
            "",
        ])

    def write_config(self) -> None:
        (self.dir / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        self.rc_path.write_text(self.rc_text())

    # ---- process ---------------------------------------------------------
    def start(self, timeout: float = 10.0) -> LinphonePeer:
        """Write the rc, run linphonec until its core is on and PCMU is its only codec."""
        if self.proc is not None:
            raise LinphoneError(f"{self.name}: already started")
        for attempt in range(START_ATTEMPTS):
            try:
                return self._start_once(timeout)
            except LinphoneError:
                self.kill9()
                if attempt + 1 == START_ATTEMPTS or not self._auto_sip:
                    raise
                self.proc = None
                self.sip_port, self.rtp_port = free_sip_port(), free_udp_port()
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> LinphonePeer:
        self.write_config()
        # No PulseAudio here: a socket path that does not exist (a bare word such as
        # "none" would be looked up in DNS, off loopback).
        env = {**os.environ, "HOME": str(self.dir), "XDG_CONFIG_HOME": str(self.dir / "cfg"),
               "XDG_DATA_HOME": str(self.dir / ".local" / "share"),
               "PULSE_SERVER": f"unix:{self.dir / 'no-pulse'}"}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [LINPHONEC, "-c", str(self.rc_path), "-d", "5", "-l", str(self.lib_log_path)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            start = self.mark()
            self.command("states global")
            try:
                self.wait_for(READY, 0.5, after=start)
                break
            except LinphoneError:
                if not self.alive() or time.monotonic() > deadline:
                    raise
        while not self._listening():  # "Address already in use": no listening point
            if not self.alive() or time.monotonic() > deadline:
                raise LinphoneError(f"{self.name}: not listening on UDP {self.sip_port}\n"
                                    f"{self.log_tail()}")
            time.sleep(0.05)
        self._only_pcmu(timeout)
        self.command("soundcard use files")
        self.command(f"record {self.record_path}")
        if self.audio_file is not None:
            self.command(f"play {self.audio_file}")
        return self

    def _listening(self) -> bool:
        text = self._lib_log_text()
        return f"on [sip:{LOOPBACK}:{self.sip_port};transport=UDP]" in text

    def _only_pcmu(self, timeout: float) -> None:
        start = self.mark()
        self.command("codec list")
        self.wait_for(lambda line: CODEC_LINE.match(line) is not None, timeout, after=start)
        time.sleep(0.2)  # the whole list is printed at once
        codecs = [m.groups() for line in self.log_lines()[start:]
                  if (m := CODEC_LINE.match(line))]
        for index, mime, rate, state in codecs:
            want = mime == "PCMU" and rate == "8000"
            if want != (state == "enabled"):
                self.command(f"codec {'enable' if want else 'disable'} {index}")

    def command(self, line: str) -> None:
        """Type one line on linphonec's console."""
        if not self.alive() or self.proc is None or self.proc.stdin is None:
            raise LinphoneError(f"{self.name}: linphonec is not running\n{self.log_tail()}")
        self.proc.stdin.write(line.rstrip("\n").encode() + b"\n")
        self.proc.stdin.flush()

    def dial(self, uri: str) -> None:
        """Call `uri`, e.g. "sip:4321@127.0.0.1:15000" (loopback only)."""
        if not re.match(rf"sips?:[^@]+@{re.escape(LOOPBACK)}(:\d+)?(;|$)", uri):
            raise ValueError(f"{uri!r}: this test peer only calls {LOOPBACK}")
        self.command(f"call {uri}")

    def send_dtmf(self, digits: str, gap: float = DIGIT_GAP_S, timeout: float = 5.0) -> None:
        """Send each digit as one SIP INFO (application/dtmf-relay), `gap` s apart.

        linphonec sleeps 1 s after each digit (to play it locally) without running
        its SIP stack, and belle-sip sends a dialog's next INFO only once the last
        one is answered; so each digit waits for its INFO's final response.
        """
        if not re.fullmatch(r"[0-9*#]+", digits):
            raise ValueError(f"bad DTMF digits {digits!r}")
        for digit in digits:
            done = self.info_completed()
            self.command(digit)
            deadline = time.monotonic() + timeout
            while self.info_completed() <= done:
                if not self.alive() or time.monotonic() > deadline:
                    raise LinphoneError(f"{self.name}: INFO for {digit!r} never answered\n"
                                        f"{self.log_tail()}")
                time.sleep(0.05)
            time.sleep(gap)

    def info_completed(self) -> int:
        """How many INFO requests of ours got a final response (liblinphone's log)."""
        return len(INFO_COMPLETED.findall(self._lib_log_text()))

    def _lib_log_text(self) -> str:
        if not self.lib_log_path.exists():
            return ""
        return self.lib_log_path.read_bytes().decode("utf-8", errors="replace")

    def hangup(self, wait: float | None = 5.0) -> None:
        """Terminate the current call; unless wait is None, wait until it has ended."""
        start = self.mark()
        self.command("terminate")
        if wait is not None:
            self.wait_for(TERMINATED, wait, after=start)

    def quit(self, timeout: float = 3.0) -> int | None:
        if not self.alive():
            return self.returncode
        with contextlib.suppress(OSError, LinphoneError):
            self.command("quit")
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return self.kill9()

    # ---- log -------------------------------------------------------------
    def log_lines(self) -> list[str]:
        if not self.log_path.exists():
            return []
        text = self.log_path.read_bytes().decode("utf-8", errors="replace")
        lines = []
        for line in text.splitlines():
            line = _ANSI.sub("", line)
            while line.startswith("linphonec> "):  # the prompt precedes the next output
                line = line[len("linphonec> "):]
            lines.append(line)
        return lines

    def log_tail(self, count: int = 30) -> str:
        console = "\n".join(self.log_lines()[-count:])
        lines = self._lib_log_text().splitlines()[-4 * count:]
        lib = "\n".join(line for line in lines if "alsa" not in line)
        return f"--- {self.name} console ---\n{console}\n--- {self.name} liblinphone ---\n{lib}"

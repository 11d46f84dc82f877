"""RFC 4475 torture messages fed through SipEndpoint.receive_datagram.

The messages live in /work/shared/conformance/sip-rfc4475 (an external suite; the
README there gives the expected outcome of each); they are read in binary mode.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.sip.endpoint import IncomingCall, SipEndpoint
from gateway.sip.message import SipParseError, parse_message, parse_name_addr, parse_via
from tests.system_deps import missing

TORTURE_DIR = Path(__file__).parents[2].parent / "shared" / "conformance" / "sip-rfc4475"


@pytest.fixture(autouse=True)
def torture_corpus() -> None:
    if not TORTURE_DIR.is_dir():
        missing(f"the RFC 4475 torture messages ({TORTURE_DIR})",
                "they come with the project's shared/ checkout (shared/conformance/sip-rfc4475)")


REMOTE = ("192.0.2.99", 40123)  # not the Via port: an answer must go here, not to the Via
LOCAL = ("192.0.2.1", 5060)

VALID = ["wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq", "dblreq",
         "semiuri", "transports", "mpart01", "unreason", "noreason"]
INVALID_REQUESTS = ["badinv01", "clerr", "ncl", "scalar02", "quotbal", "ltgtruri", "lwsruri",
                    "lwsstart", "trws", "escruri", "baddate", "regbadct", "badaspec", "baddn",
                    "mismatch01", "mismatch02"]
INVALID_RESPONSES = ["scalarlg", "bigcode"]

# Final status the element must send (None: dropped, nothing sent at all).
EXPECTED: dict[str, int | None] = {
    **{name: 400 for name in INVALID_REQUESTS},
    "badvers": 505,
    **{name: None for name in INVALID_RESPONSES},
    "badbranch": 200,  # OPTIONS handled as an RFC 2543 transaction
    "insuf": 400,
    "unkscm": 416,
    "novelsc": 416,
    "unksm2": 200,
    "bext01": 420,
    "invut": 415,
    "regaut01": 403,
    "multi01": 400,
    "mcl01": 400,
    "bcast": None,
    "zeromf": 483,
    "cparam01": 200,
    "cparam02": 200,
    "regescrt": 200,
    "sdp01": 406,
    "inv2543": None,  # an INVITE processed: 100 Trying and an IncomingCall, no final
    # valid ones processed normally
    "wsinv": 481,  # an INVITE with a To tag for a dialog we do not have
    "intmeth": 501,
    "esc01": None,
    "escnull": 200,
    "esc02": 501,  # RE%47IST%45R is not REGISTER
    "lwsdisp": 200,
    "longreq": None,
    "dblreq": 200,
    "semiuri": 200,
    "transports": 200,
    "mpart01": 404,  # MESSAGE (RFC 3428) is taken only from a party we are in a call with
    "unreason": None,
    "noreason": None,
}
INCOMING_CALLS = {"inv2543", "esc01", "longreq"}


def load(name: str) -> bytes:
    return (TORTURE_DIR / f"{name}.dat").read_bytes()


def test_all_49_messages_present() -> None:
    names = {p.stem for p in TORTURE_DIR.glob("*.dat")}
    assert len(names) == 49
    assert names == set(EXPECTED)


def feed(name: str) -> tuple[SipEndpoint, list[int], list]:
    ep = SipEndpoint()
    ep.receive_datagram(load(name), REMOTE, LOCAL, 0.0)
    statuses = []
    for t in ep.transmissions():
        # every answer goes back where the request came from (RFC 3261 18.2.2, RFC 3581),
        # never to a host named in a Via
        assert (t.transport, t.remote, t.conn_id) == ("udp", REMOTE, None), (name, t.remote)
        line = t.data.split(b"\r\n", 1)[0]
        assert line.startswith(b"SIP/2.0 "), line
        statuses.append(int(line.split()[1]))
        # every response we emit parses back
        parse_message(t.data)
    return ep, statuses, ep.events()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_torture_outcome(name: str) -> None:
    ep, statuses, events = feed(name)
    expected = EXPECTED[name]
    finals = [s for s in statuses if s >= 200]
    if expected is None:
        assert finals == []
    else:
        assert finals == [expected], statuses
    calls = [e for e in events if isinstance(e, IncomingCall)]
    if name in INCOMING_CALLS:
        assert len(calls) == 1
        assert statuses == [100]
    else:
        assert calls == []
        # nothing half-applied: no call, no dialog left behind
        assert ep.call_count == 0 and ep.dialog_count == 0
    # never a hang: every transaction runs out
    ep.handle_timer(1000.0)
    if name not in INCOMING_CALLS:
        assert ep.transaction_count == 0
        assert ep.next_timer() is None


@pytest.mark.parametrize("name", INVALID_REQUESTS + ["badvers", "insuf", "multi01", "mcl01"])
def test_rejection_reason_names_fault(name: str) -> None:
    ep = SipEndpoint()
    ep.receive_datagram(load(name), REMOTE, LOCAL, 0.0)
    (t,) = ep.transmissions()
    line = t.data.split(b"\r\n", 1)[0].decode()
    if name != "badvers":
        assert "(" in line and ")" in line, line


@pytest.mark.parametrize("name", VALID + ["badbranch", "inv2543", "unksm2", "regescrt"])
def test_valid_messages_parse_and_headers_recoverable(name: str) -> None:
    msg = parse_message(load(name))
    for n, v in msg.headers:
        assert n and "\r" not in v and "\n" not in v
    assert msg.get("call-id")
    assert msg.get("cseq")
    assert msg.vias


def test_wsinv_whitespace_and_folding() -> None:
    msg = parse_message(load("wsinv"))
    assert msg.get("to") == "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n"
    assert msg.to_tag == "1918181833n"
    frm = parse_name_addr(msg.get("from"))
    assert frm.display_name == 'J Rosenberg \\"'
    assert frm.tag == "98asjd8"
    assert msg.get("max-forwards") == "0068"
    assert msg.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert msg.get("subject") == ""
    assert msg.cseq == (9, "INVITE")
    vias = [parse_via(v) for v in msg.vias]
    assert [v.transport for v in vias] == ["UDP", "TCP", "UDP"]
    assert [v.branch for v in vias] == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"]
    contact = parse_name_addr(msg.get("contact"))
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert len(msg.body) == 150


def test_esc01_escapes_kept() -> None:
    msg = parse_message(load("esc01"))
    assert msg.uri == "sip:sips%3Auser%40example.com@example.net"
    assert msg.get("to") == "sip:%75se%72@example.com"
    contact = parse_name_addr(msg.get("m"))
    assert contact.uri == "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31"
    assert msg.content_type == "application/sdp"  # from compact "C"


def test_esc02_repeated_contact_headers() -> None:
    msg = parse_message(load("esc02"))
    assert msg.method == "RE%47IST%45R"
    assert msg.get_all("contact") == ["<sip:alias1@host1.example.com>",
                                      "<sip:alias3@host3.example.com>"]
    assert msg.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_longreq_compact_and_case_insensitive_vias() -> None:
    msg = parse_message(load("longreq"))
    assert len(msg.vias) == 34
    assert msg.vias[0] == "SIP/2.0/TCP sip33.example.com"
    assert msg.get("f").startswith("sip:amazinglylongcallername")
    assert len(msg.body) == 150


def test_semiuri_accept_list_and_user_with_semicolon() -> None:
    msg = parse_message(load("semiuri"))
    assert msg.values("accept") == ["application/sdp", "application/pkcs7-mime",
                                    "multipart/mixed", "multipart/signed", "message/sip",
                                    "message/sipfrag"]
    from gateway.sip.message import parse_uri

    uri = parse_uri(msg.uri)
    assert uri.user == "user;par=u%40example.net" and uri.host == "example.com"


def test_intmeth_strange_tokens() -> None:
    msg = parse_message(load("intmeth"))
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    to = parse_name_addr(msg.get("to"))
    assert to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    frm = parse_name_addr(msg.get("from"))
    assert frm.display_name == "token1~` token2'+_ token3*%!.-"
    assert frm.tag == "_token~1'+`*%!-."
    assert msg.get("call-id") == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    # non-ASCII octets survive a round trip
    assert parse_message(msg.to_bytes()).get("extensionHeader-!.%*+_`'~") == \
        msg.get("extensionHeader-!.%*+_`'~")


def test_dblreq_only_first_request_counts() -> None:
    ep, statuses, events = feed("dblreq")
    assert statuses == [200]
    assert events == []
    msg = parse_message(load("dblreq"))
    assert msg.method == "REGISTER" and msg.body == b""


def test_unreason_and_noreason_responses_parse() -> None:
    unreason = parse_message(load("unreason"))
    assert unreason.status == 200 and unreason.reason.startswith("= 2**3 * 5**2")
    assert len(unreason.body) == 154
    noreason = parse_message(load("noreason"))
    assert noreason.status == 100 and noreason.reason == ""


def test_bext01_unsupported_lists_the_options() -> None:
    ep = SipEndpoint()
    ep.receive_datagram(load("bext01"), REMOTE, LOCAL, 0.0)
    (t,) = ep.transmissions()
    resp = parse_message(t.data)
    assert resp.status == 420
    assert resp.values("unsupported") == ["nothingSupportsThis", "nothingSupportsThisEither"]


def test_invut_415_carries_accept() -> None:
    ep = SipEndpoint()
    ep.receive_datagram(load("invut"), REMOTE, LOCAL, 0.0)
    resp = parse_message(ep.transmissions()[-1].data)
    assert resp.status == 415 and resp.get("accept") == "application/sdp"


def test_regescrt_contact_echoed_with_expires() -> None:
    ep = SipEndpoint()
    ep.receive_datagram(load("regescrt"), REMOTE, LOCAL, 0.0)
    resp = parse_message(ep.transmissions()[-1].data)
    assert resp.status == 200
    assert resp.get("contact") == \
        "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>;expires=3600"


def test_parse_errors_carry_status() -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(load("badvers"))
    assert info.value.status == 505
    with pytest.raises(SipParseError) as info:
        parse_message(load("clerr"))
    assert info.value.status == 400 and "Content-Length" in info.value.reason


def test_rejections_logged_once_with_peer(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="gateway.sip")
    ep = SipEndpoint()
    ep.receive_datagram(load("badinv01"), REMOTE, LOCAL, 0.0)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "192.0.2.99:40123" in lines[0] and "400" in lines[0]

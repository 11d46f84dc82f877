"""WWW-Authenticate parsing and RFC 2617 answers, checked against hashlib directly."""

from __future__ import annotations

import base64
import hashlib

import pytest

from gateway.auth import (
    AuthError,
    Challenge,
    authorization,
    choose_challenge,
    parse_challenges,
)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_parse_digest_with_everything() -> None:
    (ch,) = parse_challenges(
        [
            'Digest realm="IP Camera(21388)", nonce="a1b2c3", opaque="xyz", '
            'qop="auth,auth-int", algorithm=MD5, stale=TRUE'
        ]
    )
    assert ch.scheme == "digest" and ch.realm == "IP Camera(21388)" and ch.nonce == "a1b2c3"
    assert ch.opaque == "xyz" and ch.qop == ["auth", "auth-int"] and ch.algorithm == "MD5"
    assert ch.stale and ch.supported


def test_two_challenges_in_one_header_and_choice() -> None:
    challenges = parse_challenges(['Basic realm="cam", Digest realm="cam", nonce="n"'])
    assert [c.scheme for c in challenges] == ["basic", "digest"]
    chosen = choose_challenge(challenges)
    assert chosen is not None and chosen.scheme == "digest"
    assert choose_challenge(parse_challenges(['Basic realm="x"'])) == Challenge(
        "basic", {"realm": "x"}
    )


def test_unsupported_schemes_are_not_chosen() -> None:
    challenges = parse_challenges(['Digest realm="r", nonce="n", algorithm=SHA-512-256',
                                   "Bearer"])
    assert choose_challenge(challenges) is None


def test_sha256_digest_matches_rfc_7616() -> None:
    """RFC 7616 section 3.9.1's example, SHA-256 with qop=auth."""
    from gateway.auth import digest_response

    [challenge] = parse_challenges([
        'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
        'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'])
    assert challenge.supported
    response = digest_response(challenge, "Mufasa", "Circle of Life", "GET", "/dir/index.html",
                               nc=1, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    assert response == "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


@pytest.mark.parametrize("value", ['Digest realm="unterminated', 'realm="r"'])
def test_malformed_headers(value: str) -> None:
    with pytest.raises(AuthError):
        parse_challenges([value])


def test_basic() -> None:
    (ch,) = parse_challenges(['Basic realm="cam"'])
    value = authorization(ch, "admin", "pa:ss", "DESCRIBE", "rtsp://h/")
    assert value == "Basic " + base64.b64encode(b"admin:pa:ss").decode()


def test_digest_qop_auth_vector() -> None:
    (ch,) = parse_challenges(
        ['Digest realm="cam", nonce="dcd98b7102dd2f0e", qop="auth", opaque="5ccc", algorithm=MD5']
    )
    uri = "rtsp://10.0.0.5:554/cam"
    value = authorization(ch, "Mufasa", "Circle Of Life", "DESCRIBE", uri, nc=1, cnonce="0a4f113b")
    ha1 = md5("Mufasa:cam:Circle Of Life")
    ha2 = md5(f"DESCRIBE:{uri}")
    response = md5(f"{ha1}:dcd98b7102dd2f0e:00000001:0a4f113b:auth:{ha2}")
    assert value == (
        f'Digest username="Mufasa", realm="cam", nonce="dcd98b7102dd2f0e", uri="{uri}", '
        f'response="{response}", algorithm=MD5, opaque="5ccc", qop=auth, nc=00000001, '
        'cnonce="0a4f113b"'
    )


def test_digest_without_qop_and_md5_sess() -> None:
    (ch,) = parse_challenges(['Digest realm="r", nonce="n"'])
    value = authorization(ch, "u", "p", "SETUP", "rtsp://h/t")
    expected = md5(f"{md5('u:r:p')}:n:{md5('SETUP:rtsp://h/t')}")
    assert f'response="{expected}"' in value and "qop" not in value
    (sess,) = parse_challenges(['Digest realm="r", nonce="n", qop=auth, algorithm=MD5-sess'])
    value = authorization(sess, "u", "p", "PLAY", "rtsp://h/", nc=2, cnonce="c")
    ha1 = md5(f"{md5('u:r:p')}:n:c")
    expected = md5(f"{ha1}:n:00000002:c:auth:{md5('PLAY:rtsp://h/')}")
    assert f'response="{expected}"' in value and "nc=00000002" in value

"""The JSON API's bodies and answers: pydantic models, and how OpenAPI shows them.

Request bodies (``...Request``, ``...Create``, ``...Update``) forbid unknown fields and
are parsed by the routes only after `authorize`, so `body_doc` describes them to OpenAPI
by hand. Answers (``...Out``) are the exact JSON the API returns. No rule between fields
lives here: those are `configuration`'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from mcu.permissions import Listing
from mcu.store import EncryptionPolicy, Repetition, RoleName

Digits = Annotated[str, StringConstraints(pattern=r"^[0-9]+$", min_length=1, max_length=32)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Username = Annotated[str, StringConstraints(min_length=1, max_length=64)]
# A SIP or SIPS URI, as the MCU dials it (the live MCU still refuses what it cannot).
SipAddress = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[sS][iI][pP][sS]?:\S+$", max_length=255),
]
# A URI to dial now: `scheme:rest`, no spaces; whether a running gateway serves the
# scheme is asked of the live MCU (`LiveControl.dial_schemes`) by the dial-out operation.
DialAddress = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", max_length=255
    ),
]
MessageText = Annotated[str, StringConstraints(max_length=500)]  # "" clears the message
LayoutName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
When = Annotated[AwareDatetime, Strict()]  # ISO 8601 with a zone, nothing else
MAX_DURATION_S = 366 * 24 * 3600
Seconds = Annotated[int, Strict(), Field(ge=1, le=MAX_DURATION_S)]
Count = Annotated[int, Strict(), Field(ge=1, le=10_000)]
Seats = Annotated[int, Strict(), Field(ge=1, le=10_000)]
MAX_PRECONFIGURED = 100


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(_Body):
    username: str
    password: str


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"


class ParticipantIn(_Body):
    """A preconfigured participant, dialled when the conference starts."""

    address: SipAddress
    display_name: Name | None = None


class _ConferenceFields(_Body):
    pin: Digits | None = None
    guest_pin: Digits | None = None
    owner: Username | None = None  # on create, absent: the creator; null: no owner
    start_time: When | None = None
    duration_seconds: Seconds | None = None
    repetition: Repetition | None = None
    repeat_count: Count | None = None
    repeat_until: When | None = None
    max_participants: Seats | None = None
    encryption: EncryptionPolicy | None = None
    streaming: StrictBool | None = None
    layout: LayoutName | None = None
    end_when_chair_leaves: StrictBool | None = None
    guests_send_audio: StrictBool | None = None
    guests_send_video: StrictBool | None = None
    participant_layout_control: StrictBool | None = None
    participants: list[ParticipantIn] | None = Field(None, max_length=MAX_PRECONFIGURED)


class ConferenceCreate(_ConferenceFields):
    name: Name
    numeric_id: Digits


class ConferenceUpdate(_ConferenceFields):
    name: Name | None = None
    numeric_id: Digits | None = None


class MuteRequest(_Body):
    muted: StrictBool


class ImportantRequest(_Body):
    important: StrictBool


class LayoutRequest(_Body):
    layout: LayoutName | None  # None: the conference's layout


class MessageRequest(_Body):
    text: MessageText


class PanesRequest(_Body):
    # Participant ids in cell order; null keeps a cell in the usual order.
    panes: Annotated[list[Annotated[str, Field(max_length=64)] | None], Field(max_length=16)]


class VideoFormatRequest(_Body):
    format: Literal["widescreen", "standard"]  # 16:9 or 4:3


class DialOutRequest(_Body):
    address: DialAddress  # any scheme a running gateway dials ("sip:...", ...)
    display_name: Name | None = None


class DialOutOut(BaseModel):
    id: str


class RoleRequest(_Body):
    username: Username
    role: RoleName


class RoleOut(BaseModel):
    username: str
    role: RoleName


class ConferenceOut(BaseModel):
    # The store's id; a conference running without configuration (ad hoc): "live-<numeric_id>".
    id: int | str
    name: str
    numeric_id: str
    owner: str | None
    has_pin: bool
    has_guest_pin: bool
    ad_hoc: bool = False  # running without configuration: no owner, no PINs, no settings


class ParticipantConfigOut(BaseModel):
    address: str
    display_name: str | None


class ConferenceDetail(ConferenceOut):
    """A conference as its viewer may see it: configuration only with full control
    (`view_configuration`), PINs in clear only on GET with `view_pin`."""

    active: bool
    pin: str | None = None
    guest_pin: str | None = None
    start_time: datetime | None = None
    duration_seconds: int | None = None
    repetition: Repetition | None = None
    repeat_count: int | None = None
    repeat_until: datetime | None = None
    max_participants: int | None = None
    encryption: EncryptionPolicy | None = None
    streaming: bool | None = None
    layout: str | None = None
    end_when_chair_leaves: bool | None = None
    guests_send_audio: bool | None = None
    guests_send_video: bool | None = None
    participant_layout_control: bool | None = None
    participants: list[ParticipantConfigOut] | None = None


class ConferenceLink(ConferenceOut):
    """A conference the actor may open."""

    listing: Literal[Listing.LINK]


class ConferenceName(BaseModel):
    """Seed 003, no control: the conference "presented as names rather than hyperlinks"."""

    listing: Literal[Listing.NAME_ONLY]
    name: str


class ParticipantOut(BaseModel):
    id: str
    display_name: str
    remote: str
    state: str
    role: str | None
    muted: bool
    speaking: bool = False
    important: bool = False
    layout: str | None = None
    message: str | None = None
    video_format: str = "widescreen"
    protocol: str = ""  # the gateway carrying the call: "sip", ...
    kind: str = "call"  # "camera" for an IP camera (protocol "rtsp"), else "call"
    node: str | None = None  # the cluster node it is on, when another: id is NODE~ID


class CameraCreate(_Body):
    """An IP camera (issue 12). Credentials may be in `url` or given apart; either way
    they are stored apart and the URL is kept and shown without them."""

    name: Name
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    username: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, repr=False)
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, repr=False)
    transport: Literal["auto", "udp", "tcp"] = "auto"
    audio: StrictBool = False

    @field_validator("url")
    @classmethod
    def _rtsp_url(cls, value: str) -> str:
        # Messages never repeat the value: it may hold a password.
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 -- raises ValueError on a bad port
        except ValueError:
            raise ValueError("must be rtsp://host[:port]/path") from None
        if parts.scheme.lower() != "rtsp" or not parts.hostname or len(parts.path) < 2 \
                or any(c.isspace() for c in value):
            raise ValueError("must be rtsp://host[:port]/path")
        return value

    @model_validator(mode="after")
    def _credentials_apart(self) -> CameraCreate:
        parts = urlsplit(self.url)
        if parts.username is not None:
            if self.username is None:
                self.username = unquote(parts.username) or None
            if self.password is None and parts.password is not None:
                self.password = unquote(parts.password) or None
            host = parts.netloc.rsplit("@", 1)[1]
            self.url = urlunsplit((parts.scheme.lower(), host, parts.path, parts.query, ""))
        return self


class CameraOut(BaseModel):
    """A camera as the API shows it: never its username or password."""

    id: int
    name: str
    url: str  # without credentials
    state: str  # connecting, live, offline (retrying), failed (retried slowly)
    reason: str
    transport: str
    audio: bool  # stored; cameras are not heard yet (the RTSP gateway is video-only)
    participant_id: str | None = None


class RecordingOut(BaseModel):
    """A recording (issue 15): its conference (name and number kept if it is deleted),
    when it started and stopped, its length and size so far, its state and why it
    stopped (``stopped`` by someone, ``conference-ended``, ``disk-full``, ...)."""

    id: int
    conference_id: int | None
    conference: str
    numeric_id: str
    started_by: str | None
    start: str
    stop: str | None
    duration_s: float
    size_bytes: int
    state: str  # recording, stopped, interrupted
    reason: str | None


class ErrorOut(BaseModel):
    detail: str
    rule: str | None = None
    field: str | None = None


def body_doc(model: type[BaseModel]) -> dict[str, Any]:
    # Bodies are parsed after authorize, so describe them to OpenAPI by hand; nested
    # models are inlined, as openapi_extra cannot add to components/schemas.
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline(schema)}},
        }
    }


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (401, 403, 404, 409, 422)
}

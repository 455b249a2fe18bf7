"""Invitation links: their tokens, the QR code that carries them, and guests' display names.

A token is the HMAC-SHA256, under the server's SECRET_KEY, of 32 random bytes from `secrets`
(the link's seed): 256 bits, 43 URL-safe characters. The database keeps the seed and the token's
SHA-256, never the token: a copy of the database opens no workshop without the server's key,
while the server can make the token again from the seed, so the facilitators can show a link's
QR code again at the next session. A link is found by its token's SHA-256, so changing the
SECRET_KEY leaves links working; only showing them again needs the key they were made with.
The writes live in workshops.services.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass

import segno
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.safestring import SafeString, mark_safe

from workshops.models import Invitation, Membership, Workshop, WorkshopStatus

TOKEN_BYTES = 32
# What a link's token can look like: anything else is not looked up at all.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
DISPLAY_NAME_MAX = 40
# Accents and scripts stay; a long tail of stacked combining marks ("zalgo") does not.
COMBINING_RUN_MAX = 3
# Control and format characters (bidi overrides and isolates, zero-width marks, BOM),
# surrogates, private-use and unassigned code points never reach a name.
DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
SPACE_CATEGORIES = frozenset({"Zs", "Zl", "Zp"})


TOKEN_KEY_SALT = "journeymap.invitation-token"


def new_token() -> tuple[str, str]:
    """A new link's seed (stored) and token (only in the link)."""
    seed = secrets.token_urlsafe(TOKEN_BYTES)
    return seed, token_from_seed(seed)


def token_from_seed(seed: str) -> str:
    digest = salted_hmac(TOKEN_KEY_SALT, seed, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def shown_token(invitation: Invitation) -> str | None:
    """The token of a link, made again from its seed, or None: a link made before seeds were kept,
    or under another SECRET_KEY, can't be shown again (it still works)."""
    if not invitation.token_seed:
        return None
    token = token_from_seed(invitation.token_seed)
    return token if hash_token(token) == invitation.token_hash else None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# Looking a link up ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What a link's token opens: an invitation that can be used, or why not."""

    invitation: Invitation | None
    status: int
    title: str
    message: str

    @property
    def usable(self) -> bool:
        return self.invitation is not None and self.status == 200


UNKNOWN = Verdict(
    None,
    404,
    "This invitation link doesn't work",
    "It may have been replaced by a new link. Ask the facilitator for the current one.",
)


def judge(invitation: Invitation | None, now=None) -> Verdict:
    """Whether an invitation can be used now, and what to tell someone if it can't."""
    if invitation is None:
        return UNKNOWN
    if invitation.revoked_at is not None:
        return Verdict(
            invitation,
            410,
            "This invitation was withdrawn",
            "The facilitator closed this link. Ask them for a new one if you should join.",
        )
    if invitation.workshop.status == WorkshopStatus.CLOSED:
        return Verdict(
            invitation,
            410,
            "This workshop is closed",
            "Its session is over, so its link no longer lets anyone in. Ask the facilitator if you should join the next one.",
        )
    if invitation.is_expired(now or timezone.now()):
        return Verdict(
            invitation,
            410,
            "This invitation has expired",
            "Ask the facilitator for a new one.",
        )
    return Verdict(invitation, 200, "", "")


def find(token: str) -> Verdict:
    """The invitation a link's token belongs to (by its hash), judged."""
    if not TOKEN_PATTERN.match(token or ""):
        return UNKNOWN
    invitation = (
        Invitation.objects.select_related("workshop__team")
        .filter(token_hash=hash_token(token))
        .first()
    )
    return judge(invitation)


def find_by_hash(invitation_id: int, token_hash: str) -> Verdict:
    """The invitation a join page remembered, as long as its token has not been rotated since."""
    invitation = (
        Invitation.objects.select_related("workshop__team")
        .filter(pk=invitation_id, token_hash=token_hash)
        .first()
    )
    return judge(invitation)


# Display names --------------------------------------------------------------------------------


def clean_display_name(value: str, *, field: str = "display_name") -> str:
    """A name safe to show to everyone on the board.

    Drops control and format characters (so no bidi override can flip what others read),
    turns any kind of space or line break into one space, trims, caps stacked combining marks
    and the length. Raises ValidationError when nothing is left or it is too long.
    """
    name = value or ""
    for _ in range(4):  # dropping a character can let its neighbours compose: settle it
        cleaned = _clean_once(name)
        if cleaned == name:
            break
        name = cleaned
    if not name:
        raise ValidationError(
            {field: "Type the name the others will see, such as “Léa, Geneva boutique”."}
        )
    if len(name) > DISPLAY_NAME_MAX:
        raise ValidationError(
            {field: f"Keep your name under {DISPLAY_NAME_MAX} characters (it has {len(name)})."}
        )
    return name


def name_key(name: str) -> str:
    """What two display names are compared by: case, accents' composition and spacing aside."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def name_in_use(workshop: Workshop, name: str) -> bool:
    """Whether someone who can open this workshop (a team member, or a guest with access to it)
    already goes by this name, so that two people on the board never look the same."""
    key = name_key(name)
    seats = Membership.objects.select_related("user").filter(
        Q(workshop__isnull=True) | Q(workshop=workshop), team_id=workshop.team_id, revoked_at__isnull=True
    )
    return any(name_key(seat.name) == key for seat in seats)


def _clean_once(value: str) -> str:
    kept: list[str] = []
    combining = 0
    for char in unicodedata.normalize("NFC", value):
        category = unicodedata.category(char)
        if char.isspace() or category in SPACE_CATEGORIES:
            char, category = " ", "Zs"
        elif category in DROPPED_CATEGORIES:
            continue
        if category in ("Mn", "Me"):
            combining += 1
            if combining > COMBINING_RUN_MAX:
                continue
        else:
            combining = 0
        kept.append(char)
    return " ".join("".join(kept).split())


# QR code --------------------------------------------------------------------------------------


def qr_svg(url: str, *, title: str = "QR code of the invitation link") -> SafeString:
    """The link as an inline SVG QR code: presentation attributes only, no style (CSP)."""
    qr = segno.make(url, error="m")
    svg = qr.svg_inline(
        scale=1,
        border=4,
        omitsize=True,
        dark="#000",
        light="#fff",
        svgclass="qr-code",
        lineclass="qr-code-dark",
        title=title,
    )
    # segno escapes the title; the rest is its own markup.
    return mark_safe(svg)

"""Journey templates: the phases and typical micro-interactions a new board can start from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TemplateInteraction:
    action: str
    channel: str


@dataclass(frozen=True)
class TemplatePhase:
    name: str
    goal: str
    interactions: tuple[TemplateInteraction, ...]


@dataclass(frozen=True)
class JourneyTemplate:
    key: str
    name: str
    description: str
    phases: tuple[TemplatePhase, ...]


def _phase(name: str, goal: str, *interactions: tuple[str, str]) -> TemplatePhase:
    return TemplatePhase(name, goal, tuple(TemplateInteraction(a, c) for a, c in interactions))


LUXURY_RETAIL = JourneyTemplate(
    key="luxury-retail",
    name="Luxury retail journey",
    description="From first awareness to advocacy, across boutique and digital touchpoints.",
    phases=(
        _phase(
            "Awareness",
            "Discover the maison and feel drawn to it",
            ("Sees the new collection on Instagram", "social"),
            ("Hears about the brand from a friend", "other"),
            ("Walks past the boutique window", "boutique"),
        ),
        _phase(
            "Consideration",
            "Find the right piece and trust the maison with it",
            ("Browses the collection on the webstore", "website"),
            ("Asks for a model's details on live chat", "chat"),
            ("Books a private appointment", "phone"),
            ("Is welcomed and told the brand story in the boutique", "boutique"),
        ),
        _phase(
            "Purchase",
            "Buy with confidence and feel celebrated",
            ("Tries the piece on with an associate", "boutique"),
            ("Gets expert answers on craftsmanship", "boutique"),
            ("Pays and receives the piece", "boutique"),
            ("Chooses white-glove home delivery", "delivery"),
        ),
        _phase(
            "Service",
            "Be looked after once the piece is home",
            ("Unboxes the piece at home", "delivery"),
            ("Registers the warranty online", "website"),
            ("Brings the piece in for servicing", "boutique"),
        ),
        _phase(
            "Loyalty & Advocacy",
            "Belong to the maison and tell others",
            ("Receives a personal follow-up from the associate", "email"),
            ("Is invited to a private event", "event"),
            ("Shares the piece on social media", "social"),
        ),
    ),
)

OMNICHANNEL_ECOMMERCE = JourneyTemplate(
    key="omnichannel-ecommerce",
    name="Omnichannel e-commerce journey",
    description="Online first: webstore, app, chat and delivery, with the boutique one click away.",
    phases=(
        _phase(
            "Awareness",
            "Come across the brand online",
            ("Clicks a social ad for the new collection", "social"),
            ("Reads a newsletter feature", "email"),
        ),
        _phase(
            "Consideration",
            "Compare, ask, and shortlist",
            ("Views the product in 360° on the webstore", "website"),
            ("Uses virtual try-on in the app", "app"),
            ("Asks a question on live chat", "chat"),
            ("Checks boutique stock online", "website"),
        ),
        _phase(
            "Purchase",
            "Check out smoothly and securely",
            ("Adds to bag and checks out", "website"),
            ("Chooses delivery or click-and-collect", "website"),
            ("Gets the order confirmation", "email"),
        ),
        _phase(
            "Service",
            "Receive the order and get help when needed",
            ("Tracks the delivery", "app"),
            ("Receives the parcel and unboxes it", "delivery"),
            ("Arranges a return or exchange", "chat"),
        ),
        _phase(
            "Loyalty & Advocacy",
            "Come back and recommend",
            ("Receives personalised recommendations", "email"),
            ("Joins the loyalty programme in the app", "app"),
            ("Writes a review", "website"),
        ),
    ),
)

TEMPLATES: dict[str, JourneyTemplate] = {t.key: t for t in (LUXURY_RETAIL, OMNICHANNEL_ECOMMERCE)}
DEFAULT_TEMPLATE = LUXURY_RETAIL.key


def template_choices() -> list[tuple[str, str]]:
    return [("", "Blank board")] + [(t.key, t.name) for t in TEMPLATES.values()]

"""The demo workshop, as data: a Geneva watch maison mapping a first-time buyer's journey.

`python manage.py load_demo` turns this into a team, sign-ins, personas and a live board.
Interactions are named by their phase and their action, exactly as in the journey template.
"""

from __future__ import annotations

from dataclasses import dataclass

from boards.journey_templates import DEFAULT_TEMPLATE
from boards.models import Channel, MomentOfTruth, NoteKind
from workshops.models import BusinessFunction, Role, Segment, WorkshopStatus

PASSWORD = "journeymap"
TEAM_NAME = "Maison Horlogère, Geneva"


@dataclass(frozen=True)
class Person:
    username: str
    first_name: str
    last_name: str
    role: str
    business_function: str
    description: str

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class PersonaData:
    name: str
    segment: str
    goals: str
    expectations: str
    bio: str


@dataclass(frozen=True)
class Rating:
    phase: str
    action: str
    emotion: int | None
    moment_of_truth: str = MomentOfTruth.NONE


@dataclass(frozen=True)
class ExtraInteraction:
    phase: str
    action: str
    channel: str
    # Where it goes in its phase (0 = first); None leaves it last.
    position: int | None = None


@dataclass(frozen=True)
class NoteData:
    author: str  # a Person's username
    phase: str
    action: str | None  # None: a note on the whole phase
    kind: str
    text: str


# The first person starts the team, facilitates the workshop and adds the others.
PEOPLE: tuple[Person, ...] = (
    Person(
        "fiona",
        "Fiona",
        "Keller",
        Role.FACILITATOR,
        BusinessFunction.CLIENTELING,
        "facilitator, clienteling & CRM",
    ),
    Person(
        "sam",
        "Samuel",
        "Rochat",
        Role.PARTICIPANT,
        BusinessFunction.BOUTIQUE,
        "boutique staff, sales associate",
    ),
    Person(
        "lea",
        "Léa",
        "Favre",
        Role.PARTICIPANT,
        BusinessFunction.BOUTIQUE,
        "boutique staff, client advisor",
    ),
    Person(
        "marc",
        "Marc",
        "Dubois",
        Role.MANAGER,
        BusinessFunction.MARKETING,
        "manager, retail & marketing",
    ),
)

PERSONAS: tuple[PersonaData, ...] = (
    PersonaData(
        name="Camille Roux",
        segment=Segment.FIRST_TIME_BUYER,
        goals=(
            "Buy her first fine watch to mark a promotion, and understand what makes it "
            "worth the price."
        ),
        expectations=(
            "To be welcomed like any client, whatever she wears. Quick answers online, "
            "unhurried expert answers in the boutique, and a delivery that feels like an occasion."
        ),
        bio=(
            "29, architect in Lausanne. Follows the maison on Instagram and has saved for two "
            "years. Researches every calibre online before she visits, compares two brands, and "
            "decides on the spot when she feels at home. Today's first-time buyer may be "
            "tomorrow's VIC."
        ),
    ),
    PersonaData(
        name="Henri Lambert",
        segment=Segment.VIC,
        goals=(
            "Complete his collection with limited editions, and be the first to hear of new "
            "references."
        ),
        expectations=(
            "To be recognised by name, served by the associate who knows his collection, "
            "invited to private viewings, and never to worry about servicing."
        ),
        bio=(
            "64, private banker in Geneva and a patron of the maison for twenty years, with "
            "eleven pieces. Visits by appointment, often on a Saturday morning. Recommends the "
            "maison to his friends: word of mouth is how most of them first came."
        ),
    ),
)

WORKSHOP_TITLE = "First visit to delivery: Swiss watch boutique"
WORKSHOP_STATUS = WorkshopStatus.LIVE

SCENARIO_TITLE = "Camille's first fine watch"
SCENARIO_PERSONA = "Camille Roux"
SCENARIO_TEMPLATE = DEFAULT_TEMPLATE
SCENARIO_DESCRIPTION = (
    "A first-time buyer discovers the new collection online, visits the Geneva boutique and takes "
    "her watch home. Where does she fall in love with the maison, and where could we lose her?"
)

EXTRA_INTERACTIONS: tuple[ExtraInteraction, ...] = (
    ExtraInteraction(
        "Consideration", "Waits at the door while staff serve a VIC", Channel.BOUTIQUE, 3
    ),
    ExtraInteraction(
        "Purchase", "Has the bracelet sized while offered a coffee", Channel.BOUTIQUE, 2
    ),
    ExtraInteraction("Service", "Calls the boutique to ask where the parcel is", Channel.PHONE, 0),
)

RATINGS: tuple[Rating, ...] = (
    Rating("Awareness", "Sees the new collection on Instagram", 2, MomentOfTruth.POSITIVE),
    Rating("Awareness", "Hears about the brand from a friend", 1),
    Rating("Awareness", "Walks past the boutique window", 0),
    Rating("Consideration", "Browses the collection on the webstore", -1),
    Rating("Consideration", "Asks for a model's details on live chat", -2, MomentOfTruth.NEGATIVE),
    Rating("Consideration", "Books a private appointment", 1),
    Rating(
        "Consideration", "Waits at the door while staff serve a VIC", -2, MomentOfTruth.NEGATIVE
    ),
    Rating("Consideration", "Is welcomed and told the brand story in the boutique", 1),
    Rating("Purchase", "Tries the piece on with an associate", 2, MomentOfTruth.POSITIVE),
    Rating("Purchase", "Gets expert answers on craftsmanship", -1),
    Rating("Purchase", "Has the bracelet sized while offered a coffee", 1),
    Rating("Purchase", "Pays and receives the piece", 0),
    Rating("Purchase", "Chooses white-glove home delivery", 1),
    Rating("Service", "Calls the boutique to ask where the parcel is", -1),
    Rating("Service", "Unboxes the piece at home", -2, MomentOfTruth.NEGATIVE),
    Rating("Service", "Registers the warranty online", -1),
    Rating("Loyalty & Advocacy", "Receives a personal follow-up from the associate", 1),
    Rating("Loyalty & Advocacy", "Is invited to a private event", 2, MomentOfTruth.POSITIVE),
)

FRICTION, DELIGHT, IDEA = NoteKind.FRICTION, NoteKind.DELIGHT, NoteKind.IDEA
QUESTION, OBSERVATION, MOMENT = NoteKind.QUESTION, NoteKind.OBSERVATION, NoteKind.MOMENT

# One entry per note, as it sits on the board.
# fmt: off
NOTES: tuple[NoteData, ...] = (
    # Awareness
    NoteData("lea", "Awareness", "Sees the new collection on Instagram", OBSERVATION,
             "Most enquiries this month quote the Instagram post of the new collection."),
    NoteData("sam", "Awareness", "Walks past the boutique window", OBSERVATION,
             "Young passers-by photograph the window but rarely come in: the closed door looks "
             "intimidating."),
    NoteData("fiona", "Awareness", None, QUESTION,
             "How did she first hear about us: Instagram, a friend, or the window?"),
    # Consideration
    NoteData("lea", "Consideration", "Browses the collection on the webstore", FRICTION,
             "No 360° view or try-on on the product pages: clients zoom into photos, then "
             "phone us to ask."),
    NoteData("lea", "Consideration", "Asks for a model's details on live chat", FRICTION,
             "She wanted the new collection's details at 10 pm, but nobody was on live chat. She "
             "nearly ordered from another maison."),
    NoteData("fiona", "Consideration", "Asks for a model's details on live chat", IDEA,
             "24/7 live chat and video calls with a watch specialist; a bot answers the basics and "
             "hands over to a person."),
    NoteData("sam", "Consideration", "Waits at the door while staff serve a VIC", FRICTION,
             "A young client came in, thrilled, and was ignored for ten minutes while we served a "
             "VIC. She left without a word."),
    NoteData("fiona", "Consideration", "Waits at the door while staff serve a VIC", QUESTION,
             "How does the client feel when told to wait?"),
    NoteData("lea", "Consideration", "Waits at the door while staff serve a VIC", IDEA,
             "Greet every client within a minute, even during a VIC appointment: a host at the "
             "door, a glass of water, a seat with the brand book."),
    NoteData("sam", "Consideration", "Waits at the door while staff serve a VIC", MOMENT,
             "A first-time buyer decides here, before anyone has said a word, whether the maison "
             "is for her."),
    NoteData("sam", "Consideration", "Books a private appointment", DELIGHT,
             "Clients love a personal call from their associate to confirm the appointment."),
    # Purchase
    NoteData("sam", "Purchase", "Tries the piece on with an associate", DELIGHT,
             "The associate told her how well the watch suited her and why she had chosen well. "
             "Her face lit up."),
    NoteData("lea", "Purchase", "Gets expert answers on craftsmanship", FRICTION,
             "The associate couldn't explain the difference between the two calibres she had "
             "researched online."),
    NoteData("marc", "Purchase", "Gets expert answers on craftsmanship", IDEA,
             "Sales training on calibres, heritage and soft skills before the new collection "
             "launches."),
    NoteData("sam", "Purchase", "Pays and receives the piece", OBSERVATION,
             "Payment happens at the counter in the back; the moment loses its magic."),
    NoteData("marc", "Purchase", "Chooses white-glove home delivery", IDEA,
             "White-glove delivery by her own associate, with a handwritten card and an unboxing "
             "moment."),
    # Service
    NoteData("sam", "Service", "Unboxes the piece at home", FRICTION,
             "The watch arrived in ordinary packaging, like any quick-commerce parcel. Nothing "
             "said Geneva."),
    NoteData("lea", "Service", "Registers the warranty online", FRICTION,
             "The warranty form asks for the serial number on the case back; clients can't "
             "find it."),
    NoteData("sam", "Service", None, QUESTION,
             "Who calls the client a week after delivery to ask how the watch feels?"),
    # Loyalty & Advocacy
    NoteData("marc", "Loyalty & Advocacy", "Is invited to a private event", DELIGHT,
             "Patrons invited to last year's atelier evening still talk about it."),
    NoteData("marc", "Loyalty & Advocacy", "Receives a personal follow-up from the associate",
             QUESTION,
             "When should the associate follow up, and on which channel does she want to hear "
             "from us?"),
    NoteData("fiona", "Loyalty & Advocacy", None, OBSERVATION,
             "If she can't wait to come back, we've done it right."),
)
# fmt: on


# The session before: a closed workshop on a patron's service visit, and what it decided. It gives
# the managers' review (the team's Actions page) and everyone's "My actions" something to follow up.
@dataclass(frozen=True)
class ActionData:
    title: str
    note: str  # the friction it came from, by its text
    owner: str  # a Person's username
    due_in_days: int
    status: str  # where the review has got to
    comment: str = ""


EARLIER_WORKSHOP_TITLE = "Henri's watch service: patron care review"
EARLIER_WORKSHOP_WEEKS_AGO = 5
EARLIER_SCENARIO_TITLE = "Henri's annual service"
EARLIER_SCENARIO_PERSONA = "Henri Lambert"

# fmt: off
EARLIER_NOTES: tuple[NoteData, ...] = (
    NoteData("lea", "Service", "Brings the piece in for servicing", FRICTION,
             "Henri called twice to ask where his watch was in the service workshop; nobody "
             "could tell him."),
    NoteData("sam", "Service", "Brings the piece in for servicing", FRICTION,
             "The service estimate came by post, on plain paper, three weeks after drop-off."),
    NoteData("marc", "Loyalty & Advocacy", "Receives a personal follow-up from the associate",
             FRICTION,
             "After the service nobody called: Henri heard of the new limited edition from a "
             "friend."),
)

# How Henri felt at each step the team rated then, and the moments of truth they marked.
EARLIER_RATINGS: tuple[Rating, ...] = (
    Rating("Consideration", "Books a private appointment", 1),
    Rating("Consideration", "Is welcomed and told the brand story in the boutique", 1),
    Rating("Service", "Unboxes the piece at home", 1),
    Rating("Service", "Registers the warranty online", -1),
    Rating("Service", "Brings the piece in for servicing", -2, MomentOfTruth.NEGATIVE),
    Rating("Loyalty & Advocacy", "Receives a personal follow-up from the associate", -2, MomentOfTruth.NEGATIVE),
    Rating("Loyalty & Advocacy", "Is invited to a private event", 2, MomentOfTruth.POSITIVE),
    Rating("Loyalty & Advocacy", "Shares the piece on social media", 0),
)

# The dots of that session's vote (3 each, at most 2 on a note): who, and a few words of the note.
EARLIER_VOTES: tuple[tuple[str, str], ...] = (
    ("sam", "Henri called twice"), ("sam", "Henri called twice"), ("sam", "nobody called"),
    ("lea", "Henri called twice"), ("lea", "The service estimate came by post"),
    ("lea", "The service estimate came by post"),
    ("marc", "nobody called"), ("marc", "nobody called"), ("marc", "Henri called twice"),
)

EARLIER_ACTIONS: tuple[ActionData, ...] = (
    ActionData("Tell every client where their watch is in the service workshop, by SMS at each step",
               "Henri called twice", "sam", 6, "in_progress",
               "The workshop's tracking sends the steps; the SMS wording is with marketing."),
    ActionData("Send service estimates by e-mail within 48 hours, signed by the associate",
               "The service estimate came by post", "lea", 12, "open"),
    ActionData("Call each patron a week after a service, and tell VICs about new references first",
               "nobody called", "marc", 20, "done",
               "In the clienteling playbook since the last team meeting."),
)
# fmt: on

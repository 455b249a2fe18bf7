"""Journey insights in real browsers: the emotion curve with the team's consensus, the friction
heatmap that filters the board, evidence on a touchpoint, the printable poster (and its PDF), the
board's history, and the closed loop of a follow-up session.

The tests share one server and run in order: each starts from what the previous ones left.
"""

from __future__ import annotations

import re
import textwrap

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import listening, shot
from tests.browser.test_live_board import open_board

SCENARIO_TITLE = "Camille's first fine watch"
DOOR = "Waits at the door while staff serve a VIC"
CHAT = "Asks for a model's details on live chat"
A3_LANDSCAPE = {"width": 1587, "height": 1123}  # CSS pixels at 96 dpi

PREAMBLE = f"""
from boards import services as b
from boards.models import MicroInteraction, Note, Scenario
from workshops.models import Membership
board = Scenario.objects.get(title={SCENARIO_TITLE!r})
m = {{x.user.username: x for x in Membership.objects.select_related("user").filter(team=board.workshop.team)}}
def step(action, scenario=board):
    return MicroInteraction.objects.get(phase__scenario=scenario, action=action)
def note(text):
    return Note.objects.get(scenario=board, text__contains=text)
"""


def run(app_server, code: str) -> str:
    """Run Python against the server's database (through the services), return its last line."""
    out = app_server.manage("shell", "-c", PREAMBLE + textwrap.dedent(code))
    lines = out.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.fixture(scope="module")
def board_url(app_server) -> str:
    return f"/boards/{int(run(app_server, 'print(board.pk)'))}/"


def step_card(page: Page, action: str):
    return page.locator(".interaction", has=page.locator(".interaction-action", has_text=action))


def test_it_draws_the_emotion_curve_and_the_teams_consensus_live(
    desktop, phone, new_context, sign_in, board_url, app_server, watch_errors
):
    errors = {"laptop": watch_errors(desktop), "phone": watch_errors(phone)}
    fiona = open_board(desktop, sign_in, "fiona", board_url)
    sam = open_board(phone, sign_in, "sam", board_url)
    lea = open_board(new_context(viewport={"width": 1280, "height": 860}).new_page(), sign_in, "lea", board_url)

    # The curve is drawn from the facilitator's ratings: a point per rated step, marks on the
    # moments of truth.
    curve = fiona.locator("#emotion-curve svg.curve-svg")
    expect(curve).to_be_visible()
    expect(curve.locator(".curve-point")).to_have_count(18)
    expect(curve.locator(".curve-mot.mot-positive")).to_have_count(3)
    expect(curve.locator(".curve-mot.mot-negative")).to_have_count(3)
    expect(sam.locator(".rate-tools").first).to_be_hidden()
    # A phone opens on the notes: its curve starts folded, and opens with a tap.
    expect(sam.locator("details.insight-curve")).not_to_have_attribute("open", "")
    expect(sam.locator("#emotion-curve svg.curve-svg")).to_be_hidden()
    sam.locator("details.insight-curve summary").click()
    expect(sam.locator("#emotion-curve svg.curve-svg")).to_be_visible()

    # Consensus mode: the facilitator opens emotion rating; everyone gets the buttons.
    fiona.locator("#session summary", has_text="Facilitate").click()
    fiona.get_by_role("button", name="Open emotion rating").click()
    for page in (sam, lea):
        expect(page.locator("#session")).to_have_attribute("data-rating", "open")
        expect(step_card(page, DOOR).locator(".rate-tools")).to_be_visible()

    # Two people disagree about the wait at the door, a third agrees with one of them.
    step_card(sam, DOOR).get_by_role("button", name="+1 Positive").click()
    expect(step_card(sam, DOOR).get_by_role("button", name="+1 Positive")).to_have_attribute("aria-pressed", "true")
    step_card(lea, DOOR).get_by_role("button", name="−2 Very negative").click()
    run(app_server, f"b.rate_emotion(actor=m['marc'], interaction=step({DOOR!r}), value=1)")
    step_card(sam, CHAT).get_by_role("button", name="−1 Negative").click()
    step_card(lea, CHAT).get_by_role("button", name="−2 Very negative").click()

    # The projector's curve follows live: the median, a band for the spread, the dispute flagged,
    # and nobody's name.
    disputes = fiona.locator("#emotion-curve .curve-disputes")
    expect(disputes).to_contain_text(DOOR)
    expect(disputes).to_contain_text("median +1")
    expect(fiona.locator("#emotion-curve .curve-point.is-disputed")).to_have_count(1)
    expect(fiona.locator("#emotion-curve .curve-band")).not_to_have_count(0)
    expect(fiona.locator("#emotion-curve figcaption")).to_contain_text("3 people rated")
    for name in ("Samuel", "Léa", "Marc"):
        expect(fiona.locator("#emotion-curve")).not_to_contain_text(name)
    # Lea's own choice stays hers: Sam's page doesn't light it up.
    expect(step_card(sam, DOOR).get_by_role("button", name="−2 Very negative")).to_have_attribute("aria-pressed", "false")

    fiona.get_by_role("button", name="Close emotion rating").click()
    expect(sam.locator("#session")).to_have_attribute("data-rating", "closed")
    expect(step_card(sam, DOOR).locator(".rate-tools")).to_be_hidden()
    fiona.locator("#session details.controls").evaluate("d => d.open = false")
    fiona.locator("details.insight-curve").screenshot(path=shot("emotion-curve.png"))
    assert errors == {"laptop": [], "phone": []}


@pytest.fixture(scope="module")
def voted(app_server) -> None:
    """A revealed dot vote: the boutique team and marketing put their dots on the frictions."""
    run(app_server, """
        b.open_voting_round(actor=m["fiona"], scenario=board, budget=3, cap_per_note=2)
        for who, texts in {
            "sam": ["ignored for ten minutes", "ignored for ten minutes", "ordinary packaging"],
            "lea": ["nobody was on live chat", "nobody was on live chat", "ignored for ten minutes"],
            "marc": ["ordinary packaging", "couldn't explain the difference", "No 360"],
            "fiona": ["ignored for ten minutes", "serial number", "nobody was on live chat"],
        }.items():
            for text in texts:
                b.cast_vote(actor=m[who], note=note(text))
        b.reveal_votes(actor=m["fiona"], scenario=board)
        b.set_stage(actor=m["fiona"], scenario=board, stage="discuss")
    """)


def test_it_maps_friction_by_phase_and_channel_and_filters_the_board(
    desktop, sign_in, board_url, voted, watch_errors
):
    errors = watch_errors(desktop)
    fiona = open_board(desktop, sign_in, "fiona", board_url)
    heat = fiona.locator("details.insight-heatmap")
    heat.locator("summary").click()
    table = heat.locator("table.heatmap")
    expect(table).to_be_visible()
    expect(table.locator("thead th")).to_contain_text(["Phase", "Boutique", "Website", "Chat"])
    # Consideration × Boutique: the client ignored at the door, 4 dots.
    cell = table.locator("tr", has=fiona.locator("th", has_text="Consideration")).locator('td[data-channel="boutique"]')
    expect(cell).to_contain_text("1")
    expect(cell).to_contain_text("● 4")
    expect(cell).to_have_class(re.compile(r"heat-4"))
    heat.screenshot(path=shot("heatmap.png"))

    # A cell opens the board on its friction notes only.
    cell.get_by_role("link").click()
    expect(fiona).to_have_url(re.compile(r"\?phase=\d+&channel=boutique"))
    expect(fiona.locator(".filter-banner")).to_contain_text("Consideration · Boutique")
    visible = fiona.locator("#board .note:visible")
    expect(visible).to_have_count(1)
    expect(visible).to_contain_text("ignored for ten minutes")
    expect(fiona.locator("#board .phase:visible")).to_have_count(1)
    fiona.get_by_role("link", name="Show the whole board").click()
    expect(fiona.locator(".filter-banner")).to_have_count(0)
    expect(fiona.locator("#board .phase:visible")).to_have_count(5)
    assert errors == []


@pytest.mark.parametrize("who", ["sam", "fiona"])  # a facilitator's ranking has a column more
def test_it_keeps_the_heatmap_readable_on_a_phone(phone, sign_in, board_url, voted, who):
    sam = open_board(phone, sign_in, who, board_url)
    # The revealed ranking, a column per business function, scrolls by itself: the page fits.
    expect(sam.locator("#results .ranking")).to_be_visible()
    assert sam.evaluate("document.documentElement.scrollWidth") <= phone.viewport_size["width"]
    heat = sam.locator("details.insight-heatmap")
    heat.locator("summary").click()
    caption = heat.locator(".heatmap-caption")
    expect(caption).to_contain_text("Swipe sideways for every channel")
    width = phone.viewport_size["width"]
    box = caption.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box  # the words fit the screen
    scroller = heat.locator(".heatmap-scroll")
    assert scroller.evaluate("el => el.scrollWidth > el.clientWidth"), "the channels are wider than a phone"
    scroller.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    name = heat.locator('th[scope="row"]', has_text="Consideration")
    frame = scroller.bounding_box()
    expect(name).to_be_in_viewport()
    assert abs(name.bounding_box()["x"] - frame["x"]) < 8, "the phase names stay at the left edge"


def test_it_backs_a_touchpoint_with_metrics_and_customer_quotes(
    desktop, phone, sign_in, board_url, watch_errors
):
    errors = {"laptop": watch_errors(desktop), "phone": watch_errors(phone)}
    fiona = open_board(desktop, sign_in, "fiona", board_url)
    sam = open_board(phone, sign_in, "sam", board_url)
    card = step_card(fiona, CHAT)
    card.get_by_role("button", name=f"Evidence for {CHAT}").click()
    dialog = fiona.locator("#dialog")
    expect(dialog).to_contain_text("No metric yet.")

    def open_form(button: str, field: str) -> None:
        """Click a button of the dialog once htmx listens to it; wait for the form it brings to
        listen too."""
        listening(dialog)
        dialog.get_by_role("button", name=button).click()
        expect(dialog.get_by_label(field, exact=True)).to_be_visible()
        listening(dialog)

    def add_metric(name: str, value: str, unit: str, source: str, date: str) -> None:
        open_form("+ Metric", "Measure")
        dialog.get_by_label("Measure", exact=True).fill(name)
        dialog.get_by_label("Value").fill(value)
        dialog.get_by_label("Unit").fill(unit)
        dialog.get_by_label("Source").fill(source)
        dialog.get_by_label("Measured on").fill(date)
        dialog.get_by_role("button", name="Add metric").click()
        expect(dialog.locator(".evidence-metrics")).to_contain_text(name)

    add_metric("Chat reply", "9", "h", "Chat logs, October", "2026-10-31")
    add_metric("CSAT", "3.1", "/5", "Post-chat survey", "2026-10-31")
    add_metric("Typo", "1", "", "", "")
    # A measure from the future is refused with a clear message, and the form is kept.
    open_form("+ Metric", "Measure")
    dialog.get_by_label("Measure", exact=True).fill("NPS")
    dialog.get_by_label("Value").fill("40")
    dialog.get_by_label("Measured on").fill("2099-01-01")
    dialog.get_by_role("button", name="Add metric").click()
    expect(dialog.locator(".field.has-error")).to_contain_text("Pick a date that has passed")
    expect(dialog.get_by_label("Value")).to_have_value("40")
    assert any(e.startswith("HTTP 422: POST") for e in errors["laptop"]), errors  # the refusal, as meant
    errors["laptop"].clear()
    dialog.get_by_role("button", name="Cancel").click()

    card.get_by_role("button", name=f"Evidence for {CHAT}").click()
    expect(dialog.get_by_role("button", name="Remove the metric Typo")).to_be_visible()
    listening(dialog)
    dialog.get_by_role("button", name="Remove the metric Typo").click()
    expect(dialog.locator(".evidence-metrics")).not_to_contain_text("Typo")
    open_form("+ Quote", "What the customer said")
    dialog.get_by_label("What the customer said").fill(
        "I wanted to know the case size at 10 pm and nobody answered. I almost bought elsewhere."
    )
    dialog.get_by_label("Source").fill("Google review")
    dialog.get_by_label("Heard on").fill("2026-11-02")
    dialog.get_by_role("button", name="Add quote").click()
    expect(dialog.locator(".evidence-quotes")).to_contain_text("almost bought elsewhere")
    dialog.get_by_role("button", name="Close").click()

    # Everyone sees it on the step at once, compactly.
    on_phone = step_card(sam, CHAT).locator(".evidence")
    expect(on_phone.locator(".metric")).to_have_count(2)
    expect(on_phone.locator(".metric").first).to_contain_text("Chat reply 9 h")
    expect(on_phone).to_contain_text("1 customer quote")
    expect(on_phone).not_to_contain_text("Typo")
    card.locator("details.quotes summary").click()
    expect(card.locator(".customer-quote")).to_contain_text("Google review")
    card.scroll_into_view_if_needed()
    card.screenshot(path=shot("evidence.png"))
    assert errors == {"laptop": [], "phone": []}


def test_it_prints_the_whole_journey_as_an_a3_poster(desktop, sign_in, board_url, watch_errors):
    errors = watch_errors(desktop)
    sign_in(desktop, "marc")
    desktop.goto(board_url)
    desktop.locator(".board-menu summary").click()
    desktop.get_by_role("link", name="Poster (print)").click()
    expect(desktop.locator(".poster h1")).to_have_text(SCENARIO_TITLE)
    expect(desktop.locator(".poster .journey-phase")).to_have_count(5)
    expect(desktop.locator(".poster .curve-point")).to_have_count(18)
    expect(desktop.locator(".poster-ranking li").first).to_contain_text("ignored for ten minutes")
    expect(desktop.locator(".poster .metric").first).to_contain_text("Chat reply")
    # On a laptop's screen every column of the heatmap is in sight, on a row of its own.
    heat = desktop.locator(".poster-heat")
    assert heat.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert heat.bounding_box()["width"] > desktop.viewport_size["width"] * 0.9

    # Printed, it is one A3 landscape sheet (the page's own @page rule), without the toolbar.
    desktop.set_viewport_size(A3_LANDSCAPE)
    desktop.emulate_media(media="print")
    expect(desktop.locator(".poster-bar")).to_be_hidden()
    desktop.screenshot(path=shot("poster.png"), full_page=True)
    printed = desktop.pdf(prefer_css_page_size=True, print_background=True)
    size = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", printed)
    assert size and (round(float(size.group(1))), round(float(size.group(2)))) == (1191, 842)
    desktop.emulate_media(media="screen")

    # The server makes the same poster as a PDF file.
    response = desktop.request.get(board_url + "poster.pdf")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
    assert errors == []


def test_it_fits_the_poster_to_a_phones_width(phone, sign_in, board_url, watch_errors):
    errors = watch_errors(phone)
    sign_in(phone, "sam")
    phone.goto(board_url + "poster/")
    expect(phone.locator(".poster .journey-phase")).to_have_count(5)
    # The page never scrolls sideways: the phases read top to bottom, each as wide as the screen.
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phases = phone.locator(".poster .journey-phase")
    first, second = phases.nth(0).bounding_box(), phases.nth(1).bounding_box()
    assert second["y"] > first["y"] + first["height"] - 1 and abs(second["x"] - first["x"]) < 1
    assert first["width"] > phone.viewport_size["width"] * 0.8
    # The curve keeps its size and scrolls in its own box.
    assert phone.locator(".poster .curve-scroll").evaluate("el => el.scrollWidth > el.clientWidth")
    phone.screenshot(path=shot("poster-phone.png"))
    assert errors == []


def test_it_replays_the_board_as_it_was_with_a_timeline(desktop, sign_in, board_url, app_server, watch_errors):
    errors = watch_errors(desktop)
    # A private round: Sam's note is hidden until the facilitator reveals it.
    run(app_server, """
        b.start_private_round(actor=m["fiona"], scenario=board)
        b.add_note(actor=m["sam"], scenario=board, phase=step("Unboxes the piece at home").phase,
                   micro_interaction=step("Unboxes the piece at home"), kind="idea",
                   text="Engrave her initials on the presentation box")
    """)
    sign_in(desktop, "lea")
    desktop.goto(board_url + "history/")
    timeline = desktop.locator(".timeline-list")
    expect(timeline.locator(".timeline-entry").first).to_contain_text("Samuel Rochat added a private note")
    expect(timeline).not_to_contain_text("Engrave her initials")
    # Dots and ratings are in the log without anyone's name.
    dot = timeline.locator('.timeline-entry[data-kind="voting.dot_added"]').first
    expect(dot.locator(".timeline-text")).to_have_text("A dot was placed")
    expect(timeline.locator('.timeline-entry[data-kind="emotion.rated"]').first).to_contain_text("Someone rated")

    run(app_server, 'b.reveal_private_notes(actor=m["fiona"], scenario=board)')
    desktop.reload()
    expect(timeline).to_contain_text("Engrave her initials")

    # The board before the vote: back to the change that opened it.
    opened = timeline.locator('.timeline-entry[data-kind="voting.opened"]')
    opened.get_by_role("link").click()
    expect(desktop.locator("#history-at")).to_contain_text(re.compile(r"after change #\d+ of \d+"))
    expect(desktop.locator(".timeline-entry.is-current")).to_contain_text("opened dot voting")
    board = desktop.locator("#history-board")
    expect(board.locator(".journey-phase")).to_have_count(5)
    expect(board.locator(".journey-dots")).to_have_count(0)
    expect(board).not_to_contain_text("Engrave her initials")
    # The end of the session shows the dots, the evidence and the revealed note.
    desktop.locator(".history-sessions a").last.click()
    expect(board.locator(".journey-dots").first).to_be_visible()
    expect(board).to_contain_text("Engrave her initials")
    expect(board.locator(".metric").first).to_contain_text("Chat reply")
    # The board just after the reveal, for the record.
    timeline.locator('.timeline-entry[data-kind="voting.revealed"]').get_by_role("link").click()
    expect(desktop.locator(".timeline-entry.is-current")).to_contain_text("revealed the votes")
    desktop.locator("h1").scroll_into_view_if_needed()
    desktop.screenshot(path=shot("history.png"))
    assert errors == []


def test_it_shows_before_and_after_when_the_follow_up_re_rates_the_steps(
    desktop, sign_in, app_server, watch_errors
):
    errors = watch_errors(desktop)
    follow_up = run(app_server, f"""
        import datetime
        from workshops import services as w
        due = datetime.date.today() + datetime.timedelta(days=21)
        w.create_action(actor=m["fiona"], scenario=board, notes=[note("ignored for ten minutes")],
                        title="A host greets every client within a minute", owner=m["sam"], due_date=due)
        w.create_action(actor=m["fiona"], scenario=board, notes=[note("nobody was on live chat")],
                        title="Video calls with a watch specialist until 11 pm", owner=m["lea"], due_date=due)
        workshop = board.workshop
        w.update_workshop(actor=m["fiona"], workshop=workshop, title=workshop.title, date=workshop.date,
                          status="closed", follows_up=None)
        new = w.plan_next_workshop(actor=m["fiona"], workshop=workshop, title="Follow-up: first visit",
                                   date=workshop.date + datetime.timedelta(days=35))
        again = new.scenarios.get()
        b.rate_micro_interaction(actor=m["fiona"], interaction=step({DOOR!r}, again), emotion=2,
                                 moment_of_truth="positive")
        print(again.pk)
    """)
    fiona = open_board(desktop, sign_in, "fiona", f"/boards/{int(follow_up)}/")
    loop = fiona.locator("#closed-loop")
    expect(loop).to_be_visible()
    door = loop.locator(".loop-row", has_text=DOOR)
    expect(door.locator(".loop-before")).to_have_text("+1")  # the team's median last session
    expect(door.locator(".loop-after")).to_have_text("+2")
    expect(door.locator(".loop-change")).to_contain_text("better")
    chat = loop.locator(".loop-row", has_text=CHAT)
    expect(chat.locator(".loop-after")).to_contain_text("not re-rated yet")
    expect(fiona.locator("#emotion-curve .curve-before")).to_have_count(2)

    # The team re-rates the chat live: the row and the curve follow.
    fiona.locator("#session summary", has_text="Facilitate").click()
    fiona.get_by_role("button", name="Open emotion rating").click()
    step_card(fiona, CHAT).get_by_role("button", name="+1 Positive").click()
    expect(chat.locator(".loop-after")).to_have_text("+1")
    expect(chat.locator(".loop-change")).to_contain_text("better")
    fiona.get_by_role("button", name="Close emotion rating").click()
    fiona.locator("#session details.controls").evaluate("d => d.open = false")
    fiona.locator(".insights").screenshot(path=shot("closed-loop.png"))
    assert errors == []

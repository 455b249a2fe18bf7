"""The live board in real browsers: a facilitator on a laptop and boutique staff on a phone.

Everything goes through the real app (uvicorn in its own process): the phone's note reaches the
projector without a reload, a move made on the laptop reaches the phone, and both pages come back
by themselves after the server is stopped and started again, with nothing lost or doubled.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import listening, shot

SCENARIO_TITLE = "Camille's first fine watch"


@pytest.fixture(scope="module")
def board_url(app_server) -> str:
    pk = app_server.manage(
        "shell", "-c",
        f"from boards.models import Scenario; print(Scenario.objects.get(title={SCENARIO_TITLE!r}).pk)",
    ).strip().splitlines()[-1]
    return f"/boards/{int(pk)}/"


def open_board(page: Page, sign_in, username: str, url: str) -> Page:
    sign_in(page, username)
    page.goto(url)
    expect(page.locator("#sync-status")).to_have_attribute("data-state", "live")
    return page


def capture(phone: Page, *, phase: str, interaction: str, kind: str, text: str, send: bool = True) -> None:
    form = phone.locator("#capture-form")
    # A form htmx has just swapped in listens once it has settled (htmx-added is then removed).
    expect(form).not_to_have_class(re.compile(r"htmx-added"))
    with phone.expect_response(re.compile(r"/capture/interactions/")):
        form.get_by_label("Phase").select_option(label=phase)
    form.get_by_label("Micro-interaction").select_option(label=interaction)
    form.locator(f'input[name="kind"][value="{kind}"]').check()
    form.get_by_placeholder("What did you see, hear or think?").fill(text)
    if send:
        form.get_by_role("button", name="Send").click()


def sent(phone: Page) -> None:
    """The capture form of this submission is back: "Sent" and an empty note. (The form of the
    previous one says "Sent" too, and the note's push can arrive before the response.)"""
    form = phone.locator("#capture-form")
    expect(form.locator("#capture-text")).to_have_value("")
    expect(form).to_contain_text("Sent")


def drag(page: Page, source, target) -> None:
    """Drag with the mouse in small steps, as a hand does (HTML5 drag and drop needs the moves)."""
    source.evaluate("el => el.scrollIntoView({block: 'start', inline: 'nearest'})")
    a, b = source.bounding_box(), target.bounding_box()
    assert b["y"] + b["height"] / 2 < page.viewport_size["height"], "drop target is off screen"
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=8)
    page.mouse.up()


def test_it_carries_notes_between_the_phone_and_the_projector(
    desktop, phone, sign_in, board_url, watch_errors
):
    errors = {"laptop": watch_errors(desktop), "phone": watch_errors(phone)}
    open_board(desktop, sign_in, "fiona", board_url)
    open_board(phone, sign_in, "sam", board_url)

    # Both see who is here.
    expect(desktop.locator("#presence")).to_contain_text("Samuel Rochat")
    expect(phone.locator("#presence")).to_contain_text("Fiona Keller")

    # Staff capture a friction on the phone; it lands on the facilitator's screen without a reload.
    text = "Client asked twice for the strap sizes and nobody knew"
    capture(phone, phase="Purchase", interaction="Tries the piece on with an associate", kind="friction", text=text)
    sent(phone)
    on_projector = desktop.locator(".note", has_text=text)
    expect(on_projector).to_have_count(1)
    expect(on_projector).to_have_class(re.compile(r"kind-friction"))
    on_projector.scroll_into_view_if_needed()
    desktop.screenshot(path=shot("live-board.png"))
    phone.screenshot(path=shot("live-board-phone.png"))

    # The facilitator drags it to another micro-interaction; the phone shows it moved.
    source_list = desktop.locator(".interaction", has_text="Tries the piece on with an associate").locator(".notes")
    target = desktop.locator(".interaction", has_text="Gets expert answers on craftsmanship").locator(".notes")
    drag(desktop, on_projector, target)
    expect(target.locator(".note", has_text=text)).to_have_count(1)
    expect(source_list.locator(".note", has_text=text)).to_have_count(0)
    moved_on_phone = phone.locator(".interaction", has_text="Gets expert answers on craftsmanship").locator(".note", has_text=text)
    expect(moved_on_phone).to_have_count(1)

    # And with the keyboard-friendly "Move to…" dialog, to the whole Service phase.
    desktop.locator(".note", has_text=text).get_by_role("button", name="Move note to…").click()
    dialog = desktop.locator("#dialog")
    expect(dialog.get_by_label("Move to")).to_be_visible()
    listening(dialog)
    dialog.get_by_label("Move to").select_option(label="Service (whole phase)")
    dialog.get_by_role("button", name="Move").click()
    expect(dialog).to_be_hidden()
    service_phase_notes = phone.locator(".phase", has_text="Be looked after once the piece is home").locator(".phase-notes")
    expect(service_phase_notes.locator(".note", has_text=text)).to_have_count(1)
    assert errors == {"laptop": [], "phone": []}


def test_it_reconnects_after_a_server_restart_and_loses_nothing(
    desktop, phone, sign_in, board_url, app_server, new_context
):
    open_board(desktop, sign_in, "fiona", board_url)
    open_board(phone, sign_in, "sam", board_url)
    text = "Packaging looked like any parcel: no ceremony at all"
    capture(phone, phase="Service", interaction="Unboxes the piece at home", kind="friction", text=text, send=False)

    app_server.stop()
    for page in (desktop, phone):
        expect(page.locator("#sync-status")).not_to_have_attribute("data-state", "live")

    # The phone sends its note while the server is down: it fails visibly and keeps the form.
    phone.locator("#capture-form").get_by_role("button", name="Send").click()
    expect(phone.locator("#capture-form .net-error")).to_contain_text("Couldn't reach the server")

    app_server.start()

    # Meanwhile a colleague adds a note from her own device as soon as the server is back.
    lea = new_context(viewport={"width": 375, "height": 812}).new_page()
    open_board(lea, sign_in, "lea", board_url)
    colleague = "Told the client the strap must be ordered: she left disappointed"
    capture(lea, phase="Purchase", interaction="Pays and receives the piece", kind="observation", text=colleague)
    sent(lea)

    # Both pages reconnect by themselves and catch up.
    for page in (desktop, phone):
        expect(page.locator("#sync-status")).to_have_attribute("data-state", "live", timeout=15000)
        expect(page.locator(".note", has_text=colleague)).to_have_count(1)

    # The phone retries the same submission: it takes effect once, and shows up on both.
    phone.locator("#capture-form").get_by_role("button", name="Send").click()
    sent(phone)
    for page in (desktop, phone, lea):
        expect(page.locator(".note", has_text=text)).to_have_count(1)


def test_it_recovers_a_lost_push_by_asking_for_what_it_missed(desktop, sign_in, board_url, new_context):
    """A push that never arrives leaves a gap in seq: the page reconnects with the last seq it
    applied, and the server replays exactly the missing events."""
    first, second = "Gap test: the first note", "Gap test: the second note"
    dropped: list[str] = []
    sockets: list[str] = []

    def lose_the_first_note(ws):
        sockets.append(ws.url)
        server = ws.connect_to_server()

        def from_server(message):
            if first in str(message) and not dropped:
                dropped.append(str(message))  # lost on the way, as on flaky shop Wi-Fi
                return
            ws.send(message)

        server.on_message(from_server)

    desktop.route_web_socket(re.compile(r"/ws/boards/"), lose_the_first_note)
    open_board(desktop, sign_in, "fiona", board_url)

    lea = new_context(viewport={"width": 375, "height": 812}).new_page()
    open_board(lea, sign_in, "lea", board_url)
    capture(lea, phase="Awareness", interaction="Walks past the boutique window", kind="observation", text=first)
    sent(lea)
    capture(lea, phase="Awareness", interaction="Walks past the boutique window", kind="observation", text=second)

    for text in (first, second):
        expect(desktop.locator(".note", has_text=text)).to_have_count(1)
    assert dropped, "the first push was not intercepted"
    assert len(sockets) == 2 and "since=" in sockets[1]


def test_it_applies_several_pushes_that_come_in_one_message(desktop, sign_in, board_url, new_context):
    """A busy board's pushes that waited together come in one message, each with its own seq
    marker: the page applies them all, in order, and stays on the same socket. (Here the test
    joins three pushes on their way to the page, to be sure they come together.)"""
    texts = [f"Busy board: note {i} of three" for i in (1, 2, 3)]
    held: list[str] = []
    joined: list[str] = []
    sockets: list[str] = []

    def three_in_one(ws):
        sockets.append(ws.url)
        server = ws.connect_to_server()

        def from_server(message):
            text = str(message)
            if text.startswith('<span id="board-seq"') and "data-reset" not in text[:80]:
                held.append(text)
                if len(held) == 3:
                    joined.append("".join(held))
                    held.clear()
                    ws.send(joined[-1])
                return
            ws.send(message)

        server.on_message(from_server)

    desktop.route_web_socket(re.compile(r"/ws/boards/"), three_in_one)
    open_board(desktop, sign_in, "fiona", board_url)
    lea = new_context(viewport={"width": 375, "height": 812}).new_page()
    open_board(lea, sign_in, "lea", board_url)
    for text in texts:
        capture(lea, phase="Consideration", interaction="Books a private appointment", kind="idea", text=text)
        sent(lea)
        expect(lea.locator(".note", has_text=text)).to_have_count(1)

    notes = desktop.locator(".interaction", has_text="Books a private appointment").locator(".note")
    expect(notes.filter(has_text="Busy board")).to_have_count(3)
    shown = notes.filter(has_text="Busy board").all_inner_texts()
    assert [next(i for i, text in enumerate(texts) if text in note) for note in shown] == [0, 1, 2]
    assert len(joined) == 1 and joined[0].count('<span id="board-seq"') == 3
    seq = lea.locator("#board-seq").get_attribute("data-seq")
    expect(desktop.locator("#board-seq")).to_have_attribute("data-seq", seq)
    expect(desktop.locator("#sync-status")).to_have_attribute("data-state", "live")
    assert len(sockets) == 1, "the page reconnected instead of applying the message"
    notes.filter(has_text=texts[2]).scroll_into_view_if_needed()
    desktop.screenshot(path=shot("busy-board.png"))


def test_it_tells_the_facilitator_when_the_note_being_edited_was_deleted(desktop, phone, sign_in, board_url):
    open_board(desktop, sign_in, "fiona", board_url)
    open_board(phone, sign_in, "sam", board_url)
    text = "Asked whether the strap can be shortened in the boutique"
    capture(phone, phase="Purchase", interaction="Tries the piece on with an associate", kind="question", text=text)
    sent(phone)

    # The facilitator opens the note's edit dialog while its author deletes it from the phone.
    desktop.locator(".note", has_text=text).get_by_role("button", name="Edit note").click()
    dialog = desktop.locator("#dialog")
    expect(dialog.get_by_role("button", name="Save")).to_be_visible()
    listening(dialog)
    phone.locator(".note", has_text=text).get_by_role("button", name="Delete note").click()
    phone.locator("#dialog").get_by_role("button", name="Delete").click()
    expect(desktop.locator("#board .note", has_text=text)).to_have_count(0)

    dialog.locator("textarea").fill(text + ", and how long it takes")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_contain_text("someone may have deleted it. Nothing was changed.")
    expect(dialog.get_by_label("What you typed, to copy into a new note")).to_have_value(text + ", and how long it takes")
    expect(desktop.locator("#board")).to_be_visible()  # the board is still there behind it
    desktop.screenshot(path=shot("note-deleted-meanwhile.png"))
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_it_shows_every_kind_of_note_on_a_phone(phone, sign_in, board_url):
    open_board(phone, sign_in, "sam", board_url)
    width = phone.viewport_size["width"]
    options = phone.locator("#capture-form .kind-option")
    expect(options).to_have_count(6)
    for option in options.all():
        box = option.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, option.inner_text()
    options.filter(has_text="Delight").click()
    expect(phone.locator('#capture-form input[name="kind"][value="delight"]')).to_be_checked()
    options.filter(has_text="Moment of truth").click()
    expect(phone.locator('#capture-form input[name="kind"][value="moment"]')).to_be_checked()


def test_it_shows_a_closed_workshop_on_the_phone_and_refuses_its_notes(desktop, phone, sign_in, board_url):
    open_board(phone, sign_in, "sam", board_url)
    sign_in(desktop, "fiona")

    def set_status(label: str) -> None:
        desktop.goto(phone.locator(".crumbs a[href^='/workshops/']").first.get_attribute("href") or "/")
        desktop.locator("summary", has_text="Edit").first.click()
        desktop.get_by_label("Status").select_option(label=label)
        desktop.get_by_role("button", name="Save").first.click()
        expect(desktop.locator(".status-badge").first).to_have_text(label)

    box = phone.get_by_placeholder("What did you see, hear or think?")
    box.fill("Written after the session")
    set_status("Closed")
    expect(phone.locator("#session")).to_contain_text("Workshop closed")  # pushed, no reload
    # Nothing offered that the server would refuse: the note form and the notes' tools step aside.
    expect(phone.locator(".capture")).to_be_hidden()
    expect(phone.locator(".add-note-here").first).to_be_hidden()
    set_status("Live")  # opened again: what was typed is still there
    expect(phone.locator("#session")).not_to_contain_text("Workshop closed")
    expect(box).to_be_visible()
    expect(box).to_have_value("Written after the session")


def test_it_keeps_the_phone_form_in_step_as_phases_and_steps_come_and_go(desktop, phone, sign_in, board_url, watch_errors):
    errors = {"laptop": watch_errors(desktop), "phone": watch_errors(phone)}
    open_board(desktop, sign_in, "fiona", board_url)
    open_board(phone, sign_in, "sam", board_url)
    form = phone.locator("#capture-form")
    draft = phone.get_by_placeholder("What did you see, hear or think?")
    draft.fill("The box is too big for a handbag")
    dialog = desktop.locator("#dialog")

    # A phase added on the laptop joins the phone's Phase list and the facilitator's Focus list.
    desktop.get_by_role("button", name="+ Phase").click()
    dialog.get_by_label("Name").fill("Repair")
    dialog.get_by_role("button", name="Add phase").click()
    expect(form.get_by_label("Phase").locator("option", has_text="Repair")).to_have_count(1)
    expect(desktop.locator("#focus-select option", has_text="Repair")).to_have_count(1)
    expect(draft).to_have_value("The box is too big for a handbag")  # the push left the form alone

    # The phone picks it; a step added on the laptop joins its Micro-interaction list.
    with phone.expect_response(re.compile(r"/capture/interactions/")):
        form.get_by_label("Phase").select_option(label="Repair")
    repair = desktop.locator("#board .phase", has_text="Repair")
    repair.get_by_role("button", name="+ Micro-interaction").click()
    dialog.get_by_label("What the customer does").fill("Drops the watch off for its first service")
    dialog.get_by_label("Channel").select_option(label="Boutique")
    dialog.get_by_role("button", name="Add").click()
    step = form.get_by_label("Micro-interaction").locator("option", has_text="Drops the watch off")
    expect(step).to_have_count(1)
    form.get_by_label("Micro-interaction").select_option(label="Drops the watch off for its first service")
    form.get_by_role("button", name="Send").click()
    sent(phone)
    note = desktop.locator("#board .interaction .note", has_text="too big for a handbag")
    expect(note).to_have_count(1)

    # Deleting the step keeps its note on the phase; the phone's list loses the step.
    repair.locator(".interaction-head").get_by_role("button", name=re.compile("Edit micro-interaction")).click()
    dialog.get_by_role("button", name="Delete it…").click()
    expect(dialog).to_contain_text("Its note stays: it moves to “On the whole phase” in Repair.")
    dialog.get_by_role("button", name="Delete it", exact=True).click()
    expect(repair.locator(".interaction")).to_have_count(0)
    expect(repair.locator(".phase-notes .note", has_text="too big for a handbag")).to_have_count(1)
    expect(phone.locator("#board .phase-notes .note", has_text="too big for a handbag")).to_have_count(1)
    expect(step).to_have_count(0)
    expect(form.get_by_label("Micro-interaction")).to_have_value("")
    notice = phone.locator("#capture-notice")  # and the phone is told, not silently switched
    expect(notice).to_have_text(re.compile("The micro-interaction you picked is no longer on the board"))
    form.get_by_label("Micro-interaction").select_option(value="")
    expect(notice).to_be_hidden()

    # A phase with notes stays, and says why.
    repair.get_by_role("button", name="Edit phase Repair").click()
    dialog.get_by_role("button", name="Delete the phase…").click()
    expect(dialog).to_contain_text("It holds 1 note: move them to another phase or delete them first.")
    desktop.screenshot(path=shot("phase-delete-refused.png"))
    dialog.get_by_role("button", name="Close").click()

    # Once empty, it goes, from the phone's list too.
    repair.locator(".note", has_text="too big for a handbag").get_by_role("button", name="Delete note").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(repair.locator(".note")).to_have_count(0)
    repair.get_by_role("button", name="Edit phase Repair").click()
    dialog.get_by_role("button", name="Delete the phase…").click()
    dialog.get_by_role("button", name="Delete the phase", exact=True).click()
    expect(desktop.locator("#board .phase", has_text="Repair")).to_have_count(0)
    expect(form.get_by_label("Phase").locator("option", has_text="Repair")).to_have_count(0)
    expect(form.get_by_label("Phase")).not_to_have_value("")
    expect(notice).to_have_text(re.compile("The phase you picked is no longer on the board"))
    expect(desktop.locator("#focus-select option", has_text="Repair")).to_have_count(0)
    assert errors == {"laptop": [], "phone": []}


def test_it_wraps_a_long_phase_name_and_keeps_its_tools_in_reach(desktop, phone, sign_in, board_url):
    open_board(desktop, sign_in, "fiona", board_url)
    status = desktop.locator("#sync-status")
    expect(status).to_have_text("Connected")  # the connection, not the workshop
    box = status.bounding_box()
    assert box["x"] + box["width"] > desktop.viewport_size["width"] - 60, "the connection pill is not top right"
    name = "Serviceaprèsvente" * 4  # one 68-character word
    dialog = desktop.locator("#dialog")
    desktop.get_by_role("button", name="+ Phase").click()
    dialog.get_by_label("Name").fill(name)
    dialog.get_by_role("button", name="Add phase").click()
    phase = desktop.locator("#board .phase", has_text=name)
    expect(phase.locator("h2")).to_be_in_viewport()  # added at the far right, brought into sight
    left = phase.get_by_role("button", name=f"Move {name} left")
    expect(left).to_be_visible()
    # The last phase has nowhere to go right: its ▶ keeps its place, unseen.
    right = phase.locator(".phase-head .move-next button")
    expect(right).to_be_hidden()
    first = desktop.locator("#board > section.phase").first  # nowhere to go left; its first step, up
    expect(first.locator(".phase-head .move-prev button")).to_be_hidden()
    expect(first.locator(".phase-head .move-next button")).to_be_visible()
    expect(first.locator(".interaction").first.locator(".move-prev button")).to_be_hidden()
    expect(first.locator(".interaction").nth(1).locator(".move-prev button")).to_be_visible()
    column = phase.bounding_box()
    button = right.evaluate("b => { const r = b.getBoundingClientRect(); return {x: r.x, width: r.width}; }")
    assert button["x"] + button["width"] <= column["x"] + column["width"], "the ▶ button sticks out of its phase"
    heading = phase.locator("h2").bounding_box()
    assert heading["x"] + heading["width"] <= column["x"] + column["width"], "the name runs out of its phase"
    phase.evaluate("el => el.scrollIntoView({block: 'start', inline: 'end'})")
    desktop.screenshot(path=shot("long-phase-name.png"))
    # On a phone, the facilitator's panel (its Focus list names every phase) fits the screen.
    open_board(phone, sign_in, "fiona", board_url)
    phone.locator("#session summary", has_text="Facilitate").click()
    expect(phone.locator("#focus-select option", has_text=name)).to_have_count(1)
    assert phone.evaluate("document.documentElement.scrollWidth") <= phone.viewport_size["width"]

    phase.get_by_role("button", name=f"Edit phase {name}").click()
    dialog.get_by_role("button", name="Delete the phase…").click()
    dialog.get_by_role("button", name="Delete the phase", exact=True).click()
    expect(phase).to_have_count(0)


def test_it_folds_the_phone_form_while_a_vote_is_open(desktop, phone, sign_in, board_url, watch_errors):
    errors = watch_errors(phone)
    fiona = open_board(desktop, sign_in, "fiona", board_url)
    open_board(phone, sign_in, "sam", board_url)
    form = phone.locator("#capture-form")
    screen = phone.viewport_size["height"]
    unfolded = form.bounding_box()["height"]
    expect(form.get_by_label("Phase")).to_be_visible()

    fiona.locator("#session summary", has_text="Facilitate").click()
    fiona.get_by_role("button", name="Open dot voting…").click()
    listening(fiona.locator("#dialog"))
    fiona.locator("#dialog").get_by_role("button", name="Open voting").click()
    expect(phone.locator("#session")).to_have_attribute("data-voting", "open")
    # Folded: the text box and Send, and more of the board in sight.
    expect(form.get_by_label("Phase")).to_be_hidden()
    expect(form.locator(".kind-picker")).to_be_hidden()
    folded = form.bounding_box()["height"]
    assert folded < unfolded / 2 and folded + phone.locator("#dots-left").bounding_box()["height"] < screen * 0.15
    phone.screenshot(path=shot("voting-phone-folded.png"))
    # Typing unfolds it: the note still goes where the person says.
    draft = phone.get_by_placeholder("What did you see, hear or think?")
    draft.click()
    expect(form.get_by_label("Phase")).to_be_visible()
    form.get_by_label("Phase").select_option(label="Purchase")
    form.locator('input[name="kind"][value="idea"]').check()
    draft.fill("Offer a seat while the strap is fitted")
    form.get_by_role("button", name="Send").click()
    expect(fiona.locator(".phase", has_text="Purchase").locator(".note.kind-idea", has_text="Offer a seat")).to_have_count(1)

    fiona.locator("#session").get_by_role("button", name="Close voting").click()
    expect(phone.locator("#session")).not_to_have_attribute("data-voting", "open")
    phone.locator("body").click(position={"x": 5, "y": 5})
    expect(form.get_by_label("Phase")).to_be_hidden()  # still the Vote stage: reading the results
    fiona.locator("#stage-select").select_option(label="Capture")
    fiona.locator("#session").get_by_role("button", name="Set").click()
    expect(phone.locator("#session")).to_have_attribute("data-stage", "capture")
    expect(form.get_by_label("Phase")).to_be_visible()  # capturing again: the whole form
    assert errors == []


def test_it_says_at_once_that_a_phone_went_offline_and_catches_up_when_back(
    desktop, phone, phone_context, sign_in, board_url, watch_errors
):
    open_board(desktop, sign_in, "fiona", board_url)
    open_board(phone, sign_in, "sam", board_url)
    capture(phone, phase="Awareness", interaction="Sees the new collection on Instagram", kind="idea",
            text="Show the strap sizes in the post")
    sent(phone)

    phone_context.set_offline(True)
    status = phone.locator("#sync-status")
    # Told at once (well before two missed heartbeats), and in sight on a phone scrolled down.
    expect(status).to_have_attribute("data-state", "offline", timeout=2000)
    expect(status).to_contain_text("Offline")
    phone.mouse.wheel(0, 2000)
    expect(status).to_be_in_viewport()
    # A note sent now fails in the open: the earlier "Sent" goes, what was typed stays.
    form = phone.locator("#capture-form")
    form.locator('input[name="kind"][value="question"]').check()
    form.get_by_placeholder("What did you see, hear or think?").fill("Does the post say where to try it on?")
    form.get_by_role("button", name="Send").click()
    expect(form.locator(".net-error")).to_contain_text("Couldn't reach the server")
    expect(form.locator(".sent")).to_have_count(0)
    expect(form.locator("#capture-text")).to_have_value("Does the post say where to try it on?")

    # Meanwhile the facilitator adds a note; back online, the phone gets it exactly once.
    missed = "Waited at the door while staff served another client"
    capture(desktop, phase="Consideration", interaction="Books a private appointment", kind="friction", text=missed)
    expect(desktop.locator(".note", has_text=missed)).to_have_count(1)
    phone_context.set_offline(False)
    expect(status).to_have_attribute("data-state", "live")
    expect(phone.locator(".note", has_text=missed)).to_have_count(1)
    # And the failed note goes through on a second try, once.
    form.get_by_role("button", name="Send").click()
    sent(phone)
    expect(desktop.locator(".note", has_text="Does the post say where to try it on?")).to_have_count(1)


def test_it_shows_staff_that_the_board_is_locked_before_they_send(desktop, phone, sign_in, board_url):
    open_board(desktop, sign_in, "fiona", board_url)
    open_board(phone, sign_in, "sam", board_url)
    form = phone.locator("#capture-form")
    locked_notice = phone.locator(".capture-locked")
    expect(locked_notice).to_be_hidden()
    expect(form.get_by_role("button", name="Send")).to_be_visible()

    desktop.locator("#session summary", has_text="Facilitate").click()
    desktop.get_by_role("button", name="Lock the board").click()
    expect(locked_notice).to_be_visible()
    expect(form.get_by_role("button", name="Send")).to_be_hidden()
    expect(phone.locator(".note-tools").first).to_be_hidden()
    form.get_by_placeholder("What did you see, hear or think?").fill("A draft kept while the board is locked")
    phone.screenshot(path=shot("locked-phone.png"))
    # The facilitator's own form stays usable.
    expect(desktop.locator(".capture-locked")).to_be_hidden()
    expect(desktop.locator("#capture-form").get_by_role("button", name="Send")).to_be_visible()

    desktop.get_by_role("button", name="Unlock the board").click()
    expect(locked_notice).to_be_hidden()
    form.get_by_role("button", name="Send").click()
    sent(phone)
    expect(desktop.locator(".note", has_text="A draft kept while the board is locked")).to_have_count(1)


def test_it_says_times_up_when_the_timer_runs_out(desktop, phone, sign_in, board_url):
    open_board(desktop, sign_in, "fiona", board_url)
    open_board(phone, sign_in, "sam", board_url)
    desktop.locator("#session summary", has_text="Facilitate").click()
    desktop.get_by_label("Timer (min)").fill("1")
    desktop.locator(".timer-control").get_by_role("button", name="Start").click()
    for page in (desktop, phone):
        expect(page.locator("#session .timer")).to_have_text(re.compile(r"^[01]:\d\d$"))
    # The minute is over (its end moved to a second ago, as the clock would): both screens say so.
    for page in (desktop, phone):
        page.locator("#session .timer").evaluate("t => t.setAttribute('data-ends', String(Date.now() - 1000))")
        expect(page.locator("#session .timer")).to_have_text("Time's up")
        expect(page.locator("#session .timer")).to_have_class(re.compile(r"\bis-over\b"))
    desktop.locator(".timer-control").get_by_role("button", name="End").click()
    expect(phone.locator("#session .timer")).to_have_text("")


def test_it_keeps_keyboard_focus_on_the_control_a_push_replaced(desktop, sign_in, board_url):
    open_board(desktop, sign_in, "fiona", board_url)
    focused = "document.activeElement && (document.activeElement.getAttribute('aria-label') || document.activeElement.textContent.trim())"
    heads = desktop.locator(".phase-head h2")
    first = heads.first.inner_text()
    right = desktop.get_by_role("button", name=f"Move {first} right")
    right.focus()
    desktop.keyboard.press("Enter")
    expect(heads.nth(1)).to_have_text(first)  # moved by the push, which re-rendered its header
    assert desktop.evaluate(focused) == f"Move {first} right"
    desktop.keyboard.press("Shift+Tab")  # and from there on, as a keyboard user would
    assert desktop.evaluate(focused) == f"Move {first} left"
    desktop.keyboard.press("Enter")
    expect(heads.first).to_have_text(first)
    # At the left end "◀" is gone: focus lands on the phase's next control, not the page's top.
    assert desktop.evaluate("document.activeElement.closest('.phase-head') !== null"), desktop.evaluate("document.activeElement.outerHTML.slice(0, 300)")

    desktop.locator("#session summary", has_text="Facilitate").click()
    desktop.get_by_role("button", name="Lock the board").focus()
    desktop.keyboard.press("Enter")
    expect(desktop.get_by_role("button", name="Unlock the board")).to_be_focused()
    desktop.keyboard.press("Enter")
    expect(desktop.get_by_role("button", name="Lock the board")).to_be_focused()


def test_it_points_an_idle_phone_form_at_the_phase_the_room_focuses_on(desktop, phone, sign_in, board_url):
    fiona = open_board(desktop, sign_in, "fiona", board_url)
    open_board(phone, sign_in, "sam", board_url)
    form = phone.locator("#capture-form")
    form.get_by_label("Phase").select_option(label="Awareness")
    fiona.locator("#session summary", has_text="Facilitate").click()

    def focus_on(name: str) -> None:
        fiona.locator("#focus-select").select_option(label=name)
        fiona.locator("#focus-select").locator("xpath=ancestor::form").get_by_role("button").click()

    with phone.expect_response(re.compile(r"/capture/interactions/")):
        focus_on("Service")
    expect(form.get_by_label("Phase")).to_have_value(
        phone.locator("#capture-phase option", has_text="Service").get_attribute("value"))
    expect(form.get_by_label("Micro-interaction")).to_contain_text("Unboxes the piece at home")
    # A note being written stays where its writer put it.
    form.get_by_label("Phase").select_option(label="Purchase")
    form.get_by_placeholder("What did you see, hear or think?").fill("Half-written about the fitting")
    phone.locator("body").click(position={"x": 5, "y": 5})
    focus_on("Loyalty & Advocacy")
    expect(phone.locator("#session")).to_have_attribute(
        "data-focus", fiona.locator("#focus-select").input_value())
    expect(form.get_by_label("Phase")).to_have_value(
        phone.locator("#capture-phase option", has_text="Purchase").get_attribute("value"))
    fiona.locator("#focus-select").select_option(label="No focus")
    fiona.locator("#focus-select").locator("xpath=ancestor::form").get_by_role("button").click()


def test_it_shows_authors_their_own_notes_in_place_during_a_private_round(
    desktop, phone, sign_in, board_url, watch_errors
):
    errors = watch_errors(phone)
    open_board(desktop, sign_in, "fiona", board_url)
    open_board(phone, sign_in, "sam", board_url)
    desktop.locator("#session summary", has_text="Facilitate").click()
    desktop.get_by_role("button", name="Start a private writing round").click()
    expect(phone.locator("#session")).to_contain_text("Private writing round")

    text = "The client asked for the strap in her size and we had none to show"
    capture(phone, phase="Purchase", interaction="Pays and receives the piece", kind="moment", text=text)
    sent(phone)
    expect(phone.locator("#capture-form .sent")).to_have_text(
        "Sent. Only you see it until the facilitator reveals the round.", use_inner_text=True)
    step = "Pays and receives the piece"
    # The room sees a placeholder; the author sees the note itself where it sits on the board.
    on_projector = desktop.locator(".interaction", has_text=step).locator(".note-hidden")
    expect(on_projector).to_have_count(1)
    expect(on_projector).to_contain_text("Hidden until the facilitator reveals the round")
    expect(desktop.locator("#board")).not_to_contain_text(text)
    mine = phone.locator(".interaction", has_text=step).locator(".note.is-mine")
    expect(mine).to_contain_text(text)
    expect(mine).to_contain_text("Only you see this until the reveal")
    expect(mine).to_have_class(re.compile(r"kind-moment"))
    expect(phone.locator(".note:visible", has_text=text)).to_have_count(1)  # once, in place, not twice
    mine.scroll_into_view_if_needed()
    phone.screenshot(path=shot("private-round-own-note-phone.png"))

    # Its tools work from the board: an edit shows there at once.
    mine.get_by_role("button", name="Edit note").click()
    dialog = phone.locator("#dialog")
    dialog.get_by_label("Text").fill(text + ", twice")
    dialog.get_by_role("button", name="Save").click()
    expect(mine).to_contain_text(text + ", twice")
    expect(desktop.locator("#board")).not_to_contain_text(text)

    desktop.get_by_role("button", name="Reveal the private notes").click()
    revealed = desktop.locator(".interaction", has_text=step).locator(".note", has_text=text + ", twice")
    expect(revealed).to_have_count(1)
    expect(phone.locator(".interaction", has_text=step).locator(".note", has_text=text + ", twice")).not_to_have_class(
        re.compile(r"is-mine"))
    # The message under the phone's form no longer says the note is private.
    expect(phone.locator("#capture-form .sent")).to_have_text(
        "Sent. The round is revealed: it's on the board for everyone.", use_inner_text=True)
    assert errors == []


def test_it_opens_up_an_empty_step_to_drop_a_note_on(desktop, sign_in, board_url):
    open_board(desktop, sign_in, "fiona", board_url)
    text = "The boutique story is told before the client has sat down"
    capture(desktop, phase="Consideration", interaction="The whole phase", kind="observation", text=text)
    note = desktop.locator(".note", has_text=text)
    expect(note).to_have_count(1)
    empty = desktop.locator(".interaction", has_text="Is welcomed and told the brand story").locator(".notes")
    expect(empty.locator(".note")).to_have_count(0)
    assert empty.bounding_box()["height"] < 20  # a thin strip while nothing is dragged

    note.evaluate("el => el.scrollIntoView({block: 'center'})")  # the step just above it in sight too
    a = note.bounding_box()
    desktop.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    desktop.mouse.down()
    desktop.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2 + 12, steps=4)
    expect(desktop.locator("body")).to_have_class(re.compile(r"is-dragging"))
    # While a note is dragged, an empty step opens into a drop zone that says so.
    box = empty.bounding_box()
    assert box["height"] >= 40 and box["y"] > 0, box
    desktop.screenshot(path=shot("drag-to-empty-step.png"))
    desktop.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=8)
    desktop.mouse.up()
    expect(empty.locator(".note", has_text=text)).to_have_count(1)
    expect(desktop.locator("body")).not_to_have_class(re.compile(r"is-dragging"))


def test_it_presents_the_board_in_large_type_for_the_room(desktop, sign_in, board_url, watch_errors):
    errors = watch_errors(desktop)
    open_board(desktop, sign_in, "fiona", board_url)
    note_text = desktop.locator(".note .note-text").first
    before = float(note_text.evaluate("el => parseFloat(getComputedStyle(el).fontSize)"))

    desktop.get_by_role("button", name="Present", exact=True).click()
    expect(desktop.locator("body")).to_have_class(re.compile(r"is-presenting"))
    for chrome in (".topbar", "#capture-form", ".legend", ".board-menu", ".note-tools", "#presence"):
        expect(desktop.locator(chrome).first).to_be_hidden()
    # The session bar and its controls stay: the facilitator runs the session from here.
    expect(desktop.locator("#session summary", has_text="Facilitate")).to_be_visible()
    expect(desktop.locator("#sync-status")).to_be_visible()
    after = float(note_text.evaluate("el => parseFloat(getComputedStyle(el).fontSize)"))
    assert after >= 1.3 * before and after >= 20, (before, after)
    assert desktop.evaluate("() => document.fullscreenElement === document.documentElement")
    desktop.locator("#board").scroll_into_view_if_needed()
    desktop.screenshot(path=shot("presenting.png"))

    expect(desktop.locator(".insights")).to_be_hidden()  # the board first: the curve waits in the page

    # Leaving full screen ends the presentation; so do Esc and the button.
    desktop.evaluate("() => document.exitFullscreen()")
    expect(desktop.locator("body")).not_to_have_class(re.compile(r"is-presenting"))
    desktop.get_by_role("button", name="Present", exact=True).click()
    desktop.evaluate("() => document.exitFullscreen()")  # as where full screen was refused
    expect(desktop.locator("body")).not_to_have_class(re.compile(r"is-presenting"))
    desktop.get_by_role("button", name="Present", exact=True).click()
    desktop.keyboard.press("Escape")
    expect(desktop.locator("body")).not_to_have_class(re.compile(r"is-presenting"))
    expect(desktop.locator(".topbar")).to_be_visible()
    desktop.get_by_role("button", name="Present", exact=True).click()
    desktop.get_by_role("button", name="Stop presenting").click()
    expect(desktop.locator("body")).not_to_have_class(re.compile(r"is-presenting"))
    expect(desktop.get_by_role("button", name="Present", exact=True)).to_have_attribute("aria-pressed", "false")
    assert errors == []


def test_it_gives_a_thumb_room_for_a_notes_tools_on_a_phone(phone, sign_in, board_url):
    open_board(phone, sign_in, "sam", board_url)
    mine = phone.locator(".note", has=phone.locator(".note-author", has_text="Samuel Rochat")).first
    edit = mine.get_by_role("button", name="Edit note")
    expect(edit).to_have_attribute("title", "Edit note")  # what the symbol means, on hover too
    box, text = edit.bounding_box(), mine.locator(".note-text").bounding_box()
    assert box["height"] >= 40 and box["width"] >= 40, box
    assert box["y"] >= text["y"] + text["height"], "the tools sit under the text, not over it"


def test_it_brings_a_note_sent_from_a_phone_into_sight_above_the_form(phone, sign_in, board_url):
    open_board(phone, sign_in, "lea", board_url)
    text = "The strap sizes are in the back office, not on the counter"
    capture(phone, phase="Service", interaction="Registers the warranty online", kind="observation", text=text)
    sent(phone)
    note = phone.locator("#board .note", has_text=text)
    expect(note).to_be_in_viewport(ratio=1)
    # It scrolls smoothly to a stop above the form, however tall the form is.
    note.evaluate("""el => new Promise((done, fail) => {
        const form = document.querySelector(".capture"), until = Date.now() + 5000;
        (function check() {
            const n = el.getBoundingClientRect(), f = form.getBoundingClientRect();
            if (n.top >= 0 && n.bottom <= f.top + 1) done();
            else if (Date.now() > until) fail(new Error(`the note (${n.top}-${n.bottom}) is under the form (${f.top})`));
            else requestAnimationFrame(check);
        })();
    })""")


def test_it_gives_keyboard_focus_back_to_the_note_after_its_dialog(desktop, sign_in, board_url):
    open_board(desktop, sign_in, "fiona", board_url)
    note = desktop.locator(".note", has_text="Payment happens at the counter")
    note.get_by_role("button", name="Edit note").focus()
    desktop.keyboard.press("Enter")
    dialog = desktop.locator("#dialog")
    text = dialog.get_by_label("Text")
    expect(text).to_be_focused()  # the dialog opens on what there is to write
    text.fill("Payment happens at the counter in the back; the magic fades")
    dialog.get_by_role("button", name="Save").focus()
    desktop.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    note = desktop.locator(".note", has_text="the magic fades")
    expect(note).to_have_count(1)
    expect(note.get_by_role("button", name="Edit note")).to_be_focused()

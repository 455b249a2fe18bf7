"""A whole facilitated session in real browsers: dot voting, the reveal, an action with an owner,
the manager's follow-up, and the owner's "My actions"."""

from __future__ import annotations

import datetime
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, listening, shot
from tests.browser.test_live_board import open_board

PACKAGING = "ordinary packaging"
STRAPS = "ignored for ten minutes"


@pytest.fixture(scope="module")
def board_url(app_server) -> str:
    pk = app_server.manage(
        "shell", "-c", "from boards.models import Scenario; from workshops import demo; print(Scenario.objects.get(title=demo.SCENARIO_TITLE).pk)"
    ).split()[-1]
    return f"/boards/{int(pk)}/"


def friction(page: Page, text: str):
    return page.locator(".note.kind-friction", has_text=text).first


def day_month(day: datetime.date) -> str:
    """As the app writes a due date in short: 18 Dec."""
    return f"{day.day} {day:%b}"


def dot(page: Page, text: str, op: str = "Put a dot on this friction") -> None:
    friction(page, text).get_by_role("button", name=op).click()


def test_it_runs_a_vote_and_turns_the_winner_into_an_owned_action(
    desktop, phone, new_context, sign_in, board_url, app_server, watch_errors
):
    errors = watch_errors(desktop)
    fiona = open_board(desktop, sign_in, "fiona", board_url)
    sam = open_board(phone, sign_in, "sam", board_url)
    lea = open_board(new_context(viewport={"width": 1280, "height": 860}).new_page(), sign_in, "lea", board_url)

    # The facilitator opens a vote: 3 dots each, at most 2 per note.
    fiona.locator("#session summary", has_text="Facilitate").click()
    fiona.get_by_role("button", name="Open dot voting…").click()
    dialog = fiona.locator("#dialog")
    expect(dialog.get_by_label("Dots per person")).to_have_value("3")
    listening(dialog)
    dialog.get_by_role("button", name="Open voting").click()
    for page in (fiona, sam, lea):
        expect(page.locator("#session")).to_have_attribute("data-voting", "open")
        expect(page.locator(".stage.is-current")).to_have_text("Vote")

    # Two participants vote at the same time.
    dot(sam, PACKAGING)
    dot(lea, PACKAGING)
    dot(sam, PACKAGING)
    dot(lea, PACKAGING)
    expect(sam.locator("#dots-left")).to_have_text("Your dots: 1 of 3 left")
    expect(lea.locator("#dots-left")).to_have_text("Your dots: 1 of 3 left")
    expect(friction(sam, PACKAGING).locator(".my-dots")).to_have_text("●●")
    # At the note's cap its "+ dot" is off; elsewhere it is still on.
    expect(friction(sam, PACKAGING).get_by_role("button", name="Put a dot on this friction")).to_be_disabled()
    expect(friction(sam, STRAPS).get_by_role("button", name="Take a dot back")).to_be_disabled()
    dot(sam, STRAPS)
    # All placed: said plainly, and no "+ dot" is offered (the server refuses one anyway).
    expect(sam.locator("#dots-left")).to_have_text("All your 3 dots are placed: take one back to move it")
    expect(friction(sam, "nobody was on live chat").get_by_role("button", name="Put a dot on this friction")).to_be_disabled()
    expect(friction(sam, STRAPS).get_by_role("button", name="Take a dot back")).to_be_enabled()
    expect(fiona.locator("#session")).to_contain_text("5 dots cast by 2 people")
    # Nobody sees totals before the reveal.
    expect(fiona.locator(".vote-total")).to_have_count(0)
    friction(sam, PACKAGING).scroll_into_view_if_needed()
    # The dots left stay in sight on the phone, wherever the board is scrolled, clear of the form.
    pill = sam.locator("#dots-left")
    expect(pill).to_be_in_viewport()
    box, form = pill.bounding_box(), sam.locator("#capture-form").bounding_box()
    assert box["y"] + box["height"] <= form["y"], "the dots left are under the capture form"
    sam.screenshot(path=shot("voting-phone.png"))
    sam.evaluate("window.scrollTo(0, 0)")  # and clear of the top bar's Sign out
    signout = sam.get_by_role("button", name="Sign out").bounding_box()
    assert signout["y"] + signout["height"] <= pill.bounding_box()["y"], "the dots left cover Sign out"

    # The facilitator closes and reveals: the ranking shows on every screen.
    fiona.get_by_role("button", name="Close voting").click()
    expect(sam.locator("#dots-left")).to_be_hidden()  # closed: no dots left to spend, live
    # The next step is offered beside the news, to the facilitator only.
    expect(sam.get_by_role("button", name="Reveal now")).to_have_count(0)
    fiona.get_by_role("button", name="Reveal now").click()
    for page in (fiona, sam, lea):
        expect(page.locator("#results")).to_contain_text("Top frictions")
    first_row = fiona.locator("#results tbody tr").first
    expect(first_row).to_contain_text(PACKAGING)
    expect(first_row).to_contain_text("4")
    fiona.locator("#results").screenshot(path=shot("vote-results.png"))

    # The winner becomes an action owned by a staff member. The dialog shows the friction and
    # leaves the action's title to say what will be done.
    new_before = {p: int(p.locator("#new-actions").text_content().split()[0]) for p in (sam, lea)}
    first_row.get_by_role("button", name="Make it an action…").click()
    title_box = dialog.get_by_label("Action", exact=True)
    expect(title_box).to_be_visible()
    listening(dialog)
    expect(title_box).to_have_value("")
    expect(title_box).to_have_attribute("placeholder", re.compile(r"^What will be done, e\.g\. "))
    expect(dialog.locator(".quote-friction")).to_contain_text(PACKAGING)
    expect(dialog.get_by_role("checkbox", name=re.compile(PACKAGING))).to_be_checked()
    expect(dialog.locator(".already-acted")).to_have_count(0)
    fiona.screenshot(path=shot("action-dialog.png"))
    title_box.fill("White-glove delivery in the maison's own box")
    dialog.get_by_label("Owner").select_option(label="Samuel Rochat · Boutique & retail")
    due_day = datetime.date.fromisoformat(dialog.get_by_label("Due").input_value())
    dialog.get_by_role("button", name="Create action").click()
    expect(dialog).to_be_hidden()
    # The facilitator is told it worked, in the toast.
    expect(fiona.locator("#toast")).to_have_text(
        f"Action created: “White-glove delivery in the maison's own box” for Samuel Rochat, due {day_month(due_day)}."
    )
    fiona.locator("#toast").screenshot(path=shot("action-created-toast.png"))
    for page in (fiona, sam, lea):
        expect(friction(page, PACKAGING).locator(".action-chip")).to_contain_text("White-glove delivery")
        expect(page.locator("#board-actions")).to_contain_text("Samuel Rochat")
    # Sam's menu counts the new action at once, without a reload; nobody else's does.
    expect(sam.locator("#new-actions")).to_be_visible()
    expect(sam.locator("#new-actions")).to_have_text(f"{new_before[sam] + 1} new")
    expect(lea.locator("#new-actions")).to_have_text(f"{new_before[lea]} new")
    # The dots' total stays readable below the action, not on top of it.
    total, chip = (friction(fiona, PACKAGING).locator(sel).bounding_box() for sel in (".vote-total", ".action-chip"))
    assert total["y"] >= chip["y"] + chip["height"], (total, chip)
    fiona.screenshot(path=shot("board-with-action.png"))

    # Opening the dialog again for the same friction says it has an action already: a second one
    # is a deliberate choice. The results' button says so before.
    again = first_row.get_by_role("button", name="Add another action…")
    expect(again).to_be_visible()
    again.click()
    listening(dialog)
    expect(dialog.locator(".already-acted")).to_contain_text(
        f"This friction already has an action: “White-glove delivery in the maison's own box” — Samuel Rochat, "
        f"due {day_month(due_day)}"
    )
    expect(dialog.get_by_label("Action", exact=True)).to_have_value("")
    fiona.screenshot(path=shot("action-dialog-again.png"))
    fiona.set_viewport_size({"width": 375, "height": 812})
    expect(dialog.locator(".already-acted")).to_be_in_viewport()
    fiona.screenshot(path=shot("action-dialog-again-phone.png"))
    fiona.set_viewport_size(DESKTOP["viewport"])
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()

    # The owner's "My actions" has it.
    title = "White-glove delivery in the maison's own box"
    sam.goto("/actions/mine/")
    expect(sam.locator("#my-actions")).to_contain_text(title)

    # The manager finds it on the team's Actions page and marks it in progress, with a comment.
    marc = new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(marc, "marc")
    team = app_server.manage("shell", "-c", "from workshops.models import Team; print(Team.objects.get().pk)").split()[-1]
    marc.goto(f"/teams/{team}/actions/")
    row = marc.locator("tr", has_text=title)
    expect(row).to_contain_text("Samuel Rochat")
    marc.screenshot(path=shot("actions-page.png"), full_page=True)
    row.get_by_role("link", name=title).click()
    update = marc.locator("#action-status-form")
    update.get_by_label("Status").select_option(label="In progress")
    update.get_by_label("Comment").fill("Box supplier briefed; first deliveries in the new box next week.")
    update.get_by_role("button", name="Save").click()
    expect(marc.locator("body")).to_contain_text("Box supplier briefed")
    expect(marc.locator("body")).to_contain_text("Open → In progress")

    # The owner's "My actions" follows, live.
    expect(sam.locator("#my-actions")).to_contain_text("In progress")

    # In the review, the manager hands it to Léa and gives her a week more.
    marc.locator("#action-replan summary").click()
    replan = marc.locator("#action-replan-form")
    replan.get_by_label("Owner").select_option(label="Léa Favre · Boutique & retail")
    due = replan.get_by_label("Due")
    later = (datetime.date.fromisoformat(due.input_value()) + datetime.timedelta(days=7)).isoformat()
    due.fill(later)
    replan.get_by_label("Why").fill("Léa runs the home deliveries from January.")
    replan.get_by_role("button", name="Save the new plan").click()
    expect(marc.locator(".flash")).to_contain_text("Saved: Léa Favre owns")
    expect(marc.locator("#history")).to_contain_text("Owner: Samuel Rochat → Léa Favre.")
    expect(marc.locator("#history")).to_contain_text("Léa runs the home deliveries from January.")
    marc.screenshot(path=shot("action-replanned.png"), full_page=True)
    # Live: the board's chip names Léa; Sam's "My actions" no longer lists it as his, and says who has it now.
    expect(friction(fiona, PACKAGING).locator(".action-chip")).to_contain_text("Léa Favre")
    expect(sam.locator("#my-actions .action-list:not(.handed)")).not_to_contain_text(title)
    expect(sam.locator("#my-actions .handed")).to_contain_text(f"{title} Now with Léa Favre, handed over by Marc Dubois")

    # A second round: everyone's dots are back at once, before they place any.
    sam.goto(board_url)
    expect(sam.locator("#dots-left")).to_be_hidden()
    fiona.get_by_role("button", name="Open dot voting…").click()
    listening(dialog)
    dialog.get_by_role("button", name="Open voting").click()
    expect(sam.locator("#dots-left")).to_have_text("Your dots: 3 of 3 left")
    assert errors == []

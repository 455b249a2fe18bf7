"""The demo board in a real browser: a facilitator on a desktop, a boutique associate on a phone."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import shot

WORKSHOP = "First visit to delivery: Swiss watch boutique"
BOARD = "Camille's first fine watch"
PHASES = ["Awareness", "Consideration", "Purchase", "Service", "Loyalty & Advocacy"]
PACKAGING = "The watch arrived in ordinary packaging, like any quick-commerce parcel. Nothing said Geneva."


def interaction(page: Page, action: str):
    return page.locator("#board .interaction").filter(has=page.get_by_text(action, exact=True))


def open_board_from_home(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Workshops")
    page.get_by_role("link", name=WORKSHOP).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(WORKSHOP)
    page.get_by_role("link", name=BOARD).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(BOARD)


def test_it_shows_the_demo_board_to_the_facilitator(desktop: Page, sign_in, watch_errors) -> None:
    errors = watch_errors(desktop)
    sign_in(desktop, "fiona")
    open_board_from_home(desktop)

    expect(desktop.locator("#board .phase h2")).to_have_text(PHASES)
    expect(desktop.locator("#sync-status")).to_have_attribute("data-state", "live")

    chat = interaction(desktop, "Asks for a model's details on live chat")
    expect(chat.locator(".channel")).to_have_text("Chat")
    expect(chat.locator(".emotion")).to_contain_text("Very negative (-2)")
    expect(chat.locator(".mot-badge")).to_contain_text("MOT")
    instagram = interaction(desktop, "Sees the new collection on Instagram")
    expect(instagram.locator(".channel")).to_have_text("Social")
    expect(instagram.locator(".emotion")).to_contain_text("Very positive (+2)")

    unboxing = interaction(desktop, "Unboxes the piece at home")
    expect(unboxing.locator(".channel")).to_have_text("Delivery")
    packaging = unboxing.locator(".note").filter(has_text=PACKAGING)
    expect(packaging).to_have_count(1)
    expect(packaging).to_contain_text("Friction")
    expect(packaging).to_contain_text("Samuel Rochat")
    expect(desktop.get_by_role("button", name="+ Phase")).to_be_visible()

    # Each phase's tools sit beside its name, the default names included, on a laptop's screen.
    for head in desktop.locator("#board .phase-head").all():
        name, tools = head.locator("h2").bounding_box(), head.locator(".fac-tools").bounding_box()
        assert tools["y"] < name["y"] + name["height"] / 2, f"{head.locator('h2').inner_text()}: tools under the name"

    desktop.screenshot(path=shot("demo-board.png"), full_page=True)

    # The keyboard reaches a phase at once: its link in the session bar, then Tab into the phase.
    desktop.locator(".phase-nav").get_by_role("link", name="Loyalty & Advocacy").focus()
    desktop.keyboard.press("Enter")
    desktop.keyboard.press("Tab")
    loyalty = desktop.locator("#board .phase").filter(has=desktop.get_by_role("heading", name="Loyalty & Advocacy"))
    expect(loyalty.locator(":focus")).to_have_count(1)
    expect(loyalty).to_be_in_viewport()
    assert errors == []


def test_it_fits_the_demo_board_on_a_phone(phone: Page, sign_in, watch_errors) -> None:
    errors = watch_errors(phone)
    sign_in(phone, "sam")
    open_board_from_home(phone)

    expect(phone.locator("#board .phase h2")).to_have_text(PHASES)
    expect(phone.locator("#sync-status")).to_have_attribute("data-state", "live")
    expect(phone.get_by_text(PACKAGING)).to_have_count(1)
    expect(phone.get_by_placeholder("What did you see, hear or think?")).to_be_visible()
    # A participant does not see the facilitator's tools.
    expect(phone.get_by_role("button", name="+ Phase")).to_be_hidden()
    expect(phone.get_by_role("link", name="My actions")).to_be_visible()  # the top bar keeps it
    page_width = phone.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 375, f"the page scrolls sideways on a phone: {page_width}px wide"
    # A phase's link brings it into sight, instead of four swipes.
    service = phone.locator("#board .phase").filter(has=phone.get_by_role("heading", name="Service"))
    heading = service.get_by_role("heading", name="Service")
    expect(heading).not_to_be_in_viewport()
    phone.locator(".phase-nav").get_by_role("link", name="Service").click()
    expect(heading).to_be_in_viewport()
    phone.locator(".phase-nav").get_by_role("link", name="Awareness").click()

    # What the associate sees: the capture form is pinned to the bottom of the screen, so a
    # full-page capture would paint it over the middle of the board.
    phone.screenshot(path=shot("demo-board-phone.png"))
    assert errors == []


def test_it_fits_the_managers_actions_page_on_a_phone(phone: Page, sign_in, watch_errors) -> None:
    errors = watch_errors(phone)
    sign_in(phone, "marc")
    phone.goto("/")
    phone.locator("main").get_by_role("link", name="Actions", exact=True).first.click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Actions")
    # The header takes two rows at most (the team's links scroll in the second), and the list
    # starts on the first screen, under filters two to a row.
    nav = phone.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Actions", exact=True)).to_be_visible()
    assert phone.locator(".topbar").bounding_box()["height"] < 90
    expect(phone.locator("#result-count")).to_be_in_viewport()
    filters = phone.locator("#action-filters")
    owner = filters.get_by_label("Owner", exact=True).bounding_box()
    status = filters.get_by_label("Status", exact=True).bounding_box()
    assert owner["y"] == status["y"], "the filters stack one a row on a phone"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    phone.screenshot(path=shot("actions-phone.png"))
    assert errors == []


def test_it_keeps_the_actions_filters_and_the_list_together_on_back(desktop: Page, sign_in, watch_errors) -> None:
    errors = watch_errors(desktop)
    sign_in(desktop, "marc")
    desktop.goto("/")
    desktop.locator("main").get_by_role("link", name="Actions", exact=True).first.click()
    filters = desktop.locator("#action-filters")
    rows = desktop.locator("#action-table tbody tr")
    everyone = rows.count()
    filters.get_by_label("Owner", exact=True).select_option(label="Samuel Rochat · Boutique & retail")
    expect(desktop).to_have_url(re.compile(r"owner="))
    sams = rows.count()
    assert sams < everyone
    filters.get_by_label("Status", exact=True).select_option(label="Done")
    expect(desktop).to_have_url(re.compile(r"status=done"))
    desktop.go_back()
    expect(desktop).not_to_have_url(re.compile(r"status=done"))
    expect(rows).to_have_count(sams)
    expect(filters.get_by_label("Owner", exact=True).locator("option:checked")).to_have_text("Samuel Rochat · Boutique & retail")
    expect(filters.get_by_label("Status", exact=True).locator("option:checked")).not_to_have_text("Done")
    assert errors == []

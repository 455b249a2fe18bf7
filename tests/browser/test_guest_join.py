"""Boutique staff join from a phone with an invitation link, no password.

The facilitator makes a link and shows its QR code; a phone opens the link, gives a name, lands
on the board and adds a note the facilitator sees live; the facilitator removes the guest and
the phone's board says it lost access.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shot

WORKSHOP_TITLE = "First visit to delivery: Swiss watch boutique"
GUEST = "Nadia, Geneva boutique"


@pytest.fixture(scope="module")
def workshop_url(app_server) -> str:
    pk = (
        app_server.manage(
            "shell",
            "-c",
            f"from workshops.models import Workshop; print(Workshop.objects.get(title={WORKSHOP_TITLE!r}).pk)",
        )
        .strip()
        .splitlines()[-1]
    )
    return f"/workshops/{int(pk)}/"


def test_it_lets_boutique_staff_join_from_a_phone_and_be_removed(
    desktop, desktop_context, phone, sign_in, workshop_url, watch_errors
):
    errors = watch_errors(desktop)
    phone_errors = watch_errors(phone)
    sign_in(desktop, "fiona")

    # The facilitator makes a link; the page shows its QR code and the link.
    desktop.goto(workshop_url)
    desktop.get_by_role("link", name="Invite with a link or QR code").click()
    expect(desktop.get_by_role("heading", name="Invite boutique staff")).to_be_visible()
    desktop.get_by_label("The link works for").select_option(label="24 hours")
    desktop.get_by_role("button", name="Create the link and its QR code").click()
    qr = desktop.locator("#invite-qr svg")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box["width"] >= 200 and abs(box["width"] - box["height"]) < 2
    link = desktop.locator("#invite-url").input_value()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/join/[A-Za-z0-9_-]{43}/", link)
    copy = desktop.locator("button[data-copy-from=invite-url]")
    expect(copy).to_have_text("Copy link")
    copy.click()  # plain http: the link is selected for the facilitator to copy, and they are told
    expect(copy).to_have_text(re.compile("Copied|Selected: copy it"))
    assert desktop.evaluate("document.getSelection().toString() || document.activeElement.value.slice("
                            "document.activeElement.selectionStart, document.activeElement.selectionEnd)") == link
    desktop.screenshot(path=shot("invite.png"), full_page=True)

    # Later, for latecomers: the list of links shows the same link and QR code again.
    desktop.goto(workshop_url)
    desktop.get_by_role("link", name="Invite with a link or QR code").click()
    expect(desktop.locator("#invite-qr")).to_have_count(0)
    desktop.get_by_role("link", name="Show QR code").click()
    expect(desktop.locator("#invite-qr svg")).to_be_visible()
    assert desktop.locator("#invite-url").input_value() == link
    desktop.screenshot(path=shot("invite-again.png"), full_page=True)
    # Full screen for the projector: the code as large as the screen allows, then back.
    desktop.get_by_role("button", name="Full screen").click()
    expect(desktop.get_by_role("button", name="Leave full screen")).to_be_visible()
    assert desktop.evaluate("document.fullscreenElement && document.fullscreenElement.id") == "invite-fresh"
    big = desktop.locator("#invite-qr svg").bounding_box()
    assert big["height"] > box["height"] * 1.5
    desktop.screenshot(path=shot("invite-fullscreen.png"))
    desktop.get_by_role("button", name="Leave full screen").click()
    expect(desktop.get_by_role("button", name="Full screen")).to_be_visible()

    # The facilitator opens the board on the projector.
    desktop.goto(workshop_url)
    desktop.get_by_role("link", name="Open board").first.click()
    expect(desktop.locator("#sync-status")).to_have_attribute("data-state", "live")

    # A phone opens the link: the token leaves the address at once; only a name is asked.
    phone.goto(link)
    assert phone.url.endswith("/join/")
    expect(phone.get_by_role("heading", name=re.compile("Join"))).to_contain_text(WORKSHOP_TITLE)
    expect(phone.locator('#join-form input[type="password"]')).to_have_count(0)
    phone.get_by_label("Your name").fill(GUEST)
    expect(phone.get_by_label("Where you work")).to_have_value("boutique")
    phone.screenshot(path=shot("join-phone.png"), full_page=True)
    phone.get_by_role("button", name="Join the workshop").click()

    # They land on the workshop's board, live, and add a note the facilitator sees.
    expect(phone).to_have_url(re.compile(r"/boards/\d+/$"))
    expect(phone.locator("#sync-status")).to_have_attribute("data-state", "live")
    expect(desktop.locator("#presence")).to_contain_text(GUEST)
    text = "She asked whether the strap comes in a smaller size for her wrist"
    form = phone.locator("#capture-form")
    form.locator('input[name="kind"][value="question"]').check()
    form.get_by_placeholder("What did you see, hear or think?").fill(text)
    form.get_by_role("button", name="Send").click()
    expect(form).to_contain_text("Sent")
    expect(desktop.locator(".note", has_text=text)).to_have_count(1)

    draft = form.get_by_placeholder("What did you see, hear or think?")
    draft.fill("She came back for the")  # half typed when the guest is removed

    # The facilitator removes the guest from the workshop page: the phone loses the board.
    page = desktop_context.new_page()
    page_errors = watch_errors(page)
    page.goto(workshop_url)
    guest_row = page.locator("#guests .guest", has_text=GUEST)
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))  # asked first: not now
    guest_row.get_by_role("button", name=f"Remove {GUEST} from this workshop").click()
    assert asked == [f"Remove {GUEST} from this workshop? Their board closes at once."]
    page.reload()  # nothing was sent: the guest is still in
    expect(guest_row).to_be_visible()
    expect(guest_row).not_to_contain_text("Removed")
    expect(phone.locator("#sync-status")).to_have_attribute("data-state", "live")
    page.once("dialog", lambda d: d.accept())
    guest_row.get_by_role("button", name=f"Remove {GUEST} from this workshop").click()
    expect(page.locator(".flash")).to_contain_text(f"{GUEST} no longer has access")
    expect(page.locator("#guests .guest", has_text=GUEST)).to_contain_text("Removed")
    status = phone.locator("#sync-status")
    expect(status).to_have_attribute("data-state", "forbidden")
    expect(status).to_have_text("You no longer have access to this board.")
    notice = phone.locator("#access-ended")
    expect(notice).to_be_visible()  # said over the whole board, which takes no more input
    expect(notice).to_contain_text("Ask the facilitator if you should still take part")
    assert phone.evaluate("[...document.querySelectorAll('#board-root, .capture')].every(el => el.inert)")
    expect(draft).to_have_value("She came back for the")
    phone.screenshot(path=shot("guest-removed-phone.png"))

    assert errors == []
    assert page_errors == []
    assert phone_errors == []

    # A phone that did not hear of it (asleep when it happened) and sends: refused in its toast,
    # its form and its text kept.
    phone.evaluate("document.body.classList.remove('is-cut-off');"
                   "document.querySelectorAll('#board-root, .capture').forEach(el => { el.inert = false; })")
    form.get_by_role("button", name="Send").click()
    expect(phone.locator("#toast")).to_contain_text("Your access here was withdrawn")
    expect(draft).to_have_value("She came back for the")
    phone_errors.clear()  # the refused post's 403, on purpose

    # Reloading does not bring it back.
    response = phone.reload()
    assert response is not None and response.status == 403
    expect(phone.locator("main")).to_contain_text("withdrawn")

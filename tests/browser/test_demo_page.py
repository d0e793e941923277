"""The browser behaviours end to end: Chromium tabs on the demo page, a real server.

Each tab is its own browser context (so its own sessionStorage and device id). Waits are
Playwright's, on DOM conditions; the few time bounds asserted are the behaviour itself
("offline within a second", "typing clears after 5 s").
"""

from __future__ import annotations

import itertools
import json
import time

import httpx
import jwt
from playwright.sync_api import expect

from web.demo import DEMO_DIRECTORY, directory_data

from .conftest import demo_store

SOCKET_LOG = """
window.__sockets = [];
const RealWebSocket = window.WebSocket;
window.WebSocket = class extends RealWebSocket {
  constructor(...args) { super(...args); window.__sockets.push(performance.now() / 1000); }
};
window.__apiCalls = 0;
const realFetch = window.fetch;
window.fetch = (...args) => {
  if (String(args[0]).includes("/api/")) window.__apiCalls += 1;
  return realFetch(...args);
};
"""


def set_visibility(page, state: str) -> None:
    """What the browser does when the tab is hidden or shown (headless tabs never are)."""
    page.evaluate(
        """state => {
          const property = (get) => ({configurable: true, get});
          Object.defineProperty(document, "visibilityState", property(() => state));
          Object.defineProperty(document, "hidden", property(() => state === "hidden"));
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        state,
    )


def mint(server, user_id: int, ttl: float) -> str:
    claims = {"sub": str(user_id), "exp": int(time.time() + ttl)}
    return jwt.encode(claims, server.settings.jwt_secret, algorithm="HS256")


def test_two_pages_see_each_other_go_online(demo_server, open_tab) -> None:
    ada = open_tab(demo_server.url, user=1)
    expect(ada.person(2, "offline")).to_contain_text("never seen")
    grace = open_tab(demo_server.url, user=2)
    expect(ada.person(2, "online")).to_contain_text("Grace")
    expect(grace.person(1, "online")).to_contain_text("Ada")
    expect(grace.person(2, "online")).to_contain_text("Grace (you)")


def test_each_tab_has_its_own_device_id_and_a_reload_keeps_it(demo_server, open_tab) -> None:
    ada = open_tab(demo_server.url, user=1)
    other = open_tab(demo_server.url, user=1)
    device = ada.page.locator("#device").text_content()
    with ada.page.expect_websocket() as socket, \
            ada.page.expect_request("**/api/presence/status") as posted:
        ada.page.reload()
    assert ada.page.locator("#device").text_content() == device
    assert posted.value.headers["x-device-id"] == device
    assert f"device_id={device}" in socket.value.url
    assert other.page.locator("#device").text_content() not in ("", device)


def test_typing_shows_in_the_other_page_and_clears_when_typing_stops(demo_server, open_tab) -> None:
    ada = open_tab(demo_server.url, user=1)
    grace = open_tab(demo_server.url, user=2)
    grace.page.get_by_label("Message").press_sequentially("Hi Ada")
    stopped_at = time.monotonic()
    expect(ada.conversation_typing(1)).to_have_text("Grace is typing…")
    expect(ada.person(2).locator(".typing")).to_have_text("typing…")
    expect(ada.conversation_typing(2)).to_have_text("")  # not in Ada's talk with Alan
    expect(ada.conversation_typing(1)).to_have_text("", timeout=8_000)
    assert time.monotonic() - stopped_at >= 2.5, "cleared before 3 s without a keystroke"


def test_typing_clears_after_5_s_when_the_stop_never_arrives(demo_server, open_tab) -> None:
    ada = open_tab(demo_server.url, user=1)
    grace = open_tab(demo_server.url, user=2)
    lost: list[bool] = []

    def lose_the_stop(route) -> None:
        if json.loads(route.request.post_data or "{}").get("is_typing") is False:
            lost.append(True)
            route.abort()
        else:
            route.continue_()

    grace.page.route("**/api/conversations/*/typing", lose_the_stop)
    grace.page.get_by_label("Message").press("H")
    typed_at = time.monotonic()
    expect(ada.conversation_typing(1)).to_have_text("Grace is typing…")
    expect(ada.conversation_typing(1)).to_have_text("", timeout=10_000)
    assert lost, "the page never tried to send is_typing false"
    assert time.monotonic() - typed_at >= 4.5, "cleared before the server's 5 s expiry"


def test_a_hidden_page_is_away_for_the_other_and_online_again_when_shown(
    demo_server, open_tab
) -> None:
    ada = open_tab(demo_server.url, user=1)
    grace = open_tab(demo_server.url, user=2)
    expect(ada.person(2, "online")).to_be_visible()
    set_visibility(grace.page, "hidden")  # queued behind the 5 s after sign-in at most
    expect(ada.person(2, "away")).to_contain_text("Away")
    set_visibility(grace.page, "visible")
    expect(ada.person(2, "online")).to_be_visible()


def test_closing_a_page_makes_it_offline_for_the_other_within_a_second(
    demo_server, open_tab
) -> None:
    # The server would keep a closed socket's device online for the 10 s disconnect grace:
    # only the page's keepalive `offline` can make it this quick.
    assert demo_server.settings.disconnect_grace >= 10
    ada = open_tab(demo_server.url, user=1)
    grace = open_tab(demo_server.url, user=2)
    expect(ada.person(2, "online")).to_be_visible()
    grace.page.close()
    expect(ada.person(2, "offline")).to_be_visible(timeout=1_000)
    expect(ada.person(2).locator(".seen")).to_have_text("last seen just now")


def test_last_seen_moves_on_while_the_page_stays_open(demo_server, open_tab) -> None:
    ada = open_tab(demo_server.url, user=1)
    grace = open_tab(demo_server.url, user=2)
    expect(ada.person(2, "online")).to_be_visible()
    grace.page.close()
    seen = ada.person(2).locator(".seen")
    expect(seen).to_have_text("last seen just now")
    ada.page.clock.set_fixed_time(time.time() + 180)  # Date only; the page's timers run on
    expect(seen).to_have_text("last seen 3 minutes ago")


def test_signing_out_is_offline_at_once_for_the_others(demo_server, open_tab) -> None:
    ada = open_tab(demo_server.url, user=1)
    grace = open_tab(demo_server.url, user=2)
    expect(grace.person(1, "online")).to_be_visible()
    ada.page.get_by_role("button", name="Sign out").click()
    expect(grace.person(1, "offline")).to_be_visible(timeout=2_000)
    expect(ada.page.get_by_label("Demo user")).to_be_visible()
    expect(ada.connection("signed_out")).to_have_text("Signed out")


def test_server_restart_reconnects_with_backoff_and_catches_up(
    start_server, open_tab, server_loop
) -> None:
    first = start_server()
    ada = open_tab(first.url, user=1, before=lambda page: page.add_init_script(SOCKET_LOG))
    grace_token = mint(first, 2, ttl=300)
    response = httpx.post(f"{first.url}/api/presence/status", json={"status": "online"},
                          headers={"Authorization": f"Bearer {grace_token}"})
    assert response.status_code == 200
    expect(ada.person(2, "online")).to_be_visible()

    server_loop.stop_server(first)  # sockets close with 1001; nothing listens any more
    # two refused attempts (after 1 s, then 2 s); the third is due 4 s later
    expect(ada.connection("retrying").and_(ada.page.locator('[data-attempt="3"]'))).to_be_visible()
    margaret = {"users": [{"id": 7, "display_name": "Margaret"}], "partnerships": [[1, 7]]}
    start_server(store=demo_store(**margaret), port=int(first.url.rsplit(":", 1)[1]))

    expect(ada.connection("live")).to_be_visible()
    # caught up from initial_state alone: Grace's status died with the old server, and
    # Margaret exists only in the new one's directory (no push ever named either)
    expect(ada.person(2, "offline")).to_be_visible()
    expect(ada.person(7)).to_contain_text("Margaret")
    opened = ada.page.evaluate("window.__sockets")
    gaps = [b - a for a, b in itertools.pairwise(opened[1:])]  # between the retries
    assert len(opened) >= 4, opened
    assert 2.0 <= gaps[0] < 3.5 and 4.0 <= gaps[1] < 5.5, f"backoff gaps {gaps}"


def test_an_expired_token_stops_updates_and_says_so(start_server, open_tab) -> None:
    server = start_server(jwt_leeway=0.0)

    def hand_out_short_token(route) -> None:
        # Minted when the page asks, not before the tab opens: a 3 s token minted up front
        # (2-3 s left after `exp`'s rounding down) expired during a slow page load on a
        # loaded machine, and the tab never went live. 5 s from here covers the upgrade.
        response = route.fetch()
        short = mint(server, 1, ttl=5)
        route.fulfill(response=response, json={**response.json(), "token": short})

    def prepare(page) -> None:
        page.add_init_script(SOCKET_LOG)
        page.route("**/demo/token", hand_out_short_token, times=1)

    ada = open_tab(server.url, user=1, before=prepare)
    expect(ada.connection("unauthorized")).to_have_text("Session expired")
    expect(ada.page.get_by_role("alert")).to_contain_text("Your session expired")
    calls, sockets = ada.page.evaluate("[window.__apiCalls, window.__sockets.length]")
    assert sockets == 1, "close 4401 stops at once: no reconnect attempt with a dead token"
    set_visibility(ada.page, "hidden")  # would send away
    ada.page.get_by_label("Message").press_sequentially("still here?")  # would send typing
    set_visibility(ada.page, "visible")
    assert ada.page.evaluate("[window.__apiCalls, window.__sockets.length]") == [calls, sockets]

    ada.page.get_by_role("button", name="Sign in again").click()  # a fresh hour-long token
    expect(ada.connection("live")).to_be_visible()
    expect(ada.page.locator("#expired")).to_be_hidden()


def test_a_user_removed_from_the_directory_is_told_so_not_that_the_session_expired(
    demo_server, server_loop, open_tab
) -> None:
    alan = open_tab(demo_server.url, user=3)
    without_alan = {
        **DEMO_DIRECTORY,
        "users": [user for user in DEMO_DIRECTORY["users"] if user["id"] != 3],
        "conversations": [c for c in DEMO_DIRECTORY["conversations"] if 3 not in c["participants"]],
    }

    async def remove_alan() -> None:  # on the server's loop: the store is not thread-safe
        demo_server.store.directory = directory_data(without_alan)

    server_loop.run(remove_alan)  # the node's directory poll closes Alan's socket with 4403
    expect(alan.connection("unauthorized")).to_have_text("Removed from the directory")
    expect(alan.page.get_by_role("alert")).to_contain_text("You were removed from the directory")
    expect(alan.page.get_by_role("alert")).not_to_contain_text("expired")

"""The demo page for people: keyboard use, labels, contrast, a phone-sized screen, screenshots.

The screenshots in docs/screenshots/ are written by this test run, only when the picture
changed visibly, so a clean checkout stays clean: Ada's page while Grace types, at desktop
and phone width. Device ids are fixed so the pictures are the same from run to run.
"""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
from playwright.sync_api import expect

from .test_demo_page import mint

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 1}
DESKTOP = {"viewport": {"width": 1024, "height": 640}, "device_scale_factor": 1}

# The contrast ratio (WCAG 2) of every element's own text against its effective background.
CONTRAST = """() => {
  const rgb = (css) => css.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => v / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4))
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const owns = (el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  return [...document.querySelectorAll("body *")].filter((el) => owns(el) && el.checkVisibility())
    .map((el) => {
      const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      return [el.textContent.trim().slice(0, 30), ratio];
    });
}"""


def fixed_device(name: str):
    script = f"sessionStorage.setItem('presence.deviceId', 'web-{name}')"
    return lambda page: page.add_init_script(script)


# How many pixels of two PNGs (data URLs) differ, or -1 when their sizes do.
PIXELS_CHANGED = """async ([before, after]) => {
  const pixels = async (url) => {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = new OffscreenCanvas(image.width, image.height);
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    return context.getImageData(0, 0, image.width, image.height);
  };
  const [a, b] = [await pixels(before), await pixels(after)];
  if (a.width !== b.width || a.height !== b.height) return -1;
  let changed = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    if (a.data.slice(i, i + 4).some((v, k) => Math.abs(v - b.data[i + k]) > 8)) changed += 1;
  }
  return changed;
}"""
SAME_PICTURE = 100  # pixels: Chromium anti-aliases a rounded corner differently now and then


def save_if_changed(page, path: Path, picture: bytes) -> None:
    """Write the screenshot unless the committed one shows the same thing."""
    if path.exists():
        urls = ["data:image/png;base64," + base64.b64encode(p).decode()
                for p in (path.read_bytes(), picture)]
        changed = page.evaluate(PIXELS_CHANGED, urls)
        if 0 <= changed < SAME_PICTURE:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(picture)


def test_signing_in_and_typing_work_from_the_keyboard(demo_server, open_tab) -> None:
    ada = open_tab(demo_server.url, user=1)
    grace = open_tab(demo_server.url)
    page = grace.page
    expect(page.get_by_label("Demo user")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Demo user")).to_be_focused()
    page.keyboard.press("ArrowDown")  # Ada -> Grace
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(grace.connection("live")).to_have_text("Live")
    expect(page.locator("#me")).to_have_text("Grace")
    page.get_by_label("Message").focus()
    page.keyboard.type("Hello")
    expect(ada.conversation_typing(1)).to_have_text("Grace is typing…")
    page.keyboard.press("Enter")  # sends: the box empties and typing stops
    expect(page.get_by_label("Message")).to_have_value("")
    expect(ada.conversation_typing(1)).to_have_text("", timeout=4_000)


def test_every_text_has_enough_contrast(demo_server, open_tab) -> None:
    token = mint(demo_server, 2, ttl=300)
    httpx.post(f"{demo_server.url}/api/presence/status", json={"status": "away"},
               headers={"Authorization": f"Bearer {token}"}).raise_for_status()
    ada = open_tab(demo_server.url, user=1)
    expect(ada.person(2, "away")).to_be_visible()
    expect(ada.person(3, "offline")).to_be_visible()
    ratios = ada.page.evaluate(CONTRAST)
    assert len(ratios) > 10
    low = [(text, round(ratio, 2)) for text, ratio in ratios if ratio < 4.5]
    assert not low, f"below WCAG AA 4.5:1: {low}"


def test_the_page_fits_a_phone_and_the_screenshots_are_current(demo_server, open_tab) -> None:
    grace = open_tab(demo_server.url, user=2, before=fixed_device("grace-laptop"))
    desktop = open_tab(demo_server.url, user=1, before=fixed_device("ada-laptop"), **DESKTOP)
    phone = open_tab(demo_server.url, user=1, before=fixed_device("ada-phone"), **PHONE)
    grace.page.get_by_label("Message").press_sequentially("Hi")
    for tab in (desktop, phone):
        expect(tab.conversation_typing(1)).to_have_text("Grace is typing…")
    overflow = phone.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px of horizontal scrolling on a 390px screen"
    message_box = phone.page.get_by_label("Message").bounding_box()
    assert message_box["width"] >= 300, "the message box should use the phone's width"
    for tab, name in ((desktop, "demo-desktop.png"), (phone, "demo-phone.png")):
        save_if_changed(grace.page, SCREENSHOTS / name, tab.page.screenshot(full_page=True))

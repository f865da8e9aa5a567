"""Screenshots of every page on the Chinese UI at 1440 px (desktop) and 390 px (phone), for the README.

    .venv/bin/python docs/screenshots/shoot.py            # writes docs/screenshots/<page>-<width>.png

Builds the demo dataset into a temporary folder, serves the app with a leader and a planner account
(the import page is the planner's), and drives Debian's Chromium (tests/browser/conftest.py).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from dayuan_geo import auth  # noqa: E402
from dayuan_geo.demo import build as demo  # noqa: E402
from tests.browser.conftest import CHROMIUM, LAUNCH_ARGS, AppServer  # noqa: E402

PASSWORD = "screenshot-pass-1"  # noqa: S105 - throwaway accounts of a temporary folder
PAGES = {"leader1": ("overview", "land", "remediation", "firms", "audit"), "planner1": ("import",)}
WIDTHS = {1440: 1000, 390: 844}
IPHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/17.5 Mobile/15E148 Safari/604.1")  # a phone says so: maps open fitted to its column
MAIN_HEIGHT_JS = "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"


def settle(page, ms: int = 2500) -> None:
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=120_000)
    page.wait_for_timeout(800)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=180_000)
    page.wait_for_timeout(ms)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        data, accounts = Path(tmp) / "data", Path(tmp) / "auth.toml"
        demo.write(data)
        for name in PAGES:
            auth.add_user(name, name[:-1], PASSWORD, path=accounts, rounds=4)
        server = AppServer(data, env={"DAYUAN_AUTH_FILE": str(accounts),
                                      "DAYUAN_AUDIT_FILE": str(Path(tmp) / "a.jsonl")})
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
                for width, height in WIDTHS.items():
                    for user, paths in PAGES.items():
                        phone = {"user_agent": IPHONE_UA} if width < 600 else {}
                        page = browser.new_page(viewport={"width": width, "height": height},
                                                device_scale_factor=1 if width > 600 else 2, **phone)
                        page.goto(f"{server.url}/{paths[0]}", wait_until="domcontentloaded")
                        page.wait_for_selector('input[type="password"]', timeout=120_000)
                        page.get_by_label("用户名").fill(user)
                        page.locator('input[type="password"]').fill(PASSWORD)
                        page.locator('input[type="password"]').press("Enter")
                        settle(page)
                        for path in paths:
                            if width < 600 and page.locator('[data-testid="stSidebarNav"]').is_visible() is False:
                                page.goto(f"{server.url}/{path}", wait_until="domcontentloaded")  # may ask again
                            else:
                                link = f'a[href$="/{path}"]' if path != "overview" else 'a[href$="/"]'
                                page.locator(f'[data-testid="stSidebarNav"] {link}').first.click()
                            settle(page, 4000)
                            if page.locator('input[type="password"]').count():
                                page.get_by_label("用户名").fill(user)
                                page.locator('input[type="password"]').fill(PASSWORD)
                                page.locator('input[type="password"]').press("Enter")
                                settle(page, 4000)
                            out = HERE / f"{path}-{width}.png"
                            # the app scrolls inside its main block: grow the window to the page's length
                            tall = page.evaluate(MAIN_HEIGHT_JS)
                            page.set_viewport_size({"width": width, "height": min(int(tall) + 40, 9000)})
                            settle(page, 2500)
                            page.screenshot(path=str(out), full_page=True)
                            page.set_viewport_size({"width": width, "height": height})
                            print(out.relative_to(HERE.parents[1]))
                        page.close()
                browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()

"""Screenshot of the web chat after a few questions, for docs/screenshots/ (real server, real Chromium).

    .venv/bin/python bench/screenshot.py --out docs/screenshots/chat-disagreement.png \
        "Combien de doctorants ont été formés dans le cadre du PEPR IA ?"

Uses the index of the current settings (``make index`` first) and Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.app import build, offline_environment  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", nargs="+", help="questions asked in order, in one conversation")
    parser.add_argument("--out", type=Path, required=True, help="PNG file to write")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()

    offline_environment()
    from playwright.sync_api import sync_playwright

    from ui.app import launch

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = launch(build(Settings()), host="127.0.0.1", port=port, block=False)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=[
                "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": args.width, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_selector("#question textarea")
            for question in args.questions:
                answers = page.locator("#chatbot .bot").count()
                page.fill("#question textarea", question)
                page.press("#question textarea", "Enter")
                page.wait_for_function("n => document.querySelectorAll('#chatbot .bot').length > n", arg=answers)
                page.wait_for_function("() => !document.querySelector('#chatbot .pending, #chatbot .generating')")
                page.wait_for_timeout(500)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
    finally:
        demo.close()
    print(args.out)


if __name__ == "__main__":
    main()

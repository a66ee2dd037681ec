"""The page in a real browser: Debian's Chromium, headless, driven by Playwright, against a real Gradio server.

Screenshots of a failing test are saved under ``test-artifacts/`` (or $TEST_ARTIFACTS).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.ui.test_gradio_app import free_port

pytestmark = [pytest.mark.slow, pytest.mark.ui]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@pytest.fixture(scope="module")
def feedback_file(tmp_path_factory):
    return tmp_path_factory.mktemp("feedback") / "feedback.jsonl"


@pytest.fixture(scope="module")
def page_url(real_assistant, feedback_file):
    from ui.app import launch

    settings = real_assistant.settings.model_copy(update={"ui": real_assistant.settings.ui.model_copy(
        update={"admin": True, "feedback_path": feedback_file})})
    assistant = dataclasses.replace(real_assistant, settings=settings)
    port = free_port()
    demo = launch(assistant, host="127.0.0.1", port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, page_url, request):
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(page_url)
    page.wait_for_selector("#question textarea")
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def ask(page, question: str) -> None:
    bots_before = page.locator("#chatbot .bot").count()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#chatbot .bot').length > n", arg=bots_before)
    page.wait_for_function("() => !document.querySelector('#chatbot .pending, #chatbot .generating')"
                           " && document.querySelector('#question textarea').value === ''")
    page.wait_for_timeout(300)


def last_answer(page) -> str:
    return page.locator("#chatbot .bot").last.inner_text()


def test_ask_follow_up_cite_vote_and_start_again(page, feedback_file):
    ask(page, "Quel est le budget du PEPR IA ?")
    assert "73 millions" in last_answer(page)
    panel = page.locator("#sources-panel")
    assert panel.locator(".source").count() >= 1
    assert "73 millions" in panel.locator("mark.quote").first.inner_text()

    page.locator("#chatbot .bot").last.locator("a[href='#source-1']").first.click()
    page.wait_for_timeout(300)
    assert page.locator("#source-1").is_visible()

    ask(page, "Et qui le co-pilote ?")
    answer = last_answer(page)
    assert "CEA" in answer and "Inria" in answer

    page.fill("#comment textarea", "Très clair, merci.")
    page.locator("#chatbot button[aria-label='Like']").last.click()
    page.wait_for_function("() => document.querySelector('#vote-status').innerText.includes('Merci')")
    vote = json.loads(feedback_file.read_text(encoding="utf-8").splitlines()[-1])
    assert vote["vote"] == "up" and vote["comment"] == "Très clair, merci."
    assert vote["question"] == "Et qui le co-pilote ?" and "CEA" in vote["answer"] and vote["citations"]

    page.click("#new-conversation")
    page.wait_for_function("() => document.querySelectorAll('#chatbot .bot').length === 0")
    assert page.locator("#sources-panel .source").count() == 0


def test_a_follow_up_answers_the_new_question_not_the_previous_one(page):
    """Issue 16's case: the follow-up used to be answered with the sentence on doctoral students."""
    ask(page, "Combien de doctorants ont été formés dans le cadre du PEPR IA ?")
    assert "65 doctorantes et doctorants" in last_answer(page)
    ask(page, "Et qui le co-pilote ?")
    answer = last_answer(page)
    first = answer.split("doctorant")[0]  # what comes before any mention of the earlier question's subject
    assert "co-pilot" in first and "CEA" in first and "Inria" in first, answer


def test_switching_to_english(page):
    page.get_by_label("English").check()
    page.wait_for_function("() => document.querySelector('#send').innerText.includes('Send')")
    assert page.locator("#new-conversation").inner_text().strip() == "New conversation"
    ask(page, "What is the budget of the PEPR IA?")
    assert "73" in last_answer(page)


def test_hostile_text_is_shown_inert(page):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    ask(page, "<img src=x onerror=alert(1)> ![](http://evil.example/x.png) budget du PEPR IA ?")
    page.wait_for_timeout(500)
    user = page.locator("#chatbot .user").last
    assert user.locator("img").count() == 0 and not dialogs
    assert not [u for u in requests if "evil.example" in u]


def test_admin_rebuild_while_a_question_is_answered(page):
    page.get_by_role("tab", name="Administration").click()
    assert "Version" in page.locator("#admin-status").inner_text()
    page.click("#admin-rebuild")
    page.get_by_role("tab", name="Conversation").click()
    ask(page, "Où est installé le supercalculateur Jean Zay ?")
    assert "IDRIS" in last_answer(page)
    page.get_by_role("tab", name="Administration").click()
    page.wait_for_function("() => document.querySelector('#admin-progress').innerText.includes('en service')",
                           timeout=300_000)


def test_a_disagreement_is_shown_with_both_sources(page):
    ask(page, "Combien de doctorants ont été formés dans le cadre du PEPR IA ?")
    answer = last_answer(page)
    assert "⚖️" in answer and "65 doctorant" in answer and "150 doctorants" in answer
    panel = page.locator("#sources-panel")
    assert panel.locator(".source .differs").count() == 2
    links = [panel.locator(".source").nth(i).locator("a").first.get_attribute("href") for i in range(2)]
    assert "https://cifl.com/?p=71377" in links and any("pepr-ia.fr" in link for link in links)


# Audit, issue 14, finding 6: URLs, e-mail addresses, $$…$$ and Markdown from the corpus or the user are
# shown as the very text they are, in the real browser, with no link but the [n] citations and no math.
HOSTILE_QUOTE = ("Selon https://www.cnrs.fr/fr/ia_2024 (voir www.inria.fr ou contact@cnrs.fr), le coût est "
                 "$$x^2$$ ; *pas* d'italique, <b>ni gras</b>, ni [lien](http://evil.example) ni ~~barré~~ & co.")
HOSTILE_QUESTION = "Et https://evil.example/q_1, WWW.X.ORG, a@b.fr, $$y$$ et [z](http://evil.example) ?"


@pytest.fixture(scope="module")
def hostile_page_url(clean_settings, tmp_path_factory):
    """The real pipeline over a one-document corpus whose sentence is HOSTILE_QUOTE; it answers whatever the
    question's words (``answer.min_confidence`` at its floor), so that the quote reaches the page."""
    from assistant.app import build
    from assistant.indexing import build_index_from_settings
    from assistant.settings import AnswerSettings, CorpusSettings, IndexSettings
    from tests.ui.raw_queue import served_settings
    from ui.app import launch

    folder = tmp_path_factory.mktemp("hostile")
    (folder / "src").mkdir()
    (folder / "prog").mkdir()
    (folder / "src" / "rapport.txt").write_text(f"Rapport sur le coût\n\n{HOSTILE_QUOTE}\n", encoding="utf-8")
    (folder / "src" / "rapport.meta.yaml").write_text("url: https://example.org/rapport\n", encoding="utf-8")
    settings = served_settings(clean_settings, folder,
                               corpus=CorpusSettings(sources_dir=folder / "src", programme_dir=folder / "prog"),
                               index=IndexSettings(dir=folder / "index"),
                               answer=AnswerSettings(min_confidence=-5, min_dense_english=0))
    build_index_from_settings(settings)
    port = free_port()
    demo = launch(build(settings), port=port, block=False)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


def test_urls_math_and_markdown_from_the_corpus_and_the_user_are_shown_as_their_text(browser, hostile_page_url,
                                                                                      request):
    context = browser.new_context(viewport={"width": 1280, "height": 1100})
    page = context.new_page()
    page.set_default_timeout(60_000)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(hostile_page_url)
        page.wait_for_selector("#question textarea")
        ask(page, HOSTILE_QUESTION)
        bot, user = page.locator("#chatbot .bot").last, page.locator("#chatbot .user").last
        shown = bot.inner_text()
        assert HOSTILE_QUOTE in shown and "\\" not in shown, shown
        assert HOSTILE_QUESTION in user.inner_text() and "\\" not in user.inner_text()
        links = bot.locator(".message-content a, .md a, a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
        assert links and set(links) == {"#source-1"}, links  # the citation, nothing else
        assert user.locator("a").count() == 0
        chat = page.locator("#chatbot")
        assert chat.locator(".katex, .katex-display, .latex-block, mjx-container, math").count() == 0
        assert chat.locator("b, em, strong, del, s, code, li, h1, h2, img").count() == 0
        assert page.locator("#sources-panel mark.quote").inner_text() == HOSTILE_QUOTE
        assert not [u for u in requests if "evil.example" in u or "cnrs.fr" in u]
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        raise
    finally:
        context.close()

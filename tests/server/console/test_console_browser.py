"""The console in a real browser: Playwright driving Debian's Chromium (no browser downloaded at run time).

Against a running gateway over the scripted upstream (and, for the playground, the llama-server
lane): sign in, the Responses list and its filters, a chain across two providers walked end to end,
a reply containing ``<script>`` shown as text that runs nothing, the playground streaming two
models side by side, a provider check that succeeds and one that shows a wrong key, the metrics.
Each page is screenshotted into ``$POLYRESPONSES_SCREENSHOTS`` (default ``.artifacts/console`` in the
repository, ignored by git), and the bytes each page transferred go to ``page-weight.txt`` there.
Chromium comes from ``$POLYRESPONSES_CHROMIUM`` or ``/usr/bin/chromium`` (``scripts/install.sh``
installs Debian's ``chromium``); outside CI the tests skip without it, in CI they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

import openai
import pytest

from polyresponses.server._config import ProviderSettings
from tests._loopback import LoopbackServer
from tests._services import service_url
from tests.server._running import RunningGateway
from tests.server.conftest import ALICE, BOB
from tests.server.console._upstream import GOOD_KEY, EchoBoth, console_config

if TYPE_CHECKING:
    from playwright._impl._api_structures import SetCookieParam
    from playwright.sync_api import Browser, Page, Request

ROOT = Path(__file__).resolve().parents[3]
SHOTS = Path(os.environ.get("POLYRESPONSES_SCREENSHOTS") or ROOT / ".artifacts" / "console")
CHROMIUM = os.environ.get("POLYRESPONSES_CHROMIUM") or "/usr/bin/chromium"
SCRIPT_PROMPT = "<script>window.pwned = 1</script><img src=x onerror=window.pwned=2>"


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        _unavailable(f"Chromium is not installed at {CHROMIUM} (scripts/install.sh installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (it is in the test dependency group)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def running() -> Iterator[RunningGateway]:
    environ = {"MISTRAL_API_KEY": GOOD_KEY, "OPENROUTER_API_KEY": GOOD_KEY, "GROQ_API_KEY": "wrong-key"}
    with (
        LoopbackServer(default=EchoBoth()) as upstream,
        RunningGateway(console_config(upstream.url), environ) as gateway,
    ):
        yield gateway


def _signed_in(browser: Browser, gateway: RunningGateway, key: str) -> Page:
    page = browser.new_page(base_url=gateway.url.removesuffix("/v1"))
    page.goto("/console")
    assert page.url.endswith("/console/login")  # sent to sign in first
    page.fill("#key", key)
    page.press("#key", "Enter")  # usable by keyboard
    page.wait_for_url("**/console")
    return page


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_responses_chain_and_untrusted_output(browser: Browser, running: RunningGateway) -> None:
    with openai.OpenAI(base_url=running.url, api_key=ALICE, max_retries=0) as alice:
        first = alice.responses.create(model="mistral:m", input="first turn on mistral")
        second = alice.responses.create(
            model="openrouter:m", input="second on openrouter", previous_response_id=first.id
        )
        hostile = alice.responses.create(model="mistral:m", input=SCRIPT_PROMPT)
    with openai.OpenAI(base_url=running.url, api_key=BOB, max_retries=0) as bob:
        bobs = bob.responses.create(model="mistral:m", input="bob only").id

    page = _signed_in(browser, running, ALICE)
    page.reload()
    listed = page.locator("tbody tr")
    ids = [listed.nth(n).locator("td").nth(1).inner_text() for n in range(listed.count())]
    assert {first.id, second.id, hostile.id} <= set(ids) and bobs not in ids
    _shot(page, "responses")

    page.fill("input[name=provider]", "openrouter")
    page.click("button:text('Filter')")
    page.wait_for_url("**provider=openrouter**")
    filtered = page.locator("tbody tr")
    assert filtered.count() == 1 and filtered.first.locator("td").nth(1).inner_text() == second.id
    page.select_option("select[name=since]", "hour")
    page.click("button:text('Filter')")
    page.wait_for_url("**since=hour**")
    assert page.locator("tbody tr").count() == 1  # made just now: within the hour, with the provider kept
    page.fill("input[name=provider]", "")
    page.select_option("select[name=status]", "failed")
    page.click("button:text('Filter')")
    page.wait_for_url("**status=failed**")
    assert page.locator("tbody tr").count() == 0 and page.locator("p.empty").count() == 1

    detail = browser.new_page(base_url=running.url.removesuffix("/v1"))
    detail.context.add_cookies(cast("list[SetCookieParam]", page.context.cookies()))
    detail.goto(f"/console/responses/{second.id}")
    chain = detail.locator("ol.chain li")
    assert chain.count() == 2 and first.id in chain.nth(0).inner_text() and second.id in chain.nth(1).inner_text()
    assert "echo: second on openrouter" in detail.locator("article.item").last.inner_text()
    _shot(detail, "response-chain")
    detail.locator("ol.chain li").first.locator("a").click()  # walk back along the chain
    detail.wait_for_url(f"**/console/responses/{first.id}")
    forward = detail.locator("ol.chain li")
    assert forward.count() == 2 and second.id in forward.nth(1).inner_text()  # and forward again
    forward.nth(1).locator("a").click()
    detail.wait_for_url(f"**/console/responses/{second.id}")

    detail.goto(f"/console/responses/{hostile.id}")
    shown = detail.locator("article.item").last.inner_text()
    assert "<script>window.pwned = 1</script>" in shown  # as text
    assert detail.evaluate("window.pwned") is None and detail.locator("main script, main img").count() == 0
    detail.locator("summary").click()  # the raw JSON, one click away
    assert hostile.id in detail.locator("details pre").inner_text()
    _shot(detail, "response-untrusted")

    detail.goto(f"/console/responses/{bobs}")
    assert "404" in detail.title()


def test_playground_providers_and_metrics(browser: Browser, running: RunningGateway) -> None:
    page = _signed_in(browser, running, ALICE)
    page.goto("/console/playground")
    page.fill("#prompt", "side by side")
    models = page.locator("input[name=model]")
    models.nth(0).fill("mistral:m")
    models.nth(1).fill("openrouter:m")
    page.click("#playground button[type=submit]")
    columns = page.locator("#results .column")
    columns.nth(1).locator(".stats", has_text="tokens/s").wait_for(timeout=15000)
    columns.nth(0).locator(".stats", has_text="tokens/s").wait_for(timeout=15000)
    assert columns.count() == 2
    for index in range(2):
        assert columns.nth(index).locator(".answer").inner_text() == "echo: side by side"
        assert "first token" in columns.nth(index).locator(".stats").inner_text()
    continued = columns.nth(0)
    continued.locator("input").fill("and again")
    continued.locator("button").click()
    continued.locator(".answer", has_text="echo: and again").wait_for(timeout=15000)
    _shot(page, "playground")

    page.goto("/console/providers")
    page.fill("#m-mistral", "m")
    page.press("#m-mistral", "Enter")
    page.wait_for_selector("#check-result")
    assert page.locator("#check-result").inner_text() == "mistral: completed: echo: Reply with the word OK."
    page.fill("#m-groq", "m")
    page.locator("#m-groq").press("Enter")
    page.wait_for_selector("#check-result.error")
    failure = page.locator("#check-result").inner_text()
    assert failure.startswith("groq: 401") and "Incorrect API key" in failure and "wrong-key" not in failure
    _shot(page, "providers")

    page.goto("/console/metrics")
    rows = page.locator("tbody tr")
    providers = {rows.nth(n).locator("td").nth(0).inner_text() for n in range(rows.count())}
    assert {"mistral", "openrouter", "groq"} <= providers
    assert page.locator("figure.chart svg rect.bar").count() == 2 * 60
    page.emulate_media(color_scheme="dark")
    _shot(page, "metrics-dark")
    page.set_viewport_size({"width": 380, "height": 800})
    _shot(page, "metrics-narrow")


def test_page_weight(browser: Browser, running: RunningGateway) -> None:
    """Bytes each page transfers when loaded on its own (the document, its stylesheet and script), written to
    ``page-weight.txt`` beside the screenshots; every page must stay small."""
    with openai.OpenAI(base_url=running.url, api_key=ALICE, max_retries=0) as alice:
        ident = alice.responses.create(model="mistral:m", input="weigh me").id
    signed = _signed_in(browser, running, ALICE)
    cookies = signed.context.cookies()
    weights: dict[str, int] = {}
    for name, path in (
        ("responses", "/console"),
        ("response", f"/console/responses/{ident}"),
        ("playground", "/console/playground"),
        ("providers", "/console/providers"),
        ("metrics", "/console/metrics"),
    ):
        context = browser.new_context(base_url=running.url.removesuffix("/v1"))
        context.add_cookies(cast("list[SetCookieParam]", cookies))
        page = context.new_page()
        sizes: list[int] = []

        def finished(request: Request, sizes: list[int] = sizes) -> None:
            sizes.append(request.sizes()["responseBodySize"])

        page.on("requestfinished", finished)
        page.goto(path, wait_until="networkidle")
        weights[name] = sum(sizes)
        context.close()
    SHOTS.mkdir(parents=True, exist_ok=True)
    report = "".join(f"{name}\t{size} bytes\n" for name, size in weights.items())
    (SHOTS / "page-weight.txt").write_text(report, encoding="utf-8")
    assert all(0 < size < 64_000 for size in weights.values()), weights


def test_the_playground_streams_the_real_model_beside_a_scripted_one(browser: Browser) -> None:
    llama = service_url("POLYRESPONSES_LLAMACPP_URL", "llama-server (scripts/local-model start)")
    environ = {"MISTRAL_API_KEY": GOOD_KEY, "OPENROUTER_API_KEY": GOOD_KEY}
    with LoopbackServer(default=EchoBoth()) as upstream:
        config = console_config(upstream.url)
        config = replace(config, providers={**config.providers, "llamacpp": ProviderSettings(base_url=llama)})
        with RunningGateway(config, environ) as running:
            page = _signed_in(browser, running, ALICE)
            page.goto("/console/playground")
            page.fill("#prompt", "Name a colour.")
            page.locator("input[name=model]").nth(0).fill("llamacpp:smollm2")
            page.locator("input[name=model]").nth(1).fill("mistral:m")
            page.fill("input[name=max_output_tokens]", "16")
            page.click("#playground button[type=submit]")
            columns = page.locator("#results .column")
            for index in range(2):
                columns.nth(index).locator(".stats", has_text="tokens/s").wait_for(timeout=120000)
            assert columns.nth(0).locator(".answer").inner_text().strip()  # the real model wrote something
            assert columns.nth(1).locator(".answer").inner_text() == "echo: Name a colour."
            _shot(page, "playground-llama")

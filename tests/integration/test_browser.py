"""The web UI in a real browser (Debian's chromium, headless, driven by Playwright) on a running demo.

Log in with the printed token, open every page on the demo's live data, see
a WebSocket update arrive without a reload, pause entries and flatten (which
must ask first), launch backtests of the demo's recorded bars, compare them and open their reports, edit
the strategy parameters. Screenshots of each page are kept in tests/artifacts/.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Page, expect, sync_playwright


from tests.integration.api_support import DemoRun, start_demo

# The demo shares 2 cores with the browser: give every expectation room beyond the 5 s default.
expect.set_options(timeout=20_000)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    run = start_demo(tmp_path_factory.mktemp("browser-demo"), seconds=150)  # killed when the module's tests end
    yield run
    if run.process.poll() is None:
        run.process.kill()
        run.process.wait()


@pytest.fixture(scope="module")
def page(demo: DemoRun) -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run scripts/setup.sh --test"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        opened = browser.new_page(viewport={"width": 1280, "height": 900})
        yield opened
        browser.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"ui-{name}.png"), full_page=True)


def health(demo: DemoRun) -> dict:
    return httpx.get(f"{demo.url}/api/health", timeout=10).json()


def test_log_in_with_the_printed_token_opens_the_controls(page: Page, demo: DemoRun) -> None:
    page.goto(f"{demo.url}/controls")
    expect(page).to_have_url(f"{demo.url}/login")  # controls need the token
    page.fill("input[name=token]", demo.token)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Overview")
    page.goto(f"{demo.url}/controls")
    expect(page.locator("h1")).to_have_text("Controls")


def test_spreads_show_live_signals_that_update_without_a_reload(page: Page, demo: DemoRun) -> None:
    page.goto(f"{demo.url}/spreads")
    rows = page.locator("[data-test=spreads] tbody tr")
    expect(rows.first).to_be_visible(timeout=30_000)
    counts = page.locator("[data-test=signals]")
    before = [int(text) for text in counts.all_inner_texts()]
    page.wait_for_function(
        "(before) => [...document.querySelectorAll('[data-test=signals]')].map(e => +e.textContent)"
        ".some((n, i) => n > before[i])",
        arg=before,
        timeout=30_000,
    )
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1  # no reload happened
    shot(page, "spreads")


def test_every_page_renders_the_demo_data(page: Page, demo: DemoRun) -> None:
    page.goto(f"{demo.url}/")
    expect(page.locator("[data-test=equity]")).not_to_have_text("–", timeout=30_000)
    expect(page.locator(".chart canvas").first).to_be_visible()
    shot(page, "overview")

    pair = httpx.get(f"{demo.url}/api/spreads", timeout=10).json()[0]["pair"]
    page.goto(f"{demo.url}/spreads/{pair}")
    expect(page.locator("h1")).to_have_text(pair)
    expect(page.locator(".chart canvas")).to_have_count(4)  # z-score, spread, two legs
    shot(page, "spread-detail")

    page.goto(f"{demo.url}/orders")
    expect(page.locator("[data-test=orders] tbody tr").first).to_be_visible(timeout=30_000)
    expect(page.locator("[data-test=fills] tbody tr").first).to_be_visible()
    shot(page, "orders")

    page.goto(f"{demo.url}/positions")
    expect(page.locator("[data-test=exposure] tbody tr").first).to_be_visible()
    # VaR rows need a held position (the desk values what it holds); exposure rows come with every bar.
    expect(page.locator("[data-test=risk]")).to_contain_text("exposure_gross")
    shot(page, "positions")

    page.goto(f"{demo.url}/scan")
    expect(page.locator("h1")).to_have_text("Scan")
    shot(page, "scan")
    page.goto(f"{demo.url}/backtests")
    expect(page.locator("h1")).to_have_text("Backtests")
    page.goto(f"{demo.url}/alerts")
    expect(page.locator("h1")).to_have_text("Alerts and logs")
    shot(page, "alerts")
    page.goto(f"{demo.url}/settings")
    expect(page.locator("[data-test=config]")).to_contain_text("<redacted>")
    shot(page, "settings")


def test_pause_from_the_ui_pauses_entries(page: Page, demo: DemoRun) -> None:
    page.goto(f"{demo.url}/controls")
    page.click("[data-test=pause]")
    expect(page.locator("[data-test=message]")).to_have_text("pause: ok")
    expect(page.locator("[data-test=state]")).to_contain_text("entries paused")
    expect(page.locator("[data-test=pause-reason]")).to_have_text("(paused by the operator)")
    assert health(demo)["controls"]["entries_paused"] is True


def test_flatten_asks_for_confirmation_and_only_then_flattens(page: Page, demo: DemoRun) -> None:
    page.goto(f"{demo.url}/controls")
    asked: list[str] = []

    def dismiss(dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.click("[data-test=flatten]")
    assert asked and "Close every position" in asked[0]
    assert health(demo)["controls"]["flatten_requests"] == 0
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-test=flatten]")
    expect(page.locator("[data-test=message]")).to_have_text("flatten: ok")
    assert health(demo)["controls"]["flatten_requests"] == 1
    shot(page, "controls")


def test_backtests_launch_from_the_ui_show_progress_and_compare_runs(page: Page, demo: DemoRun) -> None:
    page.goto(f"{demo.url}/backtests")
    for name, mode in (("ui-spread", "spread"), ("ui-ols", "rolling-ols")):
        page.fill("input[name=name]", name)
        page.fill("input[name=spreads]", "ETH/SOL")
        page.select_option("select[name=interval]", "1m")
        page.select_option("select[name=mode]", mode)
        page.click("form[data-test=launch] button[type=submit]")
        expect(page.locator("[data-test=launch-message]")).to_have_text(f"launched {name}")
        job = page.locator("[data-test=jobs] tbody tr", has_text=name)
        expect(job).to_contain_text("done", timeout=60_000)  # pushed over the WebSocket: no reload
    runs = httpx.get(f"{demo.url}/api/backtests", timeout=10).json()["items"]
    assert {run["name"] for run in runs} == {"ui-spread", "ui-ols"}
    expect(page.locator("[data-test=backtests] tbody tr")).to_have_count(len(runs))
    page.select_option("[data-test=compare]", [run["id"] for run in runs[:2]])
    expect(page.locator("[data-test=comparison] tbody tr")).to_have_count(2)
    expect(page.locator("[data-test=equity] canvas")).to_be_visible()
    expect(page.locator("[data-test=drawdown] canvas")).to_be_visible()
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    # Each run links its HTML report; these were launched here, so the server stored one for each.
    for run in runs:
        row = page.locator("[data-test=backtests] tbody tr", has_text=run["name"])
        href = row.get_by_role("link", name="report").get_attribute("href")
        # logged in, so the link carries the token (a link cannot send the header when reads need it)
        assert href == f"/api/backtests/{run['id']}/report?token={quote(demo.token, safe='')}"
        report = httpx.get(f"{demo.url}{href}", timeout=10)
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html"), report.text[:200]
    expect(page.get_by_text("No pairflow optimize run stored yet.")).to_be_visible()
    shot(page, "backtests")


def test_strategy_parameters_are_edited_in_settings_and_bad_bands_are_refused(page: Page, demo: DemoRun) -> None:
    page.goto(f"{demo.url}/settings")
    configured = httpx.get(f"{demo.url}/api/config", timeout=10).json()["strategy"]
    expect(page.locator("input[name=entry_z]")).to_have_value(str(configured["entry_z"]).removesuffix(".0"))
    page.fill("input[name=exit_z]", str(configured["entry_z"] + 1))  # an exit band beyond the entry band
    page.click("form.params button[type=submit]")
    expect(page.locator("[data-test=params-message]")).to_contain_text("exit_z < entry_z < stop_z")
    page.fill("input[name=exit_z]", "0.3")
    page.click("form.params button[type=submit]")
    expect(page.locator("[data-test=params-message]")).to_have_text("saved")
    assert httpx.get(f"{demo.url}/api/config", timeout=10).json()["strategy"]["exit_z"] == 0.3
    audit = httpx.get(f"{demo.url}/api/audit", params={"limit": 2}, timeout=10).json()["items"]
    assert [(row["action"], row["outcome"]) for row in audit] == [("params", "ok"), ("params", "refused")]
    shot(page, "settings-params")

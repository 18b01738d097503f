"""The web board in a real browser: Debian's chromium driven by Playwright's Python API (no
browser download: ``executable_path`` points at the system's). Skipped, saying why, only when
chromium or Playwright is missing.

Screenshots of the board, an issue and the graph are saved into ``$BOARD_SCREENSHOTS`` (a
directory; default: the test's temporary directory) for a person to look at; docs/img/ holds a set.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    pytest.skip("chromium is not installed (apt-get install chromium): the board's browser tests need it",
                allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytest.importorskip("starlette", reason="the web board's extra is not installed: pip install 'gitjit[board]'")

from boardlib import sample
from conftest import Jit, run_jit
from playwright.sync_api import Page, sync_playwright

from gitjit.board.run import Running, start

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as p:
        exe = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
        b = p.chromium.launch(executable_path=exe, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def proj(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return sample(tmp_path)


@pytest.fixture
def board(proj: tuple[Path, dict[str, str]]) -> Iterator[Running]:
    run = start([str(proj[0])], actor="human:board", allow_writes=True)
    yield run
    run.stop()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    d = Path(os.environ.get("BOARD_SCREENSHOTS") or tmp_path / "screenshots")
    d.mkdir(parents=True, exist_ok=True)
    return d


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    # bypass_csp: Playwright's wait_for_function evaluates strings, which the board's policy forbids;
    # test_hostile_text_is_shown_as_text_and_never_runs drives the page under the policy
    ctx = browser.new_context(viewport={"width": 1500, "height": 860}, bypass_csp=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, errors


def column_ids(pg: Page, name: str) -> list[str]:
    return pg.eval_on_selector_all(f".column[data-column={name}] .card", "els => els.map(e => e.dataset.id)")


def test_the_board_shows_the_columns_jit_query_lists(page: Page, board: Running, proj: tuple[Path, dict[str, str]],
                                                     shots: Path) -> None:
    repo, ids = proj
    j = Jit(repo)
    page.goto(board.link)
    page.wait_for_selector(".column[data-column=ready] .card")
    assert column_ids(page, "ready") == [i["id"] for i in j.json("query", "ready")["issues"]]
    assert column_ids(page, "in_progress") == [i["id"] for i in j.json("query", "state", "in_progress")["issues"]]
    assert column_ids(page, "done") == [i["id"] for i in j.json("query", "state", "done")["issues"]]
    assert column_ids(page, "gated") == [ids["audit"]]
    assert set(column_ids(page, "blocked")) == {ids["build"], ids["docs"]}
    # the counts of jit status
    st = j.json("status")
    for k in ("total", "ready", "in_progress", "open", "blocked", "done"):
        assert page.inner_text(f"[data-count={k}] b") == str(st[k]), k
    # a card: title, short id, priority, assignee, gates, labels
    card = page.inner_text(f".card[data-id='{ids['free']}']")
    assert "Free task" in card and ids["free"][:8] in card and "@agent:w2" in card and "team:web" in card
    assert "review" in page.inner_text(f".card[data-id='{ids['build']}'] .gate-pending")
    assert page.get_attribute("#live", "class") == "live on" or page.wait_for_selector("#live.on")
    assert "writes as human:board" in page.inner_text("#who")
    page.screenshot(path=str(shots / "board.png"))
    # filters
    page.fill("#f-label", "team:web")
    page.click("#filters button[type=submit]")
    page.wait_for_function("document.querySelectorAll('.card').length === 2")
    assert set(column_ids(page, "blocked") + column_ids(page, "in_progress")) == {ids["docs"], ids["free"]}
    page.fill("#f-label", "")
    page.fill("#f-text", "crypto")
    page.click("#filters button[type=submit]")
    page.wait_for_function("document.querySelectorAll('.card').length === 1")
    assert column_ids(page, "gated") == [ids["audit"]]


def test_a_claim_from_the_cli_moves_the_card_live(page: Page, board: Running,
                                                  proj: tuple[Path, dict[str, str]]) -> None:
    repo, ids = proj
    page.goto(board.link)
    page.wait_for_selector(f".column[data-column=ready] .card[data-id='{ids['design']}']")
    page.wait_for_selector("#live.on")
    page.evaluate("window.__not_reloaded = true")
    run_jit("issue", "claim", ids["design"], "agent:cli", cwd=repo, check=True)
    t0 = time.monotonic()
    page.wait_for_selector(f".column[data-column=in_progress] .card[data-id='{ids['design']}']", timeout=5000)
    took = time.monotonic() - t0
    assert took < 2.0, f"the card moved after {took:.2f} s"
    assert ids["design"] not in column_ids(page, "ready")
    assert "@agent:cli" in page.inner_text(f".card[data-id='{ids['design']}']")
    assert page.evaluate("window.__not_reloaded") is True  # no reload


def test_an_issue_page(page: Page, board: Running, proj: tuple[Path, dict[str, str]], shots: Path) -> None:
    from gitjit.app.tracker import Tracker

    repo, ids = proj
    sha = "3f" * 20
    Tracker(repo, actor="human:alice").link_commit(ids["design"], sha, ref="refs/heads/main")
    page.goto(board.link)
    page.click(f".card[data-id='{ids['build']}']")
    page.wait_for_selector(f"article.issue[data-issue='{ids['build']}']")
    text = page.inner_text("article.issue")
    assert "Build the API" in text and "Code review" in text
    assert ids["design"][:8] in page.inner_text("[data-testid=deps]")  # what it depends on
    assert ids["docs"][:8] in page.inner_text("[data-testid=dependents]")  # what depends on it
    types = page.eval_on_selector_all("[data-testid=timeline] li", "els => els.map(e => e.dataset.type)")
    assert "issue_created" in types and "dependency_added" in types
    assert "by human:alice" in page.inner_text("[data-testid=timeline]") and "ago" in page.inner_text(
        "[data-testid=timeline]") or "just now" in page.inner_text("[data-testid=timeline]")
    page.click("[data-testid=deps] a")
    page.wait_for_selector(f"article.issue[data-issue='{ids['design']}']")
    text = page.inner_text("article.issue")
    assert "The shape of the API." in text and "component" in text and "api" in text  # description, context
    assert sha[:12] in text and "commit_linked" in text  # linked commits, and the event
    page.screenshot(path=str(shots / "issue.png"), full_page=True)


def test_writes_with_and_without_the_token(browser: Any, page: Page, board: Running,
                                           proj: tuple[Path, dict[str, str]]) -> None:
    repo, ids = proj
    # without the token (the URL without its #token=...): refused, nothing changes
    ctx = browser.new_context()
    other = ctx.new_page()
    other.goto(f"{board.url}#/issue/proj/{ids['design']}")
    other.wait_for_selector("button[data-action=claim]")
    other.click("button[data-action=claim]")
    other.wait_for_selector("#toast.err")
    assert "X-Jit-Token" in other.inner_text("#toast")
    assert Jit(repo).json("issue", "show", ids["design"])["assignee"] is None
    ctx.close()
    # with it: the claim goes through the Tracker, as the acting identity
    page.goto(board.link)
    page.wait_for_selector(".card")
    page.goto(f"{board.url}#/issue/proj/{ids['design']}")
    page.wait_for_selector("button[data-action=claim]")
    assert "acting as human:board" in page.inner_text(".actions")
    seen = page.evaluate("Number(document.body.dataset.changes || 0)")
    page.click("button[data-action=claim]")
    page.wait_for_function("document.querySelector('[data-testid=state]') && "
                           "document.querySelector('[data-testid=state]').textContent === 'in_progress'")
    shown = Jit(repo).json("issue", "show", ids["design"])
    assert shown["assignee"] == "human:board" and shown["state"] == "in_progress"
    # the claim also reaches the page live (server-sent events), and that redraw is over before the
    # next action: a click landing while the view is being replaced would act on a discarded button
    page.wait_for_function(f"Number(document.body.dataset.changes || 0) > {seen}")
    # a gate passed from the page, with a note
    page.goto(f"{board.url}#/issue/proj/{ids['audit']}")
    page.wait_for_selector(f"article.issue[data-issue='{ids['audit']}'] button[data-action=pass-security]")
    page.wait_for_function("document.body.dataset.busy === '0'")
    page.fill("#a-reason", "checked by hand")
    page.click("button[data-action=pass-security]")
    page.wait_for_selector("tr[data-gate=security] .gate-passed")
    assert "checked by hand" in page.inner_text("tr[data-gate=security]")
    # the CLI's rules: done while a dependency is open is refused with its message
    page.goto(f"{board.url}#/issue/proj/{ids['docs']}")
    page.wait_for_selector(f"article.issue[data-issue='{ids['docs']}'] #a-state")
    page.select_option("#a-state", "done")
    page.click("button[data-action=state]")
    page.wait_for_selector("#toast.err")
    assert Jit(repo).json("issue", "show", ids["docs"])["state"] == "open"


def test_the_graph(page: Page, board: Running, proj: tuple[Path, dict[str, str]], shots: Path) -> None:
    _, ids = proj
    page.goto(board.link)
    page.wait_for_selector(".card")
    page.goto(f"{board.url}#/graph/proj")
    page.wait_for_selector("svg.graph .node")
    nodes = page.eval_on_selector_all("svg.graph .node", "els => els.map(e => e.dataset.id)")
    unfinished = {ids[k] for k in ("design", "build", "docs", "audit", "free")}
    assert set(nodes) == unfinished
    assert page.locator("svg.graph path.edge").count() == 2
    colour = page.get_attribute(f"svg.graph .node[data-id='{ids['design']}'] rect", "fill")
    assert colour == "#2e7d32"  # ready
    page.screenshot(path=str(shots / "graph.png"))
    full = float(page.get_attribute("svg.graph", "width") or 0)
    page.eval_on_selector("[data-testid=zoom]", "el => { el.value = '0.5'; el.dispatchEvent(new Event('input')); }")
    assert abs(float(page.get_attribute("svg.graph", "width") or 0) - full / 2) <= 1
    page.click(f"svg.graph .node[data-id='{ids['build']}']")
    page.wait_for_selector(f"article.issue[data-issue='{ids['build']}']")
    page.click("text=graph of this issue")
    page.wait_for_selector(f"svg.graph .node.focus[data-id='{ids['build']}']")
    assert page.locator("svg.graph .node").count() == 3


def test_several_repositories_side_by_side(page: Page, tmp_path: Path, shots: Path) -> None:
    a, ids_a = sample(tmp_path / "a", name="api")
    b, ids_b = sample(tmp_path / "b", name="web")
    run = start([str(a), str(b)])
    try:
        page.goto(run.link)
        # several repositories: side by side by default, one column per repository, in order
        page.wait_for_selector("section.repocol[data-repo=web] .column[data-column=ready] .card")
        assert page.eval_on_selector_all("section.repocol", "els => els.map(e => e.dataset.repo)") == ["api", "web"]
        assert page.locator("section.repo").count() == 0
        box_a = page.locator("section.repocol[data-repo=api]").bounding_box()
        box_b = page.locator("section.repocol[data-repo=web]").bounding_box()
        assert box_a and box_b
        assert box_b["x"] >= box_a["x"] + box_a["width"] - 1 and box_a["y"] == box_b["y"]
        # each its own issues, its ready cards in the order jit query ready lists them, its own counts
        for repo, ids, name in ((a, ids_a, "api"), (b, ids_b, "web")):
            col = f"section.repocol[data-repo={name}]"
            ready = page.eval_on_selector_all(f"{col} .column[data-column=ready] .card", "els => els.map(e => e.dataset.id)")
            assert ready == [i["id"] for i in Jit(repo).json("query", "ready")["issues"]]
            st = Jit(repo).json("status")
            for k in ("total", "ready", "in_progress", "done"):
                assert page.inner_text(f"{col} [data-count={k}] b") == str(st[k]), (name, k)
        assert page.locator(f"section.repocol[data-repo=api] .card[data-id='{ids_b['design']}']").count() == 0
        assert page.locator(f"section.repocol[data-repo=web] .card[data-id='{ids_a['design']}']").count() == 0
        # "Next up": the ready issues over both repositories in the dispatcher's order (the older design first)
        nxt = page.eval_on_selector_all("[data-testid=next-up] .nextcard", "els => els.map(e => [e.dataset.repo, e.dataset.id])")
        assert nxt == [["api", ids_a["design"]], ["web", ids_b["design"]]]
        # the finished states are folded away until opened
        done = "section.repocol[data-repo=web] details.fold[data-fold=done]"
        assert not page.locator(f"{done} .card").first.is_visible()
        page.click(f"{done} > summary")
        assert page.locator(f"{done} .card").first.is_visible()
        # a claim from the CLI in the second repository moves its card live, nowhere else
        page.wait_for_selector("#live.on")
        page.evaluate("window.__not_reloaded = true")
        run_jit("issue", "claim", ids_b["design"], "agent:cli", cwd=b, check=True)
        page.wait_for_selector(f"section.repocol[data-repo=web] .column[data-column=in_progress] "
                               f".card[data-id='{ids_b['design']}']", timeout=5000)
        assert page.locator(f"section.repocol[data-repo=api] .column[data-column=ready] "
                            f".card[data-id='{ids_a['design']}']").count() == 1
        assert page.locator(f"{done}[open]").count() == 1  # the open fold stayed open through the redraw
        assert page.evaluate("window.__not_reloaded") is True
        page.wait_for_function("document.querySelectorAll('[data-testid=next-up] .nextcard').length === 1")
        page.screenshot(path=str(shots / "board-multi.png"))
        # the switch: lanes (one row of columns per repository, one above the other), remembered in the URL
        page.click("[data-testid=layout] [data-view=lanes]")
        page.wait_for_selector("section.repo[data-repo=web] .column[data-column=in_progress] .card")
        assert "view=lanes" in page.url
        assert page.locator("section.repocol").count() == 0
        lane_a = page.locator("section.repo[data-repo=api]").bounding_box()
        lane_b = page.locator("section.repo[data-repo=web]").bounding_box()
        assert lane_a and lane_b and lane_b["y"] > lane_a["y"]
        # an issue and back to the board: still lanes; a reload of the URL: lanes
        page.click(f"section.repo[data-repo=web] .card[data-id='{ids_b['docs']}']")
        page.wait_for_selector(f"article.issue[data-issue='{ids_b['docs']}']")
        assert "Write the docs" in page.inner_text("article.issue")
        page.click("text=← board")
        page.wait_for_selector("section.repo[data-repo=web] .card")
        page.goto(f"{run.url}#/?view=lanes")
        page.reload()
        page.wait_for_selector("section.repo[data-repo=web] .card")
        assert page.locator("section.repocol").count() == 0
        # and back
        page.click("[data-testid=layout] [data-view=side]")
        page.wait_for_selector("section.repocol[data-repo=web] .card")
        assert page.locator("section.repo").count() == 0
    finally:
        run.stop()


def test_a_long_column_loads_more_cards_as_it_scrolls(page: Page, tmp_path: Path) -> None:
    repo, _ = sample(tmp_path)
    j = Jit(repo)
    for k in range(45):
        j("issue", "create", "-q", "-t", f"bulk {k}")
    run = start([str(repo)])
    try:
        page.goto(run.link)
        page.wait_for_selector(".column[data-column=ready] .card")
        assert page.get_attribute(".column[data-column=ready]", "data-count") == "46"
        assert len(column_ids(page, "ready")) == 30  # the first page only
        page.eval_on_selector(".column[data-column=ready] .cards", "el => el.scrollTop = el.scrollHeight")
        page.wait_for_function("document.querySelectorAll('.column[data-column=ready] .card').length === 46")
        assert column_ids(page, "ready") == [i["id"] for i in j.json("query", "ready")["issues"]]
    finally:
        run.stop()


HOSTILE = '<img src=x onerror="window.__pwned=1">'


def test_hostile_text_is_shown_as_text_and_never_runs(browser: Any, tmp_path: Path) -> None:
    """Titles, descriptions, context, gate titles, assignees and the repository's own folder name
    come from whoever wrote to the tracker (a remote, an import): the board shows them as text, and
    its security policy would stop a script that got through anyway."""
    from conftest import make_repo

    repo = make_repo(tmp_path / 'x"><svg onload="window.__pwned=6">')
    j = Jit(repo, actor="human:alice")
    assert j("init").exit_code == 0
    assert j("registry", "add", "review", "-t", "<script>window.__pwned=5</script>").exit_code == 0
    a = j.json("issue", "create", "-t", HOSTILE, "-d", "<script>window.__pwned=2</script> [x](javascript:window.__pwned=3)",
               "--context", "k=<iframe src=javascript:window.__pwned=4>", "-g", "review")["id"]
    b = j.json("issue", "create", "-t", "</text><script>window.__pwned=7</script>")["id"]
    j("dep", "add", b, a)
    assert j("issue", "claim", a, "agent:<b>bold</b>").exit_code in (0, 2)
    run = start([str(repo)], actor="human:board", allow_writes=True)
    ctx = browser.new_context(viewport={"width": 1500, "height": 860})  # the board's policy enforced
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # the page's own code lives within its policy (no inline style or script of its own)
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        page.goto(run.link)
        page.wait_for_selector(f".card[data-id='{a}']")
        assert HOSTILE in page.inner_text(f".card[data-id='{a}']")
        page.click(f".card[data-id='{a}']")
        page.wait_for_selector(f"article.issue[data-issue='{a}']")
        text = page.inner_text("article.issue")
        assert "<script>window.__pwned=2</script>" in text and "<script>window.__pwned=5</script>" in text
        assert "<iframe src=javascript:window.__pwned=4>" in text
        assert page.locator("article.issue img, article.issue script, article.issue iframe").count() == 0
        page.goto(f"{run.url}#/graph/{page.evaluate('S.repos[0].name')}")
        page.wait_for_selector(f"svg.graph .node[data-id='{b}']")
        assert page.locator("svg.graph script, svg.graph img").count() == 0
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned") is None
        headers = page.request.get(run.url).headers
        assert "script-src" not in headers["content-security-policy"] or "'unsafe-inline'" not in \
            headers["content-security-policy"]
        assert "default-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert not errors, errors
    finally:
        ctx.close()
        run.stop()

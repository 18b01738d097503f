"""The shims' test of "nothing for gitjit to do" (``gitjit.app.hooks.SKIP_WHEN``) against the hooks'
own Python, on random commit messages: whenever the shell test skips ``commit-msg`` or
``post-commit``, the hook's Python finds no ``Refs:``/``Closes:`` trailer either (real git, real sh).
Trailer aliases and extra separators from git's config are part of the examples."""

from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import git, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.app import hooks

KEYS = ["Refs", "refs", "REFS", "Closes", "closes", "Ref", "ref", "Clos", "Refs ", " Refs", "Signed-off-by",
        "Co-authored-by", "X-Refs", "Refsx", "Closes-bug", "Fixes", "r"]
SEPS = [":", " :", ": ", "#", " # ", "="]
VALUES = ["abcd1234", "deadbeef, 0123abcd", "", "JIRA-12", "see  abcd1234", "abcd1234\n  continued"]
CONFIGS = [{}, {"trailer.ref.key": "Refs"}, {"trailer.separators": ":#"},
           {"trailer.cl.key": "Closes", "trailer.separators": ":="}]

trailer = st.builds(lambda k, s, v: f"{k}{s}{v}", st.sampled_from(KEYS), st.sampled_from(SEPS), st.sampled_from(VALUES))
message = st.builds(
    lambda subject, body, block, comment: "\n".join(
        [subject] + ([""] + body if body else []) + ([""] + block if block else []) + (["# a comment: Refs: abcd"] if comment else [])),
    st.sampled_from(["fix", "Refs: abcd1234", "closes the parser"]),
    st.lists(st.sampled_from(["some text", "Refs: abcd1234 in the body", "more: words"]), max_size=2),
    st.lists(trailer, max_size=4),
    st.booleans(),
)


def _skips(repo: Path, hook: str, *args: str) -> bool:
    return subprocess.run(["sh", "-c", hooks.SKIP_WHEN[hook], "sh", *args], cwd=repo,
                          capture_output=True).returncode == 0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(msg=message, config=st.sampled_from(CONFIGS))
def test_the_shim_skips_only_messages_without_jit_trailers(tmp_path_factory, msg: str, config: dict[str, str]) -> None:
    repo = make_repo(tmp_path_factory.mktemp("shim"))
    for k, v in config.items():
        git("config", k, v, cwd=repo)
    f = repo / "MSG"
    f.write_text(msg + "\n")
    # commit-msg: the hook's Python reads the trailers git parses from the message file
    pairs = hooks._parse_trailer_lines(git("interpret-trailers", "--parse", str(f), cwd=repo).stdout.splitlines())
    if _skips(repo, "commit-msg", str(f)):
        assert pairs == [], (msg, config)
    # post-commit: the same message as a commit (git keeps it as given with commit-tree)
    tree = git("write-tree", cwd=repo).stdout.strip()
    sha = git("commit-tree", tree, "-F", str(f), cwd=repo).stdout.strip()
    git("update-ref", "HEAD", sha, cwd=repo)
    fmt = "%H%x00%(trailers:key=Refs,key=Closes,unfold,separator=%x1f)%x1e"
    out = git("log", "-1", f"--format={fmt}", "HEAD", "--", cwd=repo).stdout
    linked = [rec for rec in out.split("\x1e") if hooks._parse_trailer_lines(rec.partition("\x00")[2].split("\x1f"))]
    if _skips(repo, "post-commit"):
        assert linked == [], (msg, config)


def test_the_shim_tests_say_no_when_git_cannot_answer(tmp_path: Path) -> None:
    """Outside a repository, or without the message file, each test is false: the hook runs as before."""
    assert not _skips(tmp_path, "commit-msg", str(tmp_path / "missing"))
    assert not _skips(tmp_path, "commit-msg")
    repo = make_repo(tmp_path / "r")
    assert not _skips(repo, "post-commit")  # no commit yet: git log fails
    assert _skips(repo, "pre-commit")  # no gate defined
    git("update-ref", "refs/jit/gates/lint", git("commit-tree", git("write-tree", cwd=repo).stdout.strip(), "-m", "x",
                                                  cwd=repo).stdout.strip(), cwd=repo)
    assert not _skips(repo, "pre-commit")

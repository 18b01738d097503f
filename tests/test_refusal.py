"""Reading why a push or fetch was refused (gitjit/git/refusal.py). The stderr samples are what git
2.39 prints against each kind of server; tests/test_transports.py gets them from real servers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitjit.git.refusal import explain, server_lines

GENERIC = ("fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\n"
           "and the repository exists.\n")

CASES = [
    # Apache/nginx smart HTTP with a login for pushes, no credential helper, no terminal
    ("fatal: could not read Username for 'https://git.example.com': terminal prompts disabled\n", "auth",
     "could not read Username for 'https://git.example.com': terminal prompts disabled"),
    # wrong token
    ("remote: HTTP Basic: Access denied\nfatal: Authentication failed for 'https://gitlab.example.com/g/p.git/'\n",
     "auth", "remote: HTTP Basic: Access denied"),
    # ssh without a key the server knows
    ("git@127.0.0.1: Permission denied (publickey).\n" + GENERIC, "auth",
     "git@127.0.0.1: Permission denied (publickey)."),
    # gitolite: no write access to the repository at all (refused before receive-pack starts)
    ("FATAL: W any hub reader DENIED by fallthru\n(or you mis-spelled the reponame)\n" + GENERIC, "denied",
     "FATAL: W any hub reader DENIED by fallthru"),
    # gitolite: this ref refused by its update hook
    (("remote: FATAL: W refs/jit/gates/g hub agent DENIED by fallthru        \n"
      "remote: error: hook declined to update refs/jit/gates/g        \nTo ssh://127.0.0.1:4/hub\n"
      " ! [remote rejected] HEAD -> refs/jit/gates/g (hook declined)\nerror: failed to push some refs to 'x'\n"),
     "denied", "FATAL: W refs/jit/gates/g hub agent DENIED by fallthru"),
    # GitLab over ssh, a reporter pushing
    ("ERROR: You are not allowed to push code to this project.\n" + GENERIC, "denied",
     "ERROR: You are not allowed to push code to this project."),
    # a web server that denies the push without a word of its own
    ("fatal: unable to access 'https://h/x.git/': The requested URL returned error: 403\n", "denied",
     "unable to access 'https://h/x.git/': The requested URL returned error: 403"),
    # GitHub over https with a token lacking write access
    (("remote: Permission to me/project.git denied to bot.\n"
      "fatal: unable to access 'https://github.com/me/project.git/': The requested URL returned error: 403\n"),
     "denied", "Permission to me/project.git denied to bot."),
]


@pytest.mark.parametrize(("stderr", "kind", "reason"), CASES)
def test_access_refusals_are_told_apart_with_the_servers_words(stderr: str, kind: str, reason: str) -> None:
    r = explain(stderr)
    assert r is not None and r.kind == kind and r.reason == reason


@pytest.mark.parametrize("stderr", [
    "fatal: unable to access 'http://127.0.0.1:9/x/': Failed to connect to 127.0.0.1 port 9: Connection refused\n",
    "fatal: repository 'http://127.0.0.1:8/nope.git/' not found\n",
    "ssh: connect to host 127.0.0.1 port 22: Connection refused\n" + GENERIC,
    "Host key verification failed.\n" + GENERIC,
    # a local file git could not write is not the server refusing anyone
    "error: cannot open .git/FETCH_HEAD: Permission denied\n",
    # a host that takes only branches and tags, whoever pushes
    ("remote: only branches and tags\nremote: error: hook declined to update refs/jit/x\n"
     " ! [remote rejected] x -> refs/jit/x (pre-receive hook declined)\n"),
    "",
])
def test_other_failures_are_not_taken_for_refusals(stderr: str) -> None:
    assert explain(stderr) is None


def test_server_lines_keep_the_reason_and_drop_gits_boilerplate() -> None:
    text = "remote: \nremote: error: hook declined to update refs/x\nremote: only branches here\n" + GENERIC
    assert server_lines(text) == ["only branches here"]


@given(st.text(max_size=400))
def test_any_text_is_read_without_failing(text: str) -> None:
    r = explain(text)
    assert r is None or (r.kind in ("auth", "denied") and "\n" not in r.reason)
    assert all("\n" not in x for x in server_lines(text))

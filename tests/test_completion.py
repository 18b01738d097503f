"""Shell completion (gitjit/cli/complete.py), run by the shells themselves: bash (click's
protocol, the sourced script, and git's own bash completion calling ``_git_jit``), fish
(``complete -C``), zsh (the script's function, with zsh's listing builtins replaced by printing)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Jit

GIT_BASH = Path("/usr/share/bash-completion/completions/git")


@pytest.fixture
def issues(jit: Jit) -> dict[str, str]:
    a = jit("issue", "create", "-q", "-t", "First, thing").stdout.strip()
    b = jit("issue", "create", "-q", "-t", "Second", "-p", "high").stdout.strip()
    assert jit("issue", "claim", b, "agent:alice").exit_code == 0
    assert jit("query", "all").exit_code == 0  # the index is in step
    return {"a": a, "b": b}


def _env(repo: Path) -> dict[str, str]:
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "JIT_REPO": str(repo), "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}


def protocol(repo: Path, line: str, shell: str = "bash") -> list[str]:
    words = line.split(" ")
    env = {**_env(repo), "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1), "_JIT_COMPLETE": f"{shell}_complete"}
    p = subprocess.run([sys.executable, "-m", "gitjit"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.splitlines()


def test_click_protocol_commands_options_choices_and_ids(jit: Jit, issues: dict[str, str]) -> None:
    repo = jit.repo
    assert protocol(repo, "jit stat") == ["plain,status"]
    assert "plain,issue" in protocol(repo, "jit ")
    # hidden commands and aliases are not offered (they still work)
    assert not {"plain,merge-driver", "plain,hook", "plain,fsck"} & set(protocol(repo, "jit "))
    assert protocol(repo, "jit issue update x --state in") == ["plain,in_progress", "plain,inprogress",
                                                                 "plain,in-progress"]
    assert protocol(repo, "jit issue create -p h") == ["plain,high"]
    assert protocol(repo, "jit query priority ") == ["plain,low", "plain,normal", "plain,high", "plain,critical"]
    ids = protocol(repo, "jit issue show ")
    assert sorted(ids) == sorted(f"plain,{issues[k][:8]}" for k in "ab")
    assert protocol(repo, f"jit dep add {issues['a'][:8]} {issues['b'][:3]}") == [f"plain,{issues['b'][:8]}"]
    assert protocol(repo, "jit query assignee ") == ["plain,agent:alice"]
    assert protocol(repo, "jit --repo ") == ["dir,"]
    assert protocol(repo, "jit issue show --j") == ["plain,--json"]


def test_ids_complete_without_pygit2(jit: Jit, issues: dict[str, str]) -> None:
    env = {**_env(jit.repo), "COMP_WORDS": "jit issue show ", "COMP_CWORD": "3", "_JIT_COMPLETE": "bash_complete"}
    code = ("import sys, runpy; sys.argv=['jit']\n"
            "try:\n  from gitjit.cli import main; main([])\n"
            "except SystemExit: pass\n"
            "print('PYGIT2' if 'pygit2' in sys.modules else 'NO-PYGIT2', file=sys.stderr)")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert f"plain,{issues['a'][:8]}" in p.stdout
    assert p.stderr.strip().endswith("NO-PYGIT2")


def test_completion_command_prints_each_script(jit: Jit) -> None:
    for shell, marks in {"bash": ["_jit_completion", "complete -o nosort -F _jit_completion git-jit", "_git_jit()"],
                         "zsh": ["#compdef jit", "compdef _jit_completion git-jit", "_git-jit()"],
                         "fish": ["complete --no-files --command jit", "--command git-jit"]}.items():
        r = jit("completion", shell)
        assert r.exit_code == 0
        for m in marks:
            assert m in r.stdout, (shell, m)
    r = jit("completion", "tcsh")
    assert r.exit_code == 2 and "tcsh" in r.stderr


def _script(repo: Path, shell: str, tmp: Path) -> Path:
    p = subprocess.run([sys.executable, "-m", "gitjit", "completion", shell], env=_env(repo), capture_output=True,
                       text=True, check=True)
    f = tmp / f"jit.{shell}"
    f.write_text(p.stdout)
    return f


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_sourced_script_and_git_jit(jit: Jit, issues: dict[str, str], tmp_path: Path) -> None:
    script = _script(jit.repo, "bash", tmp_path)
    driver = f"""
source {script}
try() {{ COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMPREPLY=(); _jit_completion "$1"; echo "${{COMPREPLY[*]}}"; }}
try jit iss
try git-jit issue sh
try jit issue show ""
"""
    if GIT_BASH.exists():
        driver += f"""
source {GIT_BASH}
gtry() {{ COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMP_LINE="$*"; COMP_POINT=${{#COMP_LINE}};
         COMPREPLY=(); __git_wrap__git_main; echo "${{COMPREPLY[*]}}"; }}
gtry git jit iss
gtry git -C . jit issue update x --state in
gtry git jit issue show ""
"""
    out = subprocess.run(["bash", "--norc", "-c", driver], env=_env(jit.repo), capture_output=True, text=True,
                         timeout=120).stdout.splitlines()
    ids = " ".join(sorted(issues[k][:8] for k in "ab"))
    assert out[:2] == ["issue", "show"]
    assert " ".join(sorted(out[2].split())) == ids
    if GIT_BASH.exists():
        assert out[3] == "issue"
        assert out[4] == "in_progress inprogress in-progress"
        assert " ".join(sorted(out[5].split())) == ids


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish not installed (apt-get install fish)")
def test_fish(jit: Jit, issues: dict[str, str], tmp_path: Path) -> None:
    script = _script(jit.repo, "fish", tmp_path)
    cmds = (f"source {script}; complete -C 'jit iss'; echo ---; complete -C 'git-jit issue show '; echo ---; "
            "complete -C 'git jit issue update x -p cr'")
    out = subprocess.run(["fish", "--no-config", "-c", cmds], env=_env(jit.repo), capture_output=True, text=True,
                         timeout=120).stdout
    first, ids, git = out.split("---\n")
    assert first == "issue\tCreate, read, change and claim issues.\n"  # the help after a comma is kept
    lines = sorted(ids.splitlines())
    assert [ln.split("\t")[0] for ln in lines] == sorted(issues[k][:8] for k in "ab")
    assert any(ln.endswith("\t[ready] First, thing") for ln in lines)
    assert git.strip() == "critical"


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh not installed (apt-get install zsh)")
def test_zsh(jit: Jit, issues: dict[str, str], tmp_path: Path) -> None:
    script = _script(jit.repo, "zsh", tmp_path)
    # zsh lists candidates with _describe/compadd, which only run inside a completion widget:
    # replaced by printing what they are given
    driver = f"""
autoload -U compinit; compinit -u -d {tmp_path}/zcompdump
source {script}
_describe() {{ print -l -- "${{(@P)3}}" }}
compadd() {{ print -l -- "${{(@P)${{@[-1]}}}}" }}
words=(jit issue sh); CURRENT=3; _jit_completion
echo ---
words=(jit issue update x --state in); CURRENT=6; _jit_completion
echo ---
words=(jit issue show ''); CURRENT=4; _git-jit
"""
    out = subprocess.run(["zsh", "-f", "-c", driver], env=_env(jit.repo), capture_output=True, text=True,
                         timeout=120).stdout
    show, state, ids = out.split("---\n")
    assert show.startswith("show:Show one issue")
    assert sorted(state.splitlines()) == sorted(["in_progress", "inprogress:alias of in_progress",
                                            "in-progress:alias of in_progress"])
    assert sorted(x.split(":")[0] for x in ids.split("\n") if x) == sorted(issues[k][:8] for k in "ab")


def test_git_jit_answers_its_own_completion_variable(jit: Jit, issues: dict[str, str]) -> None:
    """``_GIT_JIT_COMPLETE=bash_complete git-jit`` (what a completion set up for git-jit by its own
    name asks) answers like ``_JIT_COMPLETE``, instead of exiting 2 without a command."""
    env = {**_env(jit.repo), "COMP_WORDS": "git-jit que", "COMP_CWORD": "1", "_GIT_JIT_COMPLETE": "bash_complete"}
    p = subprocess.run([sys.executable, "-m", "gitjit"], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.splitlines() == ["plain,query"], (p.stdout, p.stderr)


ZPTY_DRIVER = r'''
zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z "PS1='%% '; autoload -U compinit; compinit -u -d $ZCOMPDUMP; source $SCRIPT; bindkey -e"
sleep 1
for input in "$@"; do
  zpty -w -n z "$input"$'\t'
  sleep 2
  zpty -w -n z $'\x01print -r -- RESULT: \n'
done
zpty -w z 'exit'
out=""
integer waited=0
while (( waited < 120 )); do
  if zpty -r -t z chunk; then out+="$chunk"; else sleep 0.5; (( waited++ )); fi
  [[ ${#${(M)${(f)${out//$'\r'/}}:#RESULT:*}} -ge $# ]] && break
done
print -r -- "${out//$'\r'/}" | grep -a '^RESULT:'
zpty -d z
'''


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh not installed (apt-get install zsh)")
def test_zsh_completes_at_a_real_prompt(jit: Jit, issues: dict[str, str], tmp_path: Path) -> None:
    """An interactive zsh on a pseudo-terminal (zsh's zpty), with compinit and the script: Tab is
    pressed after each line, then the line is printed."""
    script = _script(jit.repo, "zsh", tmp_path)
    driver = tmp_path / "driver.zsh"
    driver.write_text(ZPTY_DRIVER)
    b = issues["b"][:8]
    lines = [f"jit issue show {b[:3]}", "git jit iss", "git jit issue update x --state in-p", "jit --no-col"]
    env = {**_env(jit.repo), "SCRIPT": str(script), "ZCOMPDUMP": str(tmp_path / "zcompdump")}
    p = subprocess.run(["zsh", "-f", str(driver), *lines], env=env, capture_output=True, text=True, timeout=300)
    got = [ln.removeprefix("RESULT: ").rstrip() for ln in p.stdout.splitlines()]
    assert got == [f"jit issue show {b}", "git jit issue", "git jit issue update x --state in-progress",
                   "jit --no-color"], (p.stdout, p.stderr)

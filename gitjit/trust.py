"""Who may pass which gate: a local policy, read from this clone's configuration only.

Nothing in an event is authenticated. ``actor``, ``by``, the timestamp and the git commit's
author and committer are strings the writer chose, and anyone who can push to the hub can
write any of them (docs/reliability.md, "What is and is not authenticated"). So trust cannot
come from the data; it comes from local, hand-edited configuration, like a gate's checker
command:

* git config ``jit-gate.<key>.allow`` (repeatable, or comma-separated), or
* ``[gates.<key>] allow = ["human:*", "ci:github-actions"]`` in a committed ``jit.toml``,

each an ``fnmatch`` pattern of the names allowed to pass gate ``<key>``. With a policy for a
gate, a ``gate_passed`` event whose passer matches none of the patterns is *untrusted*:
``issue show`` marks the gate ``"trusted": false`` with a ``note`` saying why, ``issue update
--state done`` does not count it, ``jit gate pass`` refuses to record it here, and ``jit
doctor`` lists it. What the policy cannot do is tell a forger who writes an allowed name from
the real owner of that name: that needs signed commits (see docs/reliability.md).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

from .model import IssueState

__all__ = ["GatePolicy"]


class GatePolicy:
    def __init__(self, git: Any):
        self.git = git
        self._cache: dict[str, tuple[list[str], str | None]] = {}
        self._toml: dict[str, Any] | None = None

    def _jit_toml(self) -> dict[str, Any]:
        if self._toml is None:
            self._toml = {}
            wd = getattr(self.git, "workdir", None)
            p = Path(wd) / "jit.toml" if wd is not None else None
            if p is not None and p.is_file():
                import tomllib

                try:
                    self._toml = tomllib.loads(p.read_text())
                except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
                    self._toml = {}
        return self._toml

    def patterns(self, key: str) -> tuple[list[str], str | None]:
        """(patterns, where they come from); ([], None) when the gate has no policy."""
        if key not in self._cache:
            pats = [p.strip() for v in self.git.config_get_all(f"jit-gate.{key}.allow") for p in v.split(",")
                    if p.strip()]
            src: str | None = f"git config jit-gate.{key}.allow" if pats else None
            if not pats:
                gates = self._jit_toml().get("gates")
                v = (gates.get(key) or {}).get("allow") if isinstance(gates, dict) else None
                if isinstance(v, str):
                    v = [v]
                if isinstance(v, list):
                    pats = [p for p in v if isinstance(p, str) and p.strip()]
                    src = f"jit.toml [gates.{key}] allow" if pats else None
            self._cache[key] = (pats, src)
        return self._cache[key]

    def rule(self, key: str) -> str:
        pats, src = self.patterns(key)
        return f"{src} = {', '.join(pats)}" if pats else f"no policy for gate '{key}'"

    def check(self, key: str, who: str | None) -> str | None:
        """None when ``who`` may pass gate ``key`` (or no policy applies); else the reason it may not."""
        pats, src = self.patterns(key)
        if not pats:
            return None
        if who and any(fnmatch.fnmatchcase(who, p) for p in pats):
            return None
        return (f"passed by {who or 'nobody named'}, who may not pass gate '{key}' under the local policy "
                f"({self.rule(key)}); not counted")

    def untrusted(self, st: IssueState) -> dict[str, str]:
        """Gate key -> note, for each gate of ``st`` that stands passed by someone the policy rejects."""
        out: dict[str, str] = {}
        for key, g in st.gates.items():
            if g.status.value == "passed":
                note = self.check(key, g.by)
                if note:
                    out[key] = note
        return out

    def annotate(self, issue: dict[str, Any]) -> dict[str, Any]:
        """Add ``trusted`` and ``note`` to each gate of an issue's JSON (``issue show``)."""
        for g in issue.get("gates") or []:
            note = self.check(g["key"], g.get("by")) if g.get("status") == "passed" else None
            g["trusted"] = note is None
            g["note"] = note
        return issue

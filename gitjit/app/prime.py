"""What ``jit prime`` needs besides the issues: who acts, and whether ``jit init`` ran here.

Both come from the repository's git config, read with one ``git config`` (a few milliseconds)
rather than by opening the repository through pygit2 (~70 ms): the card is printed at the start
of every agent session, next to the reads the index answers (gitjit/app/reader.py). The actor is
the Tracker's (``--by`` / ``JIT_ACTOR``, else git's ``user.name <user.email>``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core import prime as card
from ..core.model import check_actor
from ..git.discover import Location, discover
from ..git.localconfig import local_config_sets

if TYPE_CHECKING:  # the card's own path never loads the Tracker (pygit2)
    from .tracker import Tracker

__all__ = ["prime", "who_and_whether"]

_KEYS = r"^(user\.name|user\.email|jit\.version)$"


def who_and_whether(repo: str | None, actor: str | None) -> tuple[str, bool, Location]:
    """``(actor, initialized, location)`` of the repository git would use at ``repo`` (None: the
    current directory, where ``GIT_DIR`` counts as for git). ``NotFoundError`` outside a repository."""
    loc = discover(repo, repo_env=repo is None)
    if actor and local_config_sets(loc.common_dir, "jit", "version"):
        return check_actor(actor), True, loc  # what an agent's session start usually finds: no git to start
    from ..git import run  # subprocess and its imports: only when the config file alone cannot say

    p = run.run(("config", "-z", "--get-regexp", _KEYS), git_dir=loc.git_dir, cwd=loc.workdir or loc.git_dir)
    cfg = dict(item.partition("\n")[::2] for item in (p.stdout if p.returncode == 0 else "").split("\0") if item)
    if actor:
        who = check_actor(actor)
    else:
        name, email = cfg.get("user.name") or None, cfg.get("user.email") or None
        who = f"{name} <{email}>" if name and email else (name or email or "unknown")
    return who, "jit.version" in cfg, loc


def prime(tracker: Tracker, *, limit: int = card.SHOWN) -> dict[str, Any]:
    """The card's data for the tracker's actor (what ``jit prime --json`` prints); the text is
    ``gitjit.core.prime.card_text(data)``."""
    actor = tracker.actor()
    if not tracker.is_initialized():
        return card.not_initialized(actor)
    return card.card_data(tracker, actor=actor, limit=limit)

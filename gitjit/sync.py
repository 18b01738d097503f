"""Use cases around sharing that sit on top of ``gitjit.api.Tracker``: the remote refspecs, and
catching up with what a plain ``git fetch``/``git pull`` brought. The machinery itself (fetch, reconcile, push, hub claims) lives in ``gitjit.store.sync``; the
Tracker's ``push``/``pull``/``sync`` call it directly, and ``jit doctor`` (gitjit.doctor) reuses
its document checks.
"""

from __future__ import annotations

from typing import Any

__all__ = ["add_refspecs", "remove_refspecs", "catch_up", "fetch_remotes", "check_hub"]


def add_refspecs(tracker: Any, remote: str) -> dict[str, Any]:
    """Add ``+refs/jit/*:refs/jit-remotes/<remote>/*`` to ``remote.<remote>.fetch`` (idempotent), so
    plain ``git fetch``/``git pull`` bring the remote's jit refs; ``jit pull`` then reconciles them."""
    res: dict[str, Any] = tracker._syncer().add_refspecs(remote)  # noqa: SLF001 - same package
    res["undo"] = f"jit remote remove-refspecs {remote}"
    return res


def remove_refspecs(tracker: Any, remote: str) -> dict[str, Any]:
    res: dict[str, Any] = tracker._syncer().remove_refspecs(remote)  # noqa: SLF001
    return res



def check_hub(tracker: Any, remote: str) -> None:
    """Refuse a hub that is not a configured remote (every claim would then fail with exit 3):
    ``UsageError`` for a malformed name, ``NotFoundError`` naming the remotes there are. The empty
    string is allowed: it means no hub."""
    from .errors import NotFoundError

    if remote == "":
        return
    try:
        tracker._syncer().check_remote(remote)  # noqa: SLF001 - same package
    except NotFoundError as e:
        have = tracker.git.remote_names()
        e.message = f"cannot set hub: {e.message}, so every claim would fail"
        e.hint = (f"use one of the remotes here ({', '.join(have)}), or " if have else "") + \
            f"add it first: git remote add {remote} <url>"
        e.details = {**e.details, "remotes": have}
        raise


def fetch_remotes(git: Any) -> list[str]:
    """The remotes whose plain ``git fetch`` brings their jit refs (the refspec of ``add_refspecs``)."""
    from .store.sync import refspec_for

    return [r for r in git.remote_names() if refspec_for(r) in git.config_get_all(f"remote.{r}.fetch")]


def catch_up(tracker: Any) -> list[dict[str, Any]]:
    """Merge into ``refs/jit/*`` what plain ``git fetch``/``git pull`` brought into the tracking refs
    since the last time, as ``jit pull --no-fetch`` would, for each remote with the jit refspec:
    git runs no hook for a fetch, nor for a pull that merges nothing (gitjit/store/fetched.py).
    Costs a ``stat`` or two when nothing was fetched. A remote that cannot be merged becomes a
    warning on the tracker (``tracker.warnings``), and is tried again next time; nothing raises.
    Returns each remote's pull result."""
    from .errors import GitjitError
    from .store import fetched

    common = tracker.git.common_dir
    seen = fetched.fetch_signature(common)  # taken first: a fetch after this shows up next time
    state = fetched.read_state(common)
    if seen == state.get("fetch_head", []) or not tracker.is_initialized():
        return []
    out: list[dict[str, Any]] = []
    ok = True
    for remote in fetch_remotes(tracker.git):
        try:
            out.append(tracker.pull(remote, fetch=False))
        except GitjitError as e:
            ok = False
            tracker.warnings.append(f"could not merge the jit refs 'git fetch' brought from {remote}: {e.message} "
                                    f"(retried by the next jit command; by hand: jit pull {remote} --no-fetch)")
        except OSError as e:  # a read-only clone, a full disk: reading goes on
            ok = False
            tracker.warnings.append(f"could not merge the jit refs 'git fetch' brought from {remote}: {e}")
    if ok and fetched.settled(seen):
        state = fetched.read_state(common)
        state["fetch_head"] = seen
        fetched.write_state(common, state)
    return out

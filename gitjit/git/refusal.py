"""What a failed push or fetch means for the user: the server's own words, and what to do next.

git ends a refused push with generic lines ("fatal: Could not read from remote repository. /
Please make sure you have the correct access rights / and the repository exists."), while the
reason is earlier: the server's ``remote: ...`` lines, gitolite's ``FATAL: W refs/jit/... DENIED``,
or the credential prompt git could not show. ``explain`` finds that reason and says whether the
remote wanted credentials (``auth``) or refused this account (``denied``), so the error can say
what to do instead of repeating git's last lines. Messages are matched in English: gitjit runs
git with ``LC_ALL=C`` for the network commands.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Refusal", "explain", "server_lines"]

#: git could not authenticate: no credentials to give, or the server did not accept them
_AUTH = ("could not read username", "could not read password", "terminal prompts disabled",
         "authentication failed", "http basic: access denied", "returned error: 401",
         "permission denied (publickey", "invalid username or password", "no supported authentication methods")
#: in the server's own lines: it said no to this account or ref (a bare "hook declined" is not one:
#: a host may refuse every ref outside refs/heads and refs/tags, whoever pushes)
_DENIED = ("denied", "not allowed to push", "permission to", "write access", "read-only", "read only",
           "protected ref", "you are not allowed")
#: git's generic closing lines: never the reason
_NOISE = ("could not read from remote repository", "please make sure you have the correct access rights",
          "and the repository exists", "failed to push some refs", "error: hook declined to update")


@dataclass(frozen=True)
class Refusal:
    kind: str  # "auth" or "denied"
    reason: str  # the server's words (or git's credential line), one line


def server_lines(stderr: str, limit: int = 3) -> list[str]:
    """The lines in which the server explains itself: ``remote: ...``, and the ``FATAL:`` of
    gitolite's shell or the ``ERROR:`` of GitLab's (git's own lines are lower case)."""
    out: list[str] = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if line.startswith("remote:"):
            line = line[len("remote:"):].strip()
        elif not line.startswith(("FATAL:", "ERROR:")):
            continue
        if line and not any(n in line.lower() for n in _NOISE) and line not in out:
            out.append(line)
    return out[:limit]


def explain(stderr: str) -> Refusal | None:
    """Why git failed to talk to (or push to) a remote, when it was about access; else None."""
    lines = [x.strip() for x in stderr.splitlines() if x.strip()]
    low = stderr.lower()
    said = server_lines(stderr)
    if any(a in low for a in _AUTH):
        hit = next((x for x in lines if any(a in x.lower() for a in _AUTH)), lines[-1] if lines else "")
        return Refusal("auth", hit.removeprefix("fatal: ").strip())
    if any(d in x.lower() for x in said for d in _DENIED):
        return Refusal("denied", " / ".join(said))
    if "returned error: 403" in low:
        hit = next(x for x in lines if "returned error: 403" in x.lower())
        return Refusal("denied", " / ".join(said) or hit.removeprefix("fatal: ").strip())
    return None

"""A plain setting of a repository's own config file, read without starting git (gitjit/git/light.py
asks git itself, which costs a process)."""

from __future__ import annotations

import os

__all__ = ["local_config_sets"]


def local_config_sets(common_dir: str | os.PathLike[str], section: str, key: str) -> bool:
    """Whether the repository's own config file plainly sets ``section.key`` (a ``[section]``
    line, then a ``key = value`` line under it). Only a yes is sure: a value set in an included
    file, a subsection, the global config or the environment is not seen here, so a no means
    "ask git" (``jit prime`` asks ``git config`` then)."""
    try:
        with open(os.path.join(os.fspath(common_dir), "config"), "rb") as f:
            text = f.read().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            inside = line.endswith("]") and line[1:-1].strip().lower() == section.lower()
            continue
        if inside:
            name, eq, value = line.partition("=")
            if eq and name.strip().lower() == key.lower() and value.strip():
                return True
    return False

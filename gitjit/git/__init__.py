"""The only package that imports pygit2: opening repositories, objects, refs with compare-and-swap."""

from __future__ import annotations

import os
import sys


def _import_pygit2() -> None:
    """Import pygit2 without parsing the system's CA bundle, in jit's own processes.

    pygit2's import hands libgit2 the certificate locations of ``ssl.get_default_verify_paths()``,
    and OpenSSL parses the whole bundle file right away: 24 ms of every write process on this
    machine (~60 against ~84 ms for ``import pygit2``). gitjit never talks to a remote through
    libgit2 (fetch and push run ``git`` itself, which finds its certificates as usual), so in a
    ``jit`` process only the certificate directory is passed on, which OpenSSL reads lazily: the
    ``SSL_CERT_FILE`` seen by that one import names no file, and is put back right after. Only
    when a certificate directory exists (libgit2 refuses neither a file nor a directory), only in
    jit's command-line processes (``gitjit.cli_process``, set by ``jit`` and ``jit-dispatch`` before
    they load the library: a program using the library keeps pygit2's defaults for its own use of
    pygit2), and never once pygit2 is loaded."""
    top = sys.modules.get("gitjit")
    if "pygit2" in sys.modules or not getattr(top, "cli_process", False):
        return
    import importlib
    import ssl

    paths = ssl.get_default_verify_paths()
    if paths.capath is None or paths.cafile is None:
        importlib.import_module("pygit2")  # nothing to save, or nothing else to give libgit2
        return
    key = paths.openssl_cafile_env
    saved = os.environ.get(key)
    os.environ[key] = os.path.join(paths.capath, ".no-bundle-for-libgit2")
    try:
        importlib.import_module("pygit2")
    finally:
        if saved is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = saved


_import_pygit2()

from .repo import GitRepo, CasFailed, RefLocked, BadRef, find_git_dirs, open_repo  # noqa: E402

__all__ = ["GitRepo", "CasFailed", "RefLocked", "BadRef", "find_git_dirs", "open_repo"]

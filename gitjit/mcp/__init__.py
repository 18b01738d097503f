"""``jit mcp``: gitjit as a Model Context Protocol server (docs/mcp.md).

A thin adapter over the Tracker: each tool checks its arguments with its model
(gitjit/schema/mcp.py), calls one Tracker method, and answers with the same JSON the matching
``jit ... --json`` command prints; an error is the CLI's error object with its exit code. The
server is the official ``mcp`` SDK's, an optional extra: ``pip install 'gitjit[mcp]'``.
"""

from __future__ import annotations

from ..core.errors import ExternalError

__all__ = ["SDK_HINT", "require_sdk"]

SDK_HINT = "pip install 'gitjit[mcp]'"


def require_sdk() -> None:
    """Raise a clear error when the MCP SDK (the ``mcp`` package, major version 2) is not installed."""
    import importlib.util

    try:
        found = importlib.util.find_spec("mcp.server.lowlevel") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ExternalError("jit mcp needs the MCP Python SDK, which is not installed",
                            hint=f"install the extra: {SDK_HINT}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        major = int(version("mcp").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return
    if major != 2:
        raise ExternalError(f"jit mcp needs version 2 of the MCP Python SDK; version {version('mcp')} is installed",
                            hint=f"install the extra: {SDK_HINT}")

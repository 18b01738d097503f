"""gitjit: a git-native Just-In-Time issue tracker for AI agents.

The library entry point is ``gitjit.api.Tracker``; the command line is ``gitjit.cli``.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]

#: True in jit's own command-line processes (set by their entry points): see gitjit/git/__init__.py
cli_process = False

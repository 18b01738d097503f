"""gitjit: a git-native Just-In-Time issue tracker for AI agents.

The library entry point is ``gitjit.api.Tracker``; the command line is ``gitjit.cli``.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]

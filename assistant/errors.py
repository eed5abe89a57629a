"""The project's small error tree: what went wrong, and whether trying again can help.

AssistantError
├── InputError        bad input from a person: a file, a config, a command (exit 2)
└── ...               later: exchange and delivery errors, split into retryable or not
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base of every error this project raises on purpose."""

    retryable = False


class InputError(AssistantError):
    """Input a person gave us is malformed; the message says where and why."""

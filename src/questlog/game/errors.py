"""Domain errors of the game side: every rejected command raises one of these.

All are `DomainError`s (from questlog.errors), so the CLI and HTTP layers map
them like any other rejected command; nothing is appended when one is raised.
"""

from __future__ import annotations

from ..errors import DomainError


class InvalidCommand(DomainError):
    """A command payload is malformed (missing field, wrong type, negative amount, ...)."""


class UnknownEntity(DomainError):
    """A command names a campaign, character, encounter, combatant or item that does not exist."""


class EntityExists(DomainError):
    """A command would create something whose id is already taken."""


class EncounterNotActive(DomainError):
    """A command acts in an encounter that has not started or has already ended."""


class RuleViolation(DomainError):
    """A command breaks a rule of play (ending combat with enemies standing, ...)."""


class UnknownContentReference(DomainError):
    """A content reference names no effective content entry and is not marked homebrew."""

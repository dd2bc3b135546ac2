"""The project's domain errors: each carries a message a user can read (French)."""

from typing import Any


class CarePortalError(Exception):
    """Base of every error the portal raises on purpose, with a user-facing message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ImportFileError(CarePortalError):
    """A file given to an import cannot be read at all (encoding, header, size)."""


class ApplicationError(CarePortalError):
    """A forbidden or lost change to an application."""


class TransitionNotAllowed(ApplicationError):
    """The lifecycle table has no such move from the current status."""


class TransitionForbidden(ApplicationError):
    """The actor's role or scope does not allow this move."""


class TransitionConflict(ApplicationError):
    """The application changed meanwhile: a concurrent transition won the race."""


class CommentRequired(ApplicationError):
    """This move must be explained (a return, a rejection…)."""


class ApplicationNotEditable(ApplicationError):
    """The application is no longer a draft (or returned for complements)."""


class SubmissionIncomplete(ApplicationError):
    """A submission with blocking issues; `issues` lists them, section by section."""

    def __init__(self, message: str, issues: list[Any]) -> None:
        super().__init__(message)
        self.issues = issues


class ConflictOfInterest(ApplicationError):
    """The user is linked to the candidate or a covered entity (a member of it, or a
    declared conflict): they can neither instruct nor decide the application."""


class EnvelopeExceeded(ApplicationError):
    """Granting this amount would take the call's committed total past its envelope."""


class AmountRefused(ApplicationError):
    """A granted, proposed or paid amount outside what the rules allow."""


class CoSignatureRequired(ApplicationError):
    """Four-eyes: the approval is recorded and waits for a second ministry user."""

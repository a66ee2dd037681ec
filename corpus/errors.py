"""Domain errors, each with a message a user can act on.

They live in the lowest layer (``corpus``) so that every layer above can raise
them; only the CLI and the UI turn them into exit codes or visible messages.
"""


class AssistantError(Exception):
    """Base class: the message is meant for the user, as is."""


class CorpusError(AssistantError):
    """The corpus cannot be read at all (missing folder, nothing indexable)."""


class IndexNotBuilt(AssistantError):
    """No index exists at the configured path."""

    def __init__(self, path):
        super().__init__(
            f"Aucun index dans {path}. Construisez-le avec : assistant index build"
        )


class IndexMismatch(AssistantError):
    """The index on disk was built differently from what the settings ask for."""


class IndexCorrupted(AssistantError):
    """An index file is missing, truncated or altered."""


class BackendUnavailable(AssistantError):
    """An optional backend (model, extra package, server) cannot be used."""


class InvalidQuestion(AssistantError):
    """The question is empty, too long or otherwise unusable."""

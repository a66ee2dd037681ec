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


class FileInUse(BackendUnavailable):
    """The Milvus Lite file is open in another process (which serves it, so it is not damaged)."""

    HELD = ("Milvus Lite sert un fichier à un seul processus à la fois : si le chat tourne, reconstruisez l'index "
            "depuis son onglet « Index », ou arrêtez-le ; pour plusieurs processus ou machines, utilisez un serveur "
            "Milvus (index.milvus.uri = http://hôte:19530).")

    def __init__(self, uri: str, who: str):
        super().__init__(f"Milvus Lite ne peut pas ouvrir {uri} : {who} l'a ouvert. {self.HELD}")
        self.who = who


class BuildLocked(AssistantError):
    """Another build holds the lock."""


class BuildTooLarge(AssistantError):
    """More texts to embed than the settings allow without confirmation."""


class GenerationFailed(AssistantError):
    """The generation backend gave no complete answer; ``reason`` is a short machine-readable cause (the extracts
    then stand instead, with a notice)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class RankerError(BackendUnavailable):
    """The ranker's file is missing or does not describe a ranker: the learned reader cannot run (the CLI says so in
    one line and exits 1, as for any :class:`AssistantError`)."""


class BatchInputError(AssistantError):
    """The batch input file as a whole cannot be used."""


class DatasetError(AssistantError):
    """The SQuAD-format file is missing, malformed, or not the one the split was fixed on."""


class Cancelled(AssistantError):
    """The asker went away: the question was dropped between two stages (not an error to show anyone)."""

"""models: issue-type and sentiment predictions.

Adds ``Conversation.predictions`` (``issue_type``, ``sentiment``, ``turn_sentiment``). Until a
trained model is shipped in ``models/<name>/`` (the classifier issue), the stage fills nothing:
the output fields stay ``null`` — a prediction is never invented.
"""

from __future__ import annotations

from pathlib import Path

from ..schema import Conversation

MODEL_NAMES = ("issue_type", "sentiment")


class ModelsStage:
    name = "models"

    def __init__(self, models_dir: Path):
        self.models_dir = Path(models_dir)
        # model loading arrives with the classifier issue; nothing is loaded yet
        self.loaded: dict[str, object] = {}

    @property
    def versions(self) -> dict[str, str | None]:
        return {"issue_model": None, "sentiment_model": None}

    def __call__(self, conversation: Conversation) -> Conversation:
        return conversation

"""The reviews every dataset source hands to the trainer.

:class:`TextData` holds the texts and 0/1 labels of a train and a validation
split; every reader (:mod:`~projector_tools.training.aclimdb`,
:mod:`~projector_tools.training.csv_reviews`, :mod:`~projector_tools.training.imdb_tfds`, the
demo corpus through :func:`projector_tools.training.datasets.load_dataset`) returns one.
Real review text is cleaned by :func:`clean_review` (``<br />`` markup,
HTML entities, stray whitespace; quotes and non-ASCII are kept). Readers
report progress through a :data:`Progress` callback, by default
:func:`projector_tools.process.voice.say` (one plain line on stderr).

    >>> data = TextData("tiny", ["good", "bad"], [1, 0], ["fine"], [1])
    >>> data.summary()
    'tiny: 2 train reviews (1 positive), 1 validation reviews'
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from projector_tools.errors import InputError, SourceError

__all__ = ["Progress", "TextData", "clean_review"]

Progress = Callable[[str], None]



@dataclass
class TextData:
    """Texts and labels (1 positive, 0 negative) of a train and a validation split."""

    name: str
    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]
    source: str = ""

    def __post_init__(self) -> None:
        for split, texts, labels in (
            ("train", self.train_texts, self.train_labels),
            ("validation", self.test_texts, self.test_labels),
        ):
            if len(texts) != len(labels):
                raise InputError(f"{self.name}: {len(texts)} {split} texts but {len(labels)} labels")
            if not texts:
                raise SourceError(
                    f"{self.name} ({self.source or 'data'}) has no {split} reviews; "
                    "a training run needs reviews in both splits"
                )

    def summary(self) -> str:
        pos = sum(self.train_labels)
        return (
            f"{self.name}: {len(self.train_texts)} train reviews ({pos} positive), "
            f"{len(self.test_texts)} validation reviews"
        )


_BR = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)
_TAG = re.compile(r"</?(?:i|b|em|strong|p|hr|span|div|a)(?:\s[^<>]{0,200})?\s*/?>", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def clean_review(text: str | bytes) -> str:
    """Review text as a model should see it.

    ``<br />`` (any spelling) becomes a space, simple formatting tags
    (``<i>``, ``<b>``, ...) are dropped, HTML entities are decoded
    (``&amp;`` -> ``&``), Unicode is NFC-normalised, and every run of
    whitespace (line breaks and tabs included) becomes one space. Quotes,
    apostrophes and non-ASCII letters are kept. No line breaks survive:
    a subword holding one could not be stored in a ``.subwords`` file,
    which has one subword per line.

        >>> clean_review('Great!<br /><br />"Amélie" &amp; co.')
        'Great! "Amélie" & co.'
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = _BR.sub(" ", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = unicodedata.normalize("NFC", text)
    return _SPACES.sub(" ", text).strip()


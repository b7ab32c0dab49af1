"""The ``demo`` dataset: a generated, deterministic, offline movie-review corpus.

Nothing here is copied from real reviews: every review is assembled from the
word lists below by a seeded random generator, so the same call returns the
same corpus on every machine, with no download. Its purpose is to train the
seed notebook's model in seconds and still give the Embedding Projector
something to show: positive and negative words end up on opposite sides.

    >>> from projector_tools.training.demo_corpus import demo_reviews
    >>> train, test = demo_reviews()
    >>> len(train), len(test), sorted(set(train.labels))
    (4000, 1000, [0, 1])

How a review gets its label
---------------------------
A review is 2 to 5 *opinion* sentences plus 0 to 2 neutral ones. Each opinion
sentence has a polarity of +1 or -1: the polarity of its sentiment word,
flipped when the word is negated (``The plot was not good.`` is -1,
``The ending was never boring.`` is +1). The label is 1 (positive) when the
sum of the opinion polarities is positive and 0 otherwise; the generator
draws the polarities so that the sum is never zero and the two labels are
balanced. Negation occurs in about a quarter of the opinion sentences, so a
bag-of-words model cannot reach 100 % but the polarity words dominate.

Vocabulary (every word the generator can emit)
----------------------------------------------
* positive adjectives (:data:`POSITIVE_ADJECTIVES`): good, great, excellent,
  wonderful, brilliant, superb, delightful, charming, moving, beautiful,
  fantastic, enjoyable, memorable, hilarious, gripping, clever, stunning,
  touching, lovely, impressive, terrific, outstanding, powerful, witty, fresh
* negative adjectives (:data:`NEGATIVE_ADJECTIVES`): bad, awful, terrible,
  boring, dull, horrible, dreadful, poor, weak, clumsy, tedious, predictable,
  forgettable, annoying, painful, lifeless, messy, pointless, ugly, bland,
  lazy, disappointing, mediocre, silly, stale
* positive verbs (:data:`POSITIVE_VERBS`): loved, enjoyed, adored, admired,
  liked, recommend; negative verbs (:data:`NEGATIVE_VERBS`): hated, disliked,
  regretted, resented, despised
* negators (:data:`NEGATORS`): not, never, hardly
* intensifiers (:data:`INTENSIFIERS`, no polarity): very, really, truly,
  quite, extremely, incredibly, rather, simply
* things a review talks about (:data:`ASPECTS`, no polarity): plot, story,
  acting, cast, script, dialogue, ending, soundtrack, music, pacing,
  direction, cinematography, characters, performance, humor, visuals,
  villain, hero, editing, premise, finale, score, lead, atmosphere
* genres (:data:`GENRES`): movie, film, comedy, thriller, drama, western,
  musical, documentary, romance, sequel, cartoon, mystery
* neutral sentences (:data:`NEUTRAL_SENTENCES`) about when, where and with
  whom the film was seen, built from :data:`COMPANIONS`, :data:`PLACES`,
  :data:`DAYS` and :data:`LENGTHS`, plus glue words (the, was, is, a, I,
  it, this, and, but, with, on, at, ...)
* ratings: ``N out of ten`` (7-10 for a positive, 1-4 for a negative
  opinion, spelled as words)

A rating or ``I would recommend`` sentence counts as an opinion sentence
like any other (``I would not recommend it`` is negative).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "DemoSplit",
    "demo_reviews",
    "generate_reviews",
    "POSITIVE_ADJECTIVES",
    "NEGATIVE_ADJECTIVES",
    "POSITIVE_WORDS",
    "NEGATIVE_WORDS",
]

POSITIVE_ADJECTIVES = (
    "good", "great", "excellent", "wonderful", "brilliant", "superb", "delightful",
    "charming", "moving", "beautiful", "fantastic", "enjoyable", "memorable",
    "hilarious", "gripping", "clever", "stunning", "touching", "lovely",
    "impressive", "terrific", "outstanding", "powerful", "witty", "fresh",
)
NEGATIVE_ADJECTIVES = (
    "bad", "awful", "terrible", "boring", "dull", "horrible", "dreadful", "poor",
    "weak", "clumsy", "tedious", "predictable", "forgettable", "annoying",
    "painful", "lifeless", "messy", "pointless", "ugly", "bland", "lazy",
    "disappointing", "mediocre", "silly", "stale",
)
POSITIVE_VERBS = ("loved", "enjoyed", "adored", "admired", "liked")
NEGATIVE_VERBS = ("hated", "disliked", "regretted", "resented", "despised")
NEGATORS = ("not", "never", "hardly")
INTENSIFIERS = ("very", "really", "truly", "quite", "extremely", "incredibly", "rather", "simply")
ASPECTS = (
    "plot", "story", "acting", "cast", "script", "dialogue", "ending", "soundtrack",
    "music", "pacing", "direction", "cinematography", "characters", "performance",
    "humor", "visuals", "villain", "hero", "editing", "premise", "finale", "score",
    "lead", "atmosphere",
)
GENRES = (
    "movie", "film", "comedy", "thriller", "drama", "western", "musical",
    "documentary", "romance", "sequel", "cartoon", "mystery",
)
COMPANIONS = ("my sister", "my brother", "a friend", "my parents", "my kids", "the whole family", "coworkers")
PLACES = ("at the cinema", "at home", "on a plane", "on television", "at a festival", "on my laptop")
DAYS = ("Monday", "Tuesday", "Friday", "Saturday", "Sunday", "a rainy evening", "a long weekend")
LENGTHS = ("ninety minutes", "two hours", "almost three hours", "a hundred minutes")
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")

NEUTRAL_SENTENCES = (
    "I watched this {genre} {place} with {companion}.",
    "We saw it on {day}.",
    "It runs for {length}.",
    "The {aspect} is in colour and the {genre} is in English.",
    "My review covers the {aspect} and the {aspect2}.",
    "I went with {companion} on {day}.",
    "The director made another {genre} before this one.",
    "It was shown {place}.",
)

#: Every word with a polarity of its own (before negation).
POSITIVE_WORDS = POSITIVE_ADJECTIVES + POSITIVE_VERBS + ("recommend",)
NEGATIVE_WORDS = NEGATIVE_ADJECTIVES + NEGATIVE_VERBS


@dataclass(frozen=True)
class DemoSplit:
    """Review texts and their labels (1 positive, 0 negative), row-aligned."""

    texts: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.texts)


def _adjective(rng: random.Random, positive: bool) -> str:
    return rng.choice(POSITIVE_ADJECTIVES if positive else NEGATIVE_ADJECTIVES)


def _a(phrase: str) -> str:
    """``phrase`` with its indefinite article: ``an awful``, ``a good``."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _maybe_intensified(rng: random.Random, word: str) -> str:
    return f"{rng.choice(INTENSIFIERS)} {word}" if rng.random() < 0.35 else word


def _opinion(rng: random.Random, polarity: int) -> str:
    """One sentence whose overall polarity is ``polarity`` (+1 or -1)."""
    negate = rng.random() < 0.25
    # The sentiment word's own polarity; negation flips it.
    word_positive = (polarity > 0) != negate
    neg = rng.choice(NEGATORS)
    aspect = rng.choice(ASPECTS)
    genre = rng.choice(GENRES)
    kind = rng.randrange(7)
    if kind == 0:
        adj = _adjective(rng, word_positive)
        if negate:
            return f"The {aspect} was {neg} {adj}."
        return f"The {aspect} was {_maybe_intensified(rng, adj)}."
    if kind == 1:
        adj = _adjective(rng, word_positive)
        if negate:
            return f"This {genre} is {neg} {adj}."
        return f"What {_a(_maybe_intensified(rng, adj))} {genre}!"
    if kind == 2:
        verb = rng.choice(POSITIVE_VERBS if word_positive else NEGATIVE_VERBS)
        if negate:
            return f"I {neg} {verb} the {aspect}."
        return f"I {verb} the {aspect}."
    if kind == 3:
        adj = _adjective(rng, word_positive)
        adj2 = _adjective(rng, word_positive)
        aspect2 = rng.choice([a for a in ASPECTS if a != aspect])
        if negate:
            return f"The {aspect} and the {aspect2} were {neg} {adj}."
        return f"{adj.capitalize()} {aspect}, {_maybe_intensified(rng, adj2)} {aspect2}."
    if kind == 4:
        if word_positive:
            return f"I would {neg + ' ' if negate else ''}recommend this {genre}."
        # "recommend" is the only recommendation verb; a negative word here
        # is an adjective instead.
        adj = _adjective(rng, False)
        return f"Watching it was {neg + ' ' if negate else ''}{adj}."
    if kind == 5:
        score = rng.randint(7, 10) if polarity > 0 else rng.randint(1, 4)
        return f"{NUMBER_WORDS[score].capitalize()} out of ten."
    adj = _adjective(rng, word_positive)
    if negate:
        return f"Overall it is {neg} {_a(adj)} {genre}."
    return f"Overall {_a(_maybe_intensified(rng, adj))} {genre}."


def _neutral(rng: random.Random) -> str:
    template = rng.choice(NEUTRAL_SENTENCES)
    aspect = rng.choice(ASPECTS)
    return template.format(
        genre=rng.choice(GENRES),
        place=rng.choice(PLACES),
        companion=rng.choice(COMPANIONS),
        day=rng.choice(DAYS),
        length=rng.choice(LENGTHS),
        aspect=aspect,
        aspect2=rng.choice([a for a in ASPECTS if a != aspect]),
    )


def _review(rng: random.Random, label: int, opinions: tuple[int, int] = (2, 5),
            neutrals: tuple[int, int] = (0, 2)) -> str:
    n_opinions = rng.randint(*opinions)
    sign = 1 if label == 1 else -1
    # At most a minority of the opinions disagree with the label, and the
    # sum is never zero: with an even count, at most n/2 - 1 disagree.
    max_contrary = (n_opinions - 1) // 2
    contrary = rng.randint(0, max_contrary)
    polarities = [sign] * (n_opinions - contrary) + [-sign] * contrary
    rng.shuffle(polarities)
    sentences = [_opinion(rng, p) for p in polarities]
    for _ in range(rng.randint(*neutrals)):
        sentences.insert(rng.randrange(len(sentences) + 1), _neutral(rng))
    return " ".join(sentences)


def generate_reviews(
    n: int,
    seed: int,
    *,
    opinions: tuple[int, int] = (2, 5),
    neutrals: tuple[int, int] = (0, 2),
) -> DemoSplit:
    """``n`` reviews from the seeded generator, half positive.

    ``opinions``/``neutrals``: inclusive ranges of opinion and neutral
    sentences per review (the demo uses 2-5 and 0-2; the benchmark uses
    longer reviews, like IMDB's, with e.g. ``opinions=(4, 80)``).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 1 <= opinions[0] <= opinions[1] or not 0 <= neutrals[0] <= neutrals[1]:
        raise ValueError(f"bad sentence ranges opinions={opinions} neutrals={neutrals}")
    rng = random.Random(seed)
    labels = [i % 2 for i in range(n)]
    rng.shuffle(labels)
    texts = [_review(rng, label, opinions, neutrals) for label in labels]
    return DemoSplit(texts=texts, labels=labels)


def demo_reviews(n_train: int = 4000, n_test: int = 1000, seed: int = 2019) -> tuple[DemoSplit, DemoSplit]:
    """The demo corpus: ``(train, test)`` with disjoint seeds, always the same."""
    return generate_reviews(n_train, seed), generate_reviews(n_test, seed + 1)

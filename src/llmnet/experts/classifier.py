"""Which domain a question belongs to, so the coordinator can route it to the right experts.

    classifier = DomainClassifier.from_knowledge(Path("knowledge"), ["medicine", "astronomy", "law"])
    classifier.classify("Which vitamin prevents scurvy?").domain  # "medicine"

Texts become TF-IDF vectors; a domain's score is the mean cosine similarity of the question to
its few nearest examples, so a domain with many examples is not favoured over one with few.
Questions no domain matches well enough go to ``general``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from llmnet.errors import ConfigError, InputError
from llmnet.experts.knowledge import KnowledgeBase
from llmnet.experts.tokens import tokenize

GENERAL = "general"
DEFAULT_THRESHOLD = 0.1
NEAREST = 3

DOMAIN_DESCRIPTIONS: Mapping[str, tuple[str, ...]] = {
    "medicine": (
        "Medicine and health: diseases, symptoms, diagnosis and treatment by doctors and nurses.",
        "The human body, organs, blood, the heart, infections, the immune system and vaccines.",
        "Medicines, drugs and doses, nutrition and vitamins, first aid for injuries, pain and fever.",
    ),
    "astronomy": (
        "Astronomy and space: planets, moons, stars, the Sun, galaxies and the universe.",
        "Orbits, telescopes, the solar system, comets, asteroids, black holes and light-years.",
        "Space exploration, astronauts, rockets and missions to the Moon and Mars.",
    ),
    "law": (
        "Law and legal matters: courts, judges, lawyers, trials, juries, evidence and proof.",
        "Contracts, lawsuits, liability, damages, crimes, prosecution and legal rights.",
        "Statutes and legislation, copyright, patents, trademarks, property and legal deadlines.",
        "Can I sue? Landlords and tenants, employers and wages, police, arrest, fines and legal advice.",
    ),
}

GENERAL_EXAMPLES: tuple[str, ...] = (
    "Arithmetic: add, subtract, multiply and divide numbers; sums, products, plus, minus, times.",
    "Geography: countries, capital cities, continents, oceans, rivers, mountains and flags.",
    "Language and grammar: the meaning of words, definitions, nouns, verbs, adjectives, spelling.",
    "Calendars and time: days, weeks, months, leap years, hours, minutes and dates.",
    "History and people: famous events, inventors, kings, presidents and wars.",
    "Everyday life: cooking, recipes, sport, music, films, animals, colours and hobbies.",
    "School science: physics, chemistry and biology basics, water, weather, plants and materials.",
)


@dataclass(frozen=True)
class DomainGuess:
    domain: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)


class DomainClassifier:
    """Nearest-example TF-IDF classifier. Build it with :meth:`fit` or :meth:`from_knowledge`."""

    def __init__(
        self,
        vocabulary: Mapping[str, int],
        idf: npt.NDArray[np.float64],
        examples: Mapping[str, npt.NDArray[np.float64]],
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self.vocabulary = dict(vocabulary)
        self.idf = idf
        self.examples = dict(examples)
        self.threshold = threshold

    @classmethod
    def fit(cls, domains: Mapping[str, Sequence[str]], threshold: float = DEFAULT_THRESHOLD) -> DomainClassifier:
        """Learn from example texts per domain, e.g. ``{"law": ["A contract needs …", …], …}``."""
        empty = sorted(name for name, texts in domains.items() if not texts)
        if not domains or empty:
            raise InputError(f"every domain needs example texts; none given for {empty or 'any domain'}")
        documents = [tokenize(text) for texts in domains.values() for text in texts]
        vocabulary = {term: i for i, term in enumerate(sorted({t for doc in documents for t in doc}))}
        df = np.zeros(len(vocabulary))
        for doc in documents:
            df[[vocabulary[t] for t in set(doc)]] += 1
        idf = np.log((1 + len(documents)) / (1 + df)) + 1
        classifier = cls(vocabulary, idf, {}, threshold)
        classifier.examples = {
            name: np.stack([classifier.vector(text) for text in texts]) for name, texts in domains.items()
        }
        return classifier

    @classmethod
    def from_knowledge(
        cls, root: Path, domains: Sequence[str], threshold: float = DEFAULT_THRESHOLD
    ) -> DomainClassifier:
        """Examples are each ``root/<domain>/`` folder's passages and the domain's description;
        ``general`` (added if missing) uses :data:`GENERAL_EXAMPLES`."""
        examples: dict[str, list[str]] = {}
        for domain in domains:
            if domain == GENERAL:
                continue
            knowledge = KnowledgeBase.from_folder(Path(root) / domain)
            passages = [f"{p.title}. {p.text}" for p in knowledge.passages]
            examples[domain] = [*DOMAIN_DESCRIPTIONS.get(domain, ()), *passages]
        if not examples:
            raise ConfigError(f"no domains to learn besides {GENERAL!r}; name at least one folder under {root}")
        examples[GENERAL] = list(GENERAL_EXAMPLES)
        return cls.fit(examples, threshold)

    def vector(self, text: str) -> npt.NDArray[np.float64]:
        """Unit-length TF-IDF vector (all zeros when no word is known)."""
        vec = np.zeros(len(self.vocabulary))
        for term, count in Counter(tokenize(text)).items():
            if term in self.vocabulary:
                vec[self.vocabulary[term]] = (1 + math.log(count)) * self.idf[self.vocabulary[term]]
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def classify(self, text: str) -> DomainGuess:
        """The best domain and its score; ``general`` when the best score is under the threshold."""
        query = self.vector(text)
        scores = {name: _nearest_mean(vectors @ query) for name, vectors in self.examples.items()}
        best = max(sorted(scores), key=lambda name: scores[name])
        if scores[best] < self.threshold:
            return DomainGuess(GENERAL, 1.0 - scores[best] / self.threshold, scores)
        return DomainGuess(best, scores[best], scores)


def _nearest_mean(similarities: npt.NDArray[np.float64]) -> float:
    nearest = np.sort(similarities)[::-1][:NEAREST]
    return round(float(nearest.mean()), 6)

"""Which domain a question belongs to, so the coordinator can route it to the right experts.

    classifier = DomainClassifier.from_knowledge(Path("knowledge"), ["medicine", "astronomy", "law"])
    classifier.classify("Which vitamin prevents scurvy?").domain  # "medicine"

Texts become TF-IDF vectors; a domain's score is the mean cosine similarity of the question to
its few nearest examples, so a domain with many examples is not favoured over one with few.
Questions no domain matches well enough go to ``general``, and so does a bare sum
(:func:`is_arithmetic`) before any vector is compared: "What is 12 times 12?" shares "time" with
a law text about time limits, but it is arithmetic whatever the domains' documents say.
Terms come from :func:`llmnet.experts.tokens.tokenize`, so a domain documented in Chinese is
learnt, and Chinese questions are routed, like any other.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from llmnet.errors import ConfigError, InputError
from llmnet.experts.knowledge import KnowledgeBase
from llmnet.experts.tokens import CJK_CHARS, normalize_text, tokenize

GENERAL = "general"
DEFAULT_THRESHOLD = 0.1
NEAREST = 3

DOMAIN_DESCRIPTIONS: Mapping[str, tuple[str, ...]] = {
    "medicine": (
        "Medicine and health: diseases, symptoms, diagnosis and treatment by doctors and nurses.",
        "The human body, organs, blood, the heart, infections, the immune system and vaccines.",
        "Medicines, drugs and doses, nutrition and vitamins, first aid for injuries, pain and fever.",
        "医学与健康：疾病、症状、医生和护士的诊断和治疗。",
        "人体、器官、血液、血压、心脏、体温、发烧、感染、免疫系统和疫苗。",
        "药物和剂量、营养和维生素、烧伤和外伤的急救、疼痛。",
    ),
    "astronomy": (
        "Astronomy and space: planets, moons, stars, the Sun, galaxies and the universe.",
        "Orbits, telescopes, the solar system, comets, asteroids, black holes and light-years.",
        "Space exploration, astronauts, rockets and missions to the Moon and Mars.",
        "天文学与太空：行星、卫星、恒星、太阳、星系和宇宙。",
        "轨道、望远镜、太阳系、彗星、小行星、黑洞和光年。",
        "太空探索、宇航员、火箭、登月和火星任务。",
    ),
    "law": (
        "Law and legal matters: courts, judges, lawyers, trials, juries, evidence and proof.",
        "Contracts, lawsuits, liability, damages, crimes, prosecution and legal rights.",
        "Statutes and legislation, copyright, patents, trademarks, property and legal deadlines.",
        "Can I sue? Landlords and tenants, employers and wages, police, arrest, fines and legal advice.",
        "法律：法院、法官、律师、审判、陪审团、证据和举证责任。",
        "合同、诉讼、责任、赔偿、犯罪、起诉和法律权利。",
        "法规和立法、版权、专利、商标、财产和诉讼时效。",
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
    "Sums in words: what is 12 times 12, what is 7 plus 5, 100 minus 37, 144 divided by 12, 15 percent of 80.",
    "Sums in symbols: 3 × 4, 2 + 2, 10 - 3, 8 / 2, 15% of 80; calculate, compute, how much is it?",
    "算术：加、减、乘、除，一百减去三十七等于多少，十二乘以十二，百分之十五，计算结果是几？",
    "地理：国家、首都、城市、大洲、海洋、河流、山脉和国旗。",
    "语言和语法：词语的意思和定义，名词、动词、形容词和拼写。",
    "日历和时间：天、星期、月份、闰年、小时、分钟和日期。",
    "历史和人物：著名事件、发明家、国王、总统和战争。",
    "日常生活：做饭、菜谱、体育、音乐、电影、动物、颜色和爱好。",
    "学校里的科学：物理、化学和生物的基础知识，水、天气、植物和材料。",
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
        terms = np.flatnonzero(query)  # a question has a handful of the vocabulary's terms
        scores = {name: _nearest_mean(vectors[:, terms] @ query[terms]) for name, vectors in self.examples.items()}
        if is_arithmetic(text):
            return DomainGuess(GENERAL, 1.0, scores)
        best = max(sorted(scores), key=lambda name: scores[name])
        if scores[best] < self.threshold:
            return DomainGuess(GENERAL, 1.0 - scores[best] / self.threshold, scores)
        return DomainGuess(best, scores[best], scores)


def _nearest_mean(similarities: npt.NDArray[np.float64]) -> float:
    nearest = np.sort(similarities)[::-1][:NEAREST]
    return round(float(nearest.sum()) / len(nearest), 6)


# --- arithmetic questions -------------------------------------------------------------------------


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


_BINARY = _vocabulary(
    "plus minus times multiplied divided over add added adding subtract subtracted subtracting take away "
    "sum product difference quotient percent percentage of x mod modulo power"
)
_BINARY_SIGNS = frozenset("+-−*×·⋅/÷^%")
_UNARY = _vocabulary("squared cubed square cube root factorial")
_NUMBER_WORDS = _vocabulary(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand million "
    "billion half quarter dozen"
)
_FILLER = _vocabulary(
    "what whats is are was be the by from and to a an how much does do calculate compute work out equal equals "
    "make makes result answer please tell me if you get s with number only just give"
)
_IGNORED_SIGNS = frozenset("?!.,:;()[]'\"=")
_ZH_NUMERALS = "零〇一二两三四五六七八九十百千万亿点负半"
_ZH_PHRASES = {
    **dict.fromkeys(_vocabulary("加 加上 减 减去 乘 乘以 除 除以 倍 的 百分之 分之 次方"), "binary"),
    **dict.fromkeys(_vocabulary("平方 立方 开方 平方根"), "unary"),
    **dict.fromkeys(_vocabulary("等于 多少 是 几 请问 请 计算 算 一下 得 结果 呢 吗 求 答案"), "filler"),
}
_LONGEST_ZH_PHRASE = max(map(len, _ZH_PHRASES))
_ARITHMETIC_TOKEN = re.compile(rf"\d+(?:[.,]\d+)*|[{CJK_CHARS}]+|[^\W\d_{CJK_CHARS}]+|\S")
_CJK_START = re.compile(f"[{CJK_CHARS}]")


def is_arithmetic(text: str) -> bool:
    """A bare sum: numbers joined by arithmetic words or signs, nothing else of substance.

    >>> [is_arithmetic(q) for q in ("What is 12 times 12?", "15% of 80", "一百减去三十七等于多少")]
    [True, True, True]
    >>> [is_arithmetic(q) for q in ("How many days are in 3 weeks?", "What is 12?", "火星有几颗卫星？")]
    [False, False, False]
    """
    kinds: Counter[str] = Counter()
    for kind in _arithmetic_kinds(normalize_text(text)):
        if kind == "other":  # most questions stop at their first word of substance
            return False
        kinds[kind] += 1
    return (kinds["number"] >= 2 and kinds["binary"] >= 1) or (kinds["number"] >= 1 and kinds["unary"] >= 1)


def _arithmetic_kinds(text: str) -> Iterator[str]:
    """Kinds of the tokens of normalised text: "number", "binary", "unary", "filler" or "other"."""
    for token in _ARITHMETIC_TOKEN.findall(text):
        if token[0].isdigit() or token in _NUMBER_WORDS:
            yield "number"
        elif token in _BINARY or token in _BINARY_SIGNS:
            yield "binary"
        elif token in _UNARY:
            yield "unary"
        elif token in _FILLER or token in _IGNORED_SIGNS:
            yield "filler"
        elif _CJK_START.match(token):
            yield from _chinese_kinds(token)
        else:
            yield "other"


def _chinese_kinds(run: str) -> Iterator[str]:
    """Reads a run of Chinese: the longest known phrase at each point, else a run of numerals."""
    i = 0
    while i < len(run):
        phrase = _phrase_at(run, i)
        numerals = len(run) - i - len(run[i:].lstrip(_ZH_NUMERALS))
        if phrase:
            yield _ZH_PHRASES[phrase]
            i += len(phrase)
        elif numerals:
            yield "number"
            i += numerals
        else:
            yield "other"
            return


def _phrase_at(run: str, start: int) -> str:
    for end in range(min(len(run), start + _LONGEST_ZH_PHRASE), start, -1):
        if run[start:end] in _ZH_PHRASES:
            return run[start:end]
    return ""

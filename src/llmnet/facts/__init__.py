"""Facts in text, for judging answers without a model.

* :mod:`~llmnet.facts.numbers` - numbers as written: digits, English words, Chinese numerals
* :mod:`~llmnet.facts.units` - the one table of units, their dimensions and conversions
* :mod:`~llmnet.facts.extract` - quantities in canonical units, key names, what an answer adds to its question
* :mod:`~llmnet.facts.evidence` - the sentences of a domain's documents that state what a question asks
* :mod:`~llmnet.facts.arithmetic` - arithmetic questions computed without ``eval``

    extract_facts("It lasts thirty-five years.").quantities[0].shown   # 35.0
    solve("一百减去三十七等于多少？")                                   # 63.0
"""

from __future__ import annotations

from llmnet.facts.arithmetic import solve
from llmnet.facts.evidence import Evidence, EvidenceIndex
from llmnet.facts.extract import Facts, Quantity, extract_facts, key_names, name_in, quantities

__all__ = [
    "Evidence",
    "EvidenceIndex",
    "Facts",
    "Quantity",
    "extract_facts",
    "key_names",
    "name_in",
    "quantities",
    "solve",
]

"""The dataset download of the dashboard: ``GET /ui/api/dataset``, the formats and filters of `llmnet dataset export`.

Texts come from the coordinator's content store (where its dashboard and `llmnet rank` uploads put
them). Rankings left out for want of a text are counted in the ``X-Llmnet-Left-Out`` header and
named, one conversation each, in ``X-Llmnet-Missing``. The Hugging Face format is a directory: it
comes as a zip of it.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from llmnet.errors import InputError
from llmnet.rlhf.book import RankingReader
from llmnet.rlhf.export import WRITERS, export
from llmnet.rlhf.records import RecordFilter, apply_filter, collect_records
from llmnet.rlhf.texts import MissingTexts, TextSource

MEDIA_TYPES = {"tsv": "text/tab-separated-values", "json": "application/json", "dpo-jsonl": "application/x-ndjson",
               "hf": "application/zip"}  # fmt: skip
FILE_NAMES = {"tsv": "rankings.tsv", "json": "rankings.json", "dpo-jsonl": "rankings.jsonl", "hf": "rankings-hf.zip"}


@dataclass(frozen=True)
class Download:
    body: bytes
    fmt: str
    rows: int  # rows written (pairs for dpo-jsonl and hf)
    missing: tuple[MissingTexts, ...]

    def headers(self) -> dict[str, str]:
        return {
            "Content-Disposition": f'attachment; filename="llmnet-{FILE_NAMES[self.fmt]}"',
            "X-Llmnet-Rows": str(self.rows),
            "X-Llmnet-Left-Out": str(sum(m.rankings for m in self.missing)),
            "X-Llmnet-Missing": "; ".join(m.describe() for m in self.missing)[:2000],
        }


def dataset_download(book: RankingReader, texts: TextSource, fmt: str, wanted: RecordFilter) -> Download:
    """Every ranking on chain that passes ``wanted``, written as ``fmt``, in memory."""
    if fmt not in WRITERS:
        raise InputError(f"unknown dataset format {fmt!r}; use one of {', '.join(WRITERS)}")
    records, missing = collect_records(book, texts)
    kept = apply_filter(records, wanted)
    with tempfile.TemporaryDirectory(prefix="llmnet-dataset-") as tmp:
        target = Path(tmp) / FILE_NAMES[fmt].removesuffix(".zip")
        rows = export(kept, fmt, target)
        if fmt == "hf":
            target = Path(shutil.make_archive(str(target), "zip", root_dir=target))
        return Download(target.read_bytes(), fmt, rows, tuple(missing))

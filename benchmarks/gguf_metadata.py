"""Print a GGUF file's key/value metadata and its tensors' quantization types: the file's own word
on what it is (name, licence, base model, source), read without the ``gguf`` package.

    .venv/bin/python benchmarks/gguf_metadata.py MODEL.gguf [--template]

Long arrays (the tokenizer's vocabulary and merges) are shown by their length and first items; the
chat template only with ``--template``.
"""

from __future__ import annotations

import argparse
import struct
import sys
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9
TENSOR_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 10: "Q2_K", 11: "Q3_K",
                12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 30: "BF16"}  # fmt: skip


def read(f: BinaryIO, fmt: str) -> Any:
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]


def read_string(f: BinaryIO) -> str:
    return f.read(read(f, "<Q")).decode("utf-8", "replace")


def read_value(f: BinaryIO, kind: int) -> Any:
    if kind == STRING:
        return read_string(f)
    if kind == ARRAY:
        item_kind, count = read(f, "<I"), read(f, "<Q")
        return [read_value(f, item_kind) for _ in range(count)]
    return read(f, SCALARS[kind])


def metadata(path: Path) -> tuple[int, dict[str, Any], Counter[str]]:
    """(GGUF version, key -> value, tensor type -> count)."""
    with path.open("rb") as f:
        if f.read(4) != b"GGUF":
            raise SystemExit(f"{path} is not a GGUF file (no GGUF magic); pass a .gguf model file")
        version, n_tensors, n_keys = read(f, "<I"), read(f, "<Q"), read(f, "<Q")
        keys = {}
        for _ in range(n_keys):
            key = read_string(f)
            keys[key] = read_value(f, read(f, "<I"))
        types: Counter[str] = Counter()
        for _ in range(n_tensors):
            read_string(f)
            dims = read(f, "<I")
            f.read(8 * dims)
            kind = read(f, "<I")
            read(f, "<Q")  # the tensor's offset in the data section
            types[TENSOR_TYPES.get(kind, str(kind))] += 1
    return version, keys, types


def shown(key: str, value: Any, template: bool) -> str | None:
    if key == "tokenizer.chat_template":
        return value if template else f"<{len(value)} characters; --template shows it>"
    if isinstance(value, list):
        return f"[{len(value)} items] first: {value[:6]!r}"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--template", action="store_true", help="print the chat template in full")
    args = parser.parse_args(argv)
    version, keys, types = metadata(args.path)
    print(f"GGUF v{version}, {sum(types.values())} tensors, {len(keys)} keys")
    for key, value in keys.items():
        print(f"{key} = {shown(key, value, args.template)}")
    print("tensor types:", ", ".join(f"{t} {n}" for t, n in types.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Streaming text pieces: stop sequences held back until they cannot match, UTF-8 characters kept whole."""

from __future__ import annotations

from llmnet.backends.stops import StopScanner
from llmnet.backends.transformers_backend import IncrementalText


def feed_all(scanner: StopScanner, pieces: list[str]) -> tuple[str, bool]:
    out = []
    for piece in pieces:
        text, stopped = scanner.feed(piece)
        out.append(text)
        if stopped:
            return "".join(out), True
    return "".join(out) + scanner.flush(), False


def test_a_stop_sequence_split_over_pieces_is_never_given_out() -> None:
    scanner = StopScanner(("\n\nQ:",))
    assert scanner.feed("Paris.\n") == ("Paris.", False)
    assert scanner.feed("\nQ") == ("", False)
    assert scanner.feed(": next") == ("", True)


def test_held_text_that_turns_out_not_to_stop_is_given_out() -> None:
    assert feed_all(StopScanner(("END",)), ["The E", "N", "d of it"]) == ("The ENd of it", False)
    assert feed_all(StopScanner(("END",)), ["stream E"]) == ("stream E", False)  # flushed at the end


def test_the_earliest_of_several_stops_wins() -> None:
    assert feed_all(StopScanner(("b", "cd")), ["a cd b"]) == ("a ", True)


def test_no_stops_gives_everything_at_once() -> None:
    assert StopScanner(()).feed("anything\n") == ("anything\n", False)


class ByteTokenizer:
    """Each token is one byte of UTF-8, as byte-level BPE splits rare characters."""

    def decode(self, ids: list[int], skip_special_tokens: bool = True) -> str:
        return bytes(ids).decode("utf-8", errors="replace")


def test_a_character_split_over_tokens_comes_out_whole() -> None:
    text = IncrementalText(ByteTokenizer())
    pieces = [text.add(b) for b in "né ✓".encode()]
    assert pieces == ["n", "", "é", " ", "", "", "✓"]
    assert "".join(pieces) == "né ✓"


def test_completion_text_loses_its_leading_space() -> None:
    text = IncrementalText(ByteTokenizer(), lstrip=True)
    assert [text.add(b) for b in b" 7"] == ["", "7"]

"""Stop sequences over streamed text: text is given out as soon as it cannot be the start of a stop sequence.

scanner = StopScanner(("\\n\\n",))
scanner.feed("Paris.\\n")  # ("Paris.", False): the newline is held, it may begin a stop
scanner.feed("\\nQ:")      # ("", True): stopped; nothing of the stop sequence is given out
"""

from __future__ import annotations


class StopScanner:
    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.held = ""

    def feed(self, piece: str) -> tuple[str, bool]:
        """(text safe to give out now, whether a stop sequence was reached)."""
        text = self.held + piece
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.held = ""
            return text[:cut], True
        keep = self._partial(text)
        self.held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep], False

    def flush(self) -> str:
        """The held text, once the stream ended without a stop."""
        held, self.held = self.held, ""
        return held

    def _partial(self, text: str) -> int:
        """Length of the longest end of ``text`` that begins some stop sequence."""
        best = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(text)), best, -1):
                if text.endswith(stop[:n]):
                    best = n
                    break
        return best

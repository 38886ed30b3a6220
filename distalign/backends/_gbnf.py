r"""Regular expressions -> GBNF, the grammar format of llama.cpp's server (its ``grammar`` request field).

The structured methods send simple regular expressions (``[ABC]( [ABC]){29}``); llama.cpp takes a grammar
instead. :func:`regex_to_gbnf` translates the regex subset those methods and most hand-written patterns use:
literals and escapes, character classes (ranges, negation, ``\d \w \s``), ``.``, groups (``(...)``, ``(?:...)``),
alternation and the quantifiers ``* + ? {m} {m,} {m,n}`` (a lazy ``?`` suffix is dropped: it does not change what
matches). Anything else (anchors inside the pattern, back-references, look-arounds) raises :class:`ValueError`,
because an invalid grammar crashes llama.cpp's server (0.3.36) instead of answering an error. Special characters are
written as ``\xHH`` escapes, which the server's grammar parser accepts inside literals and classes alike.

>>> print(regex_to_gbnf("[AB]( [AB]){29}"), end="")
root ::= [AB] (" " [AB]){29}
>>> print(regex_to_gbnf(r'^(yes|no)-\d+"$'), end="")
root ::= ("yes" | "no") "\x2D" [0-9]+ "\x22"
"""

from __future__ import annotations

_SPECIAL = set('"\\[]-^')
_CLASS_ESCAPES = {"d": "0-9", "w": "a-zA-Z0-9_", "s": " \\t\\n\\r"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}


def _char(c: str) -> str:
    r"""One character as GBNF source: ``\xHH`` for specials and control characters, else itself."""
    return f"\\x{ord(c):02X}" if c in _SPECIAL or ord(c) < 0x20 or ord(c) == 0x7F else c


class _Translator:
    """A recursive-descent reader of one regular expression that writes its GBNF body."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern[1:] if pattern.startswith("^") else pattern
        if self.text.endswith("$") and not self.text.endswith("\\$"):
            self.text = self.text[:-1]
        self.pos = 0

    def error(self, what: str) -> ValueError:
        return ValueError(f"cannot translate the regular expression {self.text!r} to GBNF: {what} at {self.pos}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self) -> str:
        c = self.peek()
        self.pos += 1
        return c

    def alternation(self) -> str:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.take()
            branches.append(self.sequence())
        return " | ".join(branches)

    def sequence(self) -> str:
        items: list[str] = []
        merge = False  # the last item is a literal without quantifier: a following one joins it ("y" "e" -> "ye")
        while self.peek() not in ("", "|", ")"):
            atom = self.atom()
            quantifier = self.quantifier()
            literal = atom.startswith('"') and not quantifier
            if literal and merge:
                items[-1] = items[-1][:-1] + atom[1:]
            else:
                items.append(atom + quantifier)
            merge = literal
        return " ".join(items) if items else '""'

    def atom(self) -> str:
        c = self.take()
        if c == "(":
            if self.text.startswith("?:", self.pos):
                self.pos += 2
            elif self.peek() == "?":
                raise self.error("look-arounds and named groups are not supported")
            inner = self.alternation()
            if self.take() != ")":
                raise self.error("unbalanced parenthesis")
            return f"({inner})"
        if c == "[":
            return self.char_class()
        if c == ".":
            return "[^\\x0A]"
        if c == "\\":
            return self.escape()
        if c in "*+?{}^$)]":
            raise self.error(f"unexpected {c!r}")
        return f'"{_char(c)}"'

    def escape(self) -> str:
        c = self.take()
        if c in _CLASS_ESCAPES:
            return f"[{_CLASS_ESCAPES[c]}]"
        if not c or c.isalnum() and c not in _ESCAPES:
            raise self.error(f"escape \\{c} is not supported")
        return f'"{_char(_ESCAPES.get(c, c))}"'

    def char_class(self) -> str:
        out = "^" if self.peek() == "^" and self.take() else ""
        first = True
        while first or self.peek() != "]":
            c = self.take()
            if not c:
                raise self.error("unterminated character class")
            if c == "\\":
                e = self.take()
                out += _CLASS_ESCAPES.get(e) or _char(_ESCAPES.get(e, e))
            else:
                out += "-" if c == "-" and out and self.peek() != "]" and not first else _char(c)
            first = False
        self.take()
        return f"[{out}]"

    def quantifier(self) -> str:
        c = self.peek()
        if c in ("*", "+", "?"):
            self.take()
        elif c == "{":
            end = self.text.find("}", self.pos)
            body = self.text[self.pos + 1 : end] if end > 0 else ""
            if not body or not all(part.isdigit() for part in body.split(",", 1) if part) or body.startswith(","):
                raise self.error("bad repetition")
            self.pos = end + 1
            c = "{" + body + "}"
        else:
            return ""
        if self.peek() == "?":  # lazy: matches the same strings
            self.take()
        return c


def regex_to_gbnf(pattern: str) -> str:
    """The GBNF grammar (rule ``root``) of the strings that fully match ``pattern``."""
    t = _Translator(pattern)
    body = t.alternation()
    if t.pos != len(t.text):
        raise t.error("unbalanced parenthesis")
    return f"root ::= {body}\n"

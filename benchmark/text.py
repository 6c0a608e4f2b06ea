"""User-chosen text (a submission's ``--name``, a plugin's name, a task's labels, a run id from a URL) made
safe to show: on one terminal line, in Markdown, and in plotly labels.

Names reach places that interpret them: a newline or a ``|`` breaks a table row, Markdown turns
``[x](http://...)`` into a live link and ``![i](http://...)`` into an image the browser fetches,
plotly turns ``<a href=...>`` into a link. Each helper here makes the text show as written, so the
reader sees the name and nothing it could smuggle in. Pure functions, no project imports.
"""

from __future__ import annotations

import re
import unicodedata

_NAMED_CONTROLS = {"\n": r"\n", "\r": r"\r", "\t": r"\t"}
# Bidirectional controls reorder what a terminal or browser shows (a name can look like another one).
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters Markdown (CommonMark, GitHub's extensions, Streamlit's math, :directives[] and :icons:) can
# interpret anywhere in a line; each shows literally once backslash-escaped. ``:`` also breaks http:// autolinks.
MARKDOWN_SPECIAL = frozenset("\\`*_~[](){}!<>&|$:@")
# Characters that mean something only opening a line (list item, heading, setext underline, block quote).
LINE_START_SPECIAL = frozenset("-+#=>")
_LIST_MARKER = re.compile(r"^(\s*\d{1,9})\.(?=\s|$)")  # "1. " opens an ordered list, "0.93" does not
_WWW = re.compile(r"(?i)(www)\.")  # GitHub links www.example.org without any special character
# Streamlit's Markdown (remark-gfm) also links URLs and e-mail addresses found in the text *after* escapes
# are read, so an escape cannot stop it there: an invisible WORD JOINER inside "://", "www." and after "@"
# breaks the patterns it looks for (https?://, www., local@domain.tld) without changing what is shown.
WORD_JOINER = "\u2060"
_AUTOLINKS = (
    (re.compile(r"\\:(?=//)"), "\\:" + WORD_JOINER),  # escaped "://"
    (re.compile(r"(?i)www(?=\\\.)"), r"\g<0>" + WORD_JOINER),  # "www" before an escaped "."
    (re.compile(r"\\@"), "\\@" + WORD_JOINER),  # escaped "@"
)


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI_CONTROLS


def _visible(char: str) -> str:
    if char in _NAMED_CONTROLS:
        return _NAMED_CONTROLS[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def one_line(text: object) -> str:
    """``text`` on one line: every control character (newline, carriage return, tab, escape, the
    Unicode line and paragraph separators, bidirectional overrides) written as its escape (``\\n``,
    ``\\x1b``, ``\\u202e``), so a name can neither break a line nor drive the terminal."""
    return "".join(_visible(c) if _is_control(c) else c for c in str(text))


def terminal_cell(text: object) -> str:
    """A name in a column of terminal output: on one line, its ``|`` written ``\\|`` so it cannot pass
    for a column separator when the output is read as a table."""
    return one_line(text).replace("|", r"\|")


def _interpreted(line: str, i: int) -> bool:
    """Whether ``line[i]`` could mean something to Markdown. An ``_`` between two letters or digits
    cannot open or close emphasis (CommonMark's flanking rules), so ``snake_case`` stays as it is;
    ``- + # = >`` only mean something as the first character of a line."""
    char = line[i]
    if char == "_" and 0 < i < len(line) - 1:
        return not (line[i - 1].isalnum() and line[i + 1].isalnum())
    if char in LINE_START_SPECIAL:
        return not line[:i].strip()
    return char in MARKDOWN_SPECIAL


def markdown_escape(text: object, break_autolinks: bool = False) -> str:
    """``text`` as literal Markdown inline text, wherever it is placed (the start of a line included): on one
    line (``one_line``), every character Markdown could interpret there backslash-escaped (links, images,
    emphasis, code, HTML, table cells, math, Streamlit's ``:directives[]``, list and heading markers), as
    are a ``www.`` autolink's and a leading ``1.``'s dot. Rendered, it shows exactly ``one_line(text)``.

    With ``break_autolinks`` (for Streamlit, whose Markdown links URLs in text regardless of escapes),
    a WORD JOINER also goes inside each URL or e-mail pattern: invisible, but copied with the text."""
    line = one_line(text)
    escaped = "".join("\\" + c if _interpreted(line, i) else c for i, c in enumerate(line))
    escaped = _LIST_MARKER.sub(r"\1\\.", _WWW.sub(r"\1\\.", escaped))
    if break_autolinks:
        for pattern, replacement in _AUTOLINKS:
            escaped = pattern.sub(replacement, escaped)
    return escaped


def markdown_code(text: object) -> str:
    """``text`` as a Markdown code span (shown literally in a monospace font, nothing interpreted):
    fenced with more backticks than it contains, padded when it starts or ends with one."""
    line = one_line(text)
    runs = [len(run) for run in re.findall(r"`+", line)]
    fence = "`" * (max(runs, default=0) + 1)
    padded = f" {line} " if line.startswith("`") or line.endswith("`") or not line.strip() else line
    return f"{fence}{padded}{fence}"


def plotly_text(text: object) -> str:
    """``text`` for a plotly label, title, legend or hover text: on one line, ``&``, ``<`` and ``>`` as
    HTML entities (plotly reads a subset of HTML there: ``<a href>``, ``<br>``, ``<b>``...) and ``$``
    as ``&#36;`` (a label between dollars would be handed to MathJax); plotly shows the characters."""
    return one_line(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("$", "&#36;")

"""HTML mail as plain text (pure): what an agent reads, with nothing active left in it.

The desktop never renders a customer's HTML. Scripts, styles, event handlers, forms, frames and
remote images are dropped with their markup; links keep their text and show an http(s) or
mailto target in angle brackets; block elements become line breaks and ``<blockquote>`` becomes
``> `` quoting, so the quoted history of an HTML reply can be trimmed like a plain one.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

MAX_HTML_CHARS = 2_000_000  # beyond this a "message" is not meant for a person
MAX_TEXT_CHARS = 200_000

# Elements whose content is never text for a reader.
_SKIP = frozenset({"script", "style", "head", "title", "noscript", "template", "svg", "math", "iframe",
                   "object", "embed", "applet", "frameset", "frame", "select", "textarea", "button",
                   "canvas", "audio", "video", "map"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                   "source", "track", "wbr"})
_BLOCK = frozenset({"p", "div", "section", "article", "header", "footer", "aside", "nav", "main", "ul",
                    "ol", "dl", "dt", "dd", "table", "tr", "form", "fieldset", "address", "figure",
                    "figcaption", "h1", "h2", "h3", "h4", "h5", "h6", "center", "body", "html"})
_SAFE_LINK = re.compile(r"^(https?://|mailto:)[^\s<>\"']{1,500}$", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._skip_depth = 0
        self._quote_depth = 0
        self._pre_depth = 0
        self._links: list[str | None] = []
        self._size = 0

    # ----- output ---------------------------------------------------------------------------

    def _emit(self, text: str) -> None:
        if self._size > MAX_TEXT_CHARS:
            return
        self._size += len(text)
        self._line.append(text)

    def _newline(self, *, blank: bool = False) -> None:
        line = "".join(self._line)
        line = line.rstrip() if self._pre_depth else line.strip(" ")
        self._line = []
        prefix = "> " * self._quote_depth
        if line:
            self.lines.append(prefix + line)
        if blank and self.lines and self.lines[-1].strip("> "):
            self.lines.append(prefix.rstrip())

    # ----- parser callbacks -----------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            if tag not in _VOID:
                self._skip_depth += 1
            return
        if self._skip_depth:
            return
        if tag == "br":
            self._newline()
        elif tag == "hr":
            self._newline()
            self._emit("----")
            self._newline()
        elif tag == "blockquote":
            self._newline(blank=True)
            self._quote_depth += 1
        elif tag == "pre":
            self._newline()
            self._pre_depth += 1
        elif tag == "li":
            self._newline()
            self._emit("- ")
        elif tag in ("td", "th"):
            self._emit(" ")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and alt.strip():
                # Only the description: a remote image would tell the sender the mail was read.
                self._emit(f"[image: {_SPACES.sub(' ', alt).strip()[:100]}]")
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self._links.append(href if _SAFE_LINK.match(href) else None)
            return
        elif tag in _BLOCK:
            self._newline(blank=tag in ("p", "table", "ul", "ol", "h1", "h2", "h3"))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <img/>: a void element never opens a skipped region.
        if tag in _VOID or tag not in _SKIP:
            self.handle_starttag(tag, attrs)
            if tag not in _VOID:
                self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            if tag not in _VOID and self._skip_depth:
                self._skip_depth -= 1
            return
        if self._skip_depth:
            return
        if tag == "blockquote":
            self._newline()
            self._quote_depth = max(0, self._quote_depth - 1)
        elif tag == "pre":
            self._newline()
            self._pre_depth = max(0, self._pre_depth - 1)
        elif tag == "a":
            href = self._links.pop() if self._links else None
            shown = "".join(self._line)
            if href and href.removeprefix("mailto:") not in shown and href not in shown:
                self._emit(f" <{href}>")
        elif tag in _BLOCK or tag == "li":
            self._newline(blank=tag in ("p", "table", "ul", "ol", "h1", "h2", "h3"))

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            lines = data.split("\n")
            for i, part in enumerate(lines):
                if i:
                    self._newline()
                self._emit(part)
            return
        text = _SPACES.sub(" ", data)
        if not self._line and text.startswith(" "):
            text = text.lstrip(" ")
        if text:
            self._emit(text)

    def finish(self) -> str:
        self.close()
        self._newline()
        out: list[str] = []
        for line in self.lines:
            if not line.strip("> ") and (not out or not out[-1].strip("> ")):
                continue  # at most one blank line in a row
            out.append(line)
        while out and not out[-1].strip("> "):
            out.pop()
        return "\n".join(out)


def html_to_text(html: str) -> str:
    """Readable text of an HTML document; never raises."""
    builder = _TextBuilder()
    try:
        builder.feed(html[:MAX_HTML_CHARS])
        return builder.finish()[:MAX_TEXT_CHARS]
    except Exception:  # a parser surprise must not lose the message: strip tags instead
        return _SPACES.sub(" ", re.sub(r"<[^>]*>", " ", html[:MAX_HTML_CHARS])).strip()[:MAX_TEXT_CHARS]

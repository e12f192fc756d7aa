"""HTML from mail: a readable plain-text version, and markup that is safe to show agents."""

import functools
import re
import threading
from html import unescape
from html.parser import HTMLParser

from bleach.css_sanitizer import CSSSanitizer
from bleach.html5lib_shim import Filter
from bleach.sanitizer import Cleaner

from helpdesk.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_PROTOCOLS, ALLOWED_TAGS

# Larger HTML is shown as text only: sanitizing costs about a second per megabyte.
MAX_SANITIZE_CHARS = 1_000_000

MAIL_TAGS = ALLOWED_TAGS | {
    "address", "big", "caption", "center", "cite", "col", "colgroup", "dd", "dl", "dt",
    "font", "ins", "kbd", "mark", "q", "samp", "tt", "var",
}  # fmt: skip
_TABLE_ATTRS = ["align", "valign", "width", "height", "bgcolor", "border", "cellpadding",
                "cellspacing", "colspan", "rowspan"]  # fmt: skip
MAIL_PROTOCOLS = ALLOWED_PROTOCOLS | {"data"}
_CSS_SANITIZER = CSSSanitizer(
    allowed_css_properties=[
        "color", "background-color", "font-weight", "font-style", "font-size", "font-family",
        "text-align", "text-decoration", "text-indent", "line-height", "vertical-align",
        "white-space", "margin", "margin-top", "margin-bottom", "margin-left", "margin-right",
        "padding", "padding-top", "padding-bottom", "padding-left", "padding-right", "border",
        "border-top", "border-bottom", "border-left", "border-right", "border-collapse",
        "width", "height", "max-width", "list-style-type",
    ]
)  # fmt: skip


class _RepeatedCSS:
    """Mail repeats the same few style attributes thousands of times: sanitize each once."""

    @staticmethod
    @functools.lru_cache(maxsize=8192)
    def sanitize_css(style: str) -> str:
        return _CSS_SANITIZER.sanitize_css(style)


_CSS = _RepeatedCSS()


def _link_allowed(tag: str, name: str, value: str) -> bool:
    # data: is allowed for inline images only; a data: link could carry a page.
    if name == "href":
        return not value.strip().lower().startswith("data:")
    return name in ("title", "name")


def _img_allowed(tag: str, name: str, value: str) -> bool:
    if name == "src" and value.strip().lower().startswith("data:"):
        return bool(re.match(r"\s*data:image/(png|gif|jpe?g|webp|bmp);", value, re.I))
    return name in ("src", "alt", "title", "width", "height", "align", "border")


def _attributes() -> dict:
    attributes = {tag: list(names) for tag, names in ALLOWED_ATTRIBUTES.items()}
    attributes["*"] = sorted({*attributes.get("*", []), "dir", "lang", "align"})
    for tag in ("table", "td", "th", "tr", "tbody", "thead", "tfoot", "col", "colgroup"):
        attributes[tag] = sorted({*attributes.get(tag, []), *_TABLE_ATTRS})
    attributes["font"] = ["color", "face", "size"]
    attributes["ol"] = ["start", "type"]
    attributes["blockquote"] = ["type"]
    attributes["a"] = _link_allowed
    attributes["img"] = _img_allowed
    return attributes


MAIL_ATTRIBUTES = _attributes()
_local = threading.local()

# Elements whose content is never shown as text; removed before bleach, which would keep it.
_HIDDEN = "script|style|title|xml|template|noscript|object|iframe|svg|math"
_HIDDEN_ELEMENT = re.compile(rf"<({_HIDDEN})\b[^>]*>.*?</\1\s*>", re.I | re.S)
_UNCLOSED_HIDDEN = re.compile(r"<(script|style|title|xml|template|noscript)\b.*\Z", re.I | re.S)
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)|<!\[(?:end)?if[^\]]*\]>", re.S | re.I)
BLOCKED_SRC_ATTRIBUTE = "data-blocked-src"
_SRC, _BLOCKED_SRC = (None, "src"), (None, BLOCKED_SRC_ATTRIBUTE)


def strip_hidden(html: str) -> str:
    """Remove comments and elements whose content is not shown (scripts, styles, title)."""
    html = _COMMENT.sub("", html)
    if "</" in html:
        html = _HIDDEN_ELEMENT.sub("", html)
    return _UNCLOSED_HIDDEN.sub("", html)


class _LinksAndImages(Filter):
    """Runs after bleach's sanitizer: links open apart; remote images wait for consent."""

    def __iter__(self):
        for token in super().__iter__():
            if token["type"] in ("StartTag", "EmptyTag") and token["name"] in ("a", "img"):
                attrs = token.setdefault("data", {})
                if token["name"] == "a":
                    attrs[(None, "rel")] = "nofollow noopener noreferrer"
                    attrs[(None, "target")] = "_blank"
                elif _SRC in attrs and not _is_local_image(attrs[_SRC]):
                    attrs[_BLOCKED_SRC] = attrs.pop(_SRC)
            yield token


def _is_local_image(src: str) -> bool:
    src = src.strip().lower()
    return src.startswith("cid:") or src.startswith("data:image/")


def _cleaner() -> Cleaner:
    # A Cleaner is not safe to share between threads; the poller may run several.
    cleaner = getattr(_local, "cleaner", None)
    if cleaner is None:
        cleaner = _local.cleaner = Cleaner(
            tags=MAIL_TAGS,
            attributes=MAIL_ATTRIBUTES,
            protocols=MAIL_PROTOCOLS,
            css_sanitizer=_CSS,
            strip=True,
            strip_comments=True,
            filters=[_LinksAndImages],
        )
    return cleaner


def sanitize_mail_html(html: str) -> str:
    """Make a mail's HTML safe to show: no scripts, handlers, forms or remote loads.

    Remote images keep their address in `data-blocked-src` (no `src`), so the console can
    load them when the agent agrees; `cid:` and inline `data:` images stay as they are.
    """
    return _cleaner().clean(strip_hidden(html or ""))


_BLOCKS = frozenset(
    {
        "address", "article", "aside", "center", "dd", "div", "dl", "dt", "figure", "footer",
        "form", "header", "li", "main", "nav", "section", "tr", "caption", "fieldset",
    }
)  # fmt: skip
_PARAGRAPHS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "ul", "ol", "hr"}
)
_SKIPPED = frozenset({"script", "style", "title", "template", "noscript", "xml", "svg"})
_VOID = frozenset(
    {"br", "img", "hr", "meta", "link", "input", "col", "area", "base", "wbr", "source"}
)
_COLLAPSE = re.compile(r"[ \t\n\r\f\v]+")
_MARKED_SECTION = re.compile(r"<!\[(?!CDATA\[)")
_TAG = re.compile(r"<[^>]*>")
_BLANK_LINES = re.compile(r"\n{3,}")


class HtmlTextConverter(HTMLParser):
    """Collects the visible text of an HTML document with line breaks where a reader sees them.

    Subclasses may override `quote_action` to skip elements or stop at one (quote removal).
    """

    def __init__(self, links: bool = True):
        super().__init__(convert_charrefs=True)
        self.links = links
        self.out: list[str] = []
        self._newlines = 2  # trailing newlines in `out`; 2 at the start: nothing to separate
        self._space = True
        self._pre = 0
        self._quote = 0
        self._skip_tag = None
        self._skip_depth = 0
        self._stopped = False
        self._links: list[tuple[str, int]] = []
        self._lists: list[list] = []

    def quote_action(self, tag: str, attrs: dict) -> str | None:
        """Return "skip" to drop this element, "stop" to drop it and all that follows."""
        return None

    def _break(self, count: int) -> None:
        if self._newlines >= count:
            return
        if self.out and self._newlines == 0:
            self.out[-1] = self.out[-1].rstrip(" ")
        self.out.append("\n" * (count - self._newlines))
        self._newlines = count
        self._space = True

    def _write(self, text: str) -> None:
        if not text:
            return
        if self._newlines and self._quote:
            self.out.append("> " * self._quote)
        self.out.append(text)
        self._newlines = 0
        self._space = text[-1] == " "

    def handle_starttag(self, tag, attrs):
        if self._stopped:
            return
        if self._skip_tag is not None:
            if tag == self._skip_tag and tag not in _VOID:
                self._skip_depth += 1
            return
        if tag in _SKIPPED:
            self._skip_tag, self._skip_depth = tag, 1
            return
        action = self.quote_action(tag, dict(attrs))
        if action == "stop":
            self._stopped = True
            return
        if action == "skip":
            if tag not in _VOID:
                self._skip_tag, self._skip_depth = tag, 1
            return
        self._open(tag, attrs)

    def _open(self, tag, attrs):
        if tag == "br":
            if self.out and self._newlines == 0:
                self.out[-1] = self.out[-1].rstrip(" ")
            self.out.append("\n")
            self._newlines += 1
            self._space = True
        elif tag in _PARAGRAPHS:
            self._break(2)
            if tag == "pre":
                self._pre += 1
            elif tag == "blockquote":
                self._quote += 1
            elif tag in ("ul", "ol"):
                self._lists.append([tag, 0])
        elif tag in _BLOCKS:
            self._break(1)
            if tag == "li":
                self._list_item()
        elif tag in ("td", "th"):
            if not self._space and self._newlines == 0:
                self._write(" ")
        elif tag == "a" and self.links:
            href = dict(attrs).get("href") or ""
            self._links.append((href.strip(), len(self.out)))

    def _list_item(self):
        if not self._lists:
            self._write("- ")
            return
        kind = self._lists[-1]
        kind[1] += 1
        indent = "  " * (len(self._lists) - 1)
        self._write(f"{indent}{kind[1]}. " if kind[0] == "ol" else f"{indent}- ")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if self._stopped:
            return
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth <= 0:
                    self._skip_tag = None
            return
        if tag in _PARAGRAPHS:
            if tag == "pre" and self._pre:
                self._pre -= 1
            elif tag == "blockquote" and self._quote:
                self._break(1)
                self._quote -= 1
            elif tag in ("ul", "ol") and self._lists:
                self._lists.pop()
            self._break(2)
        elif tag in _BLOCKS:
            self._break(1)
        elif tag == "a" and self._links:
            self._close_link(*self._links.pop())

    def _close_link(self, href: str, start: int) -> None:
        label = "".join(self.out[start:]).strip()
        lower = href.lower()
        if lower.startswith("mailto:"):
            address = href[7:].split("?")[0]
            if address and address.lower() not in label.lower():
                self._write(f" ({address})")
        elif (
            lower.startswith(("http:", "https:", "ftp:"))
            and label
            and href.rstrip("/") != label.rstrip("/")
            and not label.startswith(("http:", "https:"))
        ):
            self._write(f" ({href})")

    def handle_data(self, data):
        if self._stopped or self._skip_tag is not None:
            return
        if self._pre:
            text = data.replace("\r\n", "\n")
            if text:
                stripped = text.rstrip("\n")
                trailing = len(text) - len(stripped)
                self.out.append(text)
                self._newlines = trailing if stripped else self._newlines + trailing
                self._space = text[-1].isspace()
            return
        text = _COLLAPSE.sub(" ", data)
        if self._space or self._newlines:
            text = text.lstrip(" ")
        self._write(text)

    def convert(self, html: str) -> str:
        """The text of `html`; crude tag stripping for markup html.parser gives up on."""
        try:
            self.feed(_MARKED_SECTION.sub("&lt;![", strip_hidden(html or "")))
            self.close()
        except Exception:  # html.parser asserts on some broken "<!" constructs
            self.out, self._newlines = [_COLLAPSE.sub(" ", unescape(_TAG.sub(" ", html)))], 0
        return self.text()

    def text(self) -> str:
        """The collected text, with single blank lines between paragraphs."""
        lines = "".join(self.out).replace("\xa0", " ").split("\n")
        joined = "\n".join(line.rstrip() for line in lines)
        return _BLANK_LINES.sub("\n\n", joined).strip("\n")


def html_to_text(html: str, links: bool = True) -> str:
    """The text a reader sees in `html`: paragraphs and breaks as newlines, links as
    "text (url)" (unless `links` is False), list items as "- ", quotes prefixed with "> "."""
    return HtmlTextConverter(links).convert(html)

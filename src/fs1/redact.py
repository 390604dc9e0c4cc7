"""Secrets out of everything fs1 writes or prints: one module, used by every writer, logger and message.

Two layers, both applied by ``redact_text``:

- **Shapes that always hold a secret**: the user-info of any URL (``http://user:pass@host`` → ``http://***@host``),
  the values of credential-like query or fragment parameters (``key``, ``api-key``, ``token``, ``access_token``,
  ``password``, ``secret``, ``signature`` …; ``max_tokens`` is not one), ``Basic`` credentials (base64 of
  ``user:password``), long ``Bearer`` tokens, ``Authorization:`` / ``api-key:`` headers and ``…_KEY=`` / ``…_TOKEN=``
  environment assignments.
- **Known secrets**: every value found by the first layer, and every value passed to ``register_secret`` (the API key a
  backend reads from the environment), is remembered for the life of the process and masked wherever it turns up
  again — verbatim, percent-encoded (escapes of either case, even of characters that need none: ``sk%2DSECRET``),
  JSON- or HTML-escaped, base64'd (alone or as ``user:password``), compared case-insensitively, whole or in pieces of
  ``MIN_ECHO`` characters or more (a server that echoes part of a key). Values shorter than ``MIN_SECRET`` are masked
  by the first layer only: masking a four-letter password in free text would also eat ordinary words.

A redacted text redacts to itself (the mask is ``***``), so redacting twice is harmless and a fingerprint computed from
a redacted config is stable. This module imports nothing from fs1: every layer may use it.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import io
import re
import threading
import urllib.parse
from typing import Any

MASK = "***"
MIN_ECHO = 8  # the shortest piece of a known secret masked on its own (a cut-short echo)
MIN_SECRET = 6  # shorter values are masked where their shape shows them (URLs, headers), not as free text

# A parameter name is credential-like when one of these words ends it or a dash/underscore/dot-separated part of it
# (``api-key``, ``x_api_key``, ``accessToken``, ``client_secret``, ``sig``); ``max_tokens``, ``keyword`` are not.
_SENSITIVE_NAME = re.compile(
    r"(?:key|token|passw(?:or)?d|pwd|secret|auth|authorization|signature|credentials?|session(?:id)?|jwt)(?:$|[-_.])"
    r"|(?:^|[-_.])(?:pass|sig)$",
    re.IGNORECASE,
)
# ... unless the name says where a secret is kept rather than holding it (``--api-key-env OPENAI_API_KEY``).
_POINTER_SUFFIXES = ("env", "file", "path", "var", "name")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>`\\]+")
# Any prefix of schemes: ``sparql:http://user:pass@host`` is the KG spec form.
_NETLOC_USERINFO = re.compile(r"^((?:[a-zA-Z][a-zA-Z0-9+.-]*:)*//)([^/?#]*)@")
_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_PARAM = re.compile(r"([?&;#])([^=&;#]*)=([^&;#]*)")
_BASIC = re.compile(r"\b(basic)(\s+|%20|\+)([A-Za-z0-9+/_-]{4,}={0,2})", re.IGNORECASE)
# Bearer tokens are long and hold a digit: ``Bearer bonds`` in a model's answer is not one.
_BEARER = re.compile(r"\b(bearer)(\s+|%20|\+)((?=[\w.~+/-]*\d)[\w.~+/-]{8,}=*)", re.IGNORECASE)
_HEADER = re.compile(
    r"\b((?:proxy-)?authorization|(?:x-)?api[-_]?key)([\"']?\s*[:=]\s*[\"']?)"
    r"((?:(?:basic|bearer|token|digest)\s+)?)([^\s\"',;}&]+)",
    re.IGNORECASE,
)
_ENV_ASSIGNMENT = re.compile(r"\b([A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD))(\s*=\s*)([^\s\"']+)")
_HTML_ENTITIES = {
    "&amp;": "&",
    "&lt;": "<",
    "&gt;": ">",
    "&quot;": '"',
    "&apos;": "'",
    "&#39;": "'",
    "&#x27;": "'",
}


class _Registry:
    """The process's known secrets, each with the patterns that find its pieces and its base64 forms."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.secrets: dict[str, frozenset[str]] = {}  # lower-cased secret → its pieces
        self.exact: set[str] = set()  # base64 forms, matched whole
        self.exact_pattern: re.Pattern[str] | None = None

    def add(self, value: str, *, user: str | None = None) -> None:
        if len(value) < MIN_SECRET:
            return
        forms = {value, value.replace(" ", "+")}
        exact = {_b64(value)} | ({_b64(f"{user}:{value}")} if user is not None else set())
        exact |= {form.rstrip("=") for form in exact} | {_b64url(f) for f in (value,)}
        with self._lock:
            for form in forms:
                key = form.lower()
                if key not in self.secrets:
                    self.secrets[key] = _grams(key)
            if not exact <= self.exact:
                self.exact |= {form for form in exact if len(form) >= MIN_SECRET}
                alternatives = sorted(self.exact, key=len, reverse=True)
                self.exact_pattern = re.compile("|".join(map(re.escape, alternatives)), re.IGNORECASE)

    def clear(self) -> None:
        with self._lock:
            self.secrets.clear()
            self.exact.clear()
            self.exact_pattern = None


_REGISTRY = _Registry()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def register_secret(value: str | None, *, user: str | None = None) -> None:
    """Remember ``value`` as a secret: from now on it is masked in every text ``redact_text`` sees, in any encoding.
    ``user``: the user name that goes with a password (its ``user:password`` base64 form is masked too)."""
    if value:
        _REGISTRY.add(value, user=user)


def forget_secrets() -> None:
    """Drop every registered secret (tests)."""
    _REGISTRY.clear()


def is_sensitive_name(name: str) -> bool:
    """Whether a query parameter, option or header name holds a credential (``api-key``, ``token``, ``password``)."""
    name = urllib.parse.unquote(name).strip().lower()
    return bool(_SENSITIVE_NAME.search(name)) and not name.endswith(_POINTER_SUFFIXES)


def http_url_problem(url: str) -> str | None:
    """What keeps ``url`` from being an http(s) URL fs1 can send requests to, as words that follow its name
    (``must be an http(s) URL``, ``is not a valid URL (Port out of range 0-65535)``), or None: checked where a URL is
    given, so a bad one is one line at once, not an HTTP library's traceback when the first request goes out."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 — reading it checks it (a port beyond 65535, letters)
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an http(s) URL"
    if not parts.hostname:
        return "names no host"
    return None


def redact_url(url: str) -> str:
    """``url`` with its user-info and credential-like parameter values masked (and those values registered)."""
    url = _NETLOC_USERINFO.sub(_userinfo_masked, url, count=1)
    return _PARAM.sub(_param_masked, url)


def _names_a_variable(value: str) -> bool:
    """``${SPARQL_PASSWORD}``: where a secret comes from (an experiment file's reference), not the secret."""
    return bool(_VARIABLE.fullmatch(value))


def _userinfo_masked(match: re.Match[str]) -> str:
    user, _, password = match.group(2).partition(":")
    if match.group(2) == MASK or (password and _names_a_variable(password)):
        return match.group(0)
    plain_user, plain_password = urllib.parse.unquote(user), urllib.parse.unquote(password)
    register_secret(plain_password, user=plain_user)
    register_secret(password)
    if not password:  # a token given as the user name (``https://TOKEN@host``)
        register_secret(plain_user)
    return f"{match.group(1)}{MASK}@"


def _param_masked(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    if not is_sensitive_name(name) or value == MASK or not value or _names_a_variable(value):
        return match.group(0)
    register_secret(urllib.parse.unquote_plus(value))
    register_secret(value)
    return f"{sep}{name}={MASK}"


def _basic_masked(match: re.Match[str]) -> str:
    word, space, token = match.groups()
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=False)
        plain = decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return match.group(0)
    if ":" not in plain or not plain.isprintable():
        return match.group(0)  # not a credential (``Basic Instinct``)
    user, _, password = plain.partition(":")
    register_secret(password, user=user)
    return f"{word}{space}{MASK}"


def _header_masked(match: re.Match[str]) -> str:
    name, sep, scheme, value = match.groups()
    if value.startswith((MASK, "$")) or (not scheme and value.lower() in ("basic", "bearer")):
        return match.group(0)  # masked already, a variable's name (``$KEY``, ``${KEY}``), or only the scheme
    register_secret(value)
    return f"{name}{sep}{scheme}{MASK}"


def _assignment_masked(match: re.Match[str]) -> str:
    name, sep, value = match.groups()
    if value.startswith(MASK) or value.startswith("$"):  # ``$VAR`` names a secret, it is not one
        return match.group(0)
    register_secret(value)
    return f"{name}{sep}{MASK}"


def _structural(text: str) -> str:
    if "://" in text:
        text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    lowered = text.lower()
    if "basic" in lowered:
        text = _BASIC.sub(_basic_masked, text)
    if "bearer" in lowered:
        text = _BEARER.sub(
            lambda m: f"{m.group(1)}{m.group(2)}{MASK}" if m.group(3) != MASK else m.group(0), text
        )
    if "authorization" in lowered or "key" in lowered:
        text = _HEADER.sub(_header_masked, text)
    if "=" in text:
        text = _ENV_ASSIGNMENT.sub(_assignment_masked, text)
    return text


# Runs of escapes decoded together (a multi-byte character is several %XX, a surrogate pair two \\uXXXX).
_ESCAPE_RUN = re.compile(
    r"(?:%[0-9A-Fa-f]{2})+|(?:\\u[0-9A-Fa-f]{4})+|\\[\"\\/]|&(?:amp|lt|gt|quot|apos|#39|#x27);"
)


def _unescape(run: str) -> str:
    if run.startswith("%"):
        raw = bytes.fromhex(run.replace("%", ""))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    if run.startswith("\\u"):
        return (
            run.encode("ascii")
            .decode("unicode-escape", "replace")
            .encode("utf-16", "surrogatepass")
            .decode("utf-16", "replace")
        )
    if run.startswith("\\"):
        return run[1]
    return _HTML_ENTITIES[run]


class _Decoded:
    """``text`` with its escapes decoded, and the way back from a position in it to one in ``text``."""

    def __init__(self, text: str) -> None:
        parts: list[str] = []
        self._starts: list[int] = []  # decoded start of each segment
        self._segments: list[tuple[int, int, bool]] = []  # original start, end, literal?
        pos = size = 0
        for match in _ESCAPE_RUN.finditer(text):
            for start, end, literal, piece in (
                (pos, match.start(), True, text[pos : match.start()]),
                (match.start(), match.end(), False, _unescape(match.group(0))),
            ):
                if piece:
                    parts.append(piece)
                    self._starts.append(size)
                    self._segments.append((start, end, literal))
                    size += len(piece)
            pos = match.end()
        parts.append(text[pos:])
        self._starts.append(size)
        self._segments.append((pos, len(text), True))
        self.text = "".join(parts)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that decoded positions ``start``..``end`` came from."""
        return self._position(start, at_end=False), self._position(end - 1, at_end=True)

    def _position(self, index: int, *, at_end: bool) -> int:
        k = bisect.bisect_right(self._starts, index) - 1
        first, last, literal = self._segments[k]
        if literal:
            return first + (index - self._starts[k]) + (1 if at_end else 0)
        return last if at_end else first


def _piece_spans(text: str, secret: str, grams: frozenset[str]) -> list[tuple[int, int]]:
    """Spans of ``text`` that are pieces of ``secret`` (both lower case) made of one of its ``grams`` or more."""
    starts = []
    for gram in grams:  # str.find per gram: C speed, and a hit is rare
        at = text.find(gram)
        while at >= 0:
            starts.append(at)
            at = text.find(gram, at + 1)
    spans: list[tuple[int, int]] = []
    for start in sorted(starts):
        end = start + len(next(iter(grams)))
        while end < len(text) and text[start : end + 1] in secret:
            end += 1
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def _grams(secret: str) -> frozenset[str]:
    """The pieces of ``MIN_ECHO`` characters of a secret (the secret itself when it is shorter)."""
    size = min(MIN_ECHO, len(secret))
    return frozenset(secret[i : i + size] for i in range(len(secret) - size + 1))


def _search_spans(text: str, secrets: dict[str, frozenset[str]]) -> list[tuple[int, int]]:
    lowered = text.lower()
    if len(lowered) != len(text):  # a character whose lower case is longer (İ): compare it as it is
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return [span for key, grams in secrets.items() for span in _piece_spans(lowered, key, grams)]


def _may_hold_escapes(text: str) -> bool:
    # Three substring tests are far faster than the escape pattern over a long text without any.
    return ("%" in text or "\\" in text or "&" in text) and _ESCAPE_RUN.search(text) is not None


def _secret_spans(text: str, secrets: dict[str, frozenset[str]]) -> list[tuple[int, int]]:
    """Spans of ``text`` holding one of ``secrets`` (or a piece of one), verbatim or escaped, in any case."""
    if not secrets:
        return []
    if not _may_hold_escapes(text):  # the common case: search the text as it is
        return _search_spans(text, secrets)
    decoded = _Decoded(text)
    return [decoded.span(a, b) for a, b in _search_spans(decoded.text, secrets)]


def _masked_spans(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each run of overlapping or touching ``spans`` replaced by one mask."""
    out: list[str] = []
    pos = 0
    run_end = -1
    for start, end in sorted(spans):
        if start <= run_end:
            run_end = max(run_end, end)
            continue
        if run_end >= 0:
            out.append(MASK)
            pos = run_end
        out.append(text[pos:start])
        run_end = end
    if run_end >= 0:
        out.append(MASK)
        pos = run_end
    out.append(text[pos:])
    return "".join(out)


def redact_text(text: str) -> str:
    """``text`` with every secret masked: the shapes that hold one, then every known secret in any encoding."""
    if not text:
        return text
    text = _structural(text)
    spans = _secret_spans(text, dict(_REGISTRY.secrets))
    pattern = _REGISTRY.exact_pattern
    if pattern is not None:
        spans += [m.span() for m in pattern.finditer(text)]
    return _masked_spans(text, spans) if spans else text


def mask_secret(text: str, secret: str | None) -> str:
    """``text`` with one given ``secret`` masked in every form, whole or in pieces (without registering it)."""
    if not secret or not text:
        return text
    key = secret.lower()
    spans = _secret_spans(text, {key: _grams(key)})
    exact = {_b64(secret), _b64(secret).rstrip("="), _b64url(secret)}
    spans += [m.span() for m in re.finditer("|".join(map(re.escape, exact)), text, re.IGNORECASE)]
    return _masked_spans(text, spans) if spans else text


def redact_obj(obj: Any) -> Any:
    """A JSON-like value with ``redact_text`` applied to every string in it (dict keys included)."""
    if isinstance(obj, str):
        return redact_text(obj)
    if isinstance(obj, dict):
        return {redact_obj(k) if isinstance(k, str) else k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact_obj(v) for v in obj)
    return obj


def register_secrets_in(obj: Any) -> None:
    """Register every secret whose shape shows in ``obj`` (an experiment file's URLs, a command line), so that an
    echo of it in another shape later is masked too."""
    redact_obj(obj)


def redact_argv(argv: list[str]) -> list[str]:
    """A command line with secrets masked: in every argument, and the value of an option named like a credential
    (``--token X``, ``--password=X``)."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            register_secret(arg)
            out.append(MASK)
            hide_next = False
            continue
        name, eq, value = arg.partition("=")
        if arg.startswith("-") and is_sensitive_name(name.lstrip("-")):
            if eq:
                register_secret(value)
                out.append(f"{name}={MASK}")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(redact_text(arg))
    return out


class RedactingStream(io.TextIOBase):
    """A text stream that masks secrets in everything written to it before passing it on (the terminal, a log).

    ``target``: the stream, or a function returning it at each write (``lambda: sys.stderr`` follows a swapped
    stream, as test runners do)."""

    def __init__(self, target: Any) -> None:
        self._target = target

    @property
    def stream(self) -> Any:
        return (
            self._target() if callable(self._target) and not hasattr(self._target, "write") else self._target
        )

    def write(self, text: str) -> int:
        self.stream.write(redact_text(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return bool(self.stream.isatty())

    def fileno(self) -> int:
        return int(self.stream.fileno())

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.stream, "encoding", "utf-8") or "utf-8")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

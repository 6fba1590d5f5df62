"""Known binary caches (data in ``data/caches.toml``) and custom ones with their key checked for form."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from tui.core.data import load
from tui.core.errors import AnswerError

STATUS_WORDS = {
    "current": "current",
    "no-cuda": "live, no longer has CUDA",
    "dead": "dead",
    "custom": "custom",
}

_KEY = re.compile(r"(?P<name>[A-Za-z0-9._-]+(?:-[0-9]+)?):(?P<b64>[A-Za-z0-9+/]+=*)", re.ASCII)


@dataclass(frozen=True)
class Cache:
    name: str
    url: str
    key: str
    status: str = "custom"
    title: str = ""
    provides: str = ""
    variants: tuple[str, ...] = field(default_factory=tuple)
    recommended: bool = False

    @property
    def status_words(self) -> str:
        return STATUS_WORDS.get(self.status, self.status)

    @property
    def usable(self) -> bool:
        return self.status != "dead"


def known_caches() -> list[Cache]:
    """Every cache in the data file, in its order."""
    return [
        Cache(
            name=c["name"],
            url=c["url"],
            key=c["key"],
            status=c["status"],
            title=c.get("title", c["name"]),
            provides=c.get("provides", ""),
            variants=tuple(c.get("variants", [])),
            recommended=bool(c.get("recommended", False)),
        )
        for c in load("caches")["cache"]
    ]


def default_caches(existing: list[Cache] | None, variants) -> list[Cache]:
    """The caches a change sets where none were chosen: those set before, else the recommended ones where
    a machine builds with CUDA. The wizard starts with these and the command line sets them."""
    if existing is not None:
        return list(existing)
    if "cuda" in set(variants):
        return [cache for cache in known_caches() if cache.recommended]
    return []


def cache_by_name(name: str) -> Cache:
    for cache in known_caches():
        if cache.name == name:
            return cache
    names = ", ".join(c.name for c in known_caches() if c.usable)
    raise AnswerError(f"unknown cache '{name}' (known: {names}; or give a custom one as URL=KEY)")


def cache_for_url(url: str) -> Cache | None:
    url = url.rstrip("/")
    return next((c for c in known_caches() if c.url == url), None)


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a Nix public key (``name:base64-of-32-bytes``), or None if it is one."""
    match = _KEY.fullmatch(key.strip())
    if not match:
        return "a public key looks like name-1:BASE64 (the name, a colon, then 44 base64 characters)"
    try:
        raw = base64.b64decode(match.group("b64"), validate=True)
    except ValueError:
        return "the part after the colon is not valid base64"
    if len(raw) != 32:
        return f"the key decodes to {len(raw)} bytes; an ed25519 public key has 32"
    return None


def url_problem(url: str) -> str | None:
    if not re.fullmatch(r"(https?|s3|file|ssh|ssh-ng)://[!-~]+", url, re.ASCII):
        return "a substituter is a URL such as https://example.cachix.org"
    return None


def custom_cache(spec: str) -> Cache:
    """A cache given as ``URL=KEY``; the key is checked for form."""
    url, sep, key = spec.partition("=")
    if not sep:
        raise AnswerError(f"custom cache '{spec}': give it as URL=KEY")
    url = url.strip().rstrip("/")
    key = key.strip()
    problem = url_problem(url)
    if problem:
        raise AnswerError(f"custom cache '{url}': {problem}")
    problem = key_problem(key)
    if problem:
        raise AnswerError(f"custom cache key '{key}': {problem}")
    known = cache_for_url(url)
    if known is not None:
        return known
    name = re.sub(r"^\w+://", "", url).split("/")[0]
    return Cache(name=name, url=url, key=key, status="custom", title=name, provides="your own cache")

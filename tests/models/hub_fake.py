"""A fake Hugging Face Hub on 127.0.0.1 (the only fake at the network boundary): it answers the model-info call
huggingface_hub makes (``GET /api/models/{repo}[/revision/{rev}]?blobs=true``) with the JSON the Hub gives,
siblings with their LFS metadata, and the Hub's errors with its ``X-Error-Code`` headers. Test modules import
the fixtures from here (a second conftest.py would shadow the suite's own)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

GB = 1000**3


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def commit_of(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


@dataclass
class FakeRepo:
    """One model repository: its commits' files (path → size; a file with an LFS hash unless listed in
    ``plain``), its branches and tags, and who may read it."""

    commits: dict[str, dict[str, int]]  # commit id → {path: size}
    refs: dict[str, str]  # "main", "v1" → commit id
    plain: set[str] = field(default_factory=set)  # files kept in git itself, not LFS (README.md, .gitattributes)
    gated: bool | str = False
    private_token: str | None = None  # readable only with this token; without it the Hub says "not found"
    refused: bool = False  # the Hub answers 403 GatedRepo: the token's account may not read it
    parameters: int | None = None  # the Hub's gguf.total

    def sha256(self, path: str, commit: str) -> str:
        return sha256_of(f"{commit}:{path}")


def repo_with(name: str, files: dict[str, int], *, parameters: int | None = None, **kwargs) -> FakeRepo:
    commit = commit_of(name)
    every = {".gitattributes": 1519, "README.md": 4210, **files}
    return FakeRepo({commit: every}, {"main": commit}, {".gitattributes", "README.md"}, parameters=parameters, **kwargs)


# What bartowski's repository of Qwen2.5-7B-Instruct holds (sizes as the Hub lists them), with a tag.
QWEN_7B = "bartowski/Qwen2.5-7B-Instruct-GGUF"
QWEN_FILES = {
    "Qwen2.5-7B-Instruct-Q2_K.gguf": 3_015_940_928,
    "Qwen2.5-7B-Instruct-Q3_K_M.gguf": 3_808_391_040,
    "Qwen2.5-7B-Instruct-IQ4_XS.gguf": 4_218_575_456,
    "Qwen2.5-7B-Instruct-Q4_K_M.gguf": 4_683_073_952,
    "Qwen2.5-7B-Instruct-Q5_K_M.gguf": 5_444_831_648,
    "Qwen2.5-7B-Instruct-Q6_K.gguf": 6_254_199_200,
    "Qwen2.5-7B-Instruct-Q8_0.gguf": 8_098_525_600,
    "Qwen2.5-7B-Instruct.imatrix": 4_567_000,
}
# unsloth's layout: big quantisations split in folders, a vision projector, a split with a part missing.
SPLIT_REPO = "unsloth/Qwen2.5-VL-72B-Instruct-GGUF"
SPLIT_FILES = {
    "Qwen2.5-VL-72B-Instruct-UD-Q2_K_XL.gguf": 29_800_000_000,
    "Q8_0/Qwen2.5-VL-72B-Instruct-Q8_0-00001-of-00002.gguf": 49_900_000_000,
    "Q8_0/Qwen2.5-VL-72B-Instruct-Q8_0-00002-of-00002.gguf": 27_400_000_000,
    "BF16/Qwen2.5-VL-72B-Instruct-BF16-00001-of-00003.gguf": 49_900_000_000,
    "BF16/Qwen2.5-VL-72B-Instruct-BF16-00003-of-00003.gguf": 45_500_000_000,
    "mmproj-F16.gguf": 1_340_000_000,
    "mmproj-BF16.gguf": 1_340_000_000,
}
TINY_REPO = "ggml-org/tiny-model-GGUF"  # one model only, lower-case quantisation as Qwen's own repositories write it


def default_repos() -> dict[str, FakeRepo]:
    qwen = repo_with(QWEN_7B, QWEN_FILES, parameters=7_615_616_512)
    old = commit_of(QWEN_7B + "@v1")
    qwen.commits[old] = {"README.md": 3000, "Qwen2.5-7B-Instruct-Q4_K_M.gguf": 4_683_073_900}
    qwen.refs["v1"] = old
    return {
        QWEN_7B: qwen,
        SPLIT_REPO: repo_with(SPLIT_REPO, SPLIT_FILES),
        TINY_REPO: repo_with(TINY_REPO, {"tiny-model-q8_0.gguf": 120_000_000}),
        "meta-llama/Llama-3.1-8B-Instruct-GGUF": repo_with(
            "meta-llama/Llama-3.1-8B-Instruct-GGUF", {"model-Q4_K_M.gguf": 4_920_000_000}, gated="manual"
        ),
        "acme/private-GGUF": repo_with(
            "acme/private-GGUF", {"private-Q4_K_M.gguf": 4_000_000_000}, private_token="hf_acme_secret"
        ),
        "acme/refused-GGUF": repo_with("acme/refused-GGUF", {"x-Q4_K_M.gguf": 4_000_000_000}, refused=True),
        "acme/no-gguf": repo_with("acme/no-gguf", {"model.safetensors": 15_000_000_000, "mmproj-f16.gguf": 600_000}),
    }


class FakeHub:
    def __init__(self) -> None:
        self.repos = default_repos()
        self.requests: list[dict] = []
        self.tokens = {"hf_acme_secret"}
        self.bodies: dict[str, object] = {}  # repo → the JSON answered instead (a hostile or broken Hub)
        self.hold: threading.Event | None = None  # set to an Event: every answer waits until it is set (a slow Hub)

    def answer(self, path: str, query: dict, auth: str | None) -> tuple[int, dict, dict]:
        """(status, headers, JSON body) for one request."""
        parts = path.split("/")
        if parts[:3] != ["", "api", "models"] or len(parts) < 5:
            return 404, {}, {"error": "Sorry, we can't find the page you are looking for."}
        repo_id = f"{parts[3]}/{parts[4]}"
        if repo_id in self.bodies:
            return 200, {}, self.bodies[repo_id]
        revision = unquote("/".join(parts[6:])) if len(parts) > 6 and parts[5] == "revision" else "main"
        token = auth.removeprefix("Bearer ") if auth else None
        if token is not None and token not in self.tokens:
            return (
                401,
                {"X-Error-Message": "Invalid credentials in Authorization header"},
                {"error": "Invalid credentials in Authorization header"},
            )
        repo = self.repos.get(repo_id)
        if repo is None or (repo.private_token is not None and token != repo.private_token):
            return (
                401,
                {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"},
                {"error": "Repository not found"},
            )
        if repo.refused:
            message = (
                f"Access to model {repo_id} is restricted and you are not in the authorized list. "
                f"Visit https://huggingface.co/{repo_id} to ask for access."
            )
            return 403, {"X-Error-Code": "GatedRepo", "X-Error-Message": message}, {"error": message}
        commit = repo.refs.get(revision, revision if revision in repo.commits else None)
        if commit is None:
            message = f"Invalid rev id: {revision}"
            return 404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": message}, {"error": message}
        blobs = query.get("blobs") == ["True"] or query.get("blobs") == ["true"]
        siblings = []
        for name, size in repo.commits[commit].items():
            sibling: dict = {"rfilename": name}
            if blobs:
                sibling["blobId"] = commit_of(f"blob:{commit}:{name}")
                sibling["size"] = size
                if name not in repo.plain:
                    sibling["lfs"] = {"sha256": repo.sha256(name, commit), "size": size, "pointerSize": 135}
            siblings.append(sibling)
        owner = repo_id.split("/")[0]
        body = {
            "_id": "66ebfa5d9a1b2c3d4e5f6a7b",
            "id": repo_id,
            "modelId": repo_id,
            "author": owner,
            "sha": commit,
            "lastModified": "2024-09-19T10:00:00.000Z",
            "private": repo.private_token is not None,
            "disabled": False,
            "gated": repo.gated,
            "downloads": 123456,
            "likes": 789,
            "tags": ["gguf", "text-generation", "conversational"],
            "pipeline_tag": "text-generation",
            "createdAt": "2024-09-19T09:00:00.000Z",
            "siblings": siblings,
            "spaces": [],
            "usedStorage": sum(repo.commits[commit].values()),
        }
        if repo.parameters is not None:
            body["gguf"] = {"total": repo.parameters, "architecture": "qwen2", "context_length": 32768}
        return 200, {}, body


class _Handler(BaseHTTPRequestHandler):
    hub: FakeHub

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        auth = self.headers.get("Authorization")
        self.hub.requests.append({"path": url.path, "query": query, "authorization": auth})
        if self.hub.hold is not None:
            self.hub.hold.wait(30)
        status, headers, body = self.hub.answer(url.path, query, auth)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args) -> None:  # quiet
        pass


def _isolate(monkeypatch, tmp_path, endpoint: str) -> None:
    """The Hub's settings for one test: this endpoint, no saved or ambient token, no proxy."""
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@contextmanager
def running_hub() -> Iterator[tuple[FakeHub, str]]:
    """The fake Hub serving on a free port of 127.0.0.1, and its endpoint URL, until the block ends."""
    fake = FakeHub()
    handler = type("Handler", (_Handler,), {"hub": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """The fake Hub, running; ``HF_ENDPOINT`` points at it."""
    with running_hub() as (fake, endpoint):
        _isolate(monkeypatch, tmp_path, endpoint)
        yield fake


@pytest.fixture
def closed_endpoint(tmp_path, monkeypatch):
    """``HF_ENDPOINT`` at a port of 127.0.0.1 where nothing listens: the network is not there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _isolate(monkeypatch, tmp_path, f"http://127.0.0.1:{port}")
    return port


@pytest.fixture
def silent_endpoint(tmp_path, monkeypatch):
    """``HF_ENDPOINT`` at a server that takes the connection and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    _isolate(monkeypatch, tmp_path, f"http://127.0.0.1:{listener.getsockname()[1]}")
    try:
        yield listener
    finally:
        listener.close()

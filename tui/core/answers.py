"""The user's answers: what the wizard asks and the command line takes as flags."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeGuard

from tui.core.caches import Cache
from tui.core.errors import AnswerError
from tui.core.hardware.support import is_jetson
from tui.core.variants import VARIANTS

if TYPE_CHECKING:
    from tui.core.hardware.model import Recommendation

LLAMA_CPP_URL = "github:ggml-org/llama.cpp"

# Whole-string matches over ASCII classes only (no `$` before a trailing newline, no non-ASCII digits).
_CPU_FLAG = re.compile(r"[a-z0-9_]+", re.ASCII)
_CUDA_CAPABILITY = re.compile(r"[0-9]{1,2}\.[0-9]{1,2}[af]?", re.ASCII)  # 12.0a/12.0f: architecture/family-specific
_ROCM_TARGET = re.compile(r"gfx[0-9a-f]{3,4}", re.ASCII)
_HF_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}", re.ASCII)
_HF_REVISION = re.compile(r"[0-9a-f]{40}", re.ASCII)
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
_GGUF_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*(/[A-Za-z0-9_][A-Za-z0-9._+-]*)*\.gguf", re.ASCII)
_GIT_REF = re.compile(r"[A-Za-z0-9._/-]+", re.ASCII)
# A model file is fetched into the store under its base name, which Nix allows 211 characters; its size is a Nix
# integer (signed 64 bits).
STORE_NAME_MAX = 211
NIX_INT_MAX = 2**63 - 1


def model_file_problem(name: str) -> str | None:
    """Why ``name`` cannot be written as a model file's path (a .gguf path in the repository), or None."""
    if name.lower().endswith(".gguf") and not name.endswith(".gguf"):
        return f"its extension is {name[-5:]}: the module takes the lower-case .gguf only"
    if not _GGUF_FILE.fullmatch(name) or ".." in name.split("/"):
        return "a name llamaflake does not write into Nix"
    if len(name.rsplit("/", 1)[-1]) > STORE_NAME_MAX:
        return f"a name longer than the {STORE_NAME_MAX} characters of a Nix store name"
    return None


def is_byte_count(size: object) -> TypeGuard[int]:
    """Whether ``size`` is a file size Nix can hold: a whole number, 0 to 2^63-1 (not a bool)."""
    return type(size) is int and 0 <= size <= NIX_INT_MAX


# Flake URL schemes an input may use; the rest of the URL is checked for characters Nix or a shell would read.
_FLAKE_URL = re.compile(
    r"(github|gitlab|sourcehut|path|git\+file|git\+https|git\+ssh|git\+http|https|http|tarball\+https|file\+https"
    r"|tarball\+file|file\+file|hg\+https):[A-Za-z0-9._~:/?#\[\]@!&'()*+,;=%-]+",
    re.ASCII,
)


def split_list(text: str) -> list[str]:
    """A list given as one line, separated by commas or blanks (``8.6,12.0a``, a tab pasted from a table), as the
    flags and the wizard take it."""
    return [part for chunk in text.split(",") for part in chunk.split()]


@dataclass(frozen=True)
class ModelFile:
    """One GGUF file of a model at a pinned revision."""

    name: str  # its path in the repository: "Qwen2.5-7B-Instruct-Q4_K_M.gguf", "Q8_0/x-00001-of-00002.gguf"
    sha256: str  # 64 lowercase hex digits: the file's LFS object id
    size: int  # bytes


@dataclass(frozen=True)
class ModelChoice:
    """A model on Hugging Face pinned to a commit: one GGUF file, or every part of a split one in order."""

    repo: str  # "owner/name"
    revision: str  # the commit id (40 hex digits), never a branch
    files: tuple[ModelFile, ...]

    @property
    def name(self) -> str:
        """The file llama-server is given (the first part of a split model)."""
        return self.files[0].name

    @property
    def size(self) -> int:
        """Bytes of all its files together."""
        return sum(f.size for f in self.files)

    def url(self, file: ModelFile) -> str:
        """Where ``file`` is downloaded from, pinned to the commit."""
        return f"https://huggingface.co/{self.repo}/resolve/{self.revision}/{file.name}"

    def validate(self, host: str) -> None:
        if not _HF_REPO.fullmatch(self.repo) or ".." in self.repo:
            raise AnswerError(f"{host}: malformed model repository {self.repo!r} (write it like owner/name)")
        if not _HF_REVISION.fullmatch(self.revision):
            raise AnswerError(f"{host}: the model's revision {self.revision!r} is not a commit id (40 hex digits)")
        if not self.files:
            raise AnswerError(f"{host}: the model {self.repo} has no GGUF file chosen")
        for file in self.files:
            problem = model_file_problem(file.name)
            if problem is not None:
                raise AnswerError(
                    f"{host}: malformed model file {file.name!r} ({problem}; a .gguf path in the repository)"
                )
            if not _SHA256.fullmatch(file.sha256):
                raise AnswerError(f"{host}: the sha256 of {file.name} is not 64 hex digits")
            if not is_byte_count(file.size):
                raise AnswerError(f"{host}: the size of {file.name}, {file.size!r}, is not a number of bytes")


@dataclass(frozen=True)
class ServeChoice:
    """A model served on the machine by nixpkgs' ``services.llama-cpp``."""

    model: ModelChoice
    port: int = 8080
    host: str = "127.0.0.1"  # loopback unless asked; openFirewall only when asked
    open_firewall: bool = False
    context: int = 4096  # tokens of context llama-server is started with (-c)

    def validate(self, host: str) -> None:
        self.model.validate(host)
        if not 1 <= self.port <= 65535:
            raise AnswerError(f"{host}: port {self.port} is not between 1 and 65535")
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            raise AnswerError(f"{host}: the address to serve on {self.host!r} is not an IP address") from None
        if not 256 <= self.context <= 1_048_576:
            raise AnswerError(f"{host}: a context of {self.context} tokens is out of range (256 to 1048576)")


@dataclass
class MachineAnswer:
    """One machine's llama.cpp build."""

    variant: str
    cpu_flags: list[str] = field(default_factory=list)
    all_variants: bool = False
    cuda_capabilities: list[str] = field(default_factory=list)
    rocm_targets: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cuda_source: str | None = None  # where the capabilities came from ("NVML", "PCI id table"), for the commit message
    serve: ServeChoice | None = None  # a model served on the machine; None: no service chosen now
    stop_serving: bool = False  # asked to serve nothing: the model served before goes too

    @classmethod
    def from_recommendation(cls, recommendation: Recommendation) -> MachineAnswer:
        """The answer that takes ``recommendation`` as it is, its reasons as the file's notes."""
        return cls(
            variant=recommendation.variant,
            cpu_flags=list(recommendation.cpu_flags),
            all_variants=recommendation.all_variants,
            cuda_capabilities=list(recommendation.cuda_capabilities),
            rocm_targets=list(recommendation.rocm_targets),
            notes=list(recommendation.reasons),
            cuda_source=recommendation.cuda_source,
        )

    def validate(self, host: str) -> None:
        if self.variant not in VARIANTS:
            raise AnswerError(
                f"{host}: unknown variant '{self.variant}' (choose one of {', '.join(VARIANTS)}, or none)"
            )
        for flag in self.cpu_flags:
            if not _CPU_FLAG.fullmatch(flag):
                raise AnswerError(
                    f"{host}: malformed CPU flag '{flag}' (use /proc/cpuinfo names such as avx2, avx512_vnni)"
                )
        for cap in self.cuda_capabilities:
            if not _CUDA_CAPABILITY.fullmatch(cap):
                raise AnswerError(f"{host}: malformed CUDA capability '{cap}' (write it like 8.6, or 12.0a)")
        jetson = [c for c in self.cuda_capabilities if is_jetson(c)]
        if jetson and len(jetson) != len(self.cuda_capabilities):
            others = [c for c in self.cuda_capabilities if c not in jetson]
            raise AnswerError(
                f"{host}: the Jetson CUDA capabilities {', '.join(jetson)} cannot be built together with "
                f"{', '.join(others)} (nixpkgs builds Jetson capabilities alone, on aarch64-linux)"
            )
        for target in self.rocm_targets:
            if not _ROCM_TARGET.fullmatch(target):
                raise AnswerError(f"{host}: malformed ROCm target '{target}' (write it like gfx1100)")
        if self.all_variants and self.cpu_flags:
            raise AnswerError(f"{host}: give either CPU flags or all-variants, not both")
        if self.cuda_capabilities and self.variant != "cuda":
            raise AnswerError(f"{host}: CUDA capabilities only apply to the cuda variant, not '{self.variant}'")
        if self.rocm_targets and self.variant != "rocm":
            raise AnswerError(f"{host}: ROCm targets only apply to the rocm variant, not '{self.variant}'")
        if self.serve is not None:
            if self.stop_serving:
                raise AnswerError(f"{host}: give either a model to serve or none, not both")
            self.serve.validate(host)


@dataclass
class Answers:
    """Everything that decides the plan. ``None`` means: keep what the repository already has."""

    machines: dict[str, MachineAnswer] = field(default_factory=dict)
    skip: list[str] = field(default_factory=list)
    caches: list[Cache] | None = None
    follows: str | None = None
    ref: str | None = None
    url: str | None = None
    cleanup: bool = False
    module_dir: str | None = None
    write_refused: bool = False
    cuda_release: str | None = None  # the CUDA release of the nixpkgs llama.cpp follows; None: nixpkgs' default

    def validate(self) -> None:
        for host, machine in self.machines.items():
            machine.validate(host)
        if self.ref is not None and self.ref != "" and not _GIT_REF.fullmatch(self.ref):
            raise AnswerError(f"malformed ref '{self.ref}' (a branch, tag or commit of llama.cpp)")
        if self.url is not None:
            check_flake_url(self.url)
            if self.ref and not self.url.startswith(("github:", "gitlab:", "sourcehut:", "git+")):
                raise AnswerError(f"--ref cannot pin '{self.url}': give the revision in the URL itself")


# github:owner/repo[/ref-or-rev][?query]: the shape Nix reads for its forge schemes.
_FORGE_URL = re.compile(
    r"(github|gitlab|sourcehut):~?[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?(\?[^#]*)?", re.ASCII
)


def _forge_url_ok(url: str) -> bool:
    if not url.startswith(("github:", "gitlab:", "sourcehut:")):
        return True
    path = url.split(":", 1)[1].split("?", 1)[0]
    return bool(_FORGE_URL.fullmatch(url)) and not any(part in (".", "..") for part in path.split("/"))


def check_flake_url(url: str) -> None:
    """Refuse a llama.cpp input URL that is not a flake URL (scheme and characters); the message shows it quoted."""
    if not _FLAKE_URL.fullmatch(url) or "${" in url or not _forge_url_ok(url):
        raise AnswerError(
            f"malformed flake URL {url!r} (e.g. github:owner/llama.cpp, git+file:///path/to/llama.cpp, path:/path/to/llama.cpp)"
        )


def input_url(ref: str | None, url: str | None = None) -> str:
    """The flake URL of the llama.cpp input (``url``, default upstream's) with an optional pinned ref."""
    base = url or LLAMA_CPP_URL
    if not ref:
        return base
    if base.startswith("git+"):
        return f"{base}{'&' if '?' in base else '?'}ref={ref}"
    return f"{base}/{ref}"

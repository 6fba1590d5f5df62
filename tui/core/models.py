"""Models on Hugging Face: a spec ``REPO[:FILE][@REVISION]``, the repository's GGUF files at a commit, and the
one that fits the machine.

The look-up goes through ``huggingface_hub`` (it honours ``HF_TOKEN`` and a token saved by ``hf auth login``);
``HF_ENDPOINT`` is read at each call. Every failure is a :class:`ModelLookupError` of one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tui.core.answers import (
    _HF_REPO,
    _HF_REVISION,
    _SHA256,
    ModelChoice,
    ModelFile,
    is_byte_count,
    model_file_problem,
)
from tui.core.errors import AnswerError, LlamaflakeError, printable
from tui.core.hardware.model import HardwareReport

DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_TIMEOUT = 8.0  # seconds for one request to the Hub
DEFAULT_CONTEXT = 4096
SPEC_EXAMPLE = "owner/name[:FILE|QUANT][@REVISION], e.g. bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M"

_REVISION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,127}", re.ASCII)  # a branch, tag or refs/pr/N
_QUANT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,47}", re.ASCII)
_SPLIT = re.compile(r"(?P<stem>.+)-(?P<part>[0-9]{5})-of-(?P<parts>[0-9]{5})\.gguf", re.ASCII | re.IGNORECASE)
# The quantisation at the end of a file's name: Q4_K_M, IQ4_XS, Q4_0_4_4, UD-Q4_K_XL, BF16, MXFP4_MOE ...
_QUANT_IN_NAME = re.compile(
    r"(?:^|[-_.])(?P<quant>(?:UD-)?(?:I?Q[1-8](?:_[0-9A-Z]+)*|TQ[12]_0|F16|BF16|FP16|F32|FP32|MXFP4(?:_MOE)?))$",
    re.ASCII | re.IGNORECASE,
)
# Bits per weight of each family, to estimate a model's parameter count from its size where the Hub does not say.
_BITS_PER_WEIGHT = {"1": 1.8, "2": 2.8, "3": 3.7, "4": 4.7, "5": 5.6, "6": 6.6, "8": 8.5}
# Bytes of KV cache per token of context (f16 keys and values) by parameter count, taken from common models with
# grouped-query attention (Llama 3.2 1B/3B, Llama 3 8B, Mistral Nemo 12B, Qwen2.5 32B, Llama 3 70B). Older models
# without it need several times more; mixture-of-experts models less.
_KV_BYTES_PER_TOKEN = (
    (2e9, 32 * 1024),
    (4.5e9, 112 * 1024),
    (10e9, 128 * 1024),
    (16e9, 160 * 1024),
    (40e9, 256 * 1024),
    (float("inf"), 320 * 1024),
)
GIB = 1024**3
MIB = 1024**2
_LISTED = 24  # models named in a message at most; part numbers: a few


class ModelLookupError(LlamaflakeError):
    """A model that cannot be looked up or chosen: one line that says why; nothing is written."""


@dataclass(frozen=True)
class ModelSpec:
    """A model as the user writes it: ``REPO[:FILE][@REVISION]``."""

    repo: str
    file: str | None = None  # a .gguf path in the repository, or a quantisation name (Q4_K_M)
    revision: str | None = None  # a branch, tag or commit id; None: the main branch

    @property
    def file_is_path(self) -> bool:
        return self.file is not None and self.file.lower().endswith(".gguf")

    def __str__(self) -> str:
        return self.repo + (f":{self.file}" if self.file else "") + (f"@{self.revision}" if self.revision else "")


def parse_model_spec(text: str) -> ModelSpec:
    """Read ``REPO[:FILE][@REVISION]``; anything else is an :class:`AnswerError` that shows the text quoted."""
    spec = text.strip()
    left, at, revision = spec.rpartition("@") if "@" in spec else (spec, "", "")
    repo, colon, file = left.partition(":")

    def bad(what: str) -> AnswerError:
        return AnswerError(f"model {text!r}: {what} (write it like {SPEC_EXAMPLE})")

    if spec.count("@") > 1:
        raise bad("'@' is given twice (once, before the revision)")
    if not repo:
        raise bad("no repository")
    if not _HF_REPO.fullmatch(repo) or ".." in repo:
        raise bad(f"{repo!r} is not a Hugging Face repository name (owner/name)")
    if colon:
        if not file:
            raise bad("nothing after ':'")
        if file.lower().endswith(".gguf"):
            problem = model_file_problem(file)
            if problem is not None:
                raise bad(f"{file!r} is not a .gguf path in the repository ({problem})")
        elif not _QUANT_NAME.fullmatch(file) or ".." in file:
            raise bad(f"{file!r} is neither a .gguf file nor a quantisation name such as Q4_K_M")
    if at:
        if not revision:
            raise bad("nothing after '@'")
        if not _REVISION_NAME.fullmatch(revision) or ".." in revision or revision.endswith("/"):
            raise bad(f"{revision!r} is not a branch, tag or commit id")
    return ModelSpec(repo, file or None, revision or None)


def check_sha256(text: str) -> str:
    """A sha256 as given by the user: 64 hex digits (either case), returned in lowercase."""
    value = text.strip().lower()
    if not _SHA256.fullmatch(value):
        raise AnswerError(f"sha256 {text!r} is not 64 hex digits")
    return value


@dataclass(frozen=True)
class GgufModel:
    """One model of a repository: a GGUF file, or every part of a split one in order."""

    files: tuple[ModelFile, ...]
    quant: str | None  # "Q4_K_M", "UD-Q4_K_XL", "BF16" as the name writes it; None where the name shows none
    parts: int = 1  # the parts its name says it has (1: not split)
    missing: tuple[int, ...] = ()  # the part numbers the repository lacks

    @property
    def name(self) -> str:
        """Its first file's path: what llama-server is given."""
        return self.files[0].name

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def label(self) -> str:
        """The quantisation where the name shows one, else the file's path."""
        return self.quant or self.name

    @property
    def complete(self) -> bool:
        return not self.missing

    def describe(self) -> str:
        """``Q4_K_M (4.4 GiB)``, ``Q8_0 (75.3 GiB, 2 parts)``, ``Q8_0 (part 2 of 2 missing)``."""
        if self.missing:
            return f"{self.label} ({_parts_text(self.missing)} of {self.parts} missing)"
        return f"{self.label} ({size_text(self.size)}" + (f", {self.parts} parts)" if self.parts > 1 else ")")


@dataclass(frozen=True)
class ModelRepo:
    """A repository's GGUF models at one commit, smallest first."""

    repo: str
    revision: str  # the commit id
    models: tuple[GgufModel, ...]
    skipped: tuple[str, ...] = ()  # GGUF files that are no model to serve: "mmproj-F16.gguf (a vision projector)"
    parameters: int | None = None  # the parameter count the Hub reads from the GGUF; None: not known
    gated: bool = False  # downloading needs a token of an account that accepted the terms
    asked_revision: str | None = None  # the branch or tag the commit was resolved from

    def find(self, file: str) -> GgufModel:
        """The model ``file`` names: a path (any part of a split model names all of it) or a quantisation,
        case-insensitive."""
        if file.lower().endswith(".gguf"):
            for exact in (True, False):
                why = next((s for s in self.skipped if _names(s, file, exact)), None)
                if why is not None:
                    reason = why[len(file) + 2 : -1]
                    raise ModelLookupError(
                        f"{self._where()} has {file}, which is not served: {reason}; {self.available()}"
                    )
                found = [
                    m
                    for m in self.models
                    if any((f.name == file) if exact else (f.name.lower() == file.lower()) for f in m.files)
                ]
                if len(found) == 1:
                    return found[0]
            raise ModelLookupError(f"{self._where()} has no file {file}: {self.available()}")
        found = [m for m in self.models if m.quant and m.quant.lower() == file.lower()]
        if not found:
            raise ModelLookupError(f"{self._where()} has no quantisation {file}: {self.available()}")
        if len(found) > 1:
            names = ", ".join(m.name for m in found)
            raise ModelLookupError(
                f"{file} names {len(found)} models in {self._where()} ({names}): give the file's path"
            )
        return found[0]

    def available(self) -> str:
        """The choice, in a few words: ``choose one of Q2_K (3.0 GiB), Q4_K_M (4.4 GiB)``."""
        shown = ", ".join(m.describe() for m in self.models[:_LISTED])
        more = len(self.models) - _LISTED
        return "choose one of " + shown + (f" and {more} more" if more > 0 else "")

    def choice(self, model: GgufModel) -> ModelChoice:
        """``model`` pinned to this commit; a split model with a missing part is refused."""
        if model.missing:
            raise ModelLookupError(
                f"{model.name} in {self._where()} is split in {model.parts} parts and "
                f"{_parts_text(model.missing)} {'is' if len(model.missing) == 1 else 'are'} missing: it "
                f"cannot be served; {self.available()}"
            )
        return ModelChoice(self.repo, self.revision, model.files)

    def _where(self) -> str:
        return f"{self.repo}@{self.revision[:12]}"


def _names(skipped: str, file: str, exact: bool) -> bool:
    """Whether an entry of ``skipped`` (``name (why)``) is about ``file``."""
    name = skipped[: len(file) + 2]
    return name == f"{file} (" if exact else name.lower() == f"{file.lower()} ("


def _parts_text(missing: tuple[int, ...]) -> str:
    """``part 2``, ``parts 2, 3``, or for many ``99998 parts (2, 3, 4, 5, …)``."""
    if len(missing) == 1:
        return f"part {missing[0]}"
    if len(missing) <= 4:
        return "parts " + ", ".join(str(p) for p in missing)
    return f"{len(missing)} parts (" + ", ".join(str(p) for p in missing[:4]) + ", …)"


def size_text(size: int) -> str:
    """Bytes as ``4.4 GiB`` (``size unknown`` for 0, as a model pinned without a look-up has)."""
    if size <= 0:
        return "size unknown"
    return f"{size / GIB:.1f} GiB" if size >= GIB else f"{max(1, round(size / MIB))} MiB"


def quant_of(path: str) -> str | None:
    """The quantisation a GGUF file's name ends with (``…-Q4_K_M.gguf`` → ``Q4_K_M``), the part numbers of a
    split file left out; None where the name shows none."""
    base = path.rsplit("/", 1)[-1]
    split = _SPLIT.fullmatch(base)
    stem = split.group("stem") if split else base[: -len(".gguf")] if base.lower().endswith(".gguf") else base
    match = _QUANT_IN_NAME.search(stem)
    return match.group("quant") if match else None


def _not_a_model(path: str) -> str | None:
    """Why a GGUF file is no model to serve on its own, or None."""
    base = path.rsplit("/", 1)[-1].lower()
    if "mmproj" in base:
        return "a vision projector"
    if "imatrix" in base:
        return "an importance matrix"
    return None


def _model_file(path: str, sha256: object, size: object) -> ModelFile | str:
    """A GGUF file of the Hub's listing as a model's file, or why it is none."""
    why = _not_a_model(path) or model_file_problem(path)
    if why is not None:
        return why
    if not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
        return "not stored with Git LFS, so no sha256 to pin"
    if is_byte_count(size):
        return ModelFile(path, sha256, size)
    return f"its size, {printable(repr(size), newlines=False)[:40]}, is not a number of bytes"


def group_models(repo: str, revision: str, files: Sequence[tuple[object, object, object]]) -> ModelRepo:
    """The models among a repository's files, given as the Hub lists them, ``(path, LFS sha256 or None, size)``:
    split files (``name-00001-of-00003.gguf``) are one model; projectors, importance matrices and files without
    an LFS hash are left out, each named in ``skipped``."""
    singles: list[GgufModel] = []
    splits: dict[tuple[str, int], dict[int, ModelFile]] = {}
    skipped: list[str] = []
    listed: dict[str, set[tuple[str, str]]] = {}  # each path: the (sha256, size) it is listed with
    for path, sha256, size in files:
        if isinstance(path, str):
            listed.setdefault(path, set()).add((repr(sha256), repr(size)))
    seen: set[str] = set()
    for path, sha256, size in files:
        if not isinstance(path, str) or not path.lower().endswith(".gguf") or path in seen:
            continue
        seen.add(path)
        times = len(listed[path])
        file = (
            _model_file(path, sha256, size)
            if times == 1
            else f"the Hub lists it {'twice' if times == 2 else f'{times} times'}, with different hashes or sizes"
        )
        if isinstance(file, str):
            skipped.append(f"{printable(path, newlines=False)} ({file})")
            continue
        split = _SPLIT.fullmatch(path.rsplit("/", 1)[-1])
        if split and int(split.group("parts")) > 1:
            folder = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
            key = (folder + split.group("stem"), int(split.group("parts")))
            splits.setdefault(key, {})[int(split.group("part"))] = file
        else:
            singles.append(GgufModel((file,), quant_of(path)))
    models = list(singles)
    for (_stem, parts), found in splits.items():
        missing = tuple(p for p in range(1, parts + 1) if p not in found)
        ordered = tuple(found[p] for p in sorted(found) if 1 <= p <= parts)
        if not ordered:
            continue
        models.append(GgufModel(ordered, quant_of(ordered[0].name), parts, missing))
    models.sort(key=lambda m: (not m.complete, m.size, m.name))
    return ModelRepo(repo, revision, tuple(models), tuple(skipped))


def hub_endpoint() -> str:
    """The Hub the look-up asks: ``HF_ENDPOINT``, else huggingface.co."""
    endpoint = (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", endpoint, re.ASCII):
        raise ModelLookupError(f"HF_ENDPOINT {endpoint!r} is not an http(s) URL")
    return endpoint


def lookup_repo(repo: str, revision: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> ModelRepo:
    """The GGUF models of ``repo`` at ``revision`` (default: the main branch), resolved to its commit, each
    file's LFS sha256 and size read; one request to the Hub."""
    try:
        import httpx2
        from huggingface_hub import HfApi
        from huggingface_hub.errors import (
            DisabledRepoError,
            GatedRepoError,
            HfHubHTTPError,
            HFValidationError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
    except ImportError as exc:
        raise ModelLookupError(
            f"models cannot be looked up: huggingface_hub is not installed ({exc}); {_offline_hint()}"
        ) from None

    from huggingface_hub import constants

    # One question to the Hub and no other: no telemetry, which would ask it for a list of agent programs first.
    constants.HF_HUB_DISABLE_TELEMETRY = True
    endpoint = hub_endpoint()
    at = f" at {revision}" if revision else ""
    token_hint = "set HF_TOKEN to a token of an account that has access"
    try:
        info = HfApi(endpoint=endpoint).model_info(repo, revision=revision, files_metadata=True, timeout=timeout)
    except GatedRepoError:
        raise ModelLookupError(f"{repo} is gated: accept its terms on the Hub, then {token_hint}") from None
    except RevisionNotFoundError:
        raise ModelLookupError(f"{repo} has no revision {revision!r} (a branch, tag or commit id)") from None
    except RepositoryNotFoundError:
        raise ModelLookupError(f"no model repository {repo} on {endpoint} (if it is private, {token_hint})") from None
    except DisabledRepoError:
        raise ModelLookupError(f"{repo} is disabled on {endpoint}") from None
    except OfflineModeIsEnabled:
        raise ModelLookupError(f"HF_HUB_OFFLINE is set, so {repo} cannot be looked up: {_offline_hint()}") from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            raise ModelLookupError(f"{endpoint} refused the token (401) for {repo}: check HF_TOKEN") from None
        if status == 403:
            raise ModelLookupError(f"{endpoint} denied access (403) to {repo}{at}: {token_hint}") from None
        raise ModelLookupError(f"{endpoint} answered {status or 'an error'} for {repo}{at}") from None
    except httpx2.TimeoutException:
        raise ModelLookupError(
            f"{endpoint} did not answer within {timeout:g} seconds (offline?): {_offline_hint()}"
        ) from None
    except (httpx2.HTTPError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLookupError(f"cannot reach {endpoint} ({reason}): {_offline_hint()}") from None
    except (HFValidationError, ValueError) as exc:
        said = printable(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, newlines=False)
        raise ModelLookupError(f"{repo}{at}: the Hub's answer cannot be used ({said[:200]})") from None
    except (TypeError, KeyError, AttributeError):  # JSON that is not the model-info object huggingface_hub reads
        raise ModelLookupError(f"{repo}{at}: the Hub's answer cannot be used (not a model's information)") from None
    commit = getattr(info, "sha", None)
    if not isinstance(commit, str) or not _HF_REVISION.fullmatch(commit):
        raise ModelLookupError(f"{endpoint} gave no commit id for {repo}{at}")
    files: list[tuple[object, object, object]] = []
    siblings = info.siblings if isinstance(info.siblings, list) else []
    for sibling in siblings:
        lfs = getattr(sibling, "lfs", None)
        size = getattr(sibling, "size", None)
        if size is None:
            size = getattr(lfs, "size", None) if lfs is not None else 0
        files.append((getattr(sibling, "rfilename", None), getattr(lfs, "sha256", None), size))
    found = group_models(repo, commit, files)
    if not found.models:
        others = (
            f" ({', '.join(found.skipped[:_LISTED])}{' …' if len(found.skipped) > _LISTED else ''})"
            if found.skipped
            else ""
        )
        raise ModelLookupError(f"{repo}@{commit[:12]} has no GGUF model to serve{others}")
    gguf = getattr(info, "gguf", None)
    total = gguf.get("total") if isinstance(gguf, dict) else None
    return ModelRepo(
        repo,
        commit,
        found.models,
        found.skipped,
        parameters=total if isinstance(total, int) and not isinstance(total, bool) and total > 0 else None,
        gated=bool(getattr(info, "gated", False)),
        asked_revision=revision if revision != commit else None,
    )


def _offline_hint() -> str:
    return "to pin a model without the network, give REPO:FILE.gguf@COMMIT and its sha256"


def pin_offline(spec: ModelSpec, sha256: str) -> ModelChoice:
    """The model pinned as given, nothing looked up: one file, its commit and sha256; its size is not known
    (0). A split model is refused: one hash cannot pin its parts."""
    if spec.file is None or not spec.file_is_path or spec.revision is None or not _HF_REVISION.fullmatch(spec.revision):
        raise ModelLookupError(
            f"{spec}: to pin a model without looking it up, give the file's path, the commit id (40 hex digits) "
            "and its sha256, as REPO:FILE.gguf@COMMIT"
        )
    split = _SPLIT.fullmatch(spec.file.rsplit("/", 1)[-1])
    if split and int(split.group("parts")) > 1:
        raise ModelLookupError(
            f"{spec.file} is part of a model split in {int(split.group('parts'))} files: one sha256 cannot pin "
            "them all; leave the sha256 out to have every part looked up"
        )
    return ModelChoice(spec.repo, spec.revision, (ModelFile(spec.file, check_sha256(sha256), 0),))


@dataclass(frozen=True)
class Memory:
    """The memory a model is loaded into: a GPU's, or the RAM."""

    mib: int
    where: str  # "the NVIDIA GeForce RTX 4070's 12.0 GiB", "the 15.4 GiB of RAM"
    gpu: bool

    @property
    def usable(self) -> int:
        """Bytes left for the model and its KV cache: a GPU keeps 10% (at least 512 MiB) for compute buffers
        and the driver; the RAM 20% (at least 2 GiB) for the system and its other programs."""
        total = self.mib * MIB
        reserve = max(512 * MIB, total // 10) if self.gpu else max(2 * GIB, total // 5)
        return max(0, total - reserve)


_BACKEND_VENDORS = {"cuda": ("nvidia",), "rocm": ("amd",)}


def memory_for(report: HardwareReport | None, variant: str) -> Memory | None:
    """Where a ``variant`` build loads its model on the machine of ``report``: for cuda and rocm the largest
    memory of the backend's discrete GPUs, for vulkan of any discrete GPU; an integrated GPU (and cpu) uses
    the RAM. None where that memory is not known."""
    if report is None:
        return None
    if variant in ("cuda", "rocm", "vulkan"):
        vendors = _BACKEND_VENDORS.get(variant)
        gpus = [g for g in report.gpus if vendors is None or g.vendor in vendors]
        discrete = [(g.memory_mib, g) for g in gpus if g.memory_mib and g.integrated is not True]
        if discrete:
            mib, gpu = max(discrete, key=lambda known: known[0])
            return Memory(mib, f"the {gpu.display_name}'s {mib / 1024:.1f} GiB", True)
        integrated = [g for g in gpus if g.integrated]
        if integrated and report.memory_mib:
            name = integrated[0].display_name
            return Memory(report.memory_mib, f"the {report.memory_mib / 1024:.1f} GiB of RAM the {name} shares", False)
        return None
    if report.memory_mib:
        return Memory(report.memory_mib, f"the {report.memory_mib / 1024:.1f} GiB of RAM", False)
    return None


def parameters_of(model: GgufModel, repo: ModelRepo) -> int:
    """The model's parameter count: the Hub's, else estimated from the file's size and its quantisation."""
    if repo.parameters:
        return repo.parameters
    quant = (model.quant or "").upper().removeprefix("UD-")
    if quant in ("F16", "BF16", "FP16"):
        bits = 16.0
    elif quant in ("F32", "FP32"):
        bits = 32.0
    elif quant.startswith("MXFP4"):
        bits = 4.25
    else:
        digit = re.search(r"[0-9]", quant)
        bits = _BITS_PER_WEIGHT.get(digit.group(0) if digit else "4", 4.7)
    return int(model.size * 8 / bits)


def kv_cache_bytes(parameters: int, context: int) -> int:
    """An estimate of the KV cache of ``context`` tokens, by the model's size class (see _KV_BYTES_PER_TOKEN)."""
    per_token = next(cost for limit, cost in _KV_BYTES_PER_TOKEN if parameters <= limit)
    return per_token * context


def memory_needed(model: GgufModel, repo: ModelRepo, context: int) -> int:
    """Bytes ``model`` needs loaded with a ``context``-token KV cache (the weights, all offloaded)."""
    return model.size + kv_cache_bytes(parameters_of(model, repo), context)


def choice_needs(choice: ModelChoice, context: int, parameters: int | None = None) -> int | None:
    """Bytes a pinned model needs loaded with a ``context``-token KV cache (as :func:`memory_needed`), its
    parameter count estimated from its size where not given; None where its size is not known (pinned offline)."""
    model = GgufModel(choice.files, quant_of(choice.name), len(choice.files))
    if model.size <= 0:
        return None
    return memory_needed(model, ModelRepo(choice.repo, choice.revision, (model,), parameters=parameters), context)


@dataclass(frozen=True)
class Suggestion:
    model: GgufModel
    fits: bool
    reason: str  # one line: why this one


def suggest(repo: ModelRepo, memory: Memory, context: int = DEFAULT_CONTEXT) -> Suggestion:
    """The largest complete model that leaves room for a ``context``-token KV cache in ``memory``; where none
    does, the smallest, saying so."""
    models = [m for m in repo.models if m.complete]
    if not models:
        raise ModelLookupError(f"{repo.repo}@{repo.revision[:12]} has no complete GGUF model: {repo.available()}")
    fitting = [m for m in models if memory_needed(m, repo, context) <= memory.usable]
    if fitting:
        best = max(fitting, key=lambda m: (m.size, m.name))
        return Suggestion(
            best,
            True,
            f"{best.label}, {size_text(best.size)}: the largest that leaves room for {context} tokens of context "
            f"in {memory.where}",
        )
    smallest = min(models, key=lambda m: (m.size, m.name))
    return Suggestion(
        smallest,
        False,
        f"none fits: the smallest, {smallest.label} ({size_text(smallest.size)}), needs about "
        f"{size_text(memory_needed(smallest, repo, context))} with {context} tokens of context, more than "
        f"{memory.where} leaves ({size_text(memory.usable)})",
    )


@dataclass(frozen=True)
class ResolvedModel:
    """A model pinned for a machine, and why that file."""

    choice: ModelChoice
    reason: str  # one line
    looked_up: bool  # False: pinned as given, offline
    notes: tuple[str, ...] = ()


def resolve_model(
    spec: ModelSpec,
    *,
    sha256: str | None = None,
    memory: Memory | None = None,
    context: int = DEFAULT_CONTEXT,
    timeout: float = DEFAULT_TIMEOUT,
) -> ResolvedModel:
    """Pin ``spec``: offline where its file, its commit and ``sha256`` are all given; else looked up, the file
    being the one named, or the suggestion for ``memory``, or the repository's only model. A ``sha256`` given
    with a look-up must match the repository's."""
    if sha256 is not None:
        sha256 = check_sha256(sha256)
        if spec.file_is_path and spec.revision is not None and _HF_REVISION.fullmatch(spec.revision):
            choice = pin_offline(spec, sha256)
            return ResolvedModel(choice, f"{choice.name}, size unknown: pinned as given, not looked up", False)
    repo = lookup_repo(spec.repo, spec.revision, timeout=timeout)
    notes = []
    if repo.asked_revision:
        notes.append(f"{repo.asked_revision} of {repo.repo} is commit {repo.revision}")
    if repo.gated:
        notes.append(f"{repo.repo} is gated: downloading it needs a token of an account that accepted its terms")
    if spec.file:
        model = repo.find(spec.file)
        reason = f"{model.label}, {size_text(model.size)}: as asked"
        if memory is not None and model.complete and memory_needed(model, repo, context) > memory.usable:
            notes.append(
                f"{model.label} needs about {size_text(memory_needed(model, repo, context))} with {context} tokens of "
                f"context, more than {memory.where} leaves ({size_text(memory.usable)})"
            )
    elif memory is not None:
        suggestion = suggest(repo, memory, context)
        model, reason = suggestion.model, suggestion.reason
    else:
        complete = [m for m in repo.models if m.complete]
        if len(complete) != 1:
            raise ModelLookupError(
                f"which file of {repo.repo}? {repo.available()} (as {repo.repo}:QUANT), or give the machine's "
                "hardware for a suggestion"
            )
        model = complete[0]
        reason = f"{model.label}, {size_text(model.size)}: the repository's only model"
    choice = repo.choice(model)
    if sha256 is not None:
        if len(choice.files) != 1:
            raise ModelLookupError(
                f"{model.name} is split in {len(choice.files)} files: one sha256 cannot pin them; leave it out"
            )
        if choice.files[0].sha256 != sha256:
            raise ModelLookupError(
                f"the sha256 given for {model.name} is not the repository's ({choice.files[0].sha256}) at "
                f"{repo.revision[:12]}"
            )
    return ResolvedModel(choice, reason, True, tuple(notes))

"""Models on Hugging Face: the spec, the look-up against a fake Hub on 127.0.0.1, split models, the errors in
one line, offline pinning, and the file that fits a machine."""

from __future__ import annotations

import time

import pytest
from hub_fake import QWEN_7B, SPLIT_REPO, TINY_REPO, closed_endpoint, commit_of, hub, sha256_of, silent_endpoint  # noqa: F401

from tui.core.answers import ModelChoice, ModelFile, ServeChoice
from tui.core.errors import AnswerError
from tui.core.hardware.model import GpuInfo, HardwareReport
from tui.core.models import (
    Memory,
    ModelLookupError,
    ModelSpec,
    lookup_repo,
    memory_for,
    parse_model_spec,
    pin_offline,
    quant_of,
    resolve_model,
    suggest,
)

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SHA = "a" * 64


# The spec


@pytest.mark.parametrize(
    "text, spec",
    [
        (QWEN_7B, ModelSpec(QWEN_7B)),
        (f"{QWEN_7B}:Q4_K_M", ModelSpec(QWEN_7B, "Q4_K_M")),
        (f"{QWEN_7B}:q4_k_m@v1", ModelSpec(QWEN_7B, "q4_k_m", "v1")),
        (
            f" {SPLIT_REPO}:Q8_0/x-00001-of-00002.gguf@{COMMIT} ",
            ModelSpec(SPLIT_REPO, "Q8_0/x-00001-of-00002.gguf", COMMIT),
        ),
        (f"{QWEN_7B}@refs/pr/3", ModelSpec(QWEN_7B, None, "refs/pr/3")),
    ],
)
def test_specs_are_read(text, spec):
    assert parse_model_spec(text) == spec
    assert str(spec) == text.strip()


@pytest.mark.parametrize(
    "text, words",
    [
        ("", "no repository"),
        ("just-a-name", "not a Hugging Face repository name"),
        ('owner/na"me', "not a Hugging Face repository name"),
        ("owner/${pkgs.evil}", "not a Hugging Face repository name"),
        ("owner/../etc", "not a Hugging Face repository name"),
        ("owner/my model", "not a Hugging Face repository name"),
        ("owner/name:", "nothing after ':'"),
        ("owner/name:../../etc/passwd.gguf", "not a .gguf path"),
        ("owner/name:a/../b.gguf", "not a .gguf path"),
        ('owner/name:x".gguf', "not a .gguf path"),
        ("owner/name:${x}.gguf", "not a .gguf path"),
        ("owner/name:Q4 K M", "neither a .gguf file nor a quantisation"),
        ("owner/name:Q4..K", "neither a .gguf file nor a quantisation"),
        ("owner/name@", "nothing after '@'"),
        ("owner/name@@main", "'@' is given twice"),
        ("owner/name:x@main@v1", "'@' is given twice"),
        ("owner/name:x-Q4_K_M.GGUF", "its extension is .GGUF: the module takes the lower-case .gguf only"),
        ("owner/name@main; rm -rf ~", "not a branch, tag or commit id"),
        ("owner/name@../main", "not a branch, tag or commit id"),
        ("owner/name@${rev}", "not a branch, tag or commit id"),
    ],
)
def test_hostile_specs_are_refused_with_the_text_quoted(text, words):
    with pytest.raises(AnswerError) as caught:
        parse_model_spec(text)
    message = str(caught.value)
    assert words in message and repr(text) in message and "\n" not in message


@pytest.mark.parametrize(
    "name, quant",
    [
        ("Qwen2.5-7B-Instruct-Q4_K_M.gguf", "Q4_K_M"),
        ("qwen2.5-0.5b-instruct-q4_k_m.gguf", "q4_k_m"),
        ("Qwen3-30B-A3B-UD-Q4_K_XL.gguf", "UD-Q4_K_XL"),
        ("Q8_0/Big-Q8_0-00001-of-00002.gguf", "Q8_0"),
        ("llama-2-7b.Q5_K_S.gguf", "Q5_K_S"),
        ("Llama-3.2-1B-Instruct-IQ4_XS.gguf", "IQ4_XS"),
        ("gemma-3-4b-it-BF16.gguf", "BF16"),
        ("Meta-Llama-3-8B-Instruct-Q4_0_4_4.gguf", "Q4_0_4_4"),
        ("model.gguf", None),
    ],
)
def test_the_quantisation_is_read_from_the_name(name, quant):
    assert quant_of(name) == quant


# The look-up


def test_a_quantisation_name_is_looked_up_and_pinned_to_the_commit(hub):
    resolved = resolve_model(parse_model_spec(f"{QWEN_7B}:q4_k_m"))
    choice = resolved.choice
    main = hub.repos[QWEN_7B].refs["main"]
    assert choice.repo == QWEN_7B and choice.revision == main
    [file] = choice.files
    assert file == ModelFile(
        "Qwen2.5-7B-Instruct-Q4_K_M.gguf", hub.repos[QWEN_7B].sha256(file.name, main), 4_683_073_952
    )
    assert resolved.looked_up and resolved.reason == "Q4_K_M, 4.4 GiB: as asked"
    # one question to the Hub, with the files' metadata; nothing else (no telemetry)
    assert [r["path"] for r in hub.requests] == [f"/api/models/{QWEN_7B}"]
    assert hub.requests[0]["query"]["blobs"] in (["true"], ["True"])
    ServeChoice(choice).validate("alpha")


def test_a_file_at_a_tag_is_resolved_to_the_tags_commit(hub):
    resolved = resolve_model(parse_model_spec(f"{QWEN_7B}:Qwen2.5-7B-Instruct-Q4_K_M.gguf@v1"))
    old = commit_of(QWEN_7B + "@v1")
    assert resolved.choice.revision == old and resolved.choice.files[0].size == 4_683_073_900
    assert resolved.notes == (f"v1 of {QWEN_7B} is commit {old}",)
    assert hub.requests[-1]["path"] == f"/api/models/{QWEN_7B}/revision/v1"


def test_the_repository_listing_groups_and_skips(hub):
    repo = lookup_repo(SPLIT_REPO)
    assert [m.describe() for m in repo.models] == [
        "UD-Q2_K_XL (27.8 GiB)",
        "Q8_0 (72.0 GiB, 2 parts)",
        "BF16 (part 2 of 3 missing)",
    ]
    assert repo.skipped == ("mmproj-F16.gguf (a vision projector)", "mmproj-BF16.gguf (a vision projector)")
    qwen = lookup_repo(QWEN_7B)
    assert [m.label for m in qwen.models] == ["Q2_K", "Q3_K_M", "IQ4_XS", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"]
    assert qwen.parameters == 7_615_616_512  # the Hub's gguf.total


def test_a_split_model_is_every_part_in_order(hub):
    choice = resolve_model(parse_model_spec(f"{SPLIT_REPO}:Q8_0")).choice
    assert [f.name for f in choice.files] == [
        "Q8_0/Qwen2.5-VL-72B-Instruct-Q8_0-00001-of-00002.gguf",
        "Q8_0/Qwen2.5-VL-72B-Instruct-Q8_0-00002-of-00002.gguf",
    ]
    assert choice.name == choice.files[0].name and choice.size == 49_900_000_000 + 27_400_000_000
    assert len({f.sha256 for f in choice.files}) == 2
    # naming the second part names the whole model
    again = resolve_model(parse_model_spec(f"{SPLIT_REPO}:Q8_0/Qwen2.5-VL-72B-Instruct-Q8_0-00002-of-00002.gguf"))
    assert again.choice == choice


def test_a_split_model_with_a_missing_part_is_refused(hub):
    with pytest.raises(ModelLookupError) as caught:
        resolve_model(parse_model_spec(f"{SPLIT_REPO}:bf16"))
    message = str(caught.value)
    assert "split in 3 parts and part 2 is missing" in message and "choose one of UD-Q2_K_XL (27.8 GiB)" in message


def test_a_repository_with_one_model_needs_no_file(hub):
    resolved = resolve_model(parse_model_spec(TINY_REPO))
    assert resolved.choice.name == "tiny-model-q8_0.gguf"
    assert resolved.reason == "q8_0, 114 MiB: the repository's only model"


def one_line_error(spec: str, **kwargs) -> str:
    with pytest.raises(ModelLookupError) as caught:
        resolve_model(parse_model_spec(spec), **kwargs)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def test_no_such_quantisation_or_file_lists_the_available_ones(hub):
    message = one_line_error(f"{QWEN_7B}:Q4_K_S")
    assert message.startswith(f"{QWEN_7B}@{hub.repos[QWEN_7B].refs['main'][:12]} has no quantisation Q4_K_S: ")
    assert "choose one of Q2_K (2.8 GiB), Q3_K_M (3.5 GiB), IQ4_XS (3.9 GiB), Q4_K_M (4.4 GiB)" in message
    assert "has no file nope.gguf: choose one of" in one_line_error(f"{QWEN_7B}:nope.gguf")


def test_several_models_and_no_hardware_asks_which(hub):
    message = one_line_error(QWEN_7B)
    assert message.startswith(f"which file of {QWEN_7B}? choose one of Q2_K (2.8 GiB)")
    assert "for a suggestion" in message


def test_missing_repository_revision_and_ggufs(hub):
    assert "no model repository acme/nope on http://127.0.0.1:" in one_line_error("acme/nope")
    assert "if it is private, set HF_TOKEN" in one_line_error("acme/nope")
    assert f"{QWEN_7B} has no revision 'v9' (a branch, tag or commit id)" == one_line_error(f"{QWEN_7B}:Q4_K_M@v9")
    message = one_line_error("acme/no-gguf")
    assert "has no GGUF model to serve (mmproj-f16.gguf (a vision projector))" in message


def test_gated_and_private_repositories_name_hf_token(hub, monkeypatch):
    message = one_line_error("acme/refused-GGUF:Q4_K_M")
    assert message == (
        "acme/refused-GGUF is gated: accept its terms on the Hub, then set HF_TOKEN to a token of an account "
        "that has access"
    )
    # a private repository is "not found" without its token, and found with it
    assert "if it is private, set HF_TOKEN" in one_line_error("acme/private-GGUF:Q4_K_M")
    monkeypatch.setenv("HF_TOKEN", "hf_acme_secret")
    assert resolve_model(parse_model_spec("acme/private-GGUF:Q4_K_M")).choice.name == "private-Q4_K_M.gguf"
    assert hub.requests[-1]["authorization"] == "Bearer hf_acme_secret"
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    assert "refused the token (401) for acme/private-GGUF: check HF_TOKEN" in one_line_error("acme/private-GGUF")


def test_a_gated_repository_that_shows_its_files_is_pinned_with_a_note(hub):
    resolved = resolve_model(parse_model_spec("meta-llama/Llama-3.1-8B-Instruct-GGUF:Q4_K_M"))
    assert resolved.notes == (
        "meta-llama/Llama-3.1-8B-Instruct-GGUF is gated: downloading it needs a token of an account that "
        "accepted its terms",
    )


def test_an_unreachable_hub_says_so_in_one_line(closed_endpoint):
    message = one_line_error(f"{QWEN_7B}:Q4_K_M")
    assert message.startswith(f"cannot reach http://127.0.0.1:{closed_endpoint} (")
    assert message.endswith("to pin a model without the network, give REPO:FILE.gguf@COMMIT and its sha256")


def test_a_hub_that_never_answers_times_out(silent_endpoint):
    started = time.monotonic()
    message = one_line_error(f"{QWEN_7B}:Q4_K_M", timeout=0.5)
    assert "did not answer within 0.5 seconds (offline?)" in message
    assert time.monotonic() - started < 5


def test_a_malformed_endpoint_is_refused(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "ftp://example.org")
    assert "HF_ENDPOINT 'ftp://example.org' is not an http(s) URL" in one_line_error(f"{QWEN_7B}:Q4_K_M")


def test_a_sha256_given_with_a_look_up_must_match(hub):
    main = hub.repos[QWEN_7B].refs["main"]
    right = hub.repos[QWEN_7B].sha256("Qwen2.5-7B-Instruct-Q4_K_M.gguf", main)
    assert resolve_model(parse_model_spec(f"{QWEN_7B}:Q4_K_M"), sha256=right.upper()).choice.files[0].sha256 == right
    message = one_line_error(f"{QWEN_7B}:Q4_K_M", sha256=sha256_of("something else"))
    assert "the sha256 given for Qwen2.5-7B-Instruct-Q4_K_M.gguf is not the repository's" in message
    assert "one sha256 cannot pin them" in one_line_error(f"{SPLIT_REPO}:Q8_0", sha256=SHA)


# Offline pinning: no server at all


def test_offline_pinning_asks_nothing(closed_endpoint):
    resolved = resolve_model(parse_model_spec(f"{QWEN_7B}:Qwen2.5-7B-Instruct-Q4_K_M.gguf@{COMMIT}"), sha256=SHA)
    assert not resolved.looked_up
    assert resolved.choice == ModelChoice(QWEN_7B, COMMIT, (ModelFile("Qwen2.5-7B-Instruct-Q4_K_M.gguf", SHA, 0),))
    assert resolved.reason == "Qwen2.5-7B-Instruct-Q4_K_M.gguf, size unknown: pinned as given, not looked up"


def test_offline_pinning_needs_the_path_and_the_commit_and_refuses_a_split():
    with pytest.raises(ModelLookupError, match="give the file's path, the commit id"):
        pin_offline(parse_model_spec(f"{QWEN_7B}:Q4_K_M@{COMMIT}"), SHA)
    with pytest.raises(ModelLookupError, match="split in 2 files: one sha256 cannot pin them all"):
        pin_offline(parse_model_spec(f"{SPLIT_REPO}:Q8_0/x-00001-of-00002.gguf@{COMMIT}"), SHA)
    with pytest.raises(AnswerError, match="is not 64 hex digits"):
        pin_offline(parse_model_spec(f"{QWEN_7B}:x.gguf@{COMMIT}"), "abc")


# What fits


RTX_4070 = GpuInfo(vendor="nvidia", name="NVIDIA GeForce RTX 4070", memory_mib=12282, integrated=False)
RTX_3050 = GpuInfo(vendor="nvidia", name="NVIDIA GeForce RTX 3050", memory_mib=8192, integrated=False)
RADEON_780M = GpuInfo(vendor="amd", name="AMD Radeon 780M (Phoenix)", memory_mib=512, integrated=True)


def test_the_largest_that_fits_a_gpu_is_suggested_and_why(hub):
    report = HardwareReport(source="detected", gpus=[RTX_4070], memory_mib=32768)
    resolved = resolve_model(parse_model_spec(QWEN_7B), memory=memory_for(report, "cuda"))
    assert resolved.choice.name == "Qwen2.5-7B-Instruct-Q8_0.gguf"
    assert resolved.reason == (
        "Q8_0, 7.5 GiB: the largest that leaves room for 4096 tokens of context in the NVIDIA GeForce RTX 4070's 12.0 GiB"
    )
    # 8 GiB: Q8_0 (7.5 GiB and 0.5 GiB of KV cache) no longer leaves the GPU its 10%
    small = resolve_model(
        parse_model_spec(QWEN_7B), memory=memory_for(HardwareReport("detected", gpus=[RTX_3050]), "cuda")
    )
    assert small.choice.name == "Qwen2.5-7B-Instruct-Q6_K.gguf"
    # a longer context takes its room from the model
    long = resolve_model(
        parse_model_spec(QWEN_7B), memory=memory_for(HardwareReport("detected", gpus=[RTX_3050]), "cuda"), context=32768
    )
    assert long.choice.name == "Qwen2.5-7B-Instruct-Q2_K.gguf" and "32768 tokens of context" in long.reason


def test_the_ram_decides_for_a_cpu_build_and_an_integrated_gpu(hub):
    laptop = HardwareReport(source="detected", gpus=[RADEON_780M], memory_mib=15736)
    assert memory_for(laptop, "cpu") == Memory(15736, "the 15.4 GiB of RAM", False)
    shared = memory_for(laptop, "vulkan")
    assert shared.where == "the 15.4 GiB of RAM the AMD Radeon 780M (Phoenix) shares"
    resolved = resolve_model(parse_model_spec(QWEN_7B), memory=memory_for(laptop, "cpu"))
    assert resolved.choice.name == "Qwen2.5-7B-Instruct-Q8_0.gguf"
    assert resolved.reason.endswith("in the 15.4 GiB of RAM")
    # an NVIDIA GPU is not where a ROCm build loads its model, and unknown memory suggests nothing
    assert memory_for(HardwareReport("detected", gpus=[RTX_4070]), "rocm") is None
    assert memory_for(None, "cpu") is None


def test_nothing_fits_says_so_and_suggests_the_smallest(hub):
    pi = HardwareReport(source="detected", memory_mib=3794)  # a Raspberry Pi 4 with 4 GB
    repo = lookup_repo(QWEN_7B)
    suggestion = suggest(repo, memory_for(pi, "cpu"))
    assert not suggestion.fits and suggestion.model.label == "Q2_K"
    assert suggestion.reason == (
        "none fits: the smallest, Q2_K (2.8 GiB), needs about 3.3 GiB with 4096 tokens of context, more than "
        "the 3.7 GiB of RAM leaves (1.7 GiB)"
    )


def test_a_file_asked_for_that_does_not_fit_is_kept_with_a_note(hub):
    memory = memory_for(HardwareReport("detected", gpus=[RTX_3050]), "cuda")
    resolved = resolve_model(parse_model_spec(f"{QWEN_7B}:Q8_0"), memory=memory)
    assert resolved.choice.name == "Qwen2.5-7B-Instruct-Q8_0.gguf"
    assert resolved.notes[-1].startswith("Q8_0 needs about 8.0 GiB with 4096 tokens of context, more than")


def test_the_kv_cache_estimate_without_the_hubs_parameter_count(hub):
    """Without gguf.total the parameters come from the size and the quantisation: 120 MB at 8.5 bits is a
    small model, whose cache is small."""
    from tui.core.models import kv_cache_bytes, parameters_of

    repo = lookup_repo(TINY_REPO)
    assert repo.parameters is None
    assert parameters_of(repo.models[0], repo) == int(120_000_000 * 8 / 8.5)
    assert kv_cache_bytes(parameters_of(repo.models[0], repo), 4096) == 32 * 1024 * 4096
    assert kv_cache_bytes(70_000_000_000, 4096) == 320 * 1024 * 4096


# A hostile or broken Hub: every answer is data, refused in one line or skipped file by file


def _sibling(name: str, sha256: object = SHA, size: object = 1000) -> dict:
    return {"rfilename": name, "size": size, "lfs": {"sha256": sha256, "size": 1000, "pointerSize": 135}}


@pytest.mark.parametrize(
    "body",
    [
        [1, 2, 3],
        "a string",
        None,
        {"id": "acme/x", "sha": COMMIT, "siblings": "not a list"},
        {"id": "acme/x", "sha": COMMIT, "siblings": [1, None]},
        {"id": "acme/x", "sha": COMMIT, "siblings": [{"size": 3}]},
        {"id": "acme/x", "sha": COMMIT, "siblings": [{"rfilename": "x-Q4_K_M.gguf", "lfs": "x"}]},
        {"id": "acme/x", "sha": COMMIT, "siblings": [{"rfilename": "x-Q4_K_M.gguf", "lfs": {"size": 3}}]},
        {"sha": COMMIT, "siblings": []},
    ],
    ids=[
        "list",
        "string",
        "null",
        "siblings-string",
        "siblings-ints",
        "no-rfilename",
        "lfs-string",
        "lfs-no-sha",
        "no-id",
    ],
)
def test_an_answer_of_the_wrong_shape_is_one_line(hub, body):
    hub.bodies["acme/x"] = body
    with pytest.raises(ModelLookupError) as caught:
        lookup_repo("acme/x")
    assert "acme/x" in caught.value.message and "\n" not in caught.value.message


@pytest.mark.parametrize(
    "sha256, size, why",
    [
        (5, 1000, "no sha256 to pin"),
        ("A" * 64, 1000, "no sha256 to pin"),
        (SHA, "12", "not a number of bytes"),
        (SHA, 1.5, "not a number of bytes"),
        (SHA, True, "not a number of bytes"),
        (SHA, -5, "not a number of bytes"),
        (SHA, 10**30, "not a number of bytes"),
    ],
)
def test_a_file_whose_hash_or_size_cannot_be_written_is_skipped(hub, sha256, size, why):
    hub.bodies["acme/x"] = {
        "id": "acme/x",
        "sha": COMMIT,
        "siblings": [_sibling("bad-Q8_0.gguf", sha256, size), _sibling("good-Q4_K_M.gguf")],
    }
    repo = lookup_repo("acme/x")
    assert [m.name for m in repo.models] == ["good-Q4_K_M.gguf"]
    assert len(repo.skipped) == 1 and repo.skipped[0].startswith("bad-Q8_0.gguf (") and why in repo.skipped[0]


def test_a_name_too_long_for_the_nix_store_is_skipped_and_refused(hub):
    long = "a" * 200 + "-Q4_K_M.gguf"  # 212 characters: Nix's store names stop at 211
    hub.bodies["acme/x"] = {"id": "acme/x", "sha": COMMIT, "siblings": [_sibling(long), _sibling("ok-Q4_K_M.gguf")]}
    repo = lookup_repo("acme/x")
    assert [m.name for m in repo.models] == ["ok-Q4_K_M.gguf"]
    assert repo.skipped == (f"{long} (a name longer than the 211 characters of a Nix store name)",)
    with pytest.raises(AnswerError, match="longer than the 211 characters"):
        parse_model_spec(f"acme/x:{long}")
    with pytest.raises(AnswerError, match="longer than the 211 characters"):
        ModelChoice("acme/x", COMMIT, (ModelFile("dir/" + long, SHA, 1),)).validate("carbon")
    ModelChoice("acme/x", COMMIT, (ModelFile("d" * 300 + "/" + long[1:], SHA, 1),)).validate("carbon")  # folders: fine


def test_a_size_nix_cannot_hold_is_refused():
    with pytest.raises(AnswerError, match="not a number of bytes"):
        ModelChoice("acme/x", COMMIT, (ModelFile("x.gguf", SHA, 2**63),)).validate("carbon")
    ModelChoice("acme/x", COMMIT, (ModelFile("x.gguf", SHA, 2**63 - 1),)).validate("carbon")


def test_names_from_the_hub_in_a_message_are_one_line_each(hub):
    hub.bodies["acme/x"] = {
        "id": "acme/x",
        "sha": COMMIT,
        "siblings": [_sibling("mmproj\nllamaflake: committed.gguf"), _sibling("a\x1b[31m.gguf")],
    }
    with pytest.raises(ModelLookupError) as caught:
        lookup_repo("acme/x")
    message = caught.value.message
    assert "\n" not in message and "\x1b" not in message and "mmproj\\nllamaflake" in message


def test_a_split_in_many_parts_and_a_long_list_stay_short(hub):
    siblings = [_sibling("big-Q8_0-00001-of-99999.gguf")] + [_sibling(f"m{i}-Q4_K_M.gguf") for i in range(500)]
    hub.bodies["acme/x"] = {"id": "acme/x", "sha": COMMIT, "siblings": siblings}
    repo = lookup_repo("acme/x")
    split = next(m for m in repo.models if m.parts == 99999)
    assert split.describe() == "Q8_0 (99998 parts (2, 3, 4, 5, …) of 99999 missing)"
    with pytest.raises(ModelLookupError) as caught:
        repo.find("Q2_K")
    assert len(caught.value.message) < 2000 and "more" in caught.value.message


def test_a_file_the_hub_lists_twice_with_different_hashes_is_skipped_and_said(hub):
    hub.bodies["acme/x"] = {
        "id": "acme/x",
        "sha": COMMIT,
        "siblings": [
            _sibling("x-Q4_K_M.gguf"),
            _sibling("x-Q4_K_M.gguf", "b" * 64),
            _sibling("x-Q8_0.gguf"),
            _sibling("x-Q8_0.gguf"),  # the same twice: one file
        ],
    }
    repo = lookup_repo("acme/x")
    assert [m.name for m in repo.models] == ["x-Q8_0.gguf"]
    assert repo.skipped == ("x-Q4_K_M.gguf (the Hub lists it twice, with different hashes or sizes)",)
    with pytest.raises(ModelLookupError) as caught:
        resolve_model(parse_model_spec("acme/x:x-Q4_K_M.gguf"))
    assert caught.value.message == (
        f"acme/x@{COMMIT[:12]} has x-Q4_K_M.gguf, which is not served: the Hub lists it twice, with different "
        "hashes or sizes; choose one of Q8_0 (1 MiB)"
    )


def test_a_hub_file_with_an_upper_case_extension_is_skipped_saying_why(hub):
    hub.bodies["acme/x"] = {
        "id": "acme/x",
        "sha": COMMIT,
        "siblings": [_sibling("x-Q8_0.GGUF"), _sibling("x-Q4_0.gguf")],
    }
    repo = lookup_repo("acme/x")
    assert [m.name for m in repo.models] == ["x-Q4_0.gguf"]
    assert repo.skipped == ("x-Q8_0.GGUF (its extension is .GGUF: the module takes the lower-case .gguf only)",)

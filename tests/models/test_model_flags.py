"""`plan`/`apply` with --model on the demo repository, the model looked up on a fake Hub on 127.0.0.1."""

from __future__ import annotations

import json

import git
from hub_fake import QWEN_7B, SPLIT_REPO, TINY_REPO, closed_endpoint, hub  # noqa: F401

from tui.cli import main
from tui.core.answers import MachineAnswer, ModelChoice, ModelFile, ServeChoice
from tui.core.errors import AnswerError
from tui.core.plan import complete_answer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
SHA = "b" * 64


def plan_json(demo_repo, capsys, *flags) -> tuple[int, dict | None, str]:
    code = main(["plan", "--flake", str(demo_repo), "--no-nix", "--json", *flags])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


def test_plan_json_shows_the_pinned_model(demo_repo, capsys, hub):
    code, data, err = plan_json(demo_repo, capsys, "--host", "carbon=cuda", "--host", "boron=cpu",
                                "--model", f"carbon={QWEN_7B}:Q4_K_M", "--serve-port", "carbon=8081")  # fmt: skip
    assert code == 0
    main_commit = hub.repos[QWEN_7B].refs["main"]
    name = "Qwen2.5-7B-Instruct-Q4_K_M.gguf"
    sha256 = hub.repos[QWEN_7B].sha256(name, main_commit)
    assert data["machines"]["carbon"]["serve"] == {
        "model": {
            "repo": QWEN_7B,
            "revision": main_commit,
            "file": name,
            "sha256": sha256,
            "size": 4_683_073_952,
            "files": [{"name": name, "sha256": sha256, "size": 4_683_073_952}],
        },
        "host": "127.0.0.1",
        "port": 8081,
        "open_firewall": False,
        "context": 4096,
    }
    assert data["machines"]["boron"]["serve"] is None  # a machine with no model: as before, serve null
    assert f"llamaflake: carbon: model {QWEN_7B} {name} at {main_commit[:12]}: Q4_K_M, 4.4 GiB: as asked" in err


def test_the_file_that_fits_comes_from_the_machines_report(demo_repo, capsys, hub, tmp_path):
    report = tmp_path / "carbon.json"
    report.write_text(
        json.dumps(
            {
                "source": "detected",
                "system": "x86_64-linux",
                "cpu": {"vendor": "AMD", "model": "Ryzen", "arch": "x86_64", "flags": ["avx2", "fma"]},
                "gpus": [
                    {"vendor": "nvidia", "name": "NVIDIA GeForce RTX 3050", "memory_mib": 8192, "integrated": False}
                ],
                "memory_mib": 32768,
            }
        )
    )
    code, data, err = plan_json(
        demo_repo, capsys, "--report", f"carbon={report}", "--model", f"carbon={QWEN_7B}", "--context", "carbon=8192"
    )
    assert code == 0, err
    carbon = data["machines"]["carbon"]
    assert carbon["variant"] == "cuda" and carbon["serve"]["context"] == 8192
    assert carbon["serve"]["model"]["file"] == "Qwen2.5-7B-Instruct-Q6_K.gguf"
    assert (
        "Q6_K, 5.8 GiB: the largest that leaves room for 8192 tokens of context in the NVIDIA GeForce RTX 3050's "
        "8.0 GiB" in err
    )


def test_a_split_model_lists_every_part(demo_repo, capsys, hub):
    code, data, err = plan_json(demo_repo, capsys, "--host", "carbon=cuda", "--model", f"carbon={SPLIT_REPO}:Q8_0")
    assert code == 0, err
    model = data["machines"]["carbon"]["serve"]["model"]
    assert [f["name"].rsplit("-", 3)[-3] for f in model["files"]] == ["00001", "00002"]
    assert model["size"] == sum(f["size"] for f in model["files"]) and model["file"] == model["files"][0]["name"]


def test_offline_pinning_through_the_flags_asks_nothing(demo_repo, capsys, closed_endpoint):
    code, data, err = plan_json(demo_repo, capsys, "--host", "boron=cpu",
                                "--model", f"boron={QWEN_7B}:Qwen2.5-7B-Instruct-Q4_K_M.gguf@{COMMIT}",
                                "--model-sha256", f"boron={SHA.upper()}")  # fmt: skip
    assert code == 0, err
    model = data["machines"]["boron"]["serve"]["model"]
    assert (model["revision"], model["sha256"], model["size"]) == (COMMIT, SHA, None)  # size: not known
    assert "size unknown: pinned as given, not looked up" in err


def refused(demo_repo, capsys, *flags) -> str:
    code, data, err = plan_json(demo_repo, capsys, *flags)
    lines = [line for line in err.splitlines() if line.startswith("llamaflake: ") and "note:" not in line]
    assert len(lines) == 1 and "Traceback" not in err
    assert code == 2 and data is not None and data["ok"] is False  # --json: the error on stdout too
    assert lines[0] == f"llamaflake: {data['error']}"
    return lines[0]


def test_flags_that_cannot_be_used_are_refused_before_any_look_up(demo_repo, capsys, hub):
    assert "unknown host 'nope' (hosts: carbon, beryllium, boron)" in refused(
        demo_repo, capsys, "--model", f"nope={QWEN_7B}:Q4_K_M"
    )
    assert "--model-sha256 carbon: give the model with --model carbon=REPO[:FILE][@REVISION] too" in refused(
        demo_repo, capsys, "--host", "carbon=cuda", "--model-sha256", f"carbon={SHA}"
    )
    assert "--model boron: boron has no llama.cpp build yet: give it with --host boron=VARIANT" in refused(
        demo_repo, capsys, "--model", f"boron={QWEN_7B}:Q4_K_M"
    )
    assert "--model carbon: model 'x/${y}': " in refused(
        demo_repo, capsys, "--host", "carbon=cuda", "--model", "carbon=x/${y}"
    )
    assert "--serve-port carbon='80; x': give a whole number" in refused(
        demo_repo,
        capsys,
        "--host",
        "carbon=cuda",
        "--model",
        f"carbon={QWEN_7B}:Q4_K_M",
        "--serve-port",
        "carbon=80; x",
    )
    assert hub.requests == []
    assert "carbon: port 70000 is not between 1 and 65535" in refused(
        demo_repo,
        capsys,
        "--host",
        "carbon=cuda",
        "--model",
        f"carbon={QWEN_7B}:Q4_K_M",
        "--serve-port",
        "carbon=70000",
    )


def test_a_failed_look_up_writes_nothing(demo_repo, capsys, hub):
    repo = git.Repo(demo_repo)
    head = repo.head.commit.hexsha
    code = main(["apply", "--flake", str(demo_repo), "--no-nix", "--yes", "--no-eval",
                 "--host", "carbon=cuda", "--model", f"carbon={QWEN_7B}:Q4_K_S"])  # fmt: skip
    _out, err = capsys.readouterr()
    assert code == 2
    assert (
        "llamaflake: --model carbon: bartowski/Qwen2.5-7B-Instruct-GGUF@" in err and "has no quantisation Q4_K_S" in err
    )
    assert repo.head.commit.hexsha == head and not repo.is_dirty(untracked_files=True)


def test_a_wired_machine_takes_a_model_without_its_variant_again(demo_repo, capsys, hub):
    assert main(["apply", "--flake", str(demo_repo), "--no-nix", "--yes", "--no-eval", "--host", "boron=cpu"]) == 0
    capsys.readouterr()
    code, data, err = plan_json(demo_repo, capsys, "--model", f"boron={TINY_REPO}")
    assert code == 0, err
    assert data["machines"]["boron"]["variant"] == "cpu"
    assert data["machines"]["boron"]["serve"]["model"]["file"] == "tiny-model-q8_0.gguf"


def test_a_run_that_names_no_model_keeps_the_one_served_before():
    served = ServeChoice(ModelChoice(QWEN_7B, COMMIT, (ModelFile("m-Q4_K_M.gguf", SHA, 1),)), port=9000)
    before = MachineAnswer("cuda", all_variants=True, serve=served)
    assert complete_answer(MachineAnswer("cuda"), before).serve == served
    other = ServeChoice(ModelChoice(TINY_REPO, COMMIT, (ModelFile("t.gguf", SHA, 1),)))
    assert complete_answer(MachineAnswer("cuda", serve=other), before).serve == other
    assert complete_answer(MachineAnswer("cpu"), None).serve is None


def boron_file(demo_repo) -> str:
    return next(demo_repo.glob("**/llama-cpp/machines/boron.nix")).read_text()


def test_a_served_model_changes_port_alone_and_goes_with_none(demo_repo, capsys, hub):
    apply = ["apply", "--flake", str(demo_repo), "--no-nix", "--yes", "--no-eval"]
    assert main([*apply, "--host", "boron=cpu", "--model", f"boron={TINY_REPO}"]) == 0
    assert "port = 8080;" in boron_file(demo_repo) and "tiny-model-q8_0.gguf" in boron_file(demo_repo)
    requests = len(hub.requests)

    assert main([*apply, "--serve-port", "boron=9090", "--context", "boron=8192"]) == 0
    settings = boron_file(demo_repo)
    assert "port = 9090;" in settings and "context = 8192;" in settings and "tiny-model-q8_0.gguf" in settings
    assert len(hub.requests) == requests  # the model served before is kept as pinned, not looked up again

    capsys.readouterr()
    code, data, err = plan_json(demo_repo, capsys, "--model", "boron=none")
    assert code == 0, err
    assert data["machines"]["boron"]["serve"] is None
    assert main([*apply, "--model", "boron=none"]) == 0
    settings = boron_file(demo_repo)
    assert "serve" not in settings and 'variant = "cpu";' in settings
    assert git.Repo(demo_repo).is_dirty(untracked_files=True) is False


def test_serve_flags_for_a_machine_serving_nothing_are_refused(demo_repo, capsys, hub):
    assert main(["apply", "--flake", str(demo_repo), "--no-nix", "--yes", "--no-eval", "--host", "boron=cpu"]) == 0
    capsys.readouterr()
    assert "--serve-port boron: give the model with --model boron=REPO[:FILE][@REVISION] too" in refused(
        demo_repo, capsys, "--serve-port", "boron=9090"
    )
    assert "--context boron: boron is to serve no model (--model boron=none)" in refused(
        demo_repo, capsys, "--model", "boron=none", "--context", "boron=8192"
    )


def test_stopping_and_serving_at_once_is_refused():
    served = ServeChoice(ModelChoice(QWEN_7B, COMMIT, (ModelFile("m-Q4_K_M.gguf", SHA, 1),)))
    assert complete_answer(MachineAnswer("cpu", stop_serving=True), MachineAnswer("cpu", serve=served)).serve is None
    try:
        MachineAnswer("cpu", serve=served, stop_serving=True).validate("boron")
    except AnswerError as exc:
        assert "give either a model to serve or none" in exc.message
    else:
        raise AssertionError("validate accepted a model and none together")


def test_a_model_for_a_service_turned_off_by_hand_says_it_is_not_served(demo_repo, capsys, hub):
    apply = ["apply", "--flake", str(demo_repo), "--no-nix", "--yes", "--no-eval"]
    assert main([*apply, "--host", "boron=cpu", "--model", f"boron={TINY_REPO}"]) == 0
    path = next(demo_repo.glob("**/llama-cpp/machines/boron.nix"))
    path.write_text(path.read_text().replace("serve = {\n      enable = true;", "serve = {\n      enable = false;"))
    repo = git.Repo(demo_repo)
    repo.git.commit("-qam", "serve nothing for now")
    capsys.readouterr()
    assert main([*apply, "--model", f"boron={QWEN_7B}:Q4_K_M"]) == 0
    err = capsys.readouterr().err
    rel = path.relative_to(demo_repo)
    assert f"llamaflake: note: boron: serve.enable = false in {rel}: the model is pinned, not served" in err
    assert "enable = false;" in path.read_text() and "Qwen2.5-7B-Instruct-Q4_K_M.gguf" in path.read_text()

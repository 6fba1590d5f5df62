"""The served model in a machine's settings file: written, read back exactly, changed in place, refused where
it is written in a way llamaflake does not change, and kept by a later run."""

from __future__ import annotations

import dataclasses
import re

import pytest

from tui.core.answers import Answers, MachineAnswer, ModelChoice, ModelFile, ServeChoice
from tui.core.machine_file import HandEditRefused, update_machine_file
from tui.core.nix.flake import load_flake
from tui.core.nix.syntax import parse
from tui.core.plan import make_plan
from tui.core.read_back import read_machine_settings, serve_not_plain
from tui.core.render import render_machine
from tui.core.serve_settings import serve_from_dict
from tui.core.validate import Check, Intended, intent_problem, served

REVISION = "0123456789abcdef0123456789abcdef01234567"
OTHER = "89abcdef0123456789abcdef0123456789abcdef"
ONE = ModelChoice(
    "bartowski/Qwen2.5-7B-Instruct-GGUF", REVISION, (ModelFile("Qwen2.5-7B-Q4_K_M.gguf", "a" * 64, 4683073952),)
)
SPLIT = ModelChoice(
    "unsloth/Qwen3-GGUF",
    OTHER,
    (
        ModelFile("Q8_0/Qwen3-Q8_0-00001-of-00002.gguf", "b" * 64, 10),
        ModelFile("Q8_0/Qwen3-Q8_0-00002-of-00002.gguf", "c" * 64, 20),
    ),
)
BASE = MachineAnswer("cuda", cpu_flags=["avx2"], cuda_capabilities=["8.6"], notes=["an RTX 3050"])
SERVING = dataclasses.replace(BASE, serve=ServeChoice(ONE))
ELSEWHERE = dataclasses.replace(
    BASE, serve=ServeChoice(SPLIT, port=9000, host="0.0.0.0", open_firewall=True, context=32768)
)


def render(answer: MachineAnswer) -> bytes:
    return render_machine("carbon", answer, "../default.nix")


def update(source: bytes, answer: MachineAnswer) -> bytes:
    return update_machine_file(source, "machines/carbon.nix", "carbon", answer)


@pytest.mark.parametrize("answer", [SERVING, ELSEWHERE], ids=["one-file", "split"])
def test_the_served_model_reads_back_exactly(answer):
    text = render(answer)
    parse(text)
    back = read_machine_settings(text)
    assert back.serve == answer.serve
    assert dataclasses.replace(back, serve=None) == dataclasses.replace(read_machine_settings(render(BASE)))


def test_the_file_says_it_in_nix_a_user_reads():
    text = render(ELSEWHERE).decode()
    assert '    serve = {\n      enable = true;\n      host = "0.0.0.0";\n      port = 9000;\n' in text
    assert "      openFirewall = true;\n      context = 32768;\n      model = {\n" in text
    assert f'        repo = "unsloth/Qwen3-GGUF";\n        revision = "{OTHER}";\n        files = [\n' in text
    assert (
        '          {\n            name = "Q8_0/Qwen3-Q8_0-00001-of-00002.gguf";\n'
        f'            sha256 = "{"b" * 64}";\n            size = 10;\n          }}\n'
    ) in text


def test_a_machine_without_a_served_model_has_no_serve_settings():
    assert b"serve" not in render(BASE)
    assert read_machine_settings(render(BASE)).serve is None


def test_adding_changing_and_removing_give_what_a_fresh_file_has():
    assert update(render(BASE), SERVING) == render(SERVING)
    assert update(render(SERVING), ELSEWHERE) == render(ELSEWHERE)
    assert update(render(ELSEWHERE), BASE) == render(BASE)
    for answer in (BASE, SERVING, ELSEWHERE):
        assert update(render(answer), answer) == render(answer)  # a second run changes nothing


def test_the_users_own_lines_in_the_block_stay_and_owned_values_change_in_place():
    own = render(SERVING).replace(
        b"      enable = true;\n",
        b"      enable = true; # on for the lab\n      gpuLayers = 20;\n",
    )
    new = update(own, ELSEWHERE)
    assert b"      enable = true; # on for the lab\n      gpuLayers = 20;\n" in new
    assert read_machine_settings(new).serve == ELSEWHERE.serve
    assert update(new, ELSEWHERE) == new


def test_a_port_changed_by_hand_is_kept_by_a_later_run():
    """The next run answers with what it reads back: the user's port stays; an answer naming another changes it."""
    by_hand = render(SERVING).replace(b"port = 8080;", b"port = 9090;")
    again = read_machine_settings(by_hand)
    assert again.serve.port == 9090
    assert update(by_hand, again) == by_hand
    assert update(by_hand, SERVING) == render(SERVING)


def test_a_setting_left_out_is_the_modules_default_and_added_only_when_it_differs():
    short = render(SERVING).replace(b'      host = "127.0.0.1";\n', b"").replace(b"      port = 8080;\n", b"")
    assert read_machine_settings(short).serve == SERVING.serve
    assert update(short, SERVING) == short
    moved = update(short, dataclasses.replace(SERVING, serve=dataclasses.replace(SERVING.serve, port=9000)))
    assert b"      port = 9000;\n" in moved and b"host" not in moved
    assert read_machine_settings(moved).serve.port == 9000


def test_dotted_leaves_and_a_flat_file_are_changed_where_they_stand():
    flat = (
        b"{\n  imports = [ ../default.nix ];\n"
        b'  local.llama-cpp.variant = "cuda";\n  local.llama-cpp.cpu.flags = [ "avx2" ];\n'
        b'  local.llama-cpp.cuda.capabilities = [ "8.6" ];\n}\n'
    )
    added = update(flat, SERVING)
    assert b"  local.llama-cpp.serve = {\n    enable = true;\n" in added
    assert read_machine_settings(added).serve == SERVING.serve
    without_port = added.replace(b"    port = 8080;\n", b"")
    end = without_port.rindex(b"}")
    dotted = without_port[:end] + b"  local.llama-cpp.serve.port = 8081;\n" + without_port[end:]
    assert read_machine_settings(dotted).serve.port == 8081
    changed = update(dotted, SERVING)
    assert b"local.llama-cpp.serve.port = 8080;" in changed
    assert update(changed, SERVING) == changed


def test_an_expression_is_refused_with_the_line_to_write():
    edited = render(SERVING).replace(b"port = 8080;", b"port = 8000 + 80;")
    with pytest.raises(HandEditRefused) as refused:
        update(edited, ELSEWHERE)
    assert "local.llama-cpp.serve.port = 9000;" in str(refused.value)
    assert read_machine_settings(edited).serve is None  # not read back as something it is not
    with pytest.raises(HandEditRefused, match=r"remove local.llama-cpp.serve \(line \d+, `port = 8000 \+ 80;`"):
        update(edited, BASE)


def test_a_block_that_is_not_an_attribute_set_is_refused_whole():
    imported = render(BASE).replace(b"  };\n}", b"    serve = import ./serve.nix;\n  };\n}")
    with pytest.raises(HandEditRefused) as refused:
        update(imported, SERVING)
    assert f'local.llama-cpp.serve.model.revision = "{REVISION}";' in str(refused.value)
    with pytest.raises(HandEditRefused, match=re.escape("remove local.llama-cpp.serve")):
        update(imported, BASE)


def test_files_written_in_a_shape_the_engine_does_not_read_are_refused():
    edited = render(SERVING).replace(b"size = 4683073952;", b"size = 4683073952; extra = 1;")
    assert read_machine_settings(edited).serve is None
    with pytest.raises(HandEditRefused, match=re.escape("local.llama-cpp.serve.model.files = ")):
        update(edited, ELSEWHERE)


def test_crlf_files_keep_their_line_ends():
    crlf = render(BASE).replace(b"\n", b"\r\n")
    new = update(crlf, SERVING)
    assert new == render(SERVING).replace(b"\n", b"\r\n")


def test_the_settings_dictionary_gives_the_served_model_back():
    assert serve_from_dict(dataclasses.asdict(ELSEWHERE.serve)) == ELSEWHERE.serve
    assert serve_from_dict(None) is None


def test_a_later_run_keeps_the_served_model_and_a_new_answer_replaces_it(demo_repo):
    first = make_plan(load_flake(demo_repo), Answers(machines={"carbon": SERVING}))
    carbon = next(c for c in first.changes if c.path.endswith("machines/carbon.nix"))
    assert read_machine_settings(carbon.new).serve == SERVING.serve
    assert "serving bartowski/Qwen2.5-7B-Instruct-GGUF Qwen2.5-7B-Q4_K_M.gguf" in carbon.reason
    (demo_repo / carbon.path).parent.mkdir(parents=True, exist_ok=True)
    (demo_repo / carbon.path).write_bytes(carbon.new)
    # Another variant for carbon, no model named: the model stays.
    vulkan = make_plan(load_flake(demo_repo), Answers(machines={"carbon": MachineAnswer("vulkan", all_variants=True)}))
    assert vulkan.machines["carbon"].serve == SERVING.serve
    changed = next(c for c in vulkan.changes if c.path == carbon.path)
    assert read_machine_settings(changed.new).serve == SERVING.serve
    # Not asked about: read back, the file byte for byte.
    alone = make_plan(load_flake(demo_repo), Answers(machines={"boron": MachineAnswer("cpu", all_variants=True)}))
    assert alone.machines["carbon"].serve == SERVING.serve
    assert all(c.path != carbon.path for c in alone.changes)
    other = make_plan(load_flake(demo_repo), Answers(machines={"carbon": ELSEWHERE}))
    assert read_machine_settings(next(c for c in other.changes if c.path == carbon.path).new).serve == ELSEWHERE.serve


def intent(serve: dict | None) -> Check:
    got = {"variant": "cuda", "flags": ["avx2"], "allVariants": False, "cuda": ["8.6"], "rocm": [], "serve": serve}
    return Check("evaluate carbon", "ok", "", host="carbon", intent={**got, "files": ["machines/carbon.nix"]})


def test_the_proof_fails_a_machine_whose_served_model_is_not_the_chosen_one():
    chosen = Intended(
        "cuda", ("avx2",), False, ("8.6",), (), "machines/carbon.nix", "default.nix", served(SERVING.serve)
    )
    assert intent_problem(intent(served(SERVING.serve)), chosen) is None
    other = served(dataclasses.replace(SERVING.serve, model=dataclasses.replace(ONE, revision=OTHER)))
    problem = intent_problem(intent(other), chosen)
    assert problem is not None and f"serving {ONE.repo} {ONE.name} at {REVISION[:12]}" in problem
    assert intent_problem(intent(None), chosen) is not None
    no_serve = dataclasses.replace(chosen, serve=None)
    assert intent_problem(intent(served(SERVING.serve)), no_serve) is not None
    assert intent_problem(intent(None), no_serve) is None


@pytest.mark.parametrize(
    "written, inherit, by_hand",
    [
        (b'      host = "127.0.0.1";\n', b"      inherit host;\n", 'local.llama-cpp.serve.host = "0.0.0.0";'),
        (b"      port = 8080;\n", b"      inherit (config.lab) port;\n", "local.llama-cpp.serve.port = 9000;"),
        (
            b'        repo = "bartowski/Qwen2.5-7B-Instruct-GGUF";\n',
            b"        inherit repo;\n",
            'local.llama-cpp.serve.model.repo = "unsloth/Qwen3-GGUF";',
        ),
    ],
    ids=["host", "port-from", "model-repo"],
)
def test_an_inherited_leaf_is_not_read_as_the_default_and_is_refused(written, inherit, by_hand):
    edited = render(SERVING).replace(written, inherit)
    parse(edited)
    assert read_machine_settings(edited).serve is None  # not the module's default in its place
    shown = f"`{inherit.decode().strip()}`, is not a plain value"
    assert shown in str(serve_not_plain(edited))
    with pytest.raises(HandEditRefused) as refused:
        update(edited, ELSEWHERE)
    assert by_hand in str(refused.value)
    with pytest.raises(HandEditRefused, match=re.escape(shown)):
        update(edited, BASE)


def test_an_inherited_model_set_is_refused_whole():
    start = render(SERVING).index(b"      model = {")
    end = render(SERVING).index(b"      };\n", start) + len(b"      };\n")
    edited = render(SERVING)[:start] + b"      inherit (import ./model.nix) model;\n" + render(SERVING)[end:]
    parse(edited)
    assert read_machine_settings(edited).serve is None
    assert "write local.llama-cpp.serve.model as an attribute set" in str(serve_not_plain(edited))
    with pytest.raises(HandEditRefused, match=re.escape(f'local.llama-cpp.serve.model.revision = "{OTHER}";')):
        update(edited, ELSEWHERE)
    assert serve_not_plain(render(SERVING)) is None and serve_not_plain(render(BASE)) is None


def test_a_size_not_known_says_so_on_its_line_and_round_trips():
    offline = ModelChoice(ONE.repo, REVISION, (ModelFile(ONE.name, "a" * 64, 0),))
    pinned = dataclasses.replace(BASE, serve=ServeChoice(offline))
    text = render(pinned)
    parse(text)
    assert b"            size = 0; # not known: pinned offline\n" in text
    assert b"size = 4683073952;\n" in render(SERVING)  # a known size has no comment
    assert read_machine_settings(text).serve == pinned.serve
    assert update(text, pinned) == text  # a second run changes nothing
    assert update(render(SERVING), pinned) == text
    assert update(text, SERVING) == render(SERVING)

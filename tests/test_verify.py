"""`llamaflake verify` against fakes at the machine's boundary: store paths with small executable scripts for
llama-server, llama-cli, llama-bench and systemctl on a temporary PATH, copied /proc, /sys and /dev trees, and
a tiny HTTP server on 127.0.0.1 for /health and /v1/models. One test per planted failure."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.hardware.hardware_fakes import copy_machine, icd_dirs
from tui.cli import main
from tui.core.answers import Answers, MachineAnswer, ModelChoice, ModelFile, ServeChoice
from tui.core.apply import apply_plan
from tui.core.nix.flake import load_flake
from tui.core.plan import make_plan
from tui.core.verify import Probes, identify, parse_bench, parse_devices, verify_machine

NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz"
RTX_4090 = "  CUDA0: NVIDIA GeForce RTX 4090 (24080 MiB, 23000 MiB free)"
MODEL = ModelChoice(
    repo="Qwen/Qwen2.5-0.5B-Instruct-GGUF",
    revision="9217f5db79a29953eb74d5343926648285ec7e67",
    files=(ModelFile("qwen2.5-0.5b-instruct-q4_k_m.gguf", "a" * 64, 491_400_032),),
)
BENCH_JSON = json.dumps(
    [
        {"model_filename": "x.gguf", "n_prompt": 64, "n_gen": 0, "avg_ts": 5123.456, "stddev_ts": 12.5},
        {"model_filename": "x.gguf", "n_prompt": 0, "n_gen": 16, "avg_ts": 187.25, "stddev_ts": 1.5},
    ]
)


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def store_build(
    tmp_path: Path, name: str, devices: list[str], *, stderr: str = "", cudart: str | None = None, bench: str = ""
) -> Path:
    """A fake package in a fake store, ``<hash>-<name>``, with llama-server, llama-cli and llama-bench."""
    digest = hashlib.sha256(name.encode()).digest()
    out = tmp_path / "nix/store" / ("".join(NIX_BASE32[b % 32] for b in digest) + "-" + name)
    listing = "Available devices:\n" + "".join(d + "\n" for d in devices)
    _script(
        out / "bin/llama-server",
        f'if [ "$1" = --list-devices ]; then printf %s {_quoted(stderr)} >&2; printf %s {_quoted(listing)}; exit 0; fi\n'
        "exit 2\n",
    )
    _script(out / "bin/llama-cli", "exit 0\n")
    _script(out / "bin/llama-bench", f'printf "%s\\n" "$*" > "$0.args"\nprintf %s {_quoted(bench or BENCH_JSON)}\n')
    if cudart:
        (out / "lib").mkdir()
        (out / "lib/libggml-cuda.so").write_bytes(
            b"\x7fELF\0\0RUNPATH\0/nix/store/" + b"1" * 32 + f"-cuda_cudart-{cudart}-lib/lib:".encode() + b"\0"
        )
    return out


def profile(tmp_path: Path, name: str, build: Path) -> Path:
    """A profile's bin folder (like /run/current-system/sw/bin) linking to the build's programs."""
    folder = tmp_path / name / "bin"
    folder.mkdir(parents=True)
    for program in ("llama-server", "llama-cli", "llama-bench"):
        (folder / program).symlink_to(build / "bin" / program)
    return folder


def fake_systemctl(folder: Path, **properties: str) -> None:
    values = {
        "LoadState": "loaded",
        "ActiveState": "active",
        "SubState": "running",
        "Result": "success",
        "User": "",
        "DynamicUser": "yes",
        "SupplementaryGroups": "",
        "PrivateDevices": "no",
        "ExecStart": "{ path=/nix/store/x-llama-server ; argv[]=/nix/store/x/bin/llama-server --host 127.0.0.1 "
        "--port 8080 -m /models/qwen2.5-0.5b-instruct-q4_k_m.gguf ; ignore_errors=no }",
    }
    values.update(properties)
    text = "".join(f"{k}={v}\n" for k, v in values.items())
    _script(folder / "systemctl", f'[ "$1" = show ] || exit 1\nprintf %s {_quoted(text)}\n')


class FakeServer:
    """llama-server's /health and /v1/models on 127.0.0.1, answers set by the test."""

    def __init__(self) -> None:
        self.health = (200, {"status": "ok"})
        self.models = (200, {"object": "list", "data": [{"id": "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf"}]})
        answers = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                status, body = {"/health": answers.health, "/v1/models": answers.models}.get(self.path, (404, {}))
                data = body if isinstance(body, bytes) else json.dumps(body).encode()  # bytes: sent as they are
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


def nvidia_root(tmp_path: Path, driver: str = "550.78", nodes: bool = True) -> Path:
    root = copy_machine(tmp_path, "nvidia-workstation")
    version = root / "proc/driver/nvidia/version"
    version.write_text(version.read_text().replace("550.78", driver))
    (root / "dev").mkdir()
    if nodes:
        for node in ("nvidia0", "nvidiactl", "nvidia-uvm"):
            (root / "dev" / node).write_text("")
    return root


def amd_root(tmp_path: Path, render_mode: int = 0o660) -> Path:
    root = copy_machine(tmp_path, "framework-13-7840u")  # a Radeon 780M: gfx1103 in its KFD topology
    (root / "dev/dri").mkdir(parents=True)
    (root / "dev/kfd").write_text("")
    (root / "dev/kfd").chmod(render_mode)
    (root / "dev/dri/renderD128").write_text("")
    (root / "dev/dri/renderD128").chmod(render_mode)
    return root


def probes_for(root: Path, *dirs: Path) -> Probes:
    path = os.pathsep.join([*(str(d) for d in dirs), "/usr/bin", "/bin"])
    return Probes(path=path, proc=root / "proc", sys=root / "sys", dev=root / "dev", icd_dirs=icd_dirs(root))


def by_name(result) -> dict:
    return {c.name: c for c in result.checks}


def cuda_machine(tmp_path: Path, server: FakeServer | None = None, **unit: str):
    build = store_build(tmp_path, "llama-cpp-cuda-0.0.0", [RTX_4090], cudart="12.8.90")
    system = profile(tmp_path, "system", build)
    tools = tmp_path / "tools"
    fake_systemctl(tools, **unit)
    answer = MachineAnswer("cuda", cuda_capabilities=["8.9"])
    if server is not None:
        answer.serve = ServeChoice(MODEL, port=server.port)
    return answer, probes_for(nvidia_root(tmp_path), tools, system), system


def test_every_check_passes_and_json_has_each(tmp_path, server):
    answer, probes, system = cuda_machine(tmp_path, server)
    result = verify_machine("carbon", answer, probes, settings_file="llama-cpp/machines/carbon.nix", bench=True)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["ok"] is True and data["host"] == "carbon" and data["variant"] == "cuda"
    checks = {c["name"]: c for c in data["checks"]}
    assert list(checks) == ["llama-server", "llama-cli", "devices", "service", "health", "model", "bench"]
    assert all(c["ok"] is True and set(c) >= {"name", "ok", "detail", "fix"} for c in checks.values())
    assert "the cuda build, as chosen" in checks["llama-server"]["detail"]
    assert str(system / "llama-server") in checks["llama-server"]["detail"]
    assert "CUDA0: NVIDIA GeForce RTX 4090 (24080 MiB)" in checks["devices"]["detail"]
    assert "serves qwen2.5-0.5b-instruct-q4_k_m.gguf" in checks["model"]["detail"]


def test_a_cpu_build_first_on_path_shadows_the_cuda_build(tmp_path):
    answer, probes, system = cuda_machine(tmp_path)
    cpu = store_build(tmp_path, "llama-cpp-blas-0.0.0", [])
    user = profile(tmp_path, "home/.nix-profile", cpu)
    probes.path = os.pathsep.join([str(user), probes.path])
    result = verify_machine("carbon", answer, probes, service=False)
    server = by_name(result)["llama-server"]
    assert result.ok is False and server.ok is False
    assert f"{user / 'llama-server'} → {cpu}" in server.detail
    assert "is the cpu build and comes first on PATH: it shadows the cuda build" in server.detail
    assert str(system / "llama-server") in server.detail
    assert str(user) in server.fix and str(system) in server.fix
    # The device list is asked of the build the chosen one is, not of the one in the way.
    assert by_name(result)["devices"].ok is True


def test_nixpkgs_llama_cpp_is_not_the_flakes_build():
    build = identify(Path("/nix/store/" + "0" * 32 + "-llama-cpp-6981/bin/llama-server"))
    assert build.origin == "nixpkgs" and build.variant is None
    assert identify(Path("/nix/store/" + "0" * 32 + "-llama-cpp-rocm-0.0.0/bin/x")).variant == "rocm"
    assert identify(Path("/nix/store/" + "0" * 32 + "-llama-cpp-0.0.0/bin/x")).variant == "cpu"
    assert identify(Path("/usr/local/bin/llama-server")).origin == "unknown"


def test_a_gpu_build_listing_only_the_cpu_names_the_old_driver(tmp_path):
    build = store_build(
        tmp_path,
        "llama-cpp-cuda-0.0.0",
        [],
        stderr="ggml_cuda_init: failed to initialize CUDA: CUDA driver version is insufficient for CUDA runtime version\n",
        cudart="12.8.90",
    )
    probes = probes_for(nvidia_root(tmp_path, driver="470.82.01"), profile(tmp_path, "system", build))
    result = verify_machine("carbon", MachineAnswer("cuda"), probes, service=False)
    devices = by_name(result)["devices"]
    assert result.ok is False and devices.ok is False
    assert "lists no CUDA device (only the CPU), so it runs on the CPU" in devices.detail
    assert (
        "the NVIDIA driver 470.82.01 is older than the CUDA 12.8 runtime of this build needs (525.60.13"
        in devices.detail
    )
    assert "CUDA 12.8 ships with 570.26" in devices.detail
    assert "nvidiaPackages" in devices.fix


def test_missing_nvidia_device_nodes_mean_the_driver_is_not_loaded(tmp_path):
    build = store_build(tmp_path, "llama-cpp-cuda-0.0.0", [], cudart="12.8.90")
    probes = probes_for(nvidia_root(tmp_path, nodes=False), profile(tmp_path, "system", build))
    devices = by_name(verify_machine("carbon", MachineAnswer("cuda"), probes, service=False))["devices"]
    assert devices.ok is False
    assert (
        "no " in devices.detail
        and "/dev/nvidia* device nodes: the NVIDIA kernel driver is not loaded" in devices.detail
    )
    assert 'services.xserver.videoDrivers = [ "nvidia" ];' in devices.fix


def test_a_rocm_target_not_built_is_named_with_the_one_to_add(tmp_path):
    build = store_build(tmp_path, "llama-cpp-rocm-0.0.0", [])
    probes = probes_for(amd_root(tmp_path, 0o666), profile(tmp_path, "system", build))
    answer = MachineAnswer("rocm", rocm_targets=["gfx1100"])
    devices = by_name(
        verify_machine("beryllium", answer, probes, settings_file="llama-cpp/machines/beryllium.nix", service=False)
    )["devices"]
    assert devices.ok is False
    assert "lists no ROCm device" in devices.detail
    assert "the GPU is gfx1103, and the build has kernels for gfx1100 only" in devices.detail
    assert (
        'local.llama-cpp.rocm.gpuTargets = [ "gfx1100" "gfx1103" ]; in llama-cpp/machines/beryllium.nix' in devices.fix
    )
    assert "llamaflake apply --host beryllium=rocm --rocm beryllium=gfx1100,gfx1103" in devices.fix


def test_an_inactive_unit_says_how_to_see_why(tmp_path, server):
    answer, probes, _ = cuda_machine(tmp_path, server, ActiveState="failed", SubState="failed", Result="exit-code")
    result = verify_machine("carbon", answer, probes)
    service = by_name(result)["service"]
    assert result.ok is False and service.ok is False
    assert service.detail == "llama-cpp.service is failed (failed, result exit-code)"
    assert "journalctl -u llama-cpp -n 5" in service.fix
    assert "health" not in by_name(result)  # nothing listens when the unit does not run


def test_the_service_user_without_the_render_group_cannot_open_the_gpu(tmp_path, server):
    build = store_build(
        tmp_path, "llama-cpp-vulkan-0.0.0", ["  Vulkan0: AMD Radeon 780M (RADV PHOENIX) (8192 MiB, 7000 MiB free)"]
    )
    tools = tmp_path / "tools"
    fake_systemctl(tools, SupplementaryGroups="video")
    root = amd_root(tmp_path)  # renderD128 is rw for its group only
    (root / "run/opengl-driver/share/vulkan/icd.d").mkdir(parents=True, exist_ok=True)
    (root / "run/opengl-driver/share/vulkan/icd.d/radeon_icd.x86_64.json").write_text("{}")
    probes = probes_for(root, tools, profile(tmp_path, "system", build))
    answer = MachineAnswer("vulkan", serve=ServeChoice(MODEL, port=server.port))
    result = verify_machine("beryllium", answer, probes)
    user = by_name(result)["service user"]
    assert result.ok is False and user.ok is False
    assert "without the render group, so it cannot open" in user.detail and "renderD128" in user.detail
    assert user.fix == 'systemd.services.llama-cpp.serviceConfig.SupplementaryGroups = [ "render" "video" ];'
    fake_systemctl(tools, SupplementaryGroups="render video")
    assert verify_machine("beryllium", answer, probes).ok is True


def test_a_port_that_does_not_answer(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free again once closed: nothing listens there
    answer, probes, _ = cuda_machine(tmp_path)
    answer.serve = ServeChoice(MODEL, port=port)
    health = by_name(verify_machine("carbon", answer, probes))["health"]
    assert health.ok is False
    assert health.detail.startswith(f"nothing answers on http://127.0.0.1:{port} (")
    assert f"services.llama-cpp.port {port}" in health.fix


def test_another_model_served_is_named(tmp_path, server):
    server.models = (200, {"object": "list", "data": [{"id": "/var/lib/llama-cpp/models/other-Q8_0.gguf"}]})
    answer, probes, _ = cuda_machine(tmp_path, server)
    model = by_name(verify_machine("carbon", answer, probes))["model"]
    assert model.ok is False
    assert (
        "serves /var/lib/llama-cpp/models/other-Q8_0.gguf, not the chosen qwen2.5-0.5b-instruct-q4_k_m.gguf"
        in model.detail
    )


def test_a_store_path_of_the_chosen_file_counts_as_it(tmp_path, server):
    server.models = (200, {"data": [{"id": "/nix/store/" + "a" * 32 + "-qwen2.5-0.5b-instruct-q4_k_m.gguf"}]})
    answer, probes, _ = cuda_machine(tmp_path, server)
    assert by_name(verify_machine("carbon", answer, probes))["model"].ok is True


def test_bench_runs_the_served_model_and_reads_its_speeds(tmp_path, server):
    answer, probes, system = cuda_machine(tmp_path, server)
    bench = by_name(verify_machine("carbon", answer, probes, bench=True))["bench"]
    assert bench.ok is True
    assert bench.values == {"prompt_tokens_per_second": 5123.456, "generation_tokens_per_second": 187.25}
    assert bench.detail.startswith("prompt 5123.5 tokens/s, generation 187.2 tokens/s")
    args = system / "llama-bench.args"  # the llama-bench next to the llama-server that was checked
    assert args.read_text().split() == [
        "-m",
        "/models/qwen2.5-0.5b-instruct-q4_k_m.gguf",
        "-p",
        "64",
        "-n",
        "16",
        "-o",
        "json",
    ]
    assert parse_bench("ggml_cuda_init: found 1 CUDA devices\n" + BENCH_JSON) == (5123.456, 187.25)


def test_no_model_chosen_skips_the_service_with_a_note(tmp_path):
    answer, probes, _ = cuda_machine(tmp_path)
    result = verify_machine("carbon", answer, probes, bench=True)
    assert result.ok is True
    assert (
        by_name(result)["service"].ok is None and "no model is chosen for carbon" in by_name(result)["service"].detail
    )
    assert by_name(result)["bench"].ok is None


def test_device_lines_are_read_as_llama_cpp_prints_them():
    out = (
        "load_backend: loaded CUDA backend\nAvailable devices:\n"
        + RTX_4090
        + "\n  BLAS: OpenBLAS (0 MiB, 0 MiB free)\n"
    )
    devices = parse_devices(out)
    assert [(d.name, d.description, d.total_mib, d.free_mib) for d in devices] == [
        ("CUDA0", "NVIDIA GeForce RTX 4090", 24080, 23000),
        ("BLAS", "OpenBLAS", 0, 0),
    ]
    assert parse_devices("error: invalid argument\n") is None


# --- the command --------------------------------------------------------------------------------------------


@pytest.fixture
def wired_demo(demo_repo):
    answers = Answers(machines={"carbon": MachineAnswer("cuda", cuda_capabilities=["8.6"])})
    apply_plan(make_plan(load_flake(demo_repo), answers), commit=False)
    return demo_repo


def test_the_command_reads_the_machine_file_and_prints_json(tmp_path, wired_demo, monkeypatch, capsys):
    build = store_build(tmp_path, "llama-cpp-cuda-0.0.0", [RTX_4090], cudart="12.8.90")
    monkeypatch.setenv("LLAMAFLAKE_ROOT", str(nvidia_root(tmp_path)))
    bin_dir = build / "bin"
    argv = ["verify", "--flake", str(wired_demo), "--host", "carbon", "--llama-bin", str(bin_dir)]
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["variant"] == "cuda" and data["settings_file"].endswith("machines/carbon.nix") and data["ok"] is True
    assert [c["name"] for c in data["checks"]] == ["llama-server", "llama-cli", "devices", "service"]
    assert data["checks"][3]["ok"] is None
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "✓ llama-server: " in out and "- service: not checked: no model is chosen for carbon" in out
    assert out.rstrip().endswith("every check passed")


def test_the_command_exits_1_and_prints_the_fix_when_a_check_fails(tmp_path, wired_demo, monkeypatch, capsys):
    build = store_build(tmp_path, "llama-cpp-vulkan-0.0.0", [])
    monkeypatch.setenv("LLAMAFLAKE_ROOT", str(nvidia_root(tmp_path)))
    argv = ["verify", "--flake", str(wired_demo), "--host", "carbon", "--llama-bin", str(build / "bin"), "--no-service"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "✗ llama-server: " in out and "is the vulkan build, not the cuda build chosen for carbon" in out
    assert "    fix: switch the machine to the commit (sudo nixos-rebuild switch --flake .#carbon)" in out


def test_a_machine_without_settings_is_one_clear_line(demo_repo, capsys):
    assert main(["verify", "--flake", str(demo_repo), "--host", "boron"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"llamaflake: {demo_repo} has no llama.cpp settings for boron")
    assert "hint: llamaflake apply --host boron=VARIANT writes them" in err
    assert main(["verify", "--flake", str(demo_repo), "--host", "nitrogen"]) == 2
    assert "no machine named 'nitrogen'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "models, said",
    [
        ((200, {"data": 5}), "serves no model"),
        ((200, {"data": {"id": "x"}, "models": "x"}), "serves no model"),
        ((200, b"[" * 100_000 + b"]" * 100_000), "serves no model"),
        ((500, {"error": "boom"}), "answers 500"),
        ((200, b"<html><body>It works!</body></html>"), "serves no model"),
    ],
    ids=["data-number", "data-object", "nested-deep", "status-500", "html"],
)
def test_a_models_answer_of_any_shape_is_a_failed_check(tmp_path, server, models, said):
    answer, probes, _system = cuda_machine(tmp_path, server)
    server.models = models
    result = verify_machine("carbon", answer, probes)
    model = by_name(result)["model"]
    assert result.ok is False and model.ok is False and said in model.detail


def test_a_health_answer_nested_too_deep_is_a_failed_check(tmp_path, server):
    answer, probes, _system = cuda_machine(tmp_path, server)
    server.health = (200, b"[" * 100_000 + b"]" * 100_000)
    health = by_name(verify_machine("carbon", answer, probes))["health"]
    assert health.ok is False and "another program may listen there" in health.detail


def test_a_port_held_by_a_program_that_is_not_http_is_named(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def greet():
        for _ in range(2):
            try:
                client, _ = listener.accept()
            except OSError:
                return
            client.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")
            client.close()

    threading.Thread(target=greet, daemon=True).start()
    try:
        answer, probes, _system = cuda_machine(tmp_path)
        answer.serve = ServeChoice(MODEL, port=listener.getsockname()[1])
        result = verify_machine("carbon", answer, probes)
    finally:
        listener.close()
    health = by_name(result)["health"]
    assert result.ok is False and health.ok is False
    assert "does not answer in HTTP" in health.detail and "another program" in health.detail


def test_a_service_turned_off_in_the_file_is_not_checked_and_says_why(tmp_path, demo_repo, monkeypatch, capsys):
    served = ServeChoice(MODEL)
    answers = Answers(machines={"carbon": MachineAnswer("cuda", cuda_capabilities=["8.6"], serve=served)})
    apply_plan(make_plan(load_flake(demo_repo), answers), commit=False)
    path = next(demo_repo.glob("**/llama-cpp/machines/carbon.nix"))
    path.write_text(path.read_text().replace("serve = {\n      enable = true;", "serve = {\n      enable = false;"))
    build = store_build(tmp_path, "llama-cpp-cuda-0.0.0", [RTX_4090], cudart="12.8.90")
    monkeypatch.setenv("LLAMAFLAKE_ROOT", str(nvidia_root(tmp_path)))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no systemctl: the service is not asked at all
    argv = ["verify", "--flake", str(demo_repo), "--host", "carbon", "--llama-bin", str(build / "bin"), "--json"]
    assert main(argv) == 0
    service = json.loads(capsys.readouterr().out)["checks"][3]
    assert service["name"] == "service" and service["ok"] is None
    assert service["detail"] == f"not checked: serve.enable = false in {path.relative_to(demo_repo)}"


def test_an_inherited_address_is_not_taken_for_the_default_and_fails_the_service(
    tmp_path, demo_repo, monkeypatch, capsys
):
    answers = Answers(machines={"carbon": MachineAnswer("cuda", cuda_capabilities=["8.6"], serve=ServeChoice(MODEL))})
    apply_plan(make_plan(load_flake(demo_repo), answers), commit=False)
    path = next(demo_repo.glob("**/llama-cpp/machines/carbon.nix"))
    path.write_text(path.read_text().replace('      host = "127.0.0.1";\n', "      inherit host;\n"))
    build = store_build(tmp_path, "llama-cpp-cuda-0.0.0", [RTX_4090], cudart="12.8.90")
    monkeypatch.setenv("LLAMAFLAKE_ROOT", str(nvidia_root(tmp_path)))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    argv = ["verify", "--flake", str(demo_repo), "--host", "carbon", "--llama-bin", str(build / "bin"), "--json"]
    assert main([*argv, "--bench"]) == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    rel = path.relative_to(demo_repo)
    assert checks["service"]["ok"] is False
    assert checks["service"]["detail"].startswith(f"not checked: {rel} line ")
    assert "`inherit host;`, is not a plain value" in checks["service"]["detail"]
    assert checks["service"]["fix"] == "write the value itself (local.llama-cpp.serve.host = …;)"
    assert checks["bench"]["ok"] is None
    # plan says so too, and its JSON does not show the module's default address in its place
    assert main(["plan", "--flake", str(demo_repo), "--no-nix", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["machines"]["carbon"]["serve"] is None
    assert any("carbon: the model" in n and "`inherit host;`, is not a plain value" in n for n in data["notes"])


def _server_printing(tmp_path: Path, body: str) -> Probes:
    build = store_build(tmp_path, "llama-cpp-cuda-0.0.0", [], cudart="12.8.90")
    _script(build / "bin/llama-server", body)
    return probes_for(nvidia_root(tmp_path), profile(tmp_path, "system", build))


def test_a_device_list_too_long_to_read_is_stopped_and_said(tmp_path):
    probes = _server_printing(tmp_path, "head -c 3000000 /dev/zero | tr '\\0' x\nexit 0\n")
    devices = by_name(verify_machine("carbon", MachineAnswer("cuda"), probes, service=False))["devices"]
    assert devices.ok is False
    assert devices.detail.endswith("--list-devices could not run: printed more than 1 MiB, and was stopped")


def test_a_device_list_that_cannot_be_read_shows_its_first_line_and_blames_no_driver(tmp_path):
    probes = _server_printing(tmp_path, "printf '\\n  usage: \\033[31mllama-server\\\\x [options]\\n'\nexit 0\n")
    devices = by_name(verify_machine("carbon", MachineAnswer("cuda"), probes, service=False))["devices"]
    assert devices.ok is False and "driver" not in devices.detail + devices.fix
    assert "could not be read (no 'Available devices:' line; its first line is `usage: " in devices.detail
    assert "\x1b" not in devices.detail and "llama-server\\x [options]`" in devices.detail
    assert "--list-devices by hand" in devices.fix


def test_a_models_answer_too_large_to_read_says_so(tmp_path, server):
    answer, probes, _system = cuda_machine(tmp_path, server)
    server.models = (200, b'{"data": [' + b'{"id": "x.gguf"}, ' * 70_000 + b'{"id": "y.gguf"}]}')  # over 1 MiB
    model = by_name(verify_machine("carbon", answer, probes))["model"]
    assert model.ok is False and "serves no model" not in model.detail
    assert model.detail.endswith(
        "/v1/models answers 200 with more than 1 MiB: too large to read which models it serves"
    )


def test_a_health_answer_too_large_to_read_says_so(tmp_path, server):
    answer, probes, _system = cuda_machine(tmp_path, server)
    server.health = (200, b" " * (1 << 20) + b'{"status": "ok"}')
    health = by_name(verify_machine("carbon", answer, probes))["health"]
    assert health.ok is False and "answers 200 with more than 1 MiB" in health.detail


def test_a_health_answer_is_shown_once_as_data(tmp_path, server):
    answer, probes, _system = cuda_machine(tmp_path, server)
    server.health = (200, b'C:\\srv says "hi"\x1b[2J')
    health = by_name(verify_machine("carbon", answer, probes))["health"]
    assert '/health answers 200 `C:\\srv says "hi"\\x1b[2J`, not {"status":"ok"}' in health.detail


def test_an_error_with_json_is_a_json_object_on_stdout_too(demo_repo, capsys):
    assert main(["verify", "--flake", str(demo_repo), "--host", "boron", "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out) == {
        "ok": False,
        "error": f"{demo_repo} has no llama.cpp settings for boron",
        "hint": "llamaflake apply --host boron=VARIANT writes them",
    }
    assert err.startswith(f"llamaflake: {demo_repo} has no llama.cpp settings for boron")
    assert main(["verify", "--flake", str(demo_repo), "--host", "nitrogen", "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["error"].startswith("no machine named 'nitrogen'")
    assert main(["plan", "--flake", str(demo_repo), "--no-nix", "--json", "--host", "nitrogen=cpu"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and "unknown host 'nitrogen'" in data["error"]
    assert main(["verify", "--flake", str(demo_repo), "--host", "boron"]) == 2
    assert capsys.readouterr().out == ""  # without --json: the message on stderr only

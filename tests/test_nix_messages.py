"""What the user reads of Nix's messages: offline said in one line, with the download that failed."""

from __future__ import annotations

import pytest

from tui.core.nix_run import offline_reason

NIX_2_8_OFFLINE = """\
warning: ignoring untrusted flake configuration setting 'extra-substituters'
warning: unable to download 'https://cache.nixos.org/nix-cache-info': Couldn't resolve host name (6)
error: unable to download 'https://api.github.com/repos/nixos/nixpkgs/tarball/567a49d1': Couldn't resolve host name (6)
(use '--show-trace' to show detailed location information)
"""

NIX_2_2X_OFFLINE = """\
warning: error: unable to download 'https://api.github.com/repos/NixOS/nixpkgs/commits/nixos-unstable': \
Could not resolve hostname (6) Could not resolve host: api.github.com; retrying in 283 ms
error:
       … while fetching the input 'github:NixOS/nixpkgs/nixos-unstable'

       error: unable to download 'https://api.github.com/repos/NixOS/nixpkgs/commits/nixos-unstable': \
Could not resolve hostname (6) Could not resolve host: api.github.com
"""


@pytest.mark.parametrize(
    "stderr, cause",
    [
        (NIX_2_8_OFFLINE, "unable to download 'https://api.github.com/repos/nixos/nixpkgs/tarball/567a49d1'"),
        (NIX_2_2X_OFFLINE, "unable to download 'https://api.github.com/repos/NixOS/nixpkgs/commits/nixos-unstable'"),
    ],
)
def test_offline_is_one_line_with_nixs_own_error(tmp_path, stderr, cause):
    reason = offline_reason(stderr, tmp_path)
    assert reason.startswith(f"offline: an input could not be fetched: {cause}")
    assert "\n" not in reason and "untrusted" not in reason


def test_an_evaluation_error_is_not_called_offline(tmp_path):
    assert offline_reason("error: attribute 'llama-cpp' missing\n", tmp_path) is None

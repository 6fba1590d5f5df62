# Overlays shared by every machine.
{inputs, ...}: {
  # pkgs.stable.<name>: the same package from the stable channel.
  stable = final: _prev: {
    stable = import inputs.nixpkgs-stable {
      system = final.stdenv.hostPlatform.system;
      config.allowUnfree = true;
    };
  };
}

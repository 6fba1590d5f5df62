# For every machine of the flake's nixosConfigurations (`cs`): the files that define each option every machine
# sets in a file of its own (its configuration, its hardware configuration), whether `inputs` reaches its
# modules, and its system. Each answer is guarded: a machine that fails to evaluate gives empty answers.
cs:
let
  # The options, as attribute paths, in the order the answers' `files` lists follow.
  paths = [
    [ "networking" "hostName" ]
    [ "system" "stateVersion" ]
    [ "fileSystems" ]
    [ "boot" "loader" "grub" "device" ]
    [ "boot" "loader" "systemd-boot" "enable" ]
    [ "boot" "initrd" "availableKernelModules" ]
    [ "nixpkgs" "hostPlatform" ]
  ];
  at =
    path: set:
    builtins.foldl' (s: k: if s != null && builtins.isAttrs s && s ? ${k} then s.${k} else null) set path;
  try =
    value: fallback:
    let
      r = builtins.tryEval value;
    in
    if r.success then r.value else fallback;
  files =
    c: path:
    let
      o = at path c.options;
    in
    if o == null || !(o ? files) then [ ] else try (builtins.deepSeq (map toString o.files) (map toString o.files)) [ ];
in
builtins.mapAttrs (name: c: {
  files = map (files c) paths;
  inputs = try ((c._module.specialArgs or { }) ? inputs || (c.config._module.args or { }) ? inputs) false;
  system = try (c.pkgs.stdenv.hostPlatform.system or null) null;
}) cs

# The options services.llama-cpp sets beyond its own, declared loosely: systemd.services.<name> with
# serviceConfig merged as NixOS merges unit options (lists concatenated, other values equal or
# conflicting), the firewall's TCP ports, and the `utils` module argument with nixos/lib/utils.nix's
# escaping of ExecStart arguments.
{ lib, ... }:
let
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge =
      loc: defs:
      if lib.any (def: lib.isList def.value) defs then
        lib.concatMap (def: lib.toList def.value) defs
      else
        lib.mergeEqualOption loc defs;
  };
  escapeSystemdExecArg =
    arg:
    let
      s =
        if builtins.isPath arg then
          "${arg}"
        else if builtins.isString arg then
          arg
        else if builtins.isInt arg || builtins.isFloat arg || lib.isDerivation arg then
          toString arg
        else
          throw "escapeSystemdExecArg only allows strings, paths, numbers and derivations";
    in
    builtins.replaceStrings [ "%" "$" ] [ "%%" "$$" ] (builtins.toJSON s);
in
{
  options = {
    systemd.services = lib.mkOption {
      type = lib.types.attrsOf (
        lib.types.submodule {
          freeformType = lib.types.attrsOf lib.types.anything;
          options.serviceConfig = lib.mkOption {
            type = lib.types.attrsOf unitOption;
            default = { };
          };
        }
      );
      default = { };
    };
    networking.firewall.allowedTCPPorts = lib.mkOption {
      type = lib.types.listOf lib.types.port;
      default = [ ];
    };
  };
  config._module.args.utils = {
    inherit escapeSystemdExecArg;
    escapeSystemdExecArgs = lib.concatMapStringsSep " " escapeSystemdExecArg;
  };
}

# nixpkgs' services.llama-cpp (nixos/modules/services/misc/llama-cpp.nix) with its option declarations
# and types as they are there (model and modelsDir of type nullOr path without a default), its
# assertion, and the unit, firewall port and hardening it sets.
{
  config,
  lib,
  pkgs,
  utils,
  ...
}:
let
  cfg = config.services.llama-cpp;
in
{
  options.services.llama-cpp = {
    enable = lib.mkEnableOption "LLaMA C++ server";
    package = lib.mkPackageOption pkgs "llama-cpp" { };
    model = lib.mkOption {
      type = lib.types.nullOr lib.types.path;
      example = "/models/mistral-instruct-7b/ggml-model-q4_0.gguf";
      description = "Model path.";
    };
    modelsDir = lib.mkOption {
      type = lib.types.nullOr lib.types.path;
      example = "/models/";
      description = "Models directory.";
    };
    extraFlags = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      description = "Extra flags passed to llama-cpp-server.";
      default = [ ];
    };
    host = lib.mkOption {
      type = lib.types.str;
      default = "127.0.0.1";
      description = "IP address the LLaMA C++ server listens on.";
    };
    port = lib.mkOption {
      type = lib.types.port;
      default = 8080;
      description = "Listen port for LLaMA C++ server.";
    };
    openFirewall = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Open ports in the firewall for LLaMA C++ server.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.model != null || cfg.modelsDir != null;
        message = "services.llama-cpp: Either 'model' or 'modelDir' must be set.";
      }
    ];

    systemd.services.llama-cpp = {
      description = "LLaMA C++ server";
      after = [ "network.target" ];
      wantedBy = [ "multi-user.target" ];
      serviceConfig = {
        Type = "idle";
        KillSignal = "SIGINT";
        ExecStart =
          let
            args = [
              "--host"
              cfg.host
              "--port"
              (toString cfg.port)
            ]
            ++ lib.optionals (cfg.model != null) [
              "-m"
              cfg.model
            ]
            ++ lib.optionals (cfg.modelsDir != null) [
              "--models-dir"
              cfg.modelsDir
            ]
            ++ cfg.extraFlags;
          in
          "${cfg.package}/bin/llama-server ${utils.escapeSystemdExecArgs args}";
        Restart = "on-failure";
        RestartSec = 300;
        PrivateDevices = false;
        DynamicUser = true;
        CapabilityBoundingSet = "";
        RestrictAddressFamilies = [
          "AF_INET"
          "AF_INET6"
          "AF_UNIX"
        ];
        NoNewPrivileges = true;
        PrivateMounts = true;
        PrivateTmp = true;
        PrivateUsers = true;
        ProtectClock = true;
        ProtectControlGroups = true;
        ProtectHome = true;
        ProtectKernelLogs = true;
        ProtectKernelModules = true;
        ProtectKernelTunables = true;
        ProtectSystem = "strict";
        MemoryDenyWriteExecute = true;
        LockPersonality = true;
        RemoveIPC = true;
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = [
          "@system-service"
          "~@privileged"
        ];
        SystemCallErrorNumber = "EPERM";
        ProtectProc = "invisible";
        ProtectHostname = true;
        ProcSubset = "pid";
      };
    };

    networking.firewall = lib.mkIf cfg.openFirewall { allowedTCPPorts = [ cfg.port ]; };
  };
}

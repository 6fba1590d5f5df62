# What the proof asks Nix of one machine, `c`: an element of the flake's nixosConfigurations; and of several at
# once (`batch`). Nothing is built: derivations are evaluated down to their paths.
let
  # Failed assertions and warnings come along, as nixos-rebuild would show them.
  failedAssertions = c: map (a: a.message) (builtins.filter (a: !a.assertion) (c.config.assertions or [ ]));
  # What the machine ends up with, and the files that define it: compared with what was chosen for it.
  # Safe on a machine without the module (no option: nothing defined).
  intent =
    c:
    let
      cfg = c.config.local.llama-cpp or { };
      o = c.options.local.llama-cpp or { };
    in
    {
      variant = cfg.variant or null;
      flags = cfg.cpu.flags or [ ];
      allVariants = cfg.cpu.allVariants or false;
      cuda = cfg.cuda.capabilities or [ ];
      rocm = cfg.rocm.gpuTargets or [ ];
      # The model served, where one is chosen: compared whole, with the files that pin it.
      serve =
        if o.serve.model.repo.isDefined or false then
          {
            inherit (cfg.serve)
              host
              port
              openFirewall
              context
              ;
            inherit (cfg.serve.model) repo revision;
            files = map (f: { inherit (f) name sha256 size; }) cfg.serve.model.files;
          }
        else
          null;
      files =
        (o.variant.files or [ ])
        ++ (o.cpu.flags.files or [ ])
        ++ (o.cpu.allVariants.files or [ ])
        ++ (o.cuda.capabilities.files or [ ])
        ++ (o.rocm.gpuTargets.files or [ ])
        ++ (o.serve.model.repo.files or [ ])
        ++ (o.serve.model.revision.files or [ ])
        ++ (o.serve.model.files.files or [ ]);
    };
  questions = {
    # Both the module's package and pkgs.llama-cpp: forcing the package alone does not reach the overlay,
    # and the overlay is where a broken package set shows (pkgs is the fixpoint of all overlays).
    evaluate =
      c:
      let
        package = c.config.local.llama-cpp.package;
      in
      {
        package = package.drvPath;
        name = package.name or null;
        pkgsLlamaCpp = c.pkgs.llama-cpp.drvPath;
        pkgsName = c.pkgs.llama-cpp.name or null;
        failedAssertions = failedAssertions c;
        warnings = c.config.warnings or [ ];
        intent = intent c;
      };

    # A machine the change does not answer for: only which llama.cpp settings reach it, and from which files.
    leftAlone = c: { intent = intent c; };

    # A machine as committed, with or without llamaflake's module: the same assertions, warnings and pkgs.llama-cpp.
    baseline = c: {
      failedAssertions = failedAssertions c;
      warnings = c.config.warnings or [ ];
      pkgsLlamaCpp = c.pkgs.llama-cpp.drvPath or null;
    };
  };
in
questions
// {
  # Several machines in one evaluation. `asked` lists `{ name; question; }` (question: "evaluate" or
  # "leftAlone"); the answer holds each machine's answer under its name, the same as asking it alone. A
  # machine left alone that the flake does not list answers `{ absent = true; }`. As each machine's answer
  # starts to be evaluated, Nix prints `trace: llamaflake-machine <its index in asked>`.
  batch =
    asked: configurations:
    builtins.listToAttrs (
      builtins.genList (
        i:
        let
          m = builtins.elemAt asked i;
          answer =
            if m.question == "leftAlone" && !(builtins.hasAttr m.name configurations) then
              { absent = true; }
            else
              questions.${m.question} (builtins.getAttr m.name configurations);
        in
        {
          inherit (m) name;
          value = builtins.trace "llamaflake-machine ${toString i}" answer;
        }
      ) (builtins.length asked)
    );
}

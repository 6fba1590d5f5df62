# stdenv.mkDerivation as nixpkgs shapes it where a module meets it: attributes or a `finalAttrs:`
# function, `overrideAttrs` that composes (and accepts `final: prev:` or `prev:`), meta checks that
# refuse an unfree or broken package when its derivation is taken (as check-meta does), and a
# drvPath that changes with everything that decides the build, inputs included.
{ lib, config, hostPlatform }:
let
  unfreeAllowed = package: config.allowUnfree || config.allowUnfreePredicate package;
  licenses = meta: meta.licenses or (lib.toList (meta.license or [ ]));
  refusal =
    name: meta:
    if !(lib.all (license: license.free or true) (licenses meta)) && !(unfreeAllowed { inherit name meta; }) then
      "Package ‘${name}’ has an unfree license (‘${
        lib.concatMapStringsSep "’, ‘" (license: license.shortName or "unfree") (licenses meta)
      }’), refusing to evaluate."
    else if (meta.broken or false) && !config.allowBroken then
      "Package ‘${name}’ is marked as broken, refusing to evaluate."
    else
      null;

  derivationOf =
    overrideAttrs: attrs:
    let
      name = attrs.name or "${attrs.pname}-${attrs.version}";
      meta = attrs.meta or { };
      refused = refusal name meta;
      inputs = (attrs.nativeBuildInputs or [ ]) ++ (attrs.buildInputs or [ ]);
      hash = builtins.hashString "sha256" (
        builtins.toJSON {
          inherit name;
          system = hostPlatform.system;
          cmakeFlags = attrs.cmakeFlags or [ ];
          postInstall = attrs.postInstall or "";
          env = attrs.env or { };
          inputs = map (input: input.drvPath) inputs;
        }
      );
      drvPath =
        if refused != null then throw refused else "/nix/store/${builtins.substring 0 32 hash}-${name}.drv";
    in
    (attrs.passthru or { })
    // {
      type = "derivation";
      inherit name meta drvPath overrideAttrs;
      pname = attrs.pname or name;
      version = attrs.version or "";
      system = hostPlatform.system;
      outPath = builtins.seq drvPath "/nix/store/${builtins.substring 32 32 hash}-${name}";
      cmakeFlags = attrs.cmakeFlags or [ ];
      buildInputs = attrs.buildInputs or [ ];
      nativeBuildInputs = attrs.nativeBuildInputs or [ ];
      env = attrs.env or { };
      outputs = [ "out" ];
      drvAttrs = removeAttrs attrs [ "passthru" "meta" ];
    };

  extensible =
    rattrs:
    let
      args = rattrs (args // { inherit finalPackage overrideAttrs; });
      finalPackage = derivationOf overrideAttrs args;
      overrideAttrs =
        f0:
        let
          f =
            final: prev:
            let
              applied = f0 prev;
            in
            if builtins.isFunction applied then f0 final prev else applied;
        in
        extensible (
          final:
          let
            prev = rattrs final;
          in
          prev // f final prev
        );
    in
    finalPackage;
in
fpargs: extensible (if builtins.isFunction fpargs then fpargs else _: fpargs)

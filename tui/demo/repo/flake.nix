{
  description = "Our machines: carbon (laptop), beryllium (Framework 13), boron (desktop)";

  inputs = {
    # Unstable for most things, stable for the odd package that breaks.
    nixpkgs.url = "github:nixos/nixpkgs/nixos-unstable";
    nixpkgs-stable.url = "github:nixos/nixpkgs/nixos-25.11";

    home-manager = {
      url = "github:nix-community/home-manager";
      inputs.nixpkgs.follows = "nixpkgs";
    };

    # Hardware quirks for the Framework (beryllium).
    nixos-hardware.url = "github:NixOS/nixos-hardware/master";
  };

  outputs = {
    self,
    nixpkgs,
    home-manager,
    ...
  } @ inputs: let
    inherit (self) outputs;
    systems = ["x86_64-linux"];
    forAllSystems = nixpkgs.lib.genAttrs systems;
  in {
    formatter = forAllSystems (system: nixpkgs.legacyPackages.${system}.alejandra);

    # Extra package sets (pkgs.stable.*), see ./overlays
    overlays = import ./overlays {inherit inputs;};

    nixosConfigurations = {
      # ThinkPad with an RTX 3050 Ti
      carbon = nixpkgs.lib.nixosSystem {
        specialArgs = {inherit inputs outputs;};
        modules = [
          ./nixos
          ./machines/carbon.nix
        ];
      };

      # Framework 13, AMD Ryzen 7040
      beryllium = nixpkgs.lib.nixosSystem {
        specialArgs = {inherit inputs outputs;};
        modules = [
          ./nixos
          ./machines/beryllium.nix
          inputs.nixos-hardware.nixosModules.framework-13-7040-amd
        ];
      };

      # Desktop in the office, no GPU worth the name
      boron = nixpkgs.lib.nixosSystem {
        specialArgs = {inherit inputs outputs;};
        modules = [
          ./nixos
          ./machines/boron.nix
        ];
      };
    };
  };
}

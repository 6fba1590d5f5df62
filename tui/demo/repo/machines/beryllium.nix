# beryllium: Framework Laptop 13, AMD Ryzen 7 7840U, Radeon 780M (nixos-hardware module in flake.nix)
{lib, ...}: {
  networking.hostName = "beryllium";
  nixpkgs.hostPlatform = lib.mkDefault "x86_64-linux";

  boot.loader.systemd-boot.enable = true;
  boot.initrd.availableKernelModules = ["nvme" "xhci_pci" "thunderbolt" "usb_storage" "sd_mod"];
  boot.kernelModules = ["kvm-amd"];

  services.fwupd.enable = true;
  services.power-profiles-daemon.enable = true;

  fileSystems."/" = {
    device = "/dev/disk/by-label/nixos";
    fsType = "btrfs";
    options = ["compress=zstd"];
  };
}

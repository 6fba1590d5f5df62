{pkgs, ...}: {
  users.users.sam = {
    isNormalUser = true;
    description = "Sam";
    extraGroups = ["wheel" "networkmanager" "video"];
    shell = pkgs.zsh;
  };
  programs.zsh.enable = true;
}

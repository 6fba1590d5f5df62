"""The static evaluator, snippet by snippet: each Nix expression and the value the engine must find.

Each snippet is written to a file of a small repository and imported, as the host finder would; the
result is turned into plain Python (``path:`` for paths, ``ext:`` for names from outside the repository).
"""

from __future__ import annotations

import pytest

from tui.core.nix.builtins import BUILTINS
from tui.core.nix.evaluate import Evaluator
from tui.core.nix.flake import read_flake
from tui.core.nix.recognisers.snowfall import SnowfallFlake
from tui.core.nix.values import AttrsValue, External, Lambda, ListValue, PathValue, SystemCall, Unknown

UNKNOWN = object()


def plain(ev: Evaluator, value, depth: int = 0):
    if depth > 8:
        return "..."
    if isinstance(value, AttrsValue):
        return {name: plain(ev, ev.force(t), depth + 1) for name, t in value.attrs.items()}
    if isinstance(value, ListValue):
        return [plain(ev, ev.force(t), depth + 1) for t in value.items]
    if isinstance(value, PathValue):
        return "path:" + value.rel
    if isinstance(value, External):
        return "ext:" + ".".join(value.path)
    if isinstance(value, Unknown):
        return UNKNOWN
    if isinstance(value, Lambda):
        return "lambda"
    return value


def evaluate(tmp_path, snippet: str, files: dict[str, str] | None = None):
    (tmp_path / "flake.nix").write_text("{ outputs = _: { }; }\n")
    (tmp_path / "snippet.nix").write_text(snippet + "\n")
    for rel, text in (files or {}).items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    ev = Evaluator(read_flake(tmp_path))
    return ev, ev.import_path(PathValue("snippet.nix"))


CORE = [
    ("42", 42),
    ('"plain"', "plain"),
    ("''\n  indented\n''", "indented\n"),
    ('let b = "b"; in "a${b}c"', "abc"),
    ("let x = 1; y = x; in y", 1),
    ("rec { a = 1; b = a; }.b", 1),
    ("{ a.b = 1; a.c = 2; }", {"a": {"b": 1, "c": 2}}),
    ('{ "quoted name" = 1; ${"dyn" + "amic"} = 2; }', {"quoted name": 1, "dynamic": 2}),
    ("(x: x) 3", 3),
    ("({ a, b ? 2 }: b) { a = 1; }", 2),
    ("({ a, ... }@args: args.a) { a = 5; }", 5),
    ("{ a = 1; } // { b = 2; }", {"a": 1, "b": 2}),
    ("[ 1 ] ++ [ 2 ]", [1, 2]),
    ('if 1 == 1 then "yes" else "no"', "yes"),
    ("!false", True),
    ("-3", -3),
    ("true && false", False),
    ("false || true", True),
    ("false -> false", True),
    ('"a" != "b"', True),
    ('"a" + "b"', "ab"),
    ("1 + 2", 3),
    ('./hosts + "/carbon"', "path:hosts/carbon"),
    ("./sub/../hosts", "path:hosts"),
    ('let n = "carbon"; in ./hosts/${n}', "path:hosts/carbon"),
    ("{ a = 1; } ? a", True),
    ("{ a = 1; } ? b", False),
    ("{ a = 1; }.b or 3", 3),
    ("with { a = 1; }; a", 1),
    ("let s = { a = 1; }; in { inherit (s) a; }", {"a": 1}),
    ("let a = 1; in { inherit a; }", {"a": 1}),
    ("assert true; 1", 1),
    ("{ __functor = self: x: x + 1; } 4", 5),
    ("nixpkgs.lib.nixosSystem", "ext:nixpkgs.lib.nixosSystem"),
    ("with nixpkgs.lib; foo", "ext:nixpkgs.lib.foo"),
    ("[ true false null ]", [True, False, None]),
    ("import ./other.nix", {"from": "other"}),
    ("import ./folder", {"from": "folder"}),
    ("x: x", "lambda"),
    # the experimental pipe operators: `x |> f` and `f <| x` are `f x`
    ('"a" |> (x: x + "b") |> (x: x + "c")', "abc"),
    ('(x: x + "a") <| (x: x + "b") <| "c"', "cba"),
    ('[ "b" "a" ] |> map (x: x + "!") |> builtins.filter (x: x != "a!")', ["b!"]),
    ('builtins.filter (x: x != "a!") <| map (x: x + "!") <| [ "b" "a" ]', ["b!"]),
    ("builtins.readDir ./folder |> builtins.attrNames", ["default.nix"]),
    # text made from a path is still that path for import, as in Nix
    ('let dir = ./.; in import "${dir}/other.nix"', {"from": "other"}),
    ('import "${toString ./folder}"', {"from": "folder"}),
    ('import ("${./.}" + "/other.nix")', {"from": "other"}),
    ('"${./folder}/x"', "folder/x"),
    # nixpkgs with overlays: the overlays' names first, with `final` the result
    ("(import nixpkgs { overlays = [ (final: prev: { a = 1; b = final.a; }) ]; }).b", 1),
    ("(import <nixpkgs> { overlays = [ (final: prev: { a = 1; }) ]; }).hello", "ext:<nixpkgs>.hello"),
    ("/etc/nixos", UNKNOWN),
    ("../outside", UNKNOWN),
    ("if unknownFlag then 1 else 2", UNKNOWN),
    ("let f = x: f x; in f 1", UNKNOWN),
]


@pytest.mark.parametrize("snippet,expected", CORE, ids=[c[0] for c in CORE])
def test_core(tmp_path, snippet, expected):
    files = {"other.nix": '{ from = "other"; }', "folder/default.nix": '{ from = "folder"; }'}
    ev, value = evaluate(tmp_path, snippet, files)
    assert plain(ev, value) == expected


BUILTIN_CASES = {
    "import": ("import ./other.nix", {"from": "other"}),
    "readDir": ("builtins.readDir ./dir", {"a.nix": "regular", "sub": "directory"}),
    "mapAttrs": ('builtins.mapAttrs (n: v: n + v) { a = "1"; }', {"a": "a1"}),
    "genAttrs": ('lib.genAttrs [ "a" "b" ] (n: n + "!")', {"a": "a!", "b": "b!"}),
    "listToAttrs": ('builtins.listToAttrs [ { name = "a"; value = 1; } ]', {"a": 1}),
    "nameValuePair": ('lib.nameValuePair "a" 1', {"name": "a", "value": 1}),
    "mapAttrs'": ('lib.mapAttrs\' (n: v: lib.nameValuePair (n + "!") v) { a = 1; }', {"a!": 1}),
    "mapAttrsToList": ('lib.mapAttrsToList (n: v: n + v) { b = "2"; a = "1"; }', ["a1", "b2"]),
    "concatMapAttrs": ('lib.concatMapAttrs (n: v: { ${n} = v; "${n}2" = v; }) { a = 1; }', {"a": 1, "a2": 1}),
    "forEach": ("lib.forEach [ 1 2 ] (x: x + 1)", [2, 3]),
    "concatMap": ("builtins.concatMap (x: [ x x ]) [ 1 2 ]", [1, 1, 2, 2]),
    "foldl'": ("builtins.foldl' (acc: x: acc // x) { } [ { a = 1; } { b = 2; } { a = 3; } ]", {"a": 3, "b": 2}),
    "foldl": ("lib.foldl (acc: x: acc + x) 0 [ 1 2 3 ]", 6),
    "mergeAttrs": ("lib.foldl' lib.mergeAttrs { } [ { a = 1; } { b = 2; } ]", {"a": 1, "b": 2}),
    "filterAttrs": ("lib.filterAttrs (n: v: v == 1) { a = 1; b = 2; }", {"a": 1}),
    "filter": ("builtins.filter (x: x != 2) [ 1 2 3 ]", [1, 3]),
    "elem": ('builtins.filter (h: !builtins.elem h [ "iso" ]) [ "a" "iso" "b" ]', ["a", "b"]),
    "map": ("map (x: x + 1) [ 1 2 ]", [2, 3]),
    "attrNames": ("builtins.attrNames { b = 1; a = 2; }", ["a", "b"]),
    "removeSuffix": ('lib.removeSuffix ".nix" "carbon.nix"', "carbon"),
    "hasSuffix": ('lib.hasSuffix ".nix" "carbon.nix"', True),
    "toString": ("toString 3", "3"),
    "readFile": ("builtins.readFile ./text.txt", "hello\n"),
    "fromTOML": ("builtins.fromTOML (builtins.readFile ./hosts.toml)", {"carbon": {"system": "x86_64-linux"}}),
    "mkDefault": ("lib.mkDefault 1", 1),
    "mkForce": ("lib.mkForce 1", 1),
    "recursiveUpdate": ("lib.recursiveUpdate { a.b = 1; } { a.c = 2; }", {"a": {"b": 1, "c": 2}}),
    "mergeAttrsList": ("lib.attrsets.mergeAttrsList [ { a = 1; } { b = 2; } ]", {"a": 1, "b": 2}),
    "pipe": ("lib.pipe 1 [ (x: x + 1) (x: x + 10) ]", 12),
    "withSystem": ('withSystem "x86_64-linux" ({ pkgs, ... }: 1)', 1),
    "hasPrefix": ('lib.hasPrefix "_" "_hidden"', True),
    "pathExists": ('[ (builtins.pathExists ./dir/a.nix) (builtins.pathExists "${./dir}/missing.nix") ]', [True, False]),
    "removeAttrs": ('builtins.removeAttrs { a = 1; b = 2; } [ "b" ]', {"a": 1}),
    "baseNameOf": ("[ (baseNameOf ./dir/a.nix) (baseNameOf __curPos.file) ]", ["a.nix", "snippet.nix"]),
    "singleton": ("lib.singleton 1", [1]),
    "concatLists": ("builtins.concatLists [ [ 1 ] [ 2 3 ] ]", [1, 2, 3]),
    "flatten": ("lib.flatten [ 1 [ 2 [ 3 ] ] ]", [1, 2, 3]),
    "flip": ('lib.flip builtins.mapAttrs { a = "1"; } (n: v: n + v)', {"a": "a1"}),
    "attrValues": ("builtins.attrValues { b = 2; a = 1; }", [1, 2]),
    "functionArgs": ("builtins.functionArgs ({ a, b ? 1, ... }: a)", {"a": False, "b": True}),
    "intersectAttrs": ("builtins.intersectAttrs { a = 0; c = 0; } { a = 1; b = 2; c = 3; }", {"a": 1, "c": 3}),
    "append": ('lib.path.append ./. "hosts/carbon"', "path:hosts/carbon"),
    "zipAttrsWith": (
        "builtins.zipAttrsWith (n: vs: if builtins.tail vs == [ ] then builtins.head vs else vs) [ { a = 1; } { b = 2; } ]",
        {"a": 1, "b": 2},
    ),
    "head": ("builtins.head [ 1 2 ]", 1),
    "tail": ("builtins.tail [ 1 2 3 ]", [2, 3]),
    "last": ("lib.last [ 1 2 3 ]", 3),
    "all": ("[ (builtins.all (x: x != null) [ 1 { } ]) (builtins.all (x: x == 1) [ 1 2 ]) ]", [True, False]),
    "any": ("[ (builtins.any (x: x == 2) [ 1 2 ]) (builtins.any (x: x == 3) [ 1 2 ]) ]", [True, False]),
    "isList": ("[ (builtins.isList [ ]) (builtins.isList { }) ]", [True, False]),
    "isAttrs": ("[ (builtins.isAttrs { }) (builtins.isAttrs [ ]) ]", [True, False]),
    "id": ("lib.id 1", 1),
}


def test_every_builtin_has_a_case():
    assert sorted(BUILTINS) == sorted(BUILTIN_CASES)


@pytest.mark.parametrize("name", sorted(BUILTIN_CASES))
def test_builtin(tmp_path, name):
    snippet, expected = BUILTIN_CASES[name]
    files = {
        "other.nix": '{ from = "other"; }',
        "dir/a.nix": "{ }",
        "dir/sub/b.nix": "{ }",
        "text.txt": "hello\n",
        "hosts.toml": '[carbon]\nsystem = "x86_64-linux"\n',
    }
    ev, value = evaluate(tmp_path, snippet, files)
    assert plain(ev, value) == expected


@pytest.mark.parametrize(
    "snippet",
    [
        "builtins.mapAttrs (n: v: v) unknownSet",
        "lib.genAttrs unknownList (n: n)",
        "builtins.readDir ./missing",
        'builtins.fromTOML "not = = toml"',
        pytest.param('builtins.fromTOML "n = ' + "9" * 5000 + '"', id="an-int-longer-than-python-converts"),
        "builtins.readFile ./missing.txt",
        "builtins.functionArgs (x: x)",
        "builtins.intersectAttrs unknownSet { a = 1; }",
        'lib.path.append ./. "../../outside"',
        "lib.mapAttrs' (n: v: lib.nameValuePair n v) unknownSet",
        "builtins.foldl' (acc: x: acc // x) { } unknownList",
        "builtins.foldl' (acc: x: acc + x) 0 ([ 1 ] ++ unknownList)",
    ],
)
def test_builtins_refuse_what_they_cannot_see(tmp_path, snippet):
    _ev, value = evaluate(tmp_path, snippet)
    assert isinstance(value, Unknown) and value.reason


def test_a_files_let_bindings_are_evaluated_once(tmp_path):
    """One thunk per binding: a file's top-level ``let`` (whose environment is empty) is not re-evaluated."""
    ev, _ = evaluate(tmp_path, "let hosts = import ./other.nix; in { a = hosts; b = hosts; }", {"other.nix": "{ }"})
    source = ev.flake.source_file("snippet.nix")
    body = source.tree.walk()
    ident = next(n for n in body if n.kind == "NODE_IDENT" and n.text == "hosts" and n.parent.kind != "NODE_ATTRPATH")
    env = ev._file_values["snippet.nix"].env
    assert ev.lookup(ident, "hosts", source, env) is ev.lookup(ident, "hosts", source, env)


# ---- recognisers: what an external function means --------------------------------------------------


def test_nixos_system_is_a_machine(tmp_path):
    _ev, value = evaluate(tmp_path, "nixpkgs.lib.nixosSystem { modules = [ ]; }")
    assert isinstance(value, SystemCall) and value.fn == ("nixpkgs", "lib", "nixosSystem")


def test_snowfall_mkflake_has_its_root(tmp_path):
    _ev, value = evaluate(
        tmp_path, "inputs.snowfall-lib.mkFlake { src = ./.; snowfall.root = ./nix; }", {"nix/x.nix": "{ }"}
    )
    assert isinstance(value, SnowfallFlake) and value.root == "nix"


def test_import_tree_imports_every_file_but_underscored(tmp_path):
    files = {
        "modules/a.nix": "{ }",
        "modules/_private.nix": "{ }",
        "modules/sub/b.nix": "{ }",
        "modules/_skip/c.nix": "{ }",
    }
    ev, value = evaluate(tmp_path, "inputs.import-tree ./modules", files)
    assert plain(ev, value) == {"imports": ["path:modules/a.nix", "path:modules/sub/b.nix"]}


def test_flake_parts_merges_flake_attributes_of_imported_modules(tmp_path):
    files = {"parts/hosts.nix": "{ flake.nixosConfigurations.carbon = 1; }"}
    ev, value = evaluate(
        tmp_path,
        "inputs.flake-parts.lib.mkFlake { inherit inputs; } { imports = [ ./parts/hosts.nix ]; flake.x = 2; }",
        files,
    )
    assert plain(ev, value) == {"x": 2, "nixosConfigurations": {"carbon": 1}}


@pytest.mark.parametrize(
    "snippet,expected",
    [
        ("(lib.makeExtensible (self: { a = 1; b = self.a + 1; })).b", 2),
        ("((lib.makeExtensible (self: { a = 1; b = self.a; })).extend (final: prev: { a = 5; })).b", 5),
        ("(lib.fix (self: { a = 1; b = self.a; })).b", 1),
        ("(nixpkgs.lib.extend (final: prev: { my = 1; })).my", 1),
        ("(nixpkgs.lib.extend (final: prev: { my = 1; })).nixosSystem", "ext:nixpkgs.lib.nixosSystem"),
        ("(lib.fix (self: self.a)).b", UNKNOWN),
    ],
)
def test_extensible_libraries(tmp_path, snippet, expected):
    ev, value = evaluate(tmp_path, snippet)
    assert plain(ev, value) == expected


def test_haumea_loads_each_file_with_the_inputs_it_names(tmp_path):
    files = {
        "src/carbon.nix": "{ name, self, ... }@args: { host = name; own = self.host; given = builtins.attrNames args; }",
        "src/group/neon.nix": "{ super, root, ... }: { siblings = builtins.attrNames super; top = builtins.attrNames root; }",
        "src/plain.nix": "{ value = 1; }",
        "src/_hidden.nix": "{ }",
        "src/notes.md": "not Nix",
    }
    ev, value = evaluate(
        tmp_path, 'inputs.haumea.lib.load { src = ./src; inputs = { name = "carbon"; extra = 1; }; }', files
    )
    assert plain(ev, value) == {
        "carbon": {"host": "carbon", "own": "carbon", "given": ["name", "self"]},
        "group": {"neon": {"siblings": ["neon"], "top": ["carbon", "group", "plain"]}},
        "plain": {"value": 1},
    }


def test_adios_flake_outputs_are_its_flake_set(tmp_path):
    ev, value = evaluate(
        tmp_path,
        'inputs.adios-flake.lib.mkFlake { inherit inputs; systems = [ "x86_64-linux" ]; modules = [ ]; flake.nixosConfigurations.carbon = 1; }',
    )
    assert plain(ev, value) == {"nixosConfigurations": {"carbon": 1}}


def test_clan_machines_get_self_and_clan_core_as_arguments(tmp_path):
    files = {"machines/carbon/configuration.nix": "{ self, ... }: { }"}
    ev, value = evaluate(
        tmp_path,
        "(clan-core.lib.clan { self = { inputs = 1; }; specialArgs.extra = 2; }).config.nixosConfigurations.carbon",
        files,
    )
    assert isinstance(value, SystemCall)
    special = ev.force(ev.force(value.arg).attrs["specialArgs"])
    assert plain(ev, special) == {"clan-core": "ext:clan-core", "self": {"inputs": 1}, "extra": 2}


@pytest.mark.parametrize(
    "snippet",
    [
        "builtins.foldl' (acc: x: acc // x) { } ([ { a = 1; } ] ++ unknownList)",
        "lib.mergeAttrsList ([ { a = 1; } ] ++ unknownList)",
        "lib.concatMapAttrs (n: v: { ${n} = v; }) ({ a = 1; } // unknownSet)",
    ],
)
def test_a_set_merged_from_a_list_seen_in_part_may_hold_more(tmp_path, snippet):
    ev, value = evaluate(tmp_path, snippet)
    assert isinstance(value, AttrsValue) and value.open and plain(ev, value) == {"a": 1}

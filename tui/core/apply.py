"""Applying a plan: check the repository, write every file or none, validate, then commit exactly those files.

The steps, and what a failure at each leaves behind:

1. :func:`preflight` — nothing written yet.
2. Write each file atomically; new files get ``git add --intent-to-add`` so that nix sees them.
3. Validate (``nix-instantiate --parse``; with ``evaluate``, ``nix flake lock`` and ``nix eval`` per machine).
   A failed check puts every file and the index back byte for byte.
4. ``git commit -- <paths>``: a partial commit through git itself (hooks and signing apply); other staged and
   unstaged changes stay as they were. A rejected commit is aborted (files and index put back) unless the
   caller asks to keep it to retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import git

from tui import __version__
from tui.core import gitrepo
from tui.core.errors import RepositoryError, printable
from tui.core.footprint import (
    BLOB_TRAILER,
    FILE_TRAILER,
    GENERATED_BY,
    USER_TRAILER,
    blob_trailer,
    is_llamaflake_commit,
    machine_path,
    module_file,
)
from tui.core.gitrepo import CommitRejected
from tui.core.journal import ApplyLock, Journal, recover, remember_rewritten
from tui.core.nix_run import Progress
from tui.core.plan import Plan, describe, keyed_path
from tui.core.preflight import Finding, PreflightError, errors, preflight
from tui.core.shell import shell_quote
from tui.core.validate import (
    DEFAULT_EVAL_TIMEOUT,
    DEFAULT_JOBS,
    Check,
    Intended,
    LeftAlone,
    ValidationError,
    served,
    validate,
)
from tui.core.write import ChangedMeanwhile, Snapshot, write_changes

__all__ = [
    "ApplyOptions",
    "ApplyResult",
    "CommitRejected",
    "PendingApply",
    "PreflightError",
    "ValidationError",
    "apply_plan",
    "commit_message",
    "prepare_apply",
]

TRAILER = GENERATED_BY
LOCK_FILE = "flake.lock"
AFTER_COMMIT = ("rewritten-by-hook", "commit-differs")  # the codes of what the commit was found to hold


@dataclass
class ApplyResult:
    """What an apply did: the files written (relative to the flake), the commit, and what was checked."""

    paths: list[str]
    commit: str | None
    findings: list[Finding] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    message: str | None = None
    interrupted: bool = False  # an interrupt came after the commit had landed


@dataclass(frozen=True)
class ApplyOptions:
    """How an apply runs: what the command line's flags and the wizard's choices give :func:`apply_plan`."""

    commit: bool = True  # False: write the files and leave them uncommitted
    message: str | None = None  # the commit message; None: made from the plan
    allow_dirty: bool = False  # go on where files the change touches have uncommitted changes (they are committed)
    init: bool = False  # where the flake is in no git repository: `git init` there and commit its files first
    evaluate: bool = False  # lock the flake and evaluate the machines before committing
    eval_timeout: float = DEFAULT_EVAL_TIMEOUT
    jobs: int = DEFAULT_JOBS  # machines evaluated at once
    use_nix: bool = True  # False: llamaflake's own parser only, nothing evaluated
    allow_failed_machines: bool = False  # commit although a machine does not evaluate (the user saw it)
    refresh: bool = False  # evaluate afresh instead of reusing the evaluation cache
    keep_on_reject: bool = False  # a rejected commit leaves the files written, for a retry

    @classmethod
    def of(cls, options: ApplyOptions | None, overrides: dict[str, Any]) -> ApplyOptions:
        """``options`` (the defaults where None) with the fields named in ``overrides`` changed; a name that is no
        field is a TypeError."""
        return replace(options or cls(), **overrides)


def commit_message(plan: Plan) -> str:
    """Subject, a body listing the machines with their variants and the caches, and a ``Generated-by`` trailer.
    A machine's name is written on one line (a line break in it as ``\\n``): the message's lines stay its own."""

    def one_line(name: str) -> str:
        return printable(name, newlines=False)

    names = plan.changed_builds()  # a machine whose build stays as it was is not news
    module = plan.change(module_file(plan.module_dir))
    later_run = module is None or module.old is not None
    removed = [c.path for c in plan.changes if c.kind == "delete"]
    written_refused = [
        r.host
        for r in plan.refused_requested
        if any(c.kind != "delete" and c.path == machine_path(plan.module_dir, r.host) for c in plan.changes)
    ]
    if not names and written_refused:
        subject = (
            "llama-cpp: llama.cpp settings for " + ", ".join(map(one_line, written_refused)) + ", to import by hand"
        )
    elif not names and removed:
        subject = "llama-cpp: remove the superseded llama.cpp set-up"
    elif not names and module is not None and not plan.module_rebuilds:
        subject = "llama-cpp: leave " + (", ".join(map(one_line, plan.left_alone)) or "no machine") + " alone"
    elif not names:
        subject = "llama-cpp: add the llama.cpp flake input and module"
    elif later_run and len(names) <= 3 and set(names) != set(plan.machines):
        parts = [
            f"add {one_line(n)} ({plan.machines[n].variant})"
            if n in plan.attached
            else f"{one_line(n)}: {plan.machines[n].variant}"
            for n in names
        ]
        subject = "llama-cpp: " + "; ".join(parts)
    elif len(names) <= 3:
        subject = "llama-cpp: build llama.cpp from its flake for " + ", ".join(map(one_line, names))
    else:
        subject = f"llama-cpp: build llama.cpp from its flake for {len(names)} machines"
    lines = [subject, ""]
    if names:
        lines.append("Machines:")
        lines.extend(f"- {one_line(name)}: {describe(plan.machines[name])}" for name in names)
        lines.append("")
    if plan.caches:
        lines.append("Binary caches:")
        lines.extend(f"- {cache.url}" for cache in plan.caches)
        lines.append("")
    if plan.left_alone:
        lines.append("Left alone (no build suggested for them):")
        lines.extend(f"- {one_line(name)}" for name in plan.left_alone)
        lines.append("")
    if removed:
        lines.append("Removed:")
        lines.extend(f"- {path}" for path in removed)
        lines.append("")
    lines.append(f"{TRAILER} {__version__}")
    return "\n".join(lines) + "\n"


def with_trailers(
    message: str, paths: list[str], user_changed: Sequence[str] = (), blobs: dict[str, str | None] | None = None
) -> str:
    """``message`` with the trailers ``undo`` relies on: one ``Generated-file`` per path written
    (repository-relative), one ``Generated-blob`` per path with the blob id of what was written there
    (``blobs``), one ``Generated-with-your-changes`` per written path that also held uncommitted changes of
    the user's (``--allow-dirty``), and ``Generated-by``, appended to whatever message the user gave."""
    kept = [
        line
        for line in message.splitlines()
        if not line.startswith((TRAILER, FILE_TRAILER, BLOB_TRAILER, USER_TRAILER))
    ]
    body = "\n".join(kept).rstrip()
    blobs = blobs or {}
    length = next((len(b) for b in blobs.values() if b), 40)
    trailers = (
        [f"{FILE_TRAILER} {path}" for path in paths]
        + [blob_trailer(path, blobs[path], length) for path in paths if path in blobs]
        + [f"{USER_TRAILER} {path}" for path in user_changed]
        + [f"{TRAILER} {__version__}"]
    )
    return (body + "\n\n" if body else "") + "\n".join(trailers) + "\n"


def changed_machines(plan: Plan) -> list[str]:
    """The machines a change can affect: all wired ones when a shared file changes, else those whose settings
    changed; and, where anything changes, every machine it leaves alone (checked that nothing reaches them)."""
    refused = {r.host for r in plan.refusals}  # not attached yet: the user pastes the snippet
    own = {machine_path(plan.module_dir, name): name for name in plan.machines}
    header_only = set() if plan.module_rebuilds else {module_file(plan.module_dir)}
    if any(c.path not in own and c.path not in header_only for c in plan.changes):
        wired = [name for name in plan.machines if name not in refused]
    else:
        wired = [own[c.path] for c in plan.changes if c.path in own and own[c.path] not in refused]
    return wired + (left_alone_machines(plan) if plan.changes else [])


def left_alone_machines(plan: Plan) -> list[str]:
    """The machines the plan gives no build: neither answered for nor wired before (refused ones included). A name
    that cannot be a settings file's (a slash, a line break) is asked too: Nix is given it as a string, and such a
    machine can still load another machine's settings."""
    return [host.name for host in plan.flake.hosts if host.name not in plan.machines]


def intended(plan: Plan) -> dict[str, Intended | LeftAlone]:
    """What each machine asked for must end up with, defined in its own settings file alone (a machine whose
    import the user left out of the change keeps its old build, as the review says, and is not compared)."""
    by_path = {c.path: c.new for c in plan.changes}

    def text_of(rel: str) -> bytes:
        if rel in by_path:
            return by_path[rel] or b""
        try:
            return (plan.flake.root / rel).read_bytes()
        except OSError:
            return b""

    result: dict[str, Intended | LeftAlone] = {}
    for name, answer in plan.machines.items():
        host = plan.flake.host(name)
        if name not in plan.asked or host is None:
            continue
        settings = machine_path(plan.module_dir, name)
        tail = "/".join(settings.split("/")[-2:]).encode()
        keyed = (
            host.attach if host.attach is not None and host.attach.kind == "keyed-entry" else None
        )  # `machines/${name}.nix`, for each machine
        attached = [host.attach.file] if host.attach is not None else []  # a host descriptor's `imports`
        if not any(
            tail in text_of(rel)
            for rel in dict.fromkeys([host.file, *attached, *host.imported_files, *host.module_files])
            if rel != settings
        ) and not (keyed is not None and keyed_path(keyed, settings).encode() in text_of(keyed.file)):
            continue
        result[name] = Intended(
            answer.variant,
            tuple(answer.cpu_flags),
            answer.all_variants,
            tuple(answer.cuda_capabilities),
            tuple(answer.rocm_targets),
            settings,
            module_file(plan.module_dir),
            served(answer.serve),
        )
    written = tuple(c.path for c in plan.changes if c.new is not None)
    for name in left_alone_machines(plan):
        result[name] = LeftAlone(written, module_file(plan.module_dir))
    return result


def landed_commit(repo: git.Repo, head_before: str | None) -> str | None:
    """HEAD's sha where it is a llamaflake commit made on top of ``head_before``; with ``head_before``
    None, HEAD's sha as it is (or None in a repository without commits).

    Asks a fresh ``git log``: after an interrupt, GitPython's long-running helper processes may be gone.
    """
    status, out, _ = repo.git.log("-1", "--format=%H %P%n%B", "HEAD", with_extended_output=True, with_exceptions=False)
    if status != 0 or not out.strip():
        return None
    first, _, message = out.partition("\n")
    sha, *parents = first.split()
    if head_before is None:
        return sha
    if sha == head_before or parents != [head_before]:
        return None
    return sha if is_llamaflake_commit(message) else None


class PendingApply:
    """A plan written and validated, not committed yet: :meth:`commit` it (again), or :meth:`abort`."""

    def __init__(
        self,
        plan: Plan,
        repo: git.Repo | None,
        snapshot: Snapshot,
        index: gitrepo.IndexSnapshot | None,
        findings: list[Finding],
        checks: list[Check],
        extra_paths: list[str],
        journal: Journal | None = None,
        user_changed: list[str] | None = None,
    ) -> None:
        self.plan = plan
        self.user_changed = list(user_changed or [])  # repository-relative
        self.journal = journal
        self.interrupted = False
        self.repo = repo
        self.snapshot = snapshot
        self.index = index
        self.findings = findings
        self.checks = checks
        self.paths = [c.path for c in plan.changes] + extra_paths
        self.done = False

    @property
    def repo_paths(self) -> list[str]:
        prefix = gitrepo.repo_prefix(self.repo, self.plan.flake.root) if self.repo is not None else ""
        return [prefix + p for p in self.paths]

    def result(self, sha: str | None = None, message: str | None = None) -> ApplyResult:
        return ApplyResult(list(self.paths), sha, self.findings, self.checks, message)

    def commit(self, message: str | None = None) -> ApplyResult:
        """Commit the written files; a rejection raises :class:`CommitRejected` and leaves everything for a retry."""
        if self.done:
            raise RuntimeError("this apply is already committed or aborted")
        if self.repo is None:
            self.repo = gitrepo.open_repo(self.plan.flake.root)
        repo = self.repo
        head_before = landed_commit(repo, None)
        if self.snapshot.changed_by_others():
            self.abort()  # raises ChangedMeanwhile: the user's version is kept
        try:
            blobs = gitrepo.blob_ids(self.repo, self.repo_paths)
            text = with_trailers(
                message or commit_message(self.plan),
                self.repo_paths,
                [p for p in self.repo_paths if p in self.user_changed],
                blobs,
            )
            sha = gitrepo.commit_paths(self.repo, self.repo_paths, text)
        except BaseException as exc:
            # Interrupted while git ran (git itself may have been stopped after the commit): if the commit
            # landed, the apply is done, and must not be put back.
            landed = landed_commit(self.repo, head_before)
            if landed is None:
                if isinstance(exc, CommitRejected):
                    exc.pending = self
                raise
            sha, self.interrupted = landed, True
        self.done = True
        self._finish_journal()
        if not self.interrupted:
            self._note_hook_changes(repo, sha, blobs)
        message_now = None if self.interrupted else gitrepo.message_text(repo.head.commit)
        result = self.result(sha, message_now)
        if not self.interrupted:
            result.findings = result.findings + self._compare_commit(repo, sha)
        result.interrupted = self.interrupted
        return result

    def _note_hook_changes(self, repo: git.Repo, sha: str, blobs: dict[str, str | None]) -> None:
        """A hook that changed the files as they were committed (a formatter): remember the commit, whose
        files are llamaflake's for ``undo`` although they differ from the ``Generated-blob`` trailers."""
        try:
            if gitrepo.committed_blob_ids(repo, sha, self.repo_paths) != blobs:
                remember_rewritten(repo, sha)
        except RepositoryError:
            pass  # undo then refuses the commit as changed, and says how to take it back by hand

    def _compare_commit(self, repo: git.Repo, sha: str) -> list[Finding]:
        """What the commit holds that is not what the apply wrote: a hook's rewrite (a note) or else a warning."""
        prefix = gitrepo.repo_prefix(repo, self.plan.flake.root)
        findings: list[Finding] = []
        for path in self.paths:
            if path not in self.snapshot.written:
                continue
            written = self.snapshot.written[path]
            try:
                committed = gitrepo.committed_bytes(repo, sha, prefix + path)
            except git.GitCommandError as exc:
                findings.append(
                    Finding(
                        "warning",
                        "commit-differs",
                        f"{path}: the commit could not be read back ({exc.stderr.strip() or exc.status})",
                    )
                )
                continue
            if committed == written:
                continue
            on_disk = self.snapshot.on_disk(path)
            if committed is not None and committed == on_disk:
                findings.append(
                    Finding(
                        "note", "rewritten-by-hook", f"{path}: a hook rewrote it; the commit holds the hook's version"
                    )
                )
            else:
                findings.append(
                    Finding(
                        "warning",
                        "commit-differs",
                        f"{path}: the commit does not hold what llamaflake wrote",
                        hint=f"compare: git diff {sha[:12]} -- {shell_quote(prefix + path)}",
                    )
                )
        return findings

    def _finish_journal(self) -> None:
        if self.journal is not None:
            self.journal.finish()

    def abort(self, why: str = "") -> None:
        """Put every file and the index back exactly as they were before the apply; a file saved by someone
        else since the apply wrote it is kept, and raises :class:`ChangedMeanwhile` once the rest is back."""
        if self.done:
            return
        kept = _put_back(self.snapshot, self.index)
        self.done = True
        self._finish_journal()
        if kept:
            raise ChangedMeanwhile(kept, why)

    def keep(self) -> ApplyResult:
        """Leave the files written and not committed."""
        self.done = True
        self._finish_journal()
        return self.result()


def _put_back(snapshot: Snapshot, index: gitrepo.IndexSnapshot | None) -> list[str]:
    """Every file and the index as they were before the apply, but files saved by someone else since; those."""
    try:
        kept = snapshot.restore()
    finally:
        if index is not None:
            index.restore()
    return kept


def prepare_apply(
    plan: Plan,
    options: ApplyOptions | None = None,
    *,
    progress: Progress | None = None,
    repo: git.Repo | None = None,
    **overrides: Any,
) -> PendingApply:
    """Steps 1 to 3: check, write, validate. Raises :class:`PreflightError` or :class:`ValidationError`
    (with nothing left written), or returns the written change ready to commit.

    ``options`` (with any of its fields given as ``overrides``) say how; ``progress`` receives each
    :class:`Finding`, each :class:`Check` and each line nix prints. ``repo`` is the git repository holding the
    flake, where the caller has it open (else it is looked for).
    """
    options = ApplyOptions.of(options, overrides)
    root = plan.flake.root
    if repo is None:
        repo = gitrepo.find_repo(root)
    initialised = False
    if repo is None and options.init:
        repo, initialised = gitrepo.init_repo(root), True
    lock = _lock(repo) if repo is not None else None
    try:
        return _prepare(plan, repo, lock, initialised, options, progress)
    except BaseException:
        # Once the apply is ready to commit, its journal holds the lock until it is done.
        if lock is not None:
            lock.release()
        raise


def _lock(repo: git.Repo) -> ApplyLock:
    try:
        return ApplyLock.acquire(repo)
    except OSError as exc:
        raise RepositoryError(
            f"cannot take the apply lock in .git/llamaflake: {exc.strerror or exc}; nothing was changed"
        ) from None


def _prepare(
    plan: Plan,
    repo: git.Repo | None,
    lock: ApplyLock | None,
    initialised: bool,
    options: ApplyOptions,
    progress: Progress | None,
) -> PendingApply:
    """:func:`prepare_apply` with the apply lock held (``lock``), which it hands to the journal."""
    root = plan.flake.root
    findings: list[Finding] = []
    recovered = recover(repo)
    if recovered is not None:
        # The plan was made from files the interrupted apply had written: it must be made again.
        raise RepositoryError(f"{recovered}; nothing else was changed", hint="run again to plan afresh")
    if initialised:
        findings.append(
            Finding("note", "initialised", f"made {root} a git repository and committed its files as they were")
        )
    # Saved before anything can touch it, so that an abort puts back exactly what the caller had.
    index = gitrepo.IndexSnapshot(repo) if repo is not None else None
    evaluate = options.evaluate and options.use_nix
    commit = options.commit
    lock_paths = [LOCK_FILE] if evaluate else []
    created = [c.path for c in plan.changes if c.old is None]
    if evaluate and not (root / LOCK_FILE).exists():
        created.append(LOCK_FILE)
    findings += preflight(
        root,
        [c.path for c in plan.changes] + lock_paths,
        allow_dirty=options.allow_dirty,
        commit=commit,
        created=created,
        repo=repo,
    )
    if progress is not None:
        for finding in findings:
            progress(finding)
    if errors(findings):
        raise PreflightError(findings)
    user_changed: list[str] = []
    if repo is not None and commit:
        # --allow-dirty: the user's own uncommitted edits of these files go into the commit; undo must know.
        prefix = gitrepo.repo_prefix(repo, root)
        statuses = gitrepo.path_status(repo, [prefix + p for p in [c.path for c in plan.changes] + lock_paths])
        user_changed = [s.path for s in statuses.values() if s.staged or s.unstaged or s.untracked]

    snapshot = Snapshot.take(root, [c.path for c in plan.changes] + lock_paths)
    snapshot.free.update(lock_paths)  # nix writes it while locking
    journal = None
    if repo is not None:
        prefix = gitrepo.repo_prefix(repo, root)
        try:
            journal = Journal.start(
                repo,
                [prefix + p for p in [c.path for c in plan.changes] + lock_paths],
                {prefix + c.path: c.new for c in plan.changes},
            )
            journal.lock = lock
        except OSError as exc:
            raise RepositoryError(
                f"cannot record the apply in .git/llamaflake: {exc.strerror or exc}; nothing was changed"
            ) from None
    try:
        write_changes(root, plan.changes, snapshot)
    except BaseException:
        if journal is not None:
            journal.finish()  # write_changes put every file back
        raise
    try:
        prefix = gitrepo.repo_prefix(repo, root) if repo is not None else ""
        if repo is not None:
            # New files, and files of the user's that git does not track yet (--allow-dirty): the commit
            # must hold every path the plan writes.
            written_paths = [prefix + c.path for c in plan.changes if c.new is not None]
            known = set(gitrepo.tracked(repo, written_paths))
            gitrepo.intent_to_add(repo, [p for p in written_paths if p not in known])
        written = [c.path for c in plan.changes if c.new is not None]
        checks = validate(
            root,
            written,
            changed_machines(plan),
            evaluate=evaluate,
            timeout=options.eval_timeout,
            progress=progress,
            jobs=options.jobs,
            use_nix=options.use_nix,
            refresh=options.refresh,
            intended=intended(plan),
            repo=repo,
        )
        if any(c.failed and not (options.allow_failed_machines and c.host is not None) for c in checks):
            raise ValidationError(checks)
        extra = []
        if evaluate and LOCK_FILE in snapshot.changed():
            extra.append(LOCK_FILE)
            lock_path = root / LOCK_FILE
            snapshot.written[LOCK_FILE] = lock_path.read_bytes() if lock_path.is_file() else None
            if journal is not None:
                journal.expect(prefix + LOCK_FILE, snapshot.written[LOCK_FILE])
            saved_lock = snapshot.saved(LOCK_FILE)  # saved: it is among the changed files
            if repo is not None and saved_lock is not None and saved_lock.data is None:
                gitrepo.intent_to_add(repo, [prefix + LOCK_FILE])
    except BaseException as exc:
        try:
            kept = _put_back(snapshot, index)
        finally:
            if journal is not None:
                journal.finish()
        if kept:
            why = " (and the checks failed)" if isinstance(exc, ValidationError) else ""
            raise ChangedMeanwhile(kept, why) from None
        raise
    return PendingApply(plan, repo, snapshot, index, findings, checks, extra, journal, user_changed)


def apply_plan(
    plan: Plan,
    options: ApplyOptions | None = None,
    *,
    progress: Progress | None = None,
    repo: git.Repo | None = None,
    **overrides: Any,
) -> ApplyResult:
    """Check, write, validate and (unless ``options.commit`` is False) commit the plan's files.

    ``options`` (with any of its fields given as ``overrides``) say how. A rejected commit raises
    :class:`CommitRejected` with the hook's output. By default the apply is then aborted (every file and the index
    put back); with ``keep_on_reject`` the files stay written and the exception's ``pending`` can ``commit()``
    again or ``abort()``.
    """
    options = ApplyOptions.of(options, overrides)
    pending = prepare_apply(plan, options, progress=progress, repo=repo)
    if not options.commit:
        return pending.keep()
    try:
        return pending.commit(options.message)
    except CommitRejected as exc:
        if not options.keep_on_reject:
            pending.abort()
            raise CommitRejected(exc.output, restored=True) from None
        raise
    except BaseException:
        if not pending.done:
            pending.abort()
        raise

"""Command line: ``adsorbstudy study --profile NAME [--only RUN ...] [--force] [--jobs N]``,
``adsorbstudy check``, ``adsorbstudy profiles``, ``adsorbstudy versions [--update]``,
``adsorbstudy audit FILE [--T T ...] [--binarize sign|threshold] [--out PREFIX] [--json]``
(check an Ising ensemble against the exact finite-size torus; see adsorbstudy.audit).

Exit status: 0 on success; 2 for invalid input (arguments, profile, parameters, a producer's source
changed without its version), reported as one line ``adsorbstudy: error: ...`` before any notebook
runs; 1 when a notebook fails (one line per failed run naming the notebook and the cell, after the
table of the time each run took, which also marks the runs skipped because of it).
"""
from __future__ import annotations

import argparse
import sys

from ..analysis import audit
from .profile import available_profiles, load_profile, ProfileError
from .runner import run_study, select_runs, StudyError, StudyFailed
from .validate import int_option


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (argparse prints the usage first), like every other input error."""

    def error(self, message: str):
        self.exit(2, f"adsorbstudy: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="adsorbstudy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("study", help="execute a profile's notebooks with papermill into book/generated/")
    s.add_argument("--profile", default="default", help="a file params/NAME.yaml (smoke, default, paper)")
    s.add_argument("--only", action="append", metavar="RUN",
                   help="run only this run or notebook name (repeatable); its inputs must be cached")
    s.add_argument("--force", action="store_true",
                   help="re-execute every notebook, recompute every cached artifact and retrain every model "
                        "(checkpoints written before this batch are discarded)")
    s.add_argument("--jobs", type=int_option(1), default=1, metavar="N",
                   help="execute up to N independent runs at once (each with cores // N threads); default 1")
    v = sub.add_parser("versions", help="check that the code versions of cached artifacts match their source "
                                        "(adsorbstudy/study/code_versions.json), or --update the registry")
    v.add_argument("--update", action="store_true", help="record the current versions and source hashes")
    v.add_argument("--same-numbers", nargs="+", default=[], metavar="PRODUCER",
                   help="with --update: accept a changed source without a version bump, because the change "
                        "keeps every number (a refactor); the cached artifacts stay valid")
    c = sub.add_parser("check", help="validate a profile (every value and the checks between values and runs) and exit")
    c.add_argument("--profile", default="default")
    sub.add_parser("profiles", help="list the available profiles")
    pub = sub.add_parser("publish", help="copy a finished study's results (CSV, JSON, samples as packed bits) into "
                                         "published/PROFILE/ with a manifest (commit, code versions, SHA-256 of "
                                         "every file, run times, machine); refuses a dirty tree or an incomplete study")
    pub.add_argument("--profile", required=True)
    a = sub.add_parser("audit", help="check an Ising ensemble (.npz/.npy/.pt) against the exact finite-size torus: "
                                     "e, |m|, C, χ, U4 with errors, τ_int, z-scores, a verdict per temperature")
    audit.add_arguments(a)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "profiles":
            print("\n".join(available_profiles()))
            return 0
        if args.command == "versions":
            return _versions(args)
        if args.command == "audit":
            return audit.run(args)
        if args.command == "publish":
            from .publish import publish
            dest = publish(args.profile)
            print(f"published {args.profile} to {dest}")
            return 0
        profile = load_profile(args.profile)
        if args.command == "check":
            print(f"profile {profile.name}: {len(profile.runs)} runs, valid")
            return 0
        select_runs(profile, args.only)
        run_study(args.profile, only=args.only, force=args.force, jobs=args.jobs)
        return 0
    except (ProfileError, ValueError) as exc:
        print(f"adsorbstudy: error: {exc}", file=sys.stderr)
        return 2
    except StudyFailed as exc:
        if exc.skipped:
            print(f"adsorbstudy: skipped because a run they need failed: {', '.join(exc.skipped)}", file=sys.stderr)
        for line in exc.failures:
            print(f"adsorbstudy: {line}", file=sys.stderr)
        return 1
    except StudyError as exc:
        print(f"adsorbstudy: {exc}", file=sys.stderr)
        return 1


def _versions(args) -> int:
    """``adsorbstudy versions``: exit 0 when the registry matches the source, else 2 with one line per producer."""
    from . import codeversion

    if args.same_numbers and not args.update:
        raise ValueError("--same-numbers: only with --update")
    if args.update:
        changed = codeversion.update(same_numbers=tuple(args.same_numbers))
        print(f"{codeversion.registry_path()}: " + (f"updated {', '.join(changed)}" if changed else "unchanged"))
        return 0
    found = codeversion.problems()
    for line in found:
        print(f"adsorbstudy: error: {line}", file=sys.stderr)
    if not found:
        print(f"code versions match their source ({', '.join(codeversion.PRODUCERS)})")
    return 2 if found else 0


if __name__ == "__main__":
    sys.exit(main())

"""``meanfield report``: the main job; regenerate figures and figures/README.md."""

from __future__ import annotations

from meanfield.commands import print_json

__all__ = ["register", "run"]


def register(subparsers):
    p = subparsers.add_parser("report", help="regenerate every figure and the claims summary",
                              description="Recompute the papers' numbers and figures into --out.")
    p.add_argument("--out", default="figures", help="output directory (default: figures)")
    p.add_argument("--full", action="store_true", help="use the papers' sizes (slow; GPU if available)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar (shown on stderr)")
    p.add_argument("--json", action="store_true",
                   help="print the claims as JSON: source, statement, holds, measured ({name: number}), "
                        "measured_text, figure")
    p.set_defaults(handler=run)


def run(args):
    from meanfield._files import check_writable_dir
    from meanfield.report import run_report

    check_writable_dir(args.out, "--out")  # before the report's minutes of work

    claims = run_report(args.out, full=args.full, progress=not args.no_progress and not args.json)
    if args.json:
        print_json([c.to_dict() for c in claims])
    else:
        for c in claims:
            print(f"[{'ok ' if c.holds else 'NO '}] {c.source}: {c.statement} (measured {c.measured})")
        held = sum(bool(c.holds) for c in claims)
        print(f"wrote {args.out}/README.md; {held} of {len(claims)} claims hold")
    return 0 if all(c.holds for c in claims) else 1

"""tap.py - the checks of the tests/deploy scripts: one "ok - " / "not ok - " line each,
and the count of failures for the script's exit status."""

failed = 0


def check(desc, cond, detail=""):
    global failed
    print(("ok - " if cond else "not ok - ") + desc + ("" if cond or not detail else ": %s" % detail))
    if not cond:
        failed += 1


def finish():
    """Prints the count of failures; the exit status (1 if any failed)."""
    print("%d failed" % failed)
    return 1 if failed else 0

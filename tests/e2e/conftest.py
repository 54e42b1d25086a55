import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # Written to the real stderr so the lines show with or without -s.
    import e2elib
    for line in e2elib.SUMMARY:
        print(line, file=sys.__stderr__, flush=True)
    for n in e2elib.NOTES:
        print("e2e note: " + n, file=sys.__stderr__, flush=True)

"""Runs the Python blocks of one Markdown file in one interpreter, sharing their globals.

Reads one JSON request per line on stdin ({code, filename, line}), runs the code with
its line numbers matching the Markdown file (so a traceback names the doc's line), and
answers with one result line that starts with docblocks.RESULT_PREFIX.
"""

import json
import sys
import traceback

RESULT_PREFIX = "\x00docblock-result "


def main() -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    for request_line in sys.stdin:
        request = json.loads(request_line)
        # The fence is at `line`; the code starts on the next line of the file.
        source = "\n" * int(request["line"]) + request["code"]
        error = ""
        try:
            exec(compile(source, request["filename"], "exec"), namespace)
        except BaseException:  # report everything, SystemExit included, and go on
            error = traceback.format_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        # On a line of its own, whatever the block printed last.
        print("\n" + RESULT_PREFIX + json.dumps({"ok": not error, "error": error}), flush=True)


if __name__ == "__main__":
    main()

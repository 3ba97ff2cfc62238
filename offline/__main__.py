"""`python -m offline preview --stack dev`: see offline/cli.py."""

import gc
import os
import sys

harness = None
if sys.argv[1:2] in (["preview"], ["diagram"]):  # the commands that run the program, which import the harness anyway
    from offline import harness

    if harness.fast_path_enabled("gc"):
        # This process ends with the command: no cyclic collection at all (harness._gc_paused pauses it for the
        # program's run only, and the first collection after it walks everything the run allocated).
        gc.disable()

from offline.cli import main  # noqa: E402 (after the collector is set, which the imports already feed)

code = main()
if harness is not None and harness.fast_path_enabled("exit"):
    # The program's run leaves millions of SDK objects (typing objects, Outputs, modules) that interpreter shutdown
    # would free one by one; every file is written and closed and the pack process is stopped, so skip that.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
raise SystemExit(code)

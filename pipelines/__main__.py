"""Entry point of `python -m pipelines`."""

import gc
import sys

from pipelines.cli import main

code = main()
# The process ends here, and its last garbage collections would go over every object it imported or made (5 ms
# and more for promote) only to free memory the exit frees anyway: frozen objects are left out of them. Nothing
# waits on a collection: files, connections and processes are closed by the blocks that opened them.
gc.freeze()
sys.exit(code)

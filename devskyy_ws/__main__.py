"""`python -m devskyy_ws`: the only caller of `web.run_app`."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())

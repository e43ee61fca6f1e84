"""``python -m treadle``: the same as the ``treadle`` command."""

import sys

from ._main import main

sys.exit(main())

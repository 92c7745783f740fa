"""``python -m skulmfit`` (also what ``torchrun -m skulmfit`` runs)."""

import sys

from .cli import main

sys.exit(main())

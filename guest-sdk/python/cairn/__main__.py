"""`python -m cairn build app.py -o app.wasm`."""

import sys

from ._build import main

sys.exit(main())

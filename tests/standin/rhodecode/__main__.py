"""`python -m tests.standin.rhodecode`: run the RhodeCode 4.22 TEST STAND-IN as a subprocess."""
import sys

from .runner import main

sys.exit(main())

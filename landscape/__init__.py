"""landscape: the mask landscape of strong lottery tickets.

The analysis side (``read_runs``, ``MaskSet``, ``pp``, ``tl``, ``pl``) never imports torch at
import time; torch enters through ``landscape.search``, ``landscape.nn`` and the barrier tool.
"""

__version__ = "0.1.0"

"""The platform kernel (the design card's `platform/`; see the README)."""

import os

# polars allocates through its bundled jemalloc, which by default keeps freed pages for
# ten seconds. An import frees a batch's columns several times a second, so that cache
# alone was about 70 MB of its peak memory; return freed pages at once instead. jemalloc
# reads this when polars loads, and every polars import in the project comes after
# this package's.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")

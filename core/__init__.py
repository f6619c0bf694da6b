"""The platform kernel (the design card's `platform/`; see the README)."""

import os

# polars allocates through its bundled jemalloc, and an import frees a batch's columns
# several times a second. polars keeps freed pages for 0.5 s and then another second as
# "muzzy" pages that still count in the process's memory (1M-row import: about 455 MB at
# the peak). Returning them at once kept the peak near 400 MB, but then every batch
# faulted its pages in again: a third of the import process's CPU (33 s instead of 20 s,
# and 6 s more of the import's time on two cores). 250 ms and no muzzy pages keep both:
# about 430 MB and 20 s. jemalloc reads this when polars loads, and every polars import in
# the project comes after this package's; an operator's own setting wins.
os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:250,muzzy_decay_ms:0")

"""Watch pages: the stable `/w/<token>` link a recipient gets for one render, and what viewers did there
(docs/watch-pages.md). Models in `render/models.py` (WatchPage, WatchEvent, WatchDaily)."""

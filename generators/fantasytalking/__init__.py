"""fantasytalking adapter: see config.py for settings and adapter.py for how upstream is driven."""

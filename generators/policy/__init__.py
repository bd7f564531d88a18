"""policy adapter: a trained run of our trainer as a candidate method (see config.py and adapter.py)."""

"""Sampling videos from a trained run: settings and job protocol, run loader, window plan and solver, video I/O.

``settings`` imports only the standard library (the ``policy`` generator and ``curate sample`` validate with it);
every other module here needs torch. ``python -m trainer.generation JOBS.json`` is the subprocess entry point.
"""

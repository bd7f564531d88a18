"""Candidate generation: adapters behind one Protocol, normalisation, and a resumable batch runner.

``generators.runner.run_generation`` is the entry point; ``curate generate`` wraps it.
Heavy adapter code is imported only when its method is selected (see ``registry``).
"""

from generators.base import GenerationRequest, GenerationResult, VideoGenerator

__all__ = ["GenerationRequest", "GenerationResult", "VideoGenerator"]

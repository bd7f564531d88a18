"""``curate demo``'s material: synthetic portraits and speech-like audio, and the two simulated rounds."""

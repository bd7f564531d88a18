"""Built-in CPU generators: no GPU, no weights. Controls and known-bad candidates, plus ``import``."""

"""A corpus of bad and hostile import files, generated at test time (no binaries committed)."""

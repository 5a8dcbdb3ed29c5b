"""Model pieces: the stem switch."""

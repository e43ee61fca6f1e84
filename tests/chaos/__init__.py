"""The chaos suite of issue 14: treadle's guarantees under kills, freezes, poison, a full
disk, a second user and stray descendants, counted from outside by a subreaper harness."""

"""Bad input refused: parsers under property-based tests, the API fuzzed from its schema, oversized or
malformed bodies, and a flood of correlation ids against the tracker's bound (issue 6)."""

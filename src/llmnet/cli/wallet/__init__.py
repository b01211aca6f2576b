"""The command groups for every party's own money on chain: stake, credits, the escrow, the validator book."""

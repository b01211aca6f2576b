"""The web dashboard the coordinator serves at /ui."""

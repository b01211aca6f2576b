"""HTTP surfaces: the coordinator's OpenAI-compatible API and the error mapping every service shares."""

"""Local stand-ins for the SaaS destinations: HTTP servers that behave as the vendors document (auth, batch and
rate limits, partial failures, request validation against the published specs), so syncs are tested, and the
demo runs, with no network. Each keeps what it received, to inspect."""

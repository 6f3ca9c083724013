"""The AI assessment worker (`handoff assessor`)."""

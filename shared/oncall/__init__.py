"""On-call rotations: who is on call at an instant, and the shifts and gaps over a window."""

"""The email and PSA notification worker (`handoff notifier`)."""

"""Use cases: each one function over config, tracker, input and time, returning a report."""

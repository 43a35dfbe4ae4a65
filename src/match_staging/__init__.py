"""match-staging: a review gate for job-match drafts that lives inside GitLab."""

__version__ = "0.1.0"

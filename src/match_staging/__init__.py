"""match-staging: a review gate for job-match drafts that lives inside GitLab."""

__version__ = "0.1.0"

# The package's one wiring line: the channel registry hands the configuration the sections
# of the channels it knows (`config.use_channels`); config itself knows no channel.
import match_staging.channels.registry  # noqa: F401

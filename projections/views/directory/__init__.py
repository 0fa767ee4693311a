"""The tenant's directory: its users and their security events."""

from projections.views.directory.security_events import SecurityEvents
from projections.views.directory.users import DirectoryUsers

PROJECTORS = (DirectoryUsers, SecurityEvents)

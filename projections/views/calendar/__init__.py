"""The synced calendars' view: the events each followed calendar holds now, per person."""

from projections.views.calendar.projector import Calendar

PROJECTORS = (Calendar,)

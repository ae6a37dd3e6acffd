"""Notifications (issue 7): the in-app centre, Web Push as an enhancement, SMS to applicants."""

"""``impactreport fetch pipermail``, defined in fetch_mail (the lazy group loads one command per module)."""

from __future__ import annotations

from .fetch_mail import pipermail_command as command

__all__ = ["command"]

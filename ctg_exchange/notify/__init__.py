"""Telling people what waits on them (issue 18): e-mails to the members who act next, a daily
digest of reminders, and signed webhooks.

- :mod:`.addresses`: e-mail addresses and URLs, checked strictly (nothing reaches a header
  that could break it);
- :mod:`.settings`: the workspace's SMTP and webhook settings (never a secret);
- :mod:`.recipients`: who must act after each step of the procedure (pure);
- :mod:`.outbox`: the messages queued in the transaction of the event they report on, then
  delivered after its commit, retried until delivered;
- :mod:`.mail`: the messages as people read them (gettext), and SMTP;
- :mod:`.webhook`: the workspace's own signing key, and the signed posts (RFC 9421).
"""

# a member's notification preferences: an e-mail at each step that waits on them, the daily
# digest only, or nothing
PREFERENCES = ("immediate", "digest", "none")

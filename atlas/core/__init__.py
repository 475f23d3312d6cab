"""The domain: project records and their files, placing an address, submissions, accounts,
the outbox and coverage figures. Nothing here imports Flask."""

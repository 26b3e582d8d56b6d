"""The steering committee's evaluation (issue 18): figures computed from the audit log alone.

:mod:`.figures` computes them from a stream of events and the policy versions they reference
(pure: no store, no I/O); :mod:`.tables` lays them out as rows (the terminal, CSV);
:mod:`.html` writes the committee's printable report with its charts (:mod:`.charts`).
"""

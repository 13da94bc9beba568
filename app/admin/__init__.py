"""Operations staff: SAQ's queue monitor, the dead-letter console, the audit log, analytics.

Everything here is for admins only (``app/admin/access.py``): signed-in users who are not admins
get a 403, anonymous callers a 401.
"""

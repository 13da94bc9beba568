"""Who may use the operations views: admins (``app/deps.py`` ``CurrentAdmin``), by session
cookie or API token; 401 without credentials, 403 for other users. Also the services the admin
routes use, built per request from the lifespan's container (they hold no state of their own).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.admin.audit import AuditLog
from app.admin.console import DeadLetterConsole
from app.deps import current_admin, current_user, get_container
from app.models import User


async def admin_of(request: Request) -> User:
    """``CurrentAdmin`` for plain ASGI apps (a mount gets no FastAPI dependencies)."""
    return await current_admin(await current_user(request, None))


def get_audit(request: Request) -> AuditLog:
    return AuditLog(get_container(request).db)


def get_console(request: Request) -> DeadLetterConsole:
    container = get_container(request)
    return DeadLetterConsole(container.db, container.jobs, AuditLog(container.db))


Audit = Annotated[AuditLog, Depends(get_audit)]
Console = Annotated[DeadLetterConsole, Depends(get_console)]

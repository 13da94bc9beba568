"""readiness: write_checks, the table /readyz writes to and empties again

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 20:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "write_checks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("checked_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_write_checks")),
    )


def downgrade() -> None:
    op.drop_table("write_checks")

"""background_jobs: index (status, id) in place of (status), for the reconciler's pages

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every lookup by status alone still uses the index's first column.
    op.create_index("ix_background_jobs_status_id", "background_jobs", ["status", "id"])
    op.drop_index("ix_background_jobs_status", table_name="background_jobs")


def downgrade() -> None:
    op.create_index("ix_background_jobs_status", "background_jobs", ["status"])
    op.drop_index("ix_background_jobs_status_id", table_name="background_jobs")

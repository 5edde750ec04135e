"""dubbing workflow: re-importable lines with target lengths, fitted takes, approved takes, export jobs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voicehub.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('target_ms', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('source_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('updated_at', voicehub.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_lines_source_key'), ['source_key'], unique=False)

    with op.batch_alter_table('takes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fit', sa.JSON(), nullable=True))

    with op.batch_alter_table('synthesis_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fit', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('approve', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table('line_approvals',
    sa.Column('line_id', sa.String(length=32), nullable=False),
    sa.Column('studio_id', sa.String(length=32), nullable=False),
    sa.Column('take_id', sa.String(length=32), nullable=False),
    sa.Column('approved_at', voicehub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['lines.id'], name=op.f('fk_line_approvals_line_id_lines')),
    sa.ForeignKeyConstraint(['studio_id'], ['studios.id'], name=op.f('fk_line_approvals_studio_id_studios')),
    sa.ForeignKeyConstraint(['take_id'], ['takes.id'], name=op.f('fk_line_approvals_take_id_takes')),
    sa.PrimaryKeyConstraint('line_id', name=op.f('pk_line_approvals'))
    )
    with op.batch_alter_table('line_approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_line_approvals_studio_id'), ['studio_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_line_approvals_take_id'), ['take_id'], unique=False)

    op.create_table('export_jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('studio_id', sa.String(length=32), nullable=False),
    sa.Column('project_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', name='exportstatus', native_enum=False, length=16), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('files_total', sa.Integer(), nullable=False),
    sa.Column('files_done', sa.Integer(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_detail', sa.Text(), nullable=True),
    sa.Column('result_key', sa.String(length=200), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', voicehub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', voicehub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', voicehub.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_export_jobs_project_id_projects')),
    sa.ForeignKeyConstraint(['studio_id'], ['studios.id'], name=op.f('fk_export_jobs_studio_id_studios')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_jobs'))
    )
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_export_jobs_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_export_jobs_studio_id'), ['studio_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('export_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_export_jobs_studio_id'))
        batch_op.drop_index(batch_op.f('ix_export_jobs_project_id'))
    op.drop_table('export_jobs')

    with op.batch_alter_table('line_approvals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_line_approvals_take_id'))
        batch_op.drop_index(batch_op.f('ix_line_approvals_studio_id'))
    op.drop_table('line_approvals')

    with op.batch_alter_table('synthesis_jobs', schema=None) as batch_op:
        batch_op.drop_column('approve')
        batch_op.drop_column('fit')

    with op.batch_alter_table('takes', schema=None) as batch_op:
        batch_op.drop_column('fit')

    with op.batch_alter_table('lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lines_source_key'))
        batch_op.drop_column('updated_at')
        batch_op.drop_column('source_key')
        batch_op.drop_column('target_ms')

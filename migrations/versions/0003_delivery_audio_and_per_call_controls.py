"""delivery audio and per-call controls: studio delivery specs, take loudness, seed, pauses

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voicehub.db


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('studio_deliveries',
    sa.Column('studio_id', sa.String(length=32), nullable=False),
    sa.Column('sample_rate', sa.Integer(), nullable=False),
    sa.Column('bit_depth', sa.Integer(), nullable=False),
    sa.Column('loudness', sa.Enum('EBU_R128', 'ATSC_A85', 'NONE', name='loudnessstandard', native_enum=False, length=16), nullable=False),
    sa.Column('true_peak_ceiling_dbtp', sa.Double(), nullable=False),
    sa.Column('updated_at', voicehub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['studio_id'], ['studios.id'], name=op.f('fk_studio_deliveries_studio_id_studios')),
    sa.PrimaryKeyConstraint('studio_id', name=op.f('pk_studio_deliveries'))
    )
    # Takes made before this were 16-bit WAVs at the engine's rate, not normalized.
    with op.batch_alter_table('takes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sentence_pause', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('seed', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('engine_sample_rate', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('bit_depth', sa.Integer(), nullable=False, server_default='16'))
        batch_op.add_column(sa.Column('loudness_target', sa.Enum('EBU_R128', 'ATSC_A85', 'NONE', name='loudnessstandard', native_enum=False, length=16), nullable=False, server_default='NONE'))
        batch_op.add_column(sa.Column('loudness_lufs', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('true_peak_dbtp', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('peak_limited', sa.Boolean(), nullable=False, server_default=sa.false()))

    takes = sa.table('takes', sa.column('engine_sample_rate', sa.Integer), sa.column('sample_rate', sa.Integer))
    op.get_bind().execute(takes.update().values(engine_sample_rate=takes.c.sample_rate))

    with op.batch_alter_table('synthesis_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('speed', sa.Double(), nullable=False, server_default='1.0'))
        batch_op.add_column(sa.Column('sentence_pause', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('seed', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('synthesis_jobs', schema=None) as batch_op:
        batch_op.drop_column('seed')
        batch_op.drop_column('sentence_pause')
        batch_op.drop_column('speed')

    with op.batch_alter_table('takes', schema=None) as batch_op:
        batch_op.drop_column('peak_limited')
        batch_op.drop_column('true_peak_dbtp')
        batch_op.drop_column('loudness_lufs')
        batch_op.drop_column('loudness_target')
        batch_op.drop_column('bit_depth')
        batch_op.drop_column('engine_sample_rate')
        batch_op.drop_column('seed')
        batch_op.drop_column('sentence_pause')

    op.drop_table('studio_deliveries')

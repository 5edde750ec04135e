"""voice builds: recordings, build jobs and their progress, consent to train

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import voicehub.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Consents signed before builds existed did not agree to training: false (fail-closed).
    with op.batch_alter_table('consent_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allows_voice_build', sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table('voice_builds',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('voice_id', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.Enum('COLLECTING', 'QUEUED', 'PREPARING', 'TRAINING', 'PACKAGING', 'DONE', 'FAILED', name='buildstage', native_enum=False, length=16), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('steps_done', sa.Integer(), nullable=False),
    sa.Column('steps_total', sa.Integer(), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('base_sha256', sa.String(length=64), nullable=False),
    sa.Column('consent_version_id', sa.String(length=32), nullable=True),
    sa.Column('model_artifact_id', sa.String(length=32), nullable=True),
    sa.Column('model_sha256', sa.String(length=64), nullable=False),
    sa.Column('run_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', voicehub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', voicehub.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', voicehub.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', voicehub.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_voice_builds_actor_id_actors')),
    sa.ForeignKeyConstraint(['consent_version_id'], ['consent_versions.id'], name=op.f('fk_voice_builds_consent_version_id_consent_versions')),
    sa.ForeignKeyConstraint(['model_artifact_id'], ['voice_artifacts.id'], name=op.f('fk_voice_builds_model_artifact_id_voice_artifacts')),
    sa.ForeignKeyConstraint(['voice_id'], ['voices.id'], name=op.f('fk_voice_builds_voice_id_voices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voice_builds'))
    )
    with op.batch_alter_table('voice_builds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voice_builds_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voice_builds_voice_id'), ['voice_id'], unique=False)

    op.create_table('build_recordings',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('build_id', sa.String(length=32), nullable=False),
    sa.Column('artifact_id', sa.String(length=32), nullable=False),
    sa.Column('transcript', sa.Text(), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('sample_rate', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', voicehub.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['artifact_id'], ['voice_artifacts.id'], name=op.f('fk_build_recordings_artifact_id_voice_artifacts')),
    sa.ForeignKeyConstraint(['build_id'], ['voice_builds.id'], name=op.f('fk_build_recordings_build_id_voice_builds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_build_recordings')),
    sa.UniqueConstraint('build_id', 'sha256', name=op.f('uq_build_recordings_build_id'))
    )
    with op.batch_alter_table('build_recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_build_recordings_build_id'), ['build_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('build_recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_build_recordings_build_id'))

    op.drop_table('build_recordings')
    with op.batch_alter_table('voice_builds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voice_builds_voice_id'))
        batch_op.drop_index(batch_op.f('ix_voice_builds_actor_id'))

    op.drop_table('voice_builds')
    with op.batch_alter_table('consent_versions', schema=None) as batch_op:
        batch_op.drop_column('allows_voice_build')

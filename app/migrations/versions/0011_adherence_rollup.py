"""Adherence rollup: completion per schedule, site and closing day, kept by triggers.

The database owns adherence_rollup (see app/reminders/rollup.py): triggers on occurrences
add a row's contribution (due 1, on_time or late 1; nothing once cancelled) to its
(schedule, participant's site, UTC day of closes_at) and take the old contribution away, on
every insert, update and delete; a participant's change of site moves their counts. Existing
occurrences are counted once here.

Also staff_users.time_zone (the zone staff pages show times in; 'UTC' for existing accounts),
added with ADD COLUMN like 0005.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 17:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _contribution(row, day, sign):
    """SELECT list of one occurrence row's signed contribution (cancelled rows are filtered)."""
    return (
        f"{row}.schedule_id AS schedule_id, {row}.participant_id AS participant_id, "
        f"{day} AS day, {sign} AS due, "
        f"CASE WHEN {row}.completed_at IS NOT NULL AND {row}.completed_at < {row}.closes_at "
        f"THEN {sign} ELSE 0 END AS on_time, "
        f"CASE WHEN {row}.completed_at >= {row}.closes_at THEN {sign} ELSE 0 END AS late"
    )


UPSERT_TAIL = (
    "ON CONFLICT (schedule_id, site_id, day) DO UPDATE SET "
    "due = adherence_rollup.due + excluded.due, "
    "on_time = adherence_rollup.on_time + excluded.on_time, "
    "late = adherence_rollup.late + excluded.late"
)

PG_DAY = "(({row}.closes_at AT TIME ZONE 'UTC')::date)"
SQLITE_DAY = "date({row}.closes_at)"


def _pg_apply(parts):
    """One grouped upsert of the UNION ALL of signed contributions `parts` (SELECTs)."""
    union = " UNION ALL ".join(parts)
    return (
        "INSERT INTO adherence_rollup (schedule_id, site_id, day, due, on_time, late) "
        "SELECT c.schedule_id, p.site_id, c.day, sum(c.due), sum(c.on_time), sum(c.late) "
        f"FROM ({union}) AS c JOIN participants p ON p.id = c.participant_id "
        "GROUP BY c.schedule_id, p.site_id, c.day "
        "HAVING sum(c.due) <> 0 OR sum(c.on_time) <> 0 OR sum(c.late) <> 0 "
        "ORDER BY 1, 2, 3 " + UPSERT_TAIL
    )


def _pg_part(table, sign):
    return (
        f"SELECT {_contribution('r', PG_DAY.format(row='r'), sign)} "
        f"FROM {table} AS r WHERE r.cancelled_at IS NULL"
    )


def _upgrade_postgresql():
    bodies = {
        "insert": _pg_apply([_pg_part("new_rows", 1)]),
        "update": _pg_apply([_pg_part("old_rows", -1), _pg_part("new_rows", 1)]),
        "delete": _pg_apply([_pg_part("old_rows", -1)]),
    }
    referencing = {
        "insert": "REFERENCING NEW TABLE AS new_rows",
        "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "delete": "REFERENCING OLD TABLE AS old_rows",
    }
    for verb, body in bodies.items():
        op.execute(
            f"CREATE FUNCTION adherence_rollup_{verb}() RETURNS trigger AS $$ "
            f"BEGIN {body}; RETURN NULL; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER adherence_rollup_{verb} AFTER {verb.upper()} ON occurrences "
            f"{referencing[verb]} FOR EACH STATEMENT EXECUTE FUNCTION adherence_rollup_{verb}()"
        )
    # A participant's occurrences counted under their site: moved with a site change, and
    # taken away before the participant (and by cascade their occurrences) is deleted, since
    # the occurrences' delete trigger no longer finds the participant's site.
    own = (
        "SELECT {c} FROM occurrences AS r "
        "WHERE r.participant_id = OLD.id AND r.cancelled_at IS NULL"
    )
    aggregate = (
        "SELECT c.schedule_id, {site} AS site_id, c.day, sum(c.due) AS due, "
        "sum(c.on_time) AS on_time, sum(c.late) AS late "
        "FROM (" + own + ") AS c GROUP BY c.schedule_id, c.day"
    )
    day = PG_DAY.format(row="r")
    take_away = (
        "UPDATE adherence_rollup AS a SET due = a.due - g.due, on_time = a.on_time - g.on_time, "
        "late = a.late - g.late FROM ("
        + aggregate.format(c=_contribution("r", day, 1), site="OLD.site_id")
        + ") AS g WHERE a.schedule_id = g.schedule_id AND a.site_id = g.site_id AND a.day = g.day"
    )
    add = (
        "INSERT INTO adherence_rollup (schedule_id, site_id, day, due, on_time, late) "
        + aggregate.format(c=_contribution("r", day, 1), site="NEW.site_id")
        + " ORDER BY 1, 2, 3 "
        + UPSERT_TAIL
    )
    op.execute(
        "CREATE FUNCTION adherence_rollup_participant() RETURNS trigger AS $$ BEGIN "
        f"{take_away}; "
        f"IF TG_OP = 'UPDATE' THEN {add}; RETURN NEW; END IF; "
        "RETURN OLD; END; $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER adherence_rollup_participant_site AFTER UPDATE OF site_id ON participants "
        "FOR EACH ROW WHEN (OLD.site_id IS DISTINCT FROM NEW.site_id) "
        "EXECUTE FUNCTION adherence_rollup_participant()"
    )
    op.execute(
        "CREATE TRIGGER adherence_rollup_participant_delete BEFORE DELETE ON participants "
        "FOR EACH ROW EXECUTE FUNCTION adherence_rollup_participant()"
    )


def _sqlite_add(row):
    day = SQLITE_DAY.format(row=row)
    return (
        "INSERT INTO adherence_rollup (schedule_id, site_id, day, due, on_time, late) "
        f"SELECT c.schedule_id, p.site_id, c.day, c.due, c.on_time, c.late "
        f"FROM (SELECT {_contribution(row, day, 1)}) AS c "
        f"JOIN participants p ON p.id = c.participant_id "
        f"WHERE {row}.cancelled_at IS NULL " + UPSERT_TAIL + ";"
    )


def _sqlite_take_away(row):
    day = SQLITE_DAY.format(row=row)
    return (
        "UPDATE adherence_rollup SET due = due - 1, "
        f"on_time = on_time - (CASE WHEN {row}.completed_at IS NOT NULL "
        f"AND {row}.completed_at < {row}.closes_at THEN 1 ELSE 0 END), "
        f"late = late - (CASE WHEN {row}.completed_at >= {row}.closes_at THEN 1 ELSE 0 END) "
        f"WHERE {row}.cancelled_at IS NULL AND schedule_id = {row}.schedule_id "
        f"AND day = {day} "
        f"AND site_id = (SELECT site_id FROM participants WHERE id = {row}.participant_id);"
    )


def _upgrade_sqlite():
    op.execute(
        "CREATE TRIGGER adherence_rollup_insert AFTER INSERT ON occurrences BEGIN "
        + _sqlite_add("NEW") + " END"
    )
    op.execute(
        "CREATE TRIGGER adherence_rollup_update AFTER UPDATE OF schedule_id, participant_id, "
        "closes_at, completed_at, cancelled_at ON occurrences BEGIN "
        + _sqlite_take_away("OLD") + " " + _sqlite_add("NEW") + " END"
    )
    op.execute(
        "CREATE TRIGGER adherence_rollup_delete AFTER DELETE ON occurrences BEGIN "
        + _sqlite_take_away("OLD") + " END"
    )
    day = SQLITE_DAY.format(row="r")
    grouped = (
        "SELECT r.schedule_id AS schedule_id, {site} AS site_id, " + day + " AS day, "
        "count(*) AS due, "
        "sum(CASE WHEN r.completed_at IS NOT NULL AND r.completed_at < r.closes_at "
        "THEN 1 ELSE 0 END) AS on_time, "
        "sum(CASE WHEN r.completed_at >= r.closes_at THEN 1 ELSE 0 END) AS late "
        "FROM occurrences AS r WHERE r.participant_id = OLD.id AND r.cancelled_at IS NULL "
        "GROUP BY r.schedule_id, " + day
    )
    take_away = (
        "UPDATE adherence_rollup SET due = adherence_rollup.due - g.due, "
        "on_time = adherence_rollup.on_time - g.on_time, late = adherence_rollup.late - g.late "
        "FROM (" + grouped.format(site="OLD.site_id") + ") AS g "
        "WHERE adherence_rollup.schedule_id = g.schedule_id "
        "AND adherence_rollup.site_id = g.site_id AND adherence_rollup.day = g.day;"
    )
    op.execute(
        "CREATE TRIGGER adherence_rollup_participant_site AFTER UPDATE OF site_id ON participants "
        "WHEN OLD.site_id IS NOT NEW.site_id BEGIN " + take_away + " "
        "INSERT INTO adherence_rollup (schedule_id, site_id, day, due, on_time, late) "
        "SELECT * FROM (" + grouped.format(site="NEW.site_id") + ") WHERE true "
        + UPSERT_TAIL + "; END"
    )
    # A cascade deletes the occurrences after the participant, when their delete trigger no
    # longer finds the participant's site: their counts go first.
    op.execute(
        "CREATE TRIGGER adherence_rollup_participant_delete BEFORE DELETE ON participants "
        "BEGIN " + take_away + " END"
    )


def _count_existing():
    bind = op.get_bind()
    day = (PG_DAY if bind.dialect.name == "postgresql" else SQLITE_DAY).format(row="o")
    op.execute(
        "INSERT INTO adherence_rollup (schedule_id, site_id, day, due, on_time, late) "
        f"SELECT o.schedule_id, p.site_id, {day}, count(*), "
        "sum(CASE WHEN o.completed_at IS NOT NULL AND o.completed_at < o.closes_at "
        "THEN 1 ELSE 0 END), "
        "sum(CASE WHEN o.completed_at >= o.closes_at THEN 1 ELSE 0 END) "
        "FROM occurrences o JOIN participants p ON p.id = o.participant_id "
        f"WHERE o.cancelled_at IS NULL GROUP BY o.schedule_id, p.site_id, {day}"
    )


def upgrade():
    op.create_table('adherence_rollup',
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('due', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['study_schedules.id'], name=op.f('fk_adherence_rollup_schedule_id_study_schedules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_adherence_rollup_site_id_sites'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('schedule_id', 'site_id', 'day', name=op.f('pk_adherence_rollup'))
    )
    _count_existing()
    op.add_column('staff_users', sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for verb in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS adherence_rollup_{verb} ON occurrences")
            op.execute(f"DROP FUNCTION IF EXISTS adherence_rollup_{verb}()")
        for name in ("site", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS adherence_rollup_participant_{name} ON participants")
        op.execute("DROP FUNCTION IF EXISTS adherence_rollup_participant()")
    else:
        for verb in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS adherence_rollup_{verb}")
        op.execute("DROP TRIGGER IF EXISTS adherence_rollup_participant_site")
        op.execute("DROP TRIGGER IF EXISTS adherence_rollup_participant_delete")
    op.drop_table('adherence_rollup')
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('time_zone')

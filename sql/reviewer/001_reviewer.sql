-- Reviewer service schema: profiles and reviewer state, weekly activity,
-- versioned pool rule / fatigue / quality policies, panel requests and
-- assignments. Applied by sg_migrate inside the service's own schema.

-- One row per upstream user. The profile columns come from
-- POST /v1/profiles:batch; the reviewer columns are NULL/zero until the pool
-- adjustment first admits the user (status NULL = never a reviewer). Keeping
-- both in one row lets selection filter tags and status in a single index scan.
CREATE TABLE users (
    user_id            text PRIMARY KEY CHECK (char_length(user_id) BETWEEN 1 AND 128),
    tags               text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 32),
    credit_score       integer NOT NULL CHECK (credit_score BETWEEN 0 AND 1000),
    registered_at      timestamptz NOT NULL,
    profile_updated_at timestamptz NOT NULL DEFAULT now(),

    status             text CHECK (status IN ('active', 'paused', 'suspended', 'retired')),
    reason             text NOT NULL DEFAULT '',
    status_changed_at  timestamptz,
    -- NULL while suspended = indefinite (ops suspension); ended suspensions are
    -- reinstated by the pool adjustment.
    suspended_until    timestamptz,
    -- Random position on [0,1) used by selection windows; refreshed whenever
    -- the reviewer is chosen or (re)joins the pool.
    sample_key         double precision NOT NULL DEFAULT random(),

    -- Lifetime counters, each the sum over this reviewer's assignments.
    assigned           integer NOT NULL DEFAULT 0 CHECK (assigned >= 0),
    voted              integer NOT NULL DEFAULT 0 CHECK (voted >= 0),
    expired            integer NOT NULL DEFAULT 0 CHECK (expired >= 0),
    declined           integer NOT NULL DEFAULT 0 CHECK (declined >= 0),
    decided            integer NOT NULL DEFAULT 0 CHECK (decided >= 0),
    with_majority      integer NOT NULL DEFAULT 0 CHECK (with_majority >= 0 AND with_majority <= decided),
    -- The same counters since the last reinstatement: the quality policy judges
    -- these, so a reinstated reviewer starts with a clean slate.
    q_voted            integer NOT NULL DEFAULT 0 CHECK (q_voted >= 0),
    q_expired          integer NOT NULL DEFAULT 0 CHECK (q_expired >= 0),
    q_decided          integer NOT NULL DEFAULT 0 CHECK (q_decided >= 0),
    q_with_majority    integer NOT NULL DEFAULT 0 CHECK (q_with_majority >= 0 AND q_with_majority <= q_decided),

    -- Fatigue truth (Redis holds a cache of these).
    open_ballots       integer NOT NULL DEFAULT 0 CHECK (open_ballots >= 0),
    last_assigned_at   timestamptz,
    cooldown_until     timestamptz,
    day_date           date,
    day_count          integer NOT NULL DEFAULT 0 CHECK (day_count >= 0),
    week_date          date CHECK (week_date IS NULL OR extract(isodow FROM week_date) = 1),
    week_count         integer NOT NULL DEFAULT 0 CHECK (week_count >= 0),

    CHECK (status IS NOT NULL OR (assigned = 0 AND open_ballots = 0)),
    CHECK (status = 'suspended' OR suspended_until IS NULL)
);

-- Selection reads a bounded window of this index from a random point.
CREATE INDEX users_active_sample ON users (sample_key) WHERE status = 'active';
-- Required-tag selections can use this instead when a tag is rare.
CREATE INDEX users_active_tags ON users USING gin (tags) WHERE status = 'active';
-- GET /v1/reviewers?status= for the other statuses. Active reviewers are
-- left out on purpose: every selection rewrites its reviewers' rows with a
-- new sample_key (a non-HOT update), and each index on them costs an insert
-- per chosen reviewer; listing active ones walks the primary key instead.
CREATE INDEX users_inactive_status ON users (status, user_id)
    WHERE status IN ('paused', 'suspended', 'retired');

-- "User was active at least once in the ISO week starting week_start
-- (Monday, UTC)". The key makes activity intake idempotent.
CREATE TABLE activity_weeks (
    user_id    text NOT NULL CHECK (char_length(user_id) BETWEEN 1 AND 128),
    week_start date NOT NULL CHECK (extract(isodow FROM week_start) = 1),
    PRIMARY KEY (user_id, week_start)
);
CREATE INDEX activity_weeks_week ON activity_weeks (week_start, user_id);

CREATE TABLE reviewer_status_history (
    id          bigserial PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (user_id),
    from_status text,
    to_status   text NOT NULL,
    reason      text NOT NULL,
    actor       text NOT NULL,
    changed_at  timestamptz NOT NULL
);
CREATE INDEX reviewer_status_history_user ON reviewer_status_history (user_id, id);

-- Versioned rules: PUT inserts version max+1; the highest version is current.
CREATE TABLE pool_rules (
    version               integer PRIMARY KEY CHECK (version >= 1),
    include_tags_any      text[] NOT NULL CHECK (cardinality(include_tags_any) <= 32),
    exclude_tags          text[] NOT NULL CHECK (cardinality(exclude_tags) <= 32),
    min_credit_score      integer NOT NULL CHECK (min_credit_score BETWEEN 0 AND 1000),
    min_account_age_days  integer NOT NULL CHECK (min_account_age_days BETWEEN 0 AND 36500),
    active_weeks_required integer NOT NULL CHECK (active_weeks_required BETWEEN 0 AND 52),
    created_by            text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE fatigue_policies (
    version                 integer PRIMARY KEY CHECK (version >= 1),
    max_open_ballots        integer NOT NULL CHECK (max_open_ballots BETWEEN 1 AND 1000),
    max_per_day             integer NOT NULL CHECK (max_per_day BETWEEN 1 AND 100000),
    max_per_week            integer NOT NULL CHECK (max_per_week BETWEEN 1 AND 1000000),
    min_interval_s          integer NOT NULL CHECK (min_interval_s BETWEEN 0 AND 604800),
    cooldown_after_expiry_s integer NOT NULL CHECK (cooldown_after_expiry_s BETWEEN 0 AND 31536000),
    created_by              text NOT NULL,
    created_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE quality_policies (
    version           integer PRIMARY KEY CHECK (version >= 1),
    min_decided_votes integer NOT NULL CHECK (min_decided_votes BETWEEN 1 AND 1000000),
    min_accuracy      double precision NOT NULL CHECK (min_accuracy BETWEEN 0 AND 1),
    max_no_show_rate  double precision NOT NULL CHECK (max_no_show_rate BETWEEN 0 AND 1),
    suspend_days      integer NOT NULL CHECK (suspend_days BETWEEN 1 AND 3650),
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- The defaults of API.md, so a fresh deployment has a current version of each.
INSERT INTO pool_rules VALUES (1, '{}', '{}', 600, 90, 4, 'migration', now());
INSERT INTO fatigue_policies VALUES (1, 3, 20, 100, 60, 86400, 'migration', now());
INSERT INTO quality_policies VALUES (1, 20, 0.6, 0.5, 30, 'migration', now());

-- One answer per (case, round): a second request for the same round, under a
-- new event id, re-emits this answer instead of assigning again.
CREATE TABLE panel_requests (
    case_id       text NOT NULL,
    round         integer NOT NULL CHECK (round >= 0),
    event_id      text NOT NULL,
    report_type   text NOT NULL,
    seats         integer NOT NULL CHECK (seats >= 1),
    reviewer_tags text[] NOT NULL,
    deadline      timestamptz,
    reviewer_ids  text[] NOT NULL DEFAULT '{}',
    shortfall     integer NOT NULL DEFAULT 0 CHECK (shortfall >= 0 AND shortfall <= seats),
    requested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, round)
);

-- A reviewer sits on a case at most once, whatever the round. No foreign key
-- to users and no index beyond the key: rows are only ever inserted from the
-- UPDATE ... RETURNING of the very users rows (store_select.c), and both
-- would cost every selection a trigger call or an index insert per seat.
CREATE TABLE assignments (
    case_id       text NOT NULL,
    reviewer_id   text NOT NULL,
    round         integer NOT NULL CHECK (round >= 0),
    assigned_at   timestamptz NOT NULL,
    open          boolean NOT NULL DEFAULT true,
    closed_at     timestamptz,
    outcome       text CHECK (outcome IN ('voted', 'expired', 'declined', 'cancelled')),
    with_majority boolean,
    PRIMARY KEY (case_id, reviewer_id),
    CHECK (open = (closed_at IS NULL))
);

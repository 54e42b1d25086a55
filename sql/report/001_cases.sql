-- Report service: voting rules, cases, reports, panel requests, ballots,
-- the case audit trail, idempotency keys and the upstream callback queue.

CREATE TABLE voting_rules (
    report_type            text        NOT NULL CHECK (report_type ~ '^[a-z0-9_]{1,32}$'),
    version                integer     NOT NULL CHECK (version >= 1),
    panel_size             integer     NOT NULL CHECK (panel_size BETWEEN 1 AND 101),
    votes_to_decide        integer     NOT NULL,
    ballot_timeout_s       integer     NOT NULL CHECK (ballot_timeout_s > 0),
    reminder_before_s      integer     NOT NULL CHECK (reminder_before_s >= 0),
    max_substitute_rounds  integer     NOT NULL CHECK (max_substitute_rounds BETWEEN 0 AND 10),
    case_deadline_s        integer     NOT NULL CHECK (case_deadline_s > 0),
    on_deadline            text        NOT NULL CHECK (on_deadline IN ('decide_by_votes_cast', 'escalate')),
    reviewer_tags          jsonb       NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(reviewer_tags) = 'array'),
    appeal_window_s        integer     NOT NULL CHECK (appeal_window_s > 0),
    appeal_panel_size      integer     NOT NULL CHECK (appeal_panel_size BETWEEN 1 AND 101),
    appeal_votes_to_decide integer     NOT NULL,
    created_by             text        NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (report_type, version),
    CHECK (2 * votes_to_decide > panel_size AND votes_to_decide <= panel_size),
    CHECK (2 * appeal_votes_to_decide > appeal_panel_size AND appeal_votes_to_decide <= appeal_panel_size),
    CHECK (ballot_timeout_s <= case_deadline_s),
    CHECK (reminder_before_s < ballot_timeout_s)
);

CREATE TABLE cases (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    seq                bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    report_type        text        NOT NULL,
    target_id          text        NOT NULL,
    target_owner_id    text        NOT NULL,
    rule_version       integer     NOT NULL,
    appeal_of          uuid        REFERENCES cases (id),
    -- The panel of this case: the rule's panel, or its appeal panel.
    panel_size         integer     NOT NULL CHECK (panel_size BETWEEN 1 AND 101),
    votes_to_decide    integer     NOT NULL,
    status             text        NOT NULL DEFAULT 'assigning'
                       CHECK (status IN ('assigning', 'voting', 'decided', 'escalated', 'cancelled')),
    verdict            text        CHECK (verdict IN ('violation', 'no_violation')),
    decided_by         text        CHECK (decided_by IN ('panel', 'deadline', 'ops', 'appeal')),
    tally_violation    integer,
    tally_no_violation integer,
    round              integer     NOT NULL DEFAULT 1 CHECK (round >= 1),
    -- Set when the panel is short after an assignment: the refill scanner
    -- requests the missing seats from then on.
    refill_at          timestamptz,
    opened_at          timestamptz NOT NULL DEFAULT now(),
    deadline           timestamptz NOT NULL,
    decided_at         timestamptz,
    closed_at          timestamptz,
    cancel_reason      text,
    resolve_note       text,
    resolved_by        text,
    -- The W3C traceparent of the report that opened the case (or of the
    -- appeal): events caused later without a request of their own (timers,
    -- untraced votes) carry it, so one trace follows the case.
    traceparent        text,
    FOREIGN KEY (report_type, rule_version) REFERENCES voting_rules (report_type, version),
    CHECK (2 * votes_to_decide > panel_size AND votes_to_decide <= panel_size),
    CHECK ((status = 'decided') = (verdict IS NOT NULL)),
    CHECK ((status = 'decided') = (decided_by IS NOT NULL)),
    CHECK (appeal_of IS NULL OR appeal_of <> id)
);
-- One open case per reported item: later reports join it.
CREATE UNIQUE INDEX cases_one_open_per_target ON cases (report_type, target_id)
    WHERE status IN ('assigning', 'voting') AND appeal_of IS NULL;
-- A case is appealed at most once.
CREATE UNIQUE INDEX cases_one_appeal ON cases (appeal_of) WHERE appeal_of IS NOT NULL;
CREATE INDEX cases_open_deadline ON cases (deadline) WHERE status IN ('assigning', 'voting');
CREATE INDEX cases_refill ON cases (refill_at) WHERE refill_at IS NOT NULL;
CREATE INDEX cases_status_seq ON cases (status, seq);
CREATE INDEX cases_type_seq ON cases (report_type, seq);

CREATE TABLE reports (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    seq             bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    case_id         uuid        NOT NULL REFERENCES cases (id),
    source          text        NOT NULL,
    report_type     text        NOT NULL,
    target_id       text        NOT NULL,
    target_owner_id text        NOT NULL,
    reporter_id     text        NOT NULL CHECK (reporter_id <> target_owner_id),
    reason          text        NOT NULL,
    description     text,
    evidence        jsonb,
    callback_url    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- The same reporter reporting the same case twice is refused.
    UNIQUE (case_id, reporter_id)
);

CREATE TABLE idempotency_keys (
    client          text        NOT NULL,
    key             text        NOT NULL,
    body_sha256     text        NOT NULL,
    response_status integer,
    response_body   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Each request for panel seats, answered by one sg.panel.assigned.
CREATE TABLE panel_requests (
    case_id        uuid        NOT NULL REFERENCES cases (id),
    round          integer     NOT NULL CHECK (round >= 1),
    seats          integer     NOT NULL CHECK (seats >= 1),
    requested_at   timestamptz NOT NULL DEFAULT now(),
    assigned_at    timestamptz,
    assigned_count integer,
    shortfall      integer,
    PRIMARY KEY (case_id, round)
);

CREATE TABLE ballots (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    seq         bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    case_id     uuid        NOT NULL REFERENCES cases (id),
    reviewer_id text        NOT NULL,
    round       integer     NOT NULL,
    status      text        NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'voted', 'expired', 'declined', 'cancelled')),
    decision    text        CHECK (decision IN ('violation', 'no_violation')),
    comment     text,
    assigned_at timestamptz NOT NULL DEFAULT now(),
    deadline    timestamptz NOT NULL,
    reminder_at timestamptz,
    reminded_at timestamptz,
    voted_at    timestamptz,
    closed_at   timestamptz,
    UNIQUE (case_id, reviewer_id),
    CHECK ((status = 'voted') = (decision IS NOT NULL))
);
CREATE INDEX ballots_open_deadline ON ballots (deadline) WHERE status = 'open';
CREATE INDEX ballots_due_reminder ON ballots (reminder_at)
    WHERE status = 'open' AND reminded_at IS NULL AND reminder_at IS NOT NULL;
CREATE INDEX ballots_reviewer ON ballots (reviewer_id, seq);

CREATE TABLE case_events (
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id uuid        NOT NULL REFERENCES cases (id),
    at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind    text        NOT NULL,
    actor   text,
    data    jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX case_events_case ON case_events (case_id, id);

CREATE TABLE callbacks (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id         uuid        NOT NULL REFERENCES cases (id),
    url             text        NOT NULL,
    body            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_result     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (case_id, url)
);
CREATE INDEX callbacks_due ON callbacks (next_attempt_at) WHERE status = 'pending';

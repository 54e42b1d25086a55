-- Juror quality beyond the majority (API.md v2, issue 17): gold accuracy in
-- the quality policy, graded suspensions, pair limits and pair agreement.
-- Expand-only: every new column has a default or is nullable.

-- suspend_days as a list ([2, 7, 30]): the n-th suspension lasts the n-th
-- length, the last repeats. NULL: the policy gave one integer (suspend_days).
ALTER TABLE quality_policies
    ADD COLUMN suspend_days_steps integer[]
        CHECK (suspend_days_steps IS NULL OR (cardinality(suspend_days_steps) BETWEEN 1 AND 16
               AND 1 <= ALL (suspend_days_steps) AND 3650 >= ALL (suspend_days_steps))),
    ADD COLUMN min_gold_votes integer NOT NULL DEFAULT 5 CHECK (min_gold_votes BETWEEN 1 AND 1000000),
    ADD COLUMN min_gold_accuracy double precision NOT NULL DEFAULT 0.7 CHECK (min_gold_accuracy BETWEEN 0 AND 1),
    ADD COLUMN pair_flag_margin double precision NOT NULL DEFAULT 0.25 CHECK (pair_flag_margin BETWEEN 0 AND 1);

-- Timed suspensions (by the quality policy) so far: the next one is number
-- suspensions + 1.
ALTER TABLE users ADD COLUMN suspensions integer NOT NULL DEFAULT 0 CHECK (suspensions >= 0);

-- A timed suspension's length and end, in the history (NULL otherwise).
ALTER TABLE reviewer_status_history
    ADD COLUMN suspend_days integer CHECK (suspend_days IS NULL OR suspend_days >= 1),
    ADD COLUMN suspended_until timestamptz;

-- 0 = no limit.
ALTER TABLE fatigue_policies
    ADD COLUMN max_pair_cases_30d integer NOT NULL DEFAULT 0 CHECK (max_pair_cases_30d BETWEEN 0 AND 1000);

-- Cases two reviewers were seated on together, per UTC day (a < b), written
-- when the later of the two is assigned: the pair limit sums the last 30
-- days of the pairs it checks, by primary key, never scanning.
CREATE TABLE pair_days (
    a   text NOT NULL,
    b   text NOT NULL,
    day date NOT NULL,
    n   integer NOT NULL CHECK (n >= 1),
    PRIMARY KEY (a, b, day),
    CHECK (a < b)
);
-- The pool adjustment drops days older than 30.
CREATE INDEX pair_days_day ON pair_days (day);

-- Per pair and decided case: did the two vote the same way (a < b)? Written
-- from sg.case.decided's ballots; kept 90 days.
CREATE TABLE pair_cases (
    a          text NOT NULL,
    b          text NOT NULL,
    case_id    text NOT NULL,
    agreed     boolean NOT NULL,
    decided_at timestamptz NOT NULL,
    PRIMARY KEY (a, b, case_id),
    CHECK (a < b)
);
CREATE INDEX pair_cases_decided_at ON pair_cases (decided_at);

-- The sums of pair_cases per pair, kept with it (added with each new row,
-- taken off when the pool adjustment drops rows past 90 days), so that ops
-- reads never aggregate the 90 days: a reviewer's pairs are an index range,
-- and the judged pairs (>= 5 cases: rv_pair_flagged's RV_PAIR_MIN_CASES) a
-- partial index of their own.
CREATE TABLE pair_totals (
    a      text NOT NULL,
    b      text NOT NULL,
    cases  integer NOT NULL CHECK (cases >= 0),
    agreed integer NOT NULL CHECK (agreed >= 0 AND agreed <= cases),
    PRIMARY KEY (a, b),
    CHECK (a < b)
);
CREATE INDEX pair_totals_b ON pair_totals (b, a);
CREATE INDEX pair_totals_judged ON pair_totals (a, b) WHERE cases >= 5;
CREATE INDEX pair_totals_empty ON pair_totals (a, b) WHERE cases = 0;

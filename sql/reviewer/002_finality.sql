-- Accuracy against the final verdict (API.md v2): each juror's decision is
-- kept with their assignment (from sg.case.decided), and each case's decided
-- and final verdicts meet in one row whichever of sg.case.decided and
-- sg.case.finalized arrives first. Expand-only.

ALTER TABLE assignments ADD COLUMN decision text CHECK (decision IN ('violation', 'no_violation'));

-- The row is created by the first of the two events and locked by both
-- (INSERT ... ON CONFLICT DO UPDATE), so they apply one after the other.
CREATE TABLE case_verdicts (
    case_id          text PRIMARY KEY,
    verdict          text CHECK (verdict IN ('violation', 'no_violation')),       -- sg.case.decided
    decided_at       timestamptz,
    final_verdict    text CHECK (final_verdict IN ('violation', 'no_violation')), -- sg.case.finalized
    finalized_by     text,
    appeal_case_id   text,
    finalized_at     timestamptz,
    -- An ops audit case: its finalization names the expected verdict.
    audit            boolean NOT NULL DEFAULT false,
    expected_verdict text CHECK (expected_verdict IN ('violation', 'no_violation')),
    CHECK (NOT audit OR expected_verdict IS NOT NULL)
);

-- Gold marks (audit cases): NULL = not an audit ballot (or not yet known),
-- else whether the juror voted the expected verdict. The users' gold
-- counters are the sums over these, like the other counters; q_* restart at
-- a reinstatement.
ALTER TABLE assignments ADD COLUMN gold_hit boolean;
ALTER TABLE users ADD COLUMN gold_votes integer NOT NULL DEFAULT 0 CHECK (gold_votes >= 0),
                  ADD COLUMN gold_hits integer NOT NULL DEFAULT 0 CHECK (gold_hits >= 0 AND gold_hits <= gold_votes),
                  ADD COLUMN q_gold_votes integer NOT NULL DEFAULT 0 CHECK (q_gold_votes >= 0),
                  ADD COLUMN q_gold_hits integer NOT NULL DEFAULT 0
                      CHECK (q_gold_hits >= 0 AND q_gold_hits <= q_gold_votes);

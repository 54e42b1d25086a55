-- Audit cases (issue 17, API.md "Audit cases (v2, ops)"): a case that ops
-- open with a known answer. It runs like any case, but is the platform's
-- own: it never joins or blocks the reports of its target, never reaches
-- upstream, and is final at its decision (finalized_by 'decision', or 'ops'
-- when ops resolved it after an escalation).

ALTER TABLE cases ADD COLUMN IF NOT EXISTS audit boolean NOT NULL DEFAULT false;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS expected_verdict text
    CHECK (expected_verdict IN ('violation', 'no_violation'));
ALTER TABLE cases ADD CONSTRAINT cases_audit_expected CHECK (audit = (expected_verdict IS NOT NULL));
-- An audit case is no appeal and is never appealed (cases_one_appeal would
-- not stop an appeal of it; rp_store_case_appeal refuses one).
ALTER TABLE cases ADD CONSTRAINT cases_audit_not_appeal CHECK (NOT audit OR appeal_of IS NULL);

ALTER TABLE cases DROP CONSTRAINT IF EXISTS cases_finalized_by;
ALTER TABLE cases ADD CONSTRAINT cases_finalized_by
    CHECK (finalized_by IN ('window', 'appeal', 'ops', 'decision'));

-- One case per target holds for the reports of upstream only: an audit case
-- of a target that is also reported does not take those reports (they open
-- or join the target's real case), and ops may run several audits of one
-- item. store_intake.c's ON CONFLICT names this predicate.
DROP INDEX IF EXISTS cases_one_open_per_target;
CREATE UNIQUE INDEX cases_one_open_per_target ON cases (report_type, target_id)
    WHERE status IN ('assigning', 'voting', 'escalated') AND NOT audit;

-- GET /v1/audit-cases, newest first.
CREATE INDEX IF NOT EXISTS cases_audit_seq ON cases (seq) WHERE audit;

-- Audit cases (issue 17, API.md "Audit cases (v2, ops)"): a case that ops
-- open with a known answer. It runs like any case, but is the platform's
-- own: it never joins or blocks the reports of its target, never reaches
-- upstream, and is final at its decision (finalized_by 'decision', or 'ops'
-- when ops resolved it after an escalation). Expand only: the previous
-- release runs against this schema unchanged.

ALTER TABLE cases ADD COLUMN IF NOT EXISTS audit boolean NOT NULL DEFAULT false;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS expected_verdict text
    CHECK (expected_verdict IN ('violation', 'no_violation'));
ALTER TABLE cases ADD CONSTRAINT cases_audit_expected CHECK (audit = (expected_verdict IS NOT NULL));
-- An audit case is no appeal (and rp_store_case_appeal never opens one of it).
ALTER TABLE cases ADD CONSTRAINT cases_audit_not_appeal CHECK (NOT audit OR appeal_of IS NULL);
-- cases.target_id is the key of "one case per target"
-- (cases_one_open_per_target, the intake's join). An audit case's key is
-- its own, so it never takes or blocks the reports of the item it shows
-- (which is its report's target_id), and ops may audit an item that is
-- being judged, or audit it twice. The unique index stays as the previous
-- release infers it in its ON CONFLICT.
ALTER TABLE cases ADD CONSTRAINT cases_audit_key CHECK (NOT audit OR target_id = 'sg:audit:' || id::text);

ALTER TABLE cases DROP CONSTRAINT IF EXISTS cases_finalized_by;
ALTER TABLE cases ADD CONSTRAINT cases_finalized_by
    CHECK (finalized_by IN ('window', 'appeal', 'ops', 'decision'));

-- GET /v1/audit-cases, newest first.
CREATE INDEX IF NOT EXISTS cases_audit_seq ON cases (seq) WHERE audit;

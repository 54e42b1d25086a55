-- Lifecycle to finality (issue 13): quorum at the deadline, shortfall
-- retries that spend no substitute round, one case per target across
-- escalation and appeal, the re-report cooldown, and finality.

-- Voting rule: votes that must have been cast for decide_by_votes_cast to
-- decide at the deadline (default votes_to_decide: a majority of the panel),
-- and how long after a decision a new report joins the decided case.
ALTER TABLE voting_rules ADD COLUMN IF NOT EXISTS min_votes_at_deadline integer;
UPDATE voting_rules SET min_votes_at_deadline = votes_to_decide WHERE min_votes_at_deadline IS NULL;
-- Expand-only: the previous release's rule update inserts a version without
-- this column, so its default (votes_to_decide, which a DEFAULT cannot name)
-- is filled by a trigger; NOT NULL is checked after BEFORE triggers.
CREATE FUNCTION voting_rules_min_votes_default() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.min_votes_at_deadline := NEW.votes_to_decide;
    RETURN NEW;
END $$;
CREATE TRIGGER voting_rules_min_votes_default BEFORE INSERT ON voting_rules
    FOR EACH ROW WHEN (NEW.min_votes_at_deadline IS NULL) EXECUTE FUNCTION voting_rules_min_votes_default();
ALTER TABLE voting_rules ALTER COLUMN min_votes_at_deadline SET NOT NULL;
ALTER TABLE voting_rules ADD CONSTRAINT voting_rules_min_votes_at_deadline
    CHECK (min_votes_at_deadline BETWEEN 1 AND panel_size);
ALTER TABLE voting_rules ADD COLUMN IF NOT EXISTS re_report_cooldown_s integer NOT NULL DEFAULT 86400
    CHECK (re_report_cooldown_s BETWEEN 0 AND 2592000);

-- Substitute rounds spent (for expired, declined and cancelled ballots).
-- `round` numbers every panel request (substitutes, shortfall retries,
-- replacements of suspended reviewers) and no longer counts substitutes.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS substitute_rounds integer NOT NULL DEFAULT 0
    CHECK (substitute_rounds >= 0);
UPDATE cases SET substitute_rounds = round - 1 WHERE round > 1 AND substitute_rounds = 0;
-- Seats the reviewer service could not fill, waiting for the retry due at
-- refill_at; shortfall_retries counts the retries since the panel was last
-- full (the back-off step).
ALTER TABLE cases ADD COLUMN IF NOT EXISTS shortfall_seats integer NOT NULL DEFAULT 0
    CHECK (shortfall_seats >= 0);
ALTER TABLE cases ADD COLUMN IF NOT EXISTS shortfall_retries integer NOT NULL DEFAULT 0
    CHECK (shortfall_retries >= 0);
-- A short panel waiting for its refill (refill_at set by the old code) keeps
-- its missing seats as a shortfall retry.
UPDATE cases c SET shortfall_seats = greatest(0, c.panel_size
        - (SELECT count(*) FROM ballots b WHERE b.case_id = c.id AND b.status IN ('open', 'voted'))
        - (SELECT coalesce(sum(p.seats), 0) FROM panel_requests p WHERE p.case_id = c.id AND p.assigned_at IS NULL))
    WHERE c.refill_at IS NOT NULL AND c.status IN ('assigning', 'voting');

-- Finality: a fact of a decided case, set once (see lifecycle.h).
-- finalize_at is the due time of the appeal-window timer (decided_at +
-- appeal_window_s for a case that can be appealed; NULL otherwise).
ALTER TABLE cases ADD COLUMN IF NOT EXISTS finalized_at timestamptz;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS finalized_by text;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS finalize_at timestamptz;
ALTER TABLE cases ADD CONSTRAINT cases_finalized_by CHECK (finalized_by IN ('window', 'appeal', 'ops'));
ALTER TABLE cases ADD CONSTRAINT cases_final_is_decided
    CHECK (finalized_at IS NULL OR (status = 'decided' AND finalized_by IS NOT NULL));
-- Cases decided before this migration get their window timer.
UPDATE cases c SET finalize_at = c.decided_at + r.appeal_window_s * interval '1 second'
    FROM voting_rules r
    WHERE r.report_type = c.report_type AND r.version = c.rule_version AND c.status = 'decided'
    AND c.appeal_of IS NULL AND c.finalized_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM cases a WHERE a.appeal_of = c.id);
CREATE INDEX IF NOT EXISTS cases_finalize_due ON cases (finalize_at)
    WHERE finalize_at IS NOT NULL AND finalized_at IS NULL;

-- One case per target: a report joins the open, escalated or appeal case of
-- its target (an appeal case is open while its appealed case is decided), so
-- at most one of them exists per target.
DROP INDEX IF EXISTS cases_one_open_per_target;
CREATE UNIQUE INDEX cases_one_open_per_target ON cases (report_type, target_id)
    WHERE status IN ('assigning', 'voting', 'escalated');
-- The re-report cooldown looks up the target's last decision.
CREATE INDEX IF NOT EXISTS cases_target_decided ON cases (report_type, target_id, decided_at)
    WHERE status = 'decided';

-- GET /v1/me/cases: the cases of a content owner, of a reporter.
CREATE INDEX IF NOT EXISTS cases_owner_seq ON cases (target_owner_id, seq);
CREATE INDEX IF NOT EXISTS reports_reporter ON reports (reporter_id, case_id);

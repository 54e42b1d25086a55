-- Issue 12: intake limits per case, the outcome of every kind called back
-- once per (client, URL), and the callback queue made safe to run against
-- hostile receivers (per-host share of the workers, ops list and retry).

-- At most this many reports join one case (API.md "Voting rules").
ALTER TABLE voting_rules ADD COLUMN IF NOT EXISTS max_reports_per_case integer NOT NULL DEFAULT 500
    CHECK (max_reports_per_case BETWEEN 1 AND 10000);

-- Reports filed on the case, counted under the case row lock at intake, so
-- the cap needs no count(*) over the case's reports.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS report_count integer NOT NULL DEFAULT 0;
UPDATE cases c SET report_count = (SELECT count(*) FROM reports p WHERE p.case_id = c.id)
    WHERE report_count = 0;
-- Set when the case can no longer change (issue 13 owns the transition;
-- the upstream view reads it).
ALTER TABLE cases ADD COLUMN IF NOT EXISTS finalized_at timestamptz;

-- One delivery per (case, outcome kind, client, URL): each client gets its
-- own report_ids, and an escalation, its resolution and the finality of one
-- case are separate deliveries.
ALTER TABLE callbacks DROP CONSTRAINT IF EXISTS callbacks_case_id_url_key;
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'decided'
    CHECK (kind IN ('decided', 'escalated', 'resolved', 'cancelled', 'finalized'));
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS client text NOT NULL DEFAULT '';
-- X-SG-Event-Id: the same on every attempt, kept by an ops retry.
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS event_id uuid NOT NULL DEFAULT gen_random_uuid();
-- The URL's host (lower case), the unit of the per-host share of workers,
-- and the URL without userinfo, query and fragment, for the audit trail and
-- the ops list (both written by C with libcurl's URL parser at queue time;
-- rows queued before this migration get a regex approximation).
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS host text NOT NULL DEFAULT '';
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS url_redacted text;
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS last_error text;
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS seq bigint GENERATED ALWAYS AS IDENTITY;
UPDATE callbacks SET
    url_redacted = regexp_replace(regexp_replace(url, '[?#].*$', ''), '^([A-Za-z][A-Za-z0-9+.-]*://)[^@/]*@', '\1'),
    host = lower(substring(url from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^]/]*\]|[^:/?#]*)'))
    WHERE url_redacted IS NULL;
-- Before this migration a cancelled case's callback said so in its body.
UPDATE callbacks SET kind = 'cancelled' WHERE kind = 'decided' AND body::jsonb ->> 'status' = 'cancelled';
ALTER TABLE callbacks ALTER COLUMN url_redacted SET NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS callbacks_one_delivery ON callbacks (case_id, kind, client, url);
CREATE UNIQUE INDEX IF NOT EXISTS callbacks_seq ON callbacks (seq);
CREATE INDEX IF NOT EXISTS callbacks_status_seq ON callbacks (status, seq);
CREATE INDEX IF NOT EXISTS callbacks_case ON callbacks (case_id, seq);
-- Tenancy checks and each client's own report_ids.
CREATE INDEX IF NOT EXISTS reports_case_source ON reports (case_id, source, seq);

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
--
-- Expand-only (README "Expand-only migrations"): the previous release's
-- report runs `INSERT INTO callbacks (case_id, url, body) ... ON CONFLICT
-- (case_id, url) DO NOTHING` when it decides or cancels a case, so the
-- unique key callbacks_case_id_url_key stays exactly as it is, and every
-- column added here has a default or is filled by callbacks_fill_legacy
-- below. The new code makes (case_id, url) the per-delivery key by storing
-- in url the receiver's URL with its fragment replaced by
-- "#sg=<kind>.<client>" (rp_case_outcome): libcurl never sends a fragment,
-- and sg_url_redact drops it, so delivery and the ops list are unchanged,
-- and a row either release queues is claimed and delivered once by either
-- release's dispatcher.
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'decided'
    CHECK (kind IN ('decided', 'escalated', 'resolved', 'cancelled', 'finalized'));
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS client text NOT NULL DEFAULT '';
-- X-SG-Event-Id: the same on every attempt, kept by an ops retry.
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS event_id uuid NOT NULL DEFAULT gen_random_uuid();
-- The URL's host (lower case), the unit of the per-host share of workers,
-- and the URL without userinfo, query and fragment, for the audit trail and
-- the ops list (both written by C with libcurl's URL parser at queue time;
-- rows queued by the previous release, before or after this migration, get
-- a regex approximation).
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS host text NOT NULL DEFAULT '';
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS url_redacted text;
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS last_error text;
ALTER TABLE callbacks ADD COLUMN IF NOT EXISTS seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE FUNCTION callbacks_url_redacted(url text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT regexp_replace(regexp_replace(url, '[?#].*$', ''), '^([A-Za-z][A-Za-z0-9+.-]*://)[^@/]*@', '\1') $$;
CREATE FUNCTION callbacks_url_host(url text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT coalesce(lower(substring(url from '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^]/]*\]|[^:/?#]*)')), '') $$;
UPDATE callbacks SET url_redacted = callbacks_url_redacted(url), host = callbacks_url_host(url)
    WHERE url_redacted IS NULL;
-- Before this migration a cancelled case's callback said so in its body.
UPDATE callbacks SET kind = 'cancelled' WHERE kind = 'decided' AND body::jsonb ->> 'status' = 'cancelled';
-- A row the previous release inserts (it names case_id, url and body only;
-- the new code always sets url_redacted): host, redacted URL and kind as the
-- UPDATEs above derive them. NOT NULL is checked after BEFORE triggers.
CREATE FUNCTION callbacks_fill_legacy() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    NEW.url_redacted := callbacks_url_redacted(NEW.url);
    IF NEW.host = '' THEN
        NEW.host := callbacks_url_host(NEW.url);
    END IF;
    IF NEW.kind = 'decided' AND NEW.body LIKE '{%' AND NEW.body::jsonb ->> 'status' = 'cancelled' THEN
        NEW.kind := 'cancelled';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER callbacks_fill_legacy BEFORE INSERT ON callbacks
    FOR EACH ROW WHEN (NEW.url_redacted IS NULL) EXECUTE FUNCTION callbacks_fill_legacy();
ALTER TABLE callbacks ALTER COLUMN url_redacted SET NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS callbacks_seq ON callbacks (seq);
CREATE INDEX IF NOT EXISTS callbacks_status_seq ON callbacks (status, seq);
CREATE INDEX IF NOT EXISTS callbacks_case ON callbacks (case_id, seq);
-- Tenancy checks and each client's own report_ids.
CREATE INDEX IF NOT EXISTS reports_case_source ON reports (case_id, source, seq);

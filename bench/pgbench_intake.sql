-- pgbench script: the report service's intake transaction for a report that
-- opens a new case (no Idempotency-Key, no callback_url), statement for
-- statement as services/report/store_intake.c (create_tx) and
-- services/report/store_lifecycle.c (rp_case_lock, rp_case_request_panel) issue them:
--
--   SELECT current voting rule version
--   INSERT case ... ON CONFLICT DO NOTHING RETURNING id
--   INSERT report ... RETURNING id
--   SELECT case + rule FOR UPDATE (case_lock)
--   INSERT panel request, UPDATE case round
--   SELECT the sg.panel.requested payload
--   SELECT case status (for the 201 body)
--   then, at the end of the transaction (sg_pg_defer), one INSERT of the
--   case events 'opened' and 'panel_requested', and one INSERT of the
--   outbox row, without pg_notify: the service's own relay leads and is
--   woken in-process after COMMIT (sg_outbox_notify_channel gives NULL)
--
-- Run by bench/run as
--   PGOPTIONS='-c search_path=<schema> -c plan_cache_mode=force_generic_plan' pgbench -n -M prepared -f bench/pgbench_intake.sql -c C -j 2 -T 20
-- against a schema migrated by the report service itself, with a voting rule
-- for 'comment' put through the API. Keep it in step with store_intake.c
-- (last synced: case events and outbox rows written at the end by sg_pg_defer;
-- the load sends no traceparent header, so it is NULL here too). bench/run
-- compares the rows per case both runs wrote and warns when they differ.
--
-- Differences that cannot be avoided: pgbench has no string variables, so
-- ids are built in SQL from a random number; the service builds the two
-- case-event JSON documents in C, here jsonb_build_object does it; the
-- timestamp format's colons are chr(58) (a ':' would be a pgbench variable).

\set n random(1, 1000000000000000)
BEGIN;
SELECT version AS rule_version FROM voting_rules WHERE report_type = 'comment' ORDER BY version DESC LIMIT 1
\gset
INSERT INTO cases (report_type, target_id, target_owner_id, rule_version, panel_size, votes_to_decide, deadline,
                   traceparent)
SELECT r.report_type, 'pgb:' || :n::text, 'pgb-own-' || :n::text, r.version, r.panel_size, r.votes_to_decide,
       now() + r.case_deadline_s * interval '1 second', NULL::text
FROM voting_rules r WHERE r.report_type = 'comment' AND r.version = :rule_version::int
ON CONFLICT (report_type, target_id) WHERE status IN ('assigning', 'voting') AND appeal_of IS NULL
DO NOTHING RETURNING id AS case_id
\gset
INSERT INTO reports (case_id, source, report_type, target_id, target_owner_id, reporter_id, reason, description,
                     evidence, callback_url)
VALUES (:case_id, 'bench', 'comment', 'pgb:' || :n::text, 'pgb-own-' || :n::text, 'pgb-rep-' || :n::text, 'abuse',
        'insulting comment under a listing', NULL::jsonb, NULL)
ON CONFLICT (case_id, reporter_id) DO NOTHING RETURNING id AS report_id
\gset
SELECT c.id AS l_id, coalesce(c.appeal_of::text, '') AS l_appeal_of, c.report_type AS l_report_type,
       c.target_id AS l_target_id, c.target_owner_id AS l_owner, c.status AS l_status,
       c.rule_version AS l_rule_version, c.panel_size AS panel_size, c.votes_to_decide AS l_votes_to_decide,
       c.round AS l_round, r.max_substitute_rounds AS l_max_sub, (r.on_deadline = 'escalate')::int AS l_escalate,
       r.appeal_panel_size AS l_appeal_panel, r.appeal_votes_to_decide AS l_appeal_votes,
       (c.deadline <= now())::int AS l_past_deadline,
       (c.status = 'decided' AND c.decided_at + r.appeal_window_s * interval '1 second' >= now())::int AS l_in_window,
       EXISTS (SELECT 1 FROM cases a WHERE a.appeal_of = c.id)::int AS l_has_appeal,
       coalesce(c.traceparent, '') AS l_traceparent
FROM cases c JOIN voting_rules r ON r.report_type = c.report_type AND r.version = c.rule_version
WHERE c.id = :case_id FOR UPDATE OF c
\gset
INSERT INTO panel_requests (case_id, round, seats) VALUES (:case_id, 1::int, :panel_size::int);
UPDATE cases SET round = greatest(round, 1::int) WHERE id = :case_id;
SELECT json_build_object('case_id', c.id, 'round', 1::int, 'seats', :panel_size::int,
       'report_type', c.report_type, 'reviewer_tags', r.reviewer_tags,
       'exclude_user_ids', (SELECT coalesce(json_agg(x.u ORDER BY x.u), '[]'::json) FROM (
          SELECT b.reviewer_id AS u FROM ballots b WHERE b.case_id = c.id OR b.case_id = c.appeal_of
          UNION SELECT p.reporter_id FROM reports p WHERE p.case_id = coalesce(c.appeal_of, c.id)
          UNION SELECT c.target_owner_id) x),
       'deadline', to_char((least(now() + r.ballot_timeout_s * interval '1 second', c.deadline)) AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS"Z"'))::text AS payload
FROM cases c JOIN voting_rules r ON r.report_type = c.report_type AND r.version = c.rule_version
WHERE c.id = :case_id
\gset
SELECT status FROM cases WHERE id = :case_id;
INSERT INTO case_events (case_id, kind, actor, data)
SELECT x.c::uuid, x.k, x.a, x.d::jsonb
FROM unnest(ARRAY[:case_id::text, :case_id::text], ARRAY['opened', 'panel_requested'], ARRAY['bench', NULL],
            ARRAY[jsonb_build_object('report_id', :report_id::text, 'reporter_id', 'pgb-rep-' || :n::text,
                                     'source', 'bench', 'rule_version', :rule_version::int)::text,
                  jsonb_build_object('round', 1, 'seats', :panel_size::int,
                                     'exclude_user_ids', (:payload::jsonb) -> 'exclude_user_ids')::text])
     WITH ORDINALITY AS x(c, k, a, d, o) ORDER BY x.o;
INSERT INTO outbox (topic, key, event_type, payload, traceparent)
     SELECT x.t, x.k, x.e, x.p::jsonb, x.tp
     FROM unnest(ARRAY['sg.panel.requested'], ARRAY[:case_id::text], ARRAY['sg.panel.requested'],
                 ARRAY[:payload::text], ARRAY[NULL::text])
          WITH ORDINALITY AS x(t, k, e, p, tp, o) ORDER BY x.o;
COMMIT;

-- pgbench script: the report service's intake transaction for a report that
-- opens a new case (no Idempotency-Key, no callback_url), statement for
-- statement as services/report/store_intake.c (create_tx) and
-- services/report/store_lifecycle.c (rp_case_lock, rp_case_request_panel) issue them:
--
--   SELECT current voting rule version
--   SELECT the target's live or cooling-down case FOR UPDATE (join_sql: none)
--   INSERT case, counting the report in, ... ON CONFLICT DO NOTHING RETURNING id
--   INSERT report ... RETURNING id
--   SELECT case + rule (rp_case_read_new: the row is this transaction's own,
--     so no lock; its round is already 1 and its status the 201 body's)
--   INSERT panel request
--   SELECT the sg.panel.requested payload
--   then, at the end of the transaction (sg_pg_defer), one INSERT of the
--   case events 'opened' and 'panel_requested', and one INSERT of the
--   outbox row, without pg_notify: the service's own relay leads and is
--   woken in-process after COMMIT (sg_outbox_notify_channel gives NULL)
--
-- Run by bench/run as
--   PGOPTIONS='-c search_path=<schema> -c plan_cache_mode=force_generic_plan' pgbench -n -M prepared -f bench/pgbench_intake.sql -c C -j 2 -T 20
-- against a schema migrated by the report service itself, with a voting rule
-- for 'comment' put through the API. Keep it in step with store_intake.c
-- (last synced: join_sql; a new case counts its first report at INSERT and
-- is read back without a lock; case events and outbox rows written at the end
-- by sg_pg_defer; the load sends no traceparent header, so it is NULL here too). bench/run
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
SELECT id, coalesce(appeal_of::text, '') FROM cases WHERE id = (SELECT x.id FROM (
  (SELECT id, 0 AS k FROM cases WHERE report_type = 'comment' AND target_id = 'pgb:' || :n::text
     AND status IN ('assigning', 'voting', 'escalated') AND NOT audit LIMIT 1)
  UNION ALL
  (SELECT d.id, 1 FROM (SELECT id, decided_at, report_type, rule_version FROM cases
     WHERE report_type = 'comment' AND target_id = 'pgb:' || :n::text AND status = 'decided' AND NOT audit
     ORDER BY decided_at DESC LIMIT 1) d
   JOIN voting_rules v ON v.report_type = d.report_type AND v.version = d.rule_version
   WHERE d.decided_at + v.re_report_cooldown_s * interval '1 second' >= clock_timestamp())) x
   ORDER BY x.k LIMIT 1)
AND (status IN ('assigning', 'voting', 'escalated') OR (status = 'decided' AND decided_at +
  (SELECT v.re_report_cooldown_s FROM voting_rules v WHERE v.report_type = cases.report_type
   AND v.version = cases.rule_version) * interval '1 second' >= clock_timestamp())) FOR UPDATE;
INSERT INTO cases (report_type, target_id, target_owner_id, rule_version, panel_size, votes_to_decide, deadline,
                   traceparent, report_count)
SELECT r.report_type, 'pgb:' || :n::text, 'pgb-own-' || :n::text, r.version, r.panel_size, r.votes_to_decide,
       now() + r.case_deadline_s * interval '1 second', NULL::text, 1
FROM voting_rules r WHERE r.report_type = 'comment' AND r.version = :rule_version::int
ON CONFLICT (report_type, target_id) WHERE status IN ('assigning', 'voting', 'escalated')
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
       (c.status = 'decided' AND c.finalized_at IS NULL
          AND c.decided_at + r.appeal_window_s * interval '1 second' >= now())::int AS l_in_window,
       EXISTS (SELECT 1 FROM cases a WHERE a.appeal_of = c.id)::int AS l_has_appeal,
       coalesce(c.traceparent, '') AS l_traceparent,
       CASE WHEN c.appeal_of IS NULL THEN r.min_votes_at_deadline ELSE r.appeal_votes_to_decide END AS l_min_votes,
       c.substitute_rounds AS l_sub_rounds, c.shortfall_seats AS l_short_seats,
       c.shortfall_retries AS l_short_retries, (c.finalized_at IS NOT NULL)::int AS l_final,
       r.appeal_window_s AS l_window, coalesce(c.verdict, '') AS l_verdict, c.audit::int AS l_audit,
       coalesce(c.expected_verdict, '') AS l_expected
FROM cases c JOIN voting_rules r ON r.report_type = c.report_type AND r.version = c.rule_version
WHERE c.id = :case_id
\gset
INSERT INTO panel_requests (case_id, round, seats) VALUES (:case_id, 1::int, :panel_size::int);
SELECT json_build_object('case_id', c.id, 'round', 1::int, 'seats', :panel_size::int,
       'report_type', c.report_type, 'reviewer_tags', r.reviewer_tags,
       'exclude_user_ids', (SELECT coalesce(json_agg(z.u ORDER BY z.o, z.s), '[]'::json) FROM (
          SELECT d.u, d.o, d.s FROM (SELECT DISTINCT ON (y.u) y.u, y.o, y.s FROM (
            SELECT c.target_owner_id AS u, 0 AS o, 0::bigint AS s
            UNION ALL SELECT b.reviewer_id, 1, b.seq FROM ballots b WHERE b.case_id = c.id OR b.case_id = c.appeal_of
            UNION ALL (SELECT p.reporter_id, 2, p.seq FROM reports p WHERE p.case_id = coalesce(c.appeal_of, c.id)
              ORDER BY p.seq LIMIT 1000)) y ORDER BY y.u, y.o, y.s) d
          ORDER BY d.o, d.s LIMIT 1000) z),
       'deadline', to_char((least(now() + r.ballot_timeout_s * interval '1 second', c.deadline)) AT TIME ZONE 'UTC',
                           'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS"Z"'))::text AS payload
FROM cases c JOIN voting_rules r ON r.report_type = c.report_type AND r.version = c.rule_version
WHERE c.id = :case_id
\gset
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

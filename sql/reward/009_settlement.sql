-- Settlement at finality (API.md "Reward service", v2), and a reporter paid
-- at most once per reported case by the database itself (issue 15 item 4).
--
-- Expand only: new tables, functions, a nullable column on grants with its
-- trigger, CHECK and partial unique index. Nothing the previous release uses
-- changes: its grant_batch calls (same function, same signature) and its
-- INSERTs into grants work as before, and the trigger fills the new column
-- for them.

-- One row per case decided with a verdict: the decision its settlement is
-- computed from (the sg.case.decided payload, decoded by payloads.c again at
-- finality), the rule version applied at decision (the one in force when the
-- case opened; finality applies the same), and when it settled. Written only
-- by settlement_record (decided) and settlement_finalize (finalized): the
-- settlement's lifecycle is decided -> settled, settled once.
CREATE TABLE settlements (
    case_id      text        PRIMARY KEY,
    appeal_of    text,
    report_type  text        NOT NULL,
    rule_type    text        NOT NULL,
    rule_version integer     NOT NULL,
    decision     jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    settled_at   timestamptz
);

-- sg.case.finalized as first received (a later finalization of the same case
-- changes nothing). Kept when it arrives before the decision: the decision
-- then settles at once.
CREATE TABLE case_finals (
    case_id        text        PRIMARY KEY,
    final_verdict  text        NOT NULL CHECK (final_verdict IN ('violation', 'no_violation')),
    bonus_verdict  text        NOT NULL CHECK (bonus_verdict IN ('violation', 'no_violation')),
    finalized_by   text,
    appeal_case_id text,
    finalized_at   timestamptz,
    event_id       text,
    received_at    timestamptz NOT NULL DEFAULT now()
);

-- Grants held until finality: what the settlement pays if the first verdict
-- stands, keyed as the grant will be (a reporter grant by the reported
-- case). They are no coins: no ledger entry, not spendable; the account shows
-- their sum as `pending`. They go when the case settles.
CREATE TABLE pending_grants (
    case_id    text        NOT NULL,
    user_id    text        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('majority_bonus', 'reporter')),
    amount     bigint      NOT NULL CHECK (amount > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, user_id, kind)
);
CREATE INDEX pending_grants_user ON pending_grants (user_id);

-- An appeal case and the case it appealed (whose reports it judged again),
-- learnt from an appeal's sg.case.decided (appeal_of) or from the appealed
-- case's sg.case.finalized (finalized_by appeal, appeal_case_id).
CREATE TABLE case_links (
    case_id          text        PRIMARY KEY,
    reported_case_id text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT case_links_other CHECK (reported_case_id <> case_id)
);

-- The reported case of every reporter grant, whatever case id a writer
-- records it under: the appealed case when the grant's case is a known
-- appeal, else the grant's case. Set by the trigger below on every insert or
-- update (a value a writer supplies is ignored), so an old binary's INSERT
-- gets it too.
ALTER TABLE grants ADD COLUMN reported_case_id text;
UPDATE grants SET reported_case_id = case_id WHERE kind = 'reporter';

CREATE FUNCTION grants_reported_case() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF NEW.kind = 'reporter' THEN
        NEW.reported_case_id := coalesce((SELECT l.reported_case_id FROM case_links l WHERE l.case_id = NEW.case_id),
                                         NEW.case_id);
    ELSE
        NEW.reported_case_id := NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER grants_reported_case BEFORE INSERT OR UPDATE ON grants
    FOR EACH ROW WHEN (NEW.kind = 'reporter' OR NEW.reported_case_id IS NOT NULL)
    EXECUTE FUNCTION grants_reported_case();

ALTER TABLE grants ADD CONSTRAINT grants_reported_case_set
    CHECK ((kind = 'reporter') = (reported_case_id IS NOT NULL));

-- THE constraint: one reporter grant per (reported case, reporter). A second
-- one is refused (23505) whether it is recorded under the reported case or
-- under an appeal of it — e.g. by an old replica that keys an appeal's
-- reporter grants by the appeal during a rolling deploy.
CREATE UNIQUE INDEX grants_reporter_once_per_reported_case ON grants (reported_case_id, user_id)
    WHERE kind = 'reporter';

-- Records that p_appeal appealed p_reported. Reporter grants already recorded
-- under the appeal count for the reported case from now on, unless the
-- reporter holds one there too (history from before this release: kept as
-- it is, not failed).
CREATE FUNCTION case_link(p_appeal text, p_reported text) RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF p_appeal IS NULL OR p_reported IS NULL OR p_appeal = p_reported THEN
        RETURN;
    END IF;
    INSERT INTO case_links (case_id, reported_case_id) VALUES (p_appeal, p_reported)
    ON CONFLICT (case_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE grants g SET reported_case_id = p_reported
    WHERE g.case_id = p_appeal AND g.kind = 'reporter'
      AND NOT EXISTS (SELECT 1 FROM grants o WHERE o.kind = 'reporter' AND o.reported_case_id = p_reported
                      AND o.user_id = g.user_id);
END $$;

-- At sg.case.decided (the caller holds the case locks): records the
-- settlement of p_case_id with the decision and the rule applied, and either
--   'pending'  — not final yet: p_users/p_kinds/p_amounts (what finality
--                pays if the first verdict stands) are held as pending
--                grants, but for grants that exist already;
--   'settle'   — its sg.case.finalized came first: out_final / out_bonus are
--                its verdicts, the settlement is marked settled and the
--                caller records the settlement's grants in this transaction;
--   'settled'  — settled already (a redelivered or repeated decision):
--                nothing changes.
-- A repeated decision before finality replaces the recorded one and its
-- pending grants.
CREATE FUNCTION settlement_record(p_case_id text, p_appeal_of text, p_report_type text, p_rule_type text,
                                  p_rule_version integer, p_decision jsonb, p_users text[], p_kinds text[],
                                  p_amounts bigint[], OUT out_state text, OUT out_final text, OUT out_bonus text)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_reported text := coalesce(p_appeal_of, p_case_id);
    v_by text;
    v_appeal text;
BEGIN
    PERFORM case_link(p_case_id, p_appeal_of);
    SELECT f.final_verdict, f.bonus_verdict, f.finalized_by, f.appeal_case_id
    INTO out_final, out_bonus, v_by, v_appeal
    FROM case_finals f WHERE f.case_id = p_case_id;
    IF p_appeal_of IS NULL AND v_by = 'appeal' THEN
        PERFORM case_link(v_appeal, p_case_id);
    END IF;

    INSERT INTO settlements AS s (case_id, appeal_of, report_type, rule_type, rule_version, decision, settled_at)
    VALUES (p_case_id, p_appeal_of, p_report_type, p_rule_type, p_rule_version, p_decision,
            CASE WHEN out_final IS NOT NULL THEN now() END)
    ON CONFLICT (case_id) DO UPDATE SET appeal_of = EXCLUDED.appeal_of, report_type = EXCLUDED.report_type,
        rule_type = EXCLUDED.rule_type, rule_version = EXCLUDED.rule_version, decision = EXCLUDED.decision,
        settled_at = EXCLUDED.settled_at, updated_at = now()
    WHERE s.settled_at IS NULL;
    IF NOT FOUND THEN
        out_state := 'settled';
        out_final := NULL;
        out_bonus := NULL;
        RETURN;
    END IF;

    DELETE FROM pending_grants
    WHERE (case_id = p_case_id AND kind = 'majority_bonus') OR (case_id = v_reported AND kind = 'reporter');
    IF out_final IS NOT NULL THEN
        out_state := 'settle';
        RETURN;
    END IF;
    INSERT INTO pending_grants (case_id, user_id, kind, amount)
    SELECT x.c, x.u, x.k, x.a
    FROM (SELECT CASE WHEN k = 'reporter' THEN v_reported ELSE p_case_id END, u, k, a
          FROM unnest(p_users, p_kinds, p_amounts) AS y(u, k, a)) AS x(c, u, k, a)
    WHERE x.a > 0
      AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.case_id = x.c AND g.user_id = x.u AND g.kind = x.k)
      AND NOT EXISTS (SELECT 1 FROM grants g WHERE x.k = 'reporter' AND g.kind = 'reporter'
                      AND g.reported_case_id = x.c AND g.user_id = x.u)
    ON CONFLICT DO NOTHING;
    out_state := 'pending';
END $$;

-- At sg.case.finalized (the caller holds the case's lock): keeps the
-- finalization (the first one of a case wins) and, when the case's
-- settlement is recorded and not settled yet, marks it settled, drops its
-- pending grants and returns what the caller needs to record the
-- settlement's grants in this transaction: the decision, the appealed case,
-- the verdicts and the rule recorded at decision. Otherwise (decision not
-- known yet: held until it arrives; or settled already) out_decision is
-- NULL.
CREATE FUNCTION settlement_finalize(p_case_id text, p_final text, p_bonus text, p_by text, p_appeal_case_id text,
                                    p_at timestamptz, p_event_id text,
                                    OUT out_decision text, OUT out_appeal_of text, OUT out_final text,
                                    OUT out_bonus text, OUT out_rule_type text, OUT out_rule_version integer,
                                    OUT out_vote bigint, OUT out_majority bigint, OUT out_reporter bigint,
                                    OUT out_cap bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_by text;
    v_appeal text;
BEGIN
    INSERT INTO case_finals (case_id, final_verdict, bonus_verdict, finalized_by, appeal_case_id, finalized_at,
                             event_id)
    VALUES (p_case_id, p_final, coalesce(p_bonus, p_final), p_by, p_appeal_case_id, p_at, p_event_id)
    ON CONFLICT (case_id) DO NOTHING;
    UPDATE settlements SET settled_at = now(), updated_at = now()
    WHERE case_id = p_case_id AND settled_at IS NULL
    RETURNING decision::text, appeal_of, rule_type, rule_version
    INTO out_decision, out_appeal_of, out_rule_type, out_rule_version;
    IF NOT FOUND THEN
        out_decision := NULL;
        RETURN;
    END IF;
    SELECT f.final_verdict, f.bonus_verdict, f.finalized_by, f.appeal_case_id
    INTO out_final, out_bonus, v_by, v_appeal
    FROM case_finals f WHERE f.case_id = p_case_id;
    IF out_appeal_of IS NULL AND v_by = 'appeal' THEN
        PERFORM case_link(v_appeal, p_case_id);
    END IF;
    DELETE FROM pending_grants
    WHERE (case_id = p_case_id AND kind = 'majority_bonus')
       OR (case_id = coalesce(out_appeal_of, p_case_id) AND kind = 'reporter');
    SELECT r.vote_reward, r.majority_bonus, r.reporter_reward, r.daily_cap_per_user
    INTO out_vote, out_majority, out_reporter, out_cap
    FROM reward_rules r WHERE r.report_type = out_rule_type AND r.version = out_rule_version;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'settlement_finalize: rule % v% of case % missing', out_rule_type, out_rule_version,
            p_case_id USING ERRCODE = 'foreign_key_violation';
    END IF;
END $$;

-- grant_batch writes its sg.reward.granted rows through the common schema's
-- outbox_write (migrate.c), the one writer of outbox rows, instead of its own
-- INSERT INTO outbox; the rest is 006 unchanged. Same signature, so a
-- previous release's binary calls it as before.
CREATE OR REPLACE FUNCTION grant_batch(p_case_id text, p_report_type text, p_rule_type text, p_rule_version integer,
                            p_day date, p_event_id text, p_users text[], p_kinds text[], p_due bigint[],
                            p_paid bigint[], p_topic text, p_traceparent text, p_channel text)
RETURNS integer
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    -- The shard of the case, as ledger_post (004) chooses it for a grant.
    v_shard int := abs(hashtext(p_case_id)) % 16;
    v_platform text := 'platform treasury' || CASE WHEN v_shard = 0 THEN '' ELSE ' ' || v_shard END;
    v_n int := coalesce(cardinality(p_users), 0);
    v_tx uuid[];       -- per grant: its journal transaction, NULL when nothing is paid
    v_entry uuid[];    -- per grant: the user's entry, NULL when nothing is paid
    v_posted int;      -- grants with a payment
    v_users int;       -- distinct users with a payment
    v_coins bigint;    -- coins paid in all
    v_rows int;
BEGIN
    IF v_n = 0 THEN
        RETURN 0;
    END IF;
    IF coalesce(cardinality(p_kinds), 0) <> v_n OR coalesce(cardinality(p_due), 0) <> v_n
       OR coalesce(cardinality(p_paid), 0) <> v_n THEN
        RAISE EXCEPTION 'grant_batch: arrays of different lengths' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- Journal transactions of the paid grants, with their ids (and the
    -- users' entry ids) drawn up front so later statements can refer to them.
    WITH g AS MATERIALIZED (
        SELECT o, u, k, p,
               CASE WHEN p > 0 THEN gen_random_uuid() END AS tx,
               CASE WHEN p > 0 THEN gen_random_uuid() END AS entry
        FROM unnest(p_users, p_kinds, p_paid) WITH ORDINALITY AS x(u, k, p, o)
    ), ins AS (
        INSERT INTO journal_tx (id, kind, case_id, grant_kind)
        SELECT tx, 'grant', p_case_id, k FROM g WHERE p > 0 ORDER BY o
    )
    SELECT array_agg(tx ORDER BY o), array_agg(entry ORDER BY o), count(*) FILTER (WHERE p > 0),
           count(DISTINCT u) FILTER (WHERE p > 0), coalesce(sum(p), 0)
    INTO v_tx, v_entry, v_posted, v_users, v_coins
    FROM g;

    IF v_posted > 0 THEN
        INSERT INTO ledger_entries (id, tx_id, account_id, amount)
        SELECT coalesce(e.id, gen_random_uuid()), x.tx, e.account, e.amount
        FROM unnest(v_tx, v_entry, p_users, p_paid) WITH ORDINALITY AS x(tx, entry, u, p, o)
        CROSS JOIN LATERAL (VALUES (1, x.entry, x.u, x.p), (2, NULL::uuid, v_platform, -x.p))
            AS e(side, id, account, amount)
        WHERE x.p > 0
        ORDER BY x.o, e.side;

        -- The users' rows are locked already.
        UPDATE accounts AS a SET balance = a.balance + d.amount, updated_at = now()
        FROM (SELECT u, sum(p)::bigint FROM unnest(p_users, p_paid) AS x(u, p) WHERE p > 0 GROUP BY u)
            AS d(account, amount)
        WHERE a.user_id = d.account AND a.kind = 'user';
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows <> v_users THEN
            RAISE EXCEPTION 'grant_batch: % of % user accounts of case % found', v_rows, v_users, p_case_id
                USING ERRCODE = 'check_violation';
        END IF;
        -- The shard's row, on its own (see the header): the only row lock this call
        -- adds (an appeal's two calls take their shards in shard order: consumers.c).
        UPDATE accounts SET balance = balance - v_coins, updated_at = now()
        WHERE user_id = v_platform AND kind = 'platform';
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows <> 1 THEN
            RAISE EXCEPTION 'grant_batch: platform account % missing', v_platform
                USING ERRCODE = 'check_violation';
        END IF;

        UPDATE ledger_totals SET transactions = transactions + v_posted, coins = coins + v_coins
        WHERE kind = 'grant' AND shard = v_shard;

        UPDATE daily_paid AS d SET paid = d.paid + s.paid
        FROM (SELECT u, sum(p)::bigint FROM unnest(p_users, p_paid) AS x(u, p) WHERE p > 0 GROUP BY u) AS s(u, paid)
        WHERE d.user_id = s.u AND d.day = p_day;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows <> v_users THEN
            RAISE EXCEPTION 'grant_batch: % of % daily counters on % not locked', v_users - v_rows, v_users, p_day
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;

    INSERT INTO grants (case_id, user_id, kind, report_type, rule_type, rule_version, day, amount_due,
                        amount_paid, status, tx_id, event_id)
    SELECT p_case_id, u, k, p_report_type, p_rule_type, p_rule_version, p_day, d, p,
           CASE WHEN p = d THEN 'paid' ELSE 'capped' END, tx, p_event_id
    FROM unnest(p_users, p_kinds, p_due, p_paid, v_tx) WITH ORDINALITY AS x(u, k, d, p, tx, o)
    ORDER BY o;

    IF v_posted > 0 THEN
        PERFORM outbox_write(array_agg(p_topic ORDER BY o), array_agg(u ORDER BY o), array_agg(p_topic ORDER BY o),
                             array_agg(jsonb_build_object('user_id', u, 'amount', p, 'kind', k, 'case_id', p_case_id,
                                                          'entry_id', e) ORDER BY o),
                             array_agg(p_traceparent ORDER BY o), p_channel)
        FROM unnest(p_users, p_kinds, p_paid, v_entry) WITH ORDINALITY AS x(u, k, p, e, o)
        WHERE p > 0;
    END IF;
    RETURN v_n;
END $$;

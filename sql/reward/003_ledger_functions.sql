-- Postings as database functions: one round trip per posting or grant, and a
-- single place where entries and balances change together.

-- Posts p_amount to a user (negative: a debit) with the platform's
-- counter-entry, updating both balances and the running totals. A debit
-- larger than the balance, or of a user without an account, posts nothing and
-- returns NULLs. Locks the user's account row, then the platform's.
CREATE FUNCTION ledger_post(p_kind text, p_case_id text, p_redemption_id uuid, p_grant_kind text,
                            p_user_id text, p_amount bigint,
                            OUT out_entry_id uuid, OUT out_tx_id uuid, OUT out_balance bigint)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF p_amount IS NULL OR p_amount = 0 THEN
        RAISE EXCEPTION 'ledger_post: amount must be non-zero' USING ERRCODE = 'check_violation';
    END IF;
    IF p_amount > 0 THEN
        INSERT INTO accounts AS a (user_id, kind, balance) VALUES (p_user_id, 'user', p_amount)
        ON CONFLICT (user_id) DO UPDATE SET balance = a.balance + EXCLUDED.balance, updated_at = now()
            WHERE a.kind = 'user'
        RETURNING a.balance INTO out_balance;
    ELSE
        UPDATE accounts AS a SET balance = a.balance + p_amount, updated_at = now()
        WHERE a.user_id = p_user_id AND a.kind = 'user' AND a.balance + p_amount >= 0
        RETURNING a.balance INTO out_balance;
    END IF;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO journal_tx (kind, case_id, redemption_id, grant_kind)
    VALUES (p_kind, p_case_id, p_redemption_id, p_grant_kind) RETURNING id INTO out_tx_id;
    INSERT INTO ledger_entries (tx_id, account_id, amount) VALUES (out_tx_id, p_user_id, p_amount)
    RETURNING id INTO out_entry_id;
    INSERT INTO ledger_entries (tx_id, account_id, amount) VALUES (out_tx_id, 'platform treasury', -p_amount);
    UPDATE accounts SET balance = balance - p_amount, updated_at = now()
    WHERE user_id = 'platform treasury' AND kind = 'platform';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'ledger_post: platform account missing' USING ERRCODE = 'foreign_key_violation';
    END IF;
    UPDATE ledger_totals SET transactions = transactions + 1, coins = coins + abs(p_amount) WHERE kind = p_kind;
END $$;

-- Records one grant unless (case, user, kind) already has one (then
-- out_exists and nothing is written): pays p_paid (0 <= p_paid <= p_due)
-- through ledger_post, adds it to the user's daily counter (which the caller
-- has locked), and inserts the grants row. The caller holds the case lock, so
-- the existence check cannot race; should it anyway, the UNIQUE key fails the
-- whole transaction (23505). out_entry_id is the user's entry (NULL when
-- nothing was paid).
CREATE FUNCTION grant_record(p_case_id text, p_user_id text, p_kind text, p_report_type text, p_rule_type text,
                             p_rule_version integer, p_day date, p_due bigint, p_paid bigint, p_event_id text,
                             OUT out_exists boolean, OUT out_entry_id uuid)
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_tx uuid;
BEGIN
    out_exists := EXISTS (SELECT 1 FROM grants WHERE case_id = p_case_id AND user_id = p_user_id AND kind = p_kind);
    IF out_exists THEN
        RETURN;
    END IF;
    IF p_paid > 0 THEN
        SELECT p.out_entry_id, p.out_tx_id INTO out_entry_id, v_tx
        FROM ledger_post('grant', p_case_id, NULL, p_kind, p_user_id, p_paid) AS p;
        IF v_tx IS NULL THEN
            RAISE EXCEPTION 'grant_record: posting refused for %', p_user_id USING ERRCODE = 'check_violation';
        END IF;
        UPDATE daily_paid SET paid = paid + p_paid WHERE user_id = p_user_id AND day = p_day;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'grant_record: daily counter of % on % not locked', p_user_id, p_day
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    INSERT INTO grants (case_id, user_id, kind, report_type, rule_type, rule_version, day, amount_due,
                        amount_paid, status, tx_id, event_id)
    VALUES (p_case_id, p_user_id, p_kind, p_report_type, p_rule_type, p_rule_version, p_day, p_due, p_paid,
            CASE WHEN p_paid = p_due THEN 'paid' ELSE 'capped' END, v_tx, p_event_id);
END $$;

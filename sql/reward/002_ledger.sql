-- Double-entry coin ledger.
--
-- Every movement of coins is one journal transaction with entries that sum to
-- zero: the user's entry (+ for grants and refunds, - for redemptions) and the
-- platform's counter-entry. Account balances are updated in the same database
-- transaction as the entries, so balance = sum of the account's entries, and the
-- sum of all balances (platform included) is zero.
--
-- Only user accounts are held to balance >= 0; the platform account is where
-- granted coins come from, so it goes negative by the coins in circulation. Its
-- id contains a space, which no upstream user id can (opaque ids are printable
-- without spaces), so it can never be mistaken for a user.
CREATE TABLE accounts (
    user_id    text        PRIMARY KEY,
    kind       text        NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'platform')),
    balance    bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_balance_non_negative CHECK (kind = 'platform' OR balance >= 0),
    CONSTRAINT accounts_platform_id CHECK ((kind = 'platform') = (user_id = 'platform treasury'))
);

INSERT INTO accounts (user_id, kind, balance) VALUES ('platform treasury', 'platform', 0);

-- Catalog and redemptions come before the journal, which refers to them.
CREATE TABLE items (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    seq        bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    name       text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    cost       bigint      NOT NULL CHECK (cost BETWEEN 1 AND 1000000000),
    stock      bigint      NOT NULL CHECK (stock >= 0),
    active     boolean     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per successful redemption. (user_id, idempotency_key) is unique so
-- a retried request finds its first outcome; `response` is that first 201
-- body, replayed verbatim.
CREATE TABLE redemptions (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         text        NOT NULL,
    idempotency_key text        NOT NULL CHECK (octet_length(idempotency_key) BETWEEN 1 AND 128),
    item_id         uuid        NOT NULL REFERENCES items (id),
    quantity        integer     NOT NULL CHECK (quantity BETWEEN 1 AND 100),
    unit_cost       bigint      NOT NULL CHECK (unit_cost >= 1),
    cost            bigint      NOT NULL CHECK (cost = unit_cost * quantity),
    status          text        NOT NULL CHECK (status IN ('completed', 'refunded')),
    response        jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    refunded_at     timestamptz,
    refunded_by     text,
    CONSTRAINT redemptions_refund_fields CHECK ((status = 'refunded') = (refunded_at IS NOT NULL)),
    CONSTRAINT redemptions_idempotency UNIQUE (user_id, idempotency_key)
);

CREATE TABLE journal_tx (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    kind          text        NOT NULL CHECK (kind IN ('grant', 'redeem', 'refund', 'adjust')),
    case_id       text,
    redemption_id uuid        REFERENCES redemptions (id),
    grant_kind    text        CHECK (grant_kind IN ('vote', 'majority_bonus', 'reporter')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT journal_tx_grant_ref CHECK ((kind = 'grant') = (case_id IS NOT NULL AND grant_kind IS NOT NULL)),
    CONSTRAINT journal_tx_redemption_ref CHECK ((kind IN ('redeem', 'refund')) = (redemption_id IS NOT NULL))
);

-- seq orders an account's history (newest first) and is the ledger cursor.
CREATE TABLE ledger_entries (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    seq        bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    tx_id      uuid        NOT NULL REFERENCES journal_tx (id),
    account_id text        NOT NULL REFERENCES accounts (user_id),
    amount     bigint      NOT NULL CHECK (amount <> 0),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, seq DESC);
CREATE INDEX ledger_entries_tx ON ledger_entries (tx_id);

-- The database itself refuses a commit whose journal transaction does not
-- balance, whatever code wrote it.
CREATE FUNCTION ledger_tx_balanced() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    total numeric;
    n     integer;
BEGIN
    SELECT coalesce(sum(amount), 0), count(*) INTO total, n FROM ledger_entries WHERE tx_id = NEW.tx_id;
    IF n < 2 OR total <> 0 THEN
        RAISE EXCEPTION 'journal transaction % does not balance (% entries, sum %)', NEW.tx_id, n, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_entries_balanced AFTER INSERT ON ledger_entries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_tx_balanced();

-- History is append-only: corrections are new journal transactions (adjust).
CREATE FUNCTION ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER journal_tx_append_only BEFORE UPDATE OR DELETE ON journal_tx
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- Running totals per journal kind, updated with every posting (after the
-- platform row, whose lock already serializes postings): /metrics reads four
-- rows instead of summing the journal.
CREATE TABLE ledger_totals (
    kind         text   PRIMARY KEY CHECK (kind IN ('grant', 'redeem', 'refund', 'adjust')),
    transactions bigint NOT NULL DEFAULT 0,
    coins        bigint NOT NULL DEFAULT 0
);
INSERT INTO ledger_totals (kind) VALUES ('grant'), ('redeem'), ('refund'), ('adjust');

-- One row per (case, user, kind), however often the decision arrives: the
-- unique key is the exactly-once guarantee beyond the inbox (a re-published
-- decision with a new event_id grants nothing twice). A grant past the daily
-- cap is recorded as 'capped' with amount_paid < amount_due (possibly 0, then
-- with no journal transaction).
CREATE TABLE grants (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    case_id      text        NOT NULL,
    user_id      text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('vote', 'majority_bonus', 'reporter')),
    report_type  text        NOT NULL,
    rule_type    text        NOT NULL,
    rule_version integer     NOT NULL,
    day          date        NOT NULL,
    amount_due   bigint      NOT NULL CHECK (amount_due > 0),
    amount_paid  bigint      NOT NULL CHECK (amount_paid >= 0 AND amount_paid <= amount_due),
    status       text        NOT NULL CHECK (status IN ('paid', 'capped')),
    tx_id        uuid        REFERENCES journal_tx (id),
    event_id     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT grants_status CHECK ((status = 'paid') = (amount_paid = amount_due)),
    CONSTRAINT grants_tx CHECK ((amount_paid > 0) = (tx_id IS NOT NULL)),
    CONSTRAINT grants_once UNIQUE (case_id, user_id, kind)
);
CREATE INDEX grants_capped ON grants (created_at) WHERE status = 'capped';

-- Coins paid per user per UTC day (the day of the decision), the counter the
-- daily cap is checked against. Its row is locked while a grant is decided,
-- so concurrent consumers cannot both spend the same remaining allowance.
CREATE TABLE daily_paid (
    user_id text   NOT NULL,
    day     date   NOT NULL,
    paid    bigint NOT NULL DEFAULT 0 CHECK (paid >= 0),
    PRIMARY KEY (user_id, day)
);

-- Reward rules, versioned per report type. A PUT appends a version; the
-- current rule of a type is its highest version. Events whose report type has
-- no rule use the rule of the pseudo type 'default' (seeded here, editable by
-- ops like any other type), so every decision has a rule to apply.
CREATE TABLE reward_rules (
    report_type        text        NOT NULL CHECK (report_type ~ '^[a-z0-9_]{1,32}$'),
    version            integer     NOT NULL CHECK (version >= 1),
    vote_reward        integer     NOT NULL CHECK (vote_reward BETWEEN 0 AND 1000000),
    majority_bonus     integer     NOT NULL CHECK (majority_bonus BETWEEN 0 AND 1000000),
    reporter_reward    integer     NOT NULL CHECK (reporter_reward BETWEEN 0 AND 1000000),
    daily_cap_per_user integer     NOT NULL CHECK (daily_cap_per_user BETWEEN 0 AND 1000000000),
    created_by         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (report_type, version)
);

INSERT INTO reward_rules (report_type, version, vote_reward, majority_bonus, reporter_reward,
                          daily_cap_per_user, created_by)
VALUES ('default', 1, 10, 5, 20, 200, 'migration');

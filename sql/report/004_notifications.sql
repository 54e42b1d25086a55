-- Push management: notifications (the in-app inbox and the push gateway's
-- delivery queue in one row each), users' notification preferences, and the
-- versioned templates they are rendered from.

-- Versioned templates per (kind, locale); the newest version is in force.
-- A notification is rendered once, at creation, and keeps the version used.
CREATE TABLE notification_templates (
    seq        bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    kind       text        NOT NULL CHECK (kind IN ('ballot_assigned', 'ballot_reminder', 'ballot_cancelled',
                               'ballot_expired', 'case_outcome', 'report_outcome', 'content_outcome',
                               'appeal_opened')),
    locale     text        NOT NULL CHECK (locale ~ '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$'),
    version    integer     NOT NULL CHECK (version >= 1),
    title      text        NOT NULL,
    body       text        NOT NULL,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, locale, version)
);

CREATE TABLE notification_prefs (
    user_id      text        PRIMARY KEY,
    locale       text        NOT NULL DEFAULT 'en',
    muted_kinds  text[]      NOT NULL DEFAULT '{}',
    -- Quiet hours in the user's local time (minutes after midnight) and the
    -- user's UTC offset; all three NULL when the user has none.
    quiet_start  integer     CHECK (quiet_start BETWEEN 0 AND 1439),
    quiet_end    integer     CHECK (quiet_end BETWEEN 0 AND 1439),
    quiet_offset integer     CHECK (quiet_offset BETWEEN -840 AND 840),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL) AND (quiet_start IS NULL) = (quiet_offset IS NULL)),
    CHECK (NOT muted_kinds && ARRAY['ballot_assigned', 'ballot_reminder'])
);

CREATE TABLE notifications (
    id               uuid        PRIMARY KEY,
    seq              bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    user_id          text        NOT NULL,
    kind             text        NOT NULL,
    case_id          uuid        REFERENCES cases (id),
    ballot_id        uuid,
    locale           text        NOT NULL,
    template_version integer     NOT NULL,
    title            text        NOT NULL,
    body             text        NOT NULL,
    data             jsonb       NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    read_at          timestamptz,
    -- Delivery to the push gateway (lifecycle.h, rp_push_status).
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'failed', 'muted', 'capped', 'deferred')),
    attempts         integer     NOT NULL DEFAULT 0,
    -- Due for the dispatcher (pending, deferred) or leased until then while
    -- a gateway call runs; NULL once settled.
    next_attempt_at  timestamptz,
    -- When the first push attempt was claimed: what the hourly cap counts.
    first_attempt_at timestamptz,
    sent_at          timestamptz,
    last_result      text,
    CHECK ((status IN ('pending', 'deferred')) = (next_attempt_at IS NOT NULL))
);
CREATE INDEX notifications_inbox ON notifications (user_id, seq);
CREATE INDEX notifications_unread ON notifications (user_id, seq) WHERE read_at IS NULL;
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status IN ('pending', 'deferred');
CREATE INDEX notifications_cap ON notifications (user_id, first_attempt_at) WHERE first_attempt_at IS NOT NULL;
CREATE INDEX notifications_status ON notifications (status, seq);

-- Built-in templates (version 1): en, the fallback, and zh-CN.
INSERT INTO notification_templates (kind, locale, version, title, body, created_by) VALUES
 ('ballot_assigned', 'en', 1, 'You have a case to judge',
  'A reported {{report_type}} needs your vote before {{deadline}} (case {{case_id}}).', 'builtin'),
 ('ballot_reminder', 'en', 1, 'Your vote is due soon',
  'Please vote on case {{case_id}} before {{deadline}}.', 'builtin'),
 ('ballot_cancelled', 'en', 1, 'A ballot was withdrawn',
  'Your vote on case {{case_id}} is no longer needed.', 'builtin'),
 ('ballot_expired', 'en', 1, 'A ballot expired',
  'Your ballot on case {{case_id}} expired at {{deadline}} without a vote.', 'builtin'),
 ('case_outcome', 'en', 1, 'A case you judged was decided',
  'Case {{case_id}} was decided: {{verdict}} ({{tally}}).', 'builtin'),
 ('report_outcome', 'en', 1, 'Your report was reviewed',
  'The {{report_type}} you reported was judged: {{verdict}}.', 'builtin'),
 ('content_outcome', 'en', 1, 'A decision about your content',
  'Your {{report_type}} was judged: {{verdict}}. Appeal possible until: {{appeal_deadline}}.', 'builtin'),
 ('appeal_opened', 'en', 1, 'An appeal was opened',
  'Case {{case_id}} about a {{report_type}} is being judged again by a new panel.', 'builtin'),
 ('ballot_assigned', 'zh-CN', 1, '您有一个待评审的案件',
  '一条被举报的{{report_type}}需要您在 {{deadline}} 前投票（案件 {{case_id}}）。', 'builtin'),
 ('ballot_reminder', 'zh-CN', 1, '投票即将截止',
  '请在 {{deadline}} 前为案件 {{case_id}} 投票。', 'builtin'),
 ('ballot_cancelled', 'zh-CN', 1, '评审任务已撤销',
  '案件 {{case_id}} 已不再需要您的投票。', 'builtin'),
 ('ballot_expired', 'zh-CN', 1, '评审任务已过期',
  '您在案件 {{case_id}} 的投票已于 {{deadline}} 过期。', 'builtin'),
 ('case_outcome', 'zh-CN', 1, '您评审的案件已有结果',
  '案件 {{case_id}} 的裁决：{{verdict}}（{{tally}}）。', 'builtin'),
 ('report_outcome', 'zh-CN', 1, '您的举报已处理',
  '您举报的{{report_type}}的裁决：{{verdict}}。', 'builtin'),
 ('content_outcome', 'zh-CN', 1, '关于您内容的裁决',
  '您的{{report_type}}的裁决：{{verdict}}。申诉截止：{{appeal_deadline}}。', 'builtin'),
 ('appeal_opened', 'zh-CN', 1, '申诉已受理',
  '案件 {{case_id}}（{{report_type}}）将由新的评审团重新评审。', 'builtin');

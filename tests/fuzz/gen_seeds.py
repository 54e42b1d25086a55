#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/<name>/ and the dictionaries
tests/fuzz/<name>.dict (run from anywhere).

The JWT seeds are signed with the fixed secret of fuzz_auth.c and expire in
2100, so they stay valid; rerun after changing the secret or the seeds.
"""
import base64, hashlib, hmac, json, os, shutil

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = b"fuzz-secret-0123456789abcdef-0123456789"
EXP = 4102444800  # 2100-01-01


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(claims, header=None, secret=SECRET):
    h = b64(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    c = b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(secret, f"{h}.{c}".encode(), hashlib.sha256).digest()
    return f"{h}.{c}.{b64(mac)}"


def j(o):
    return json.dumps(o, separators=(",", ":"), ensure_ascii=False)


UUID = "3f2b8c1e-9a4d-4e5f-8a6b-0c1d2e3f4a5b"
SEEDS = {
    "router": {
        "case_votes": f"/v1/cases/{UUID}/votes",
        "profiles_batch": "/v1/profiles:batch",
        "reviewer_status_pct": "/v1/reviewers/user%2042/status",
        "rule": "/v1/voting-rules/spam/versions",
        "empty_segment": "/v1/cases//votes",
        "bad_escape": "/v1/reports/%zz",
        "nul_escape": "/v1/accounts/%00/ledger",
        "suffix": "/v1/items/abc:archive",
        "four_params": "/v1/a/b/c/d",
        "utf8": "/v1/catalog/items/%C3%A9t%C3%A9",
        "bad_utf8": "/v1/catalog/items/%C3%28",
        "dot_suffix": "/v1/x/a.json",
        "long": "/v1/reports/" + "x" * 300,
        "trailing_slash": "/v1/reports/",
    },
    "body": {
        "intake_ok": j({"report_type": "spam", "target_id": "post:1", "target_owner_id": "u-2",
                        "reporter_id": "u-1", "reason": "spam", "description": "buy now",
                        "evidence": {"urls": ["https://x.example/1"]},
                        "callback_url": "https://hooks.example:8443/cb?x=1"}),
        "intake_self": j({"report_type": "spam", "target_id": "p", "target_owner_id": "u-1",
                          "reporter_id": "u-1", "reason": "r"}),
        "intake_bad_url": j({"report_type": "spam", "target_id": "p", "target_owner_id": "o",
                             "reporter_id": "u", "reason": "r", "callback_url": "ftp://x"}),
        "audit_ok": j({"report_type": "spam", "target_id": "post:1", "target_owner_id": "u-2", "reason": "spam",
                       "description": "buy now", "evidence": {"urls": ["https://x.example/1"]},
                       "expected_verdict": "no_violation"}),
        "rule_ok": j({"panel_size": 5, "votes_to_decide": 3, "ballot_timeout_s": 3600,
                      "reminder_before_s": 600, "max_substitute_rounds": 2, "case_deadline_s": 86400,
                      "on_deadline": "escalate", "reviewer_tags": ["lang:en", "senior"],
                      "appeal_window_s": 604800, "appeal_panel_size": 7, "appeal_votes_to_decide": 4}),
        "rule_bad_majority": j({"panel_size": 4, "votes_to_decide": 2, "ballot_timeout_s": 3600,
                                "reminder_before_s": 0, "max_substitute_rounds": 0, "case_deadline_s": 3600,
                                "on_deadline": "decide_by_votes_cast", "appeal_window_s": 1,
                                "appeal_panel_size": 1, "appeal_votes_to_decide": 1}),
        "profiles": j([{"user_id": "u-1", "tags": ["lang:en"], "credit_score": 700,
                        "registered_at": "2024-02-29T12:00:00.5+01:00"},
                       {"user_id": "u-2", "credit_score": 0, "registered_at": "2020-01-01T00:00:00Z"}]),
        "profiles_dup": j([{"user_id": "a", "credit_score": 1, "registered_at": "2020-01-01T00:00:00Z"},
                           {"user_id": "a", "credit_score": 2, "registered_at": "2020-01-01T00:00:00Z"}]),
        "activity": j([{"user_id": "u-1", "at": "2025-05-30T10:00:00Z"},
                       {"user_id": "u-2", "at": "2030-01-01T00:00:00Z"}]),
        "pool_rule": j({"include_tags_any": ["a", "b", "a"], "exclude_tags": ["c"], "min_credit_score": 500,
                        "min_account_age_days": 30, "active_weeks_required": 4}),
        "fatigue": j({"max_open_ballots": 3, "max_per_day": 5, "max_per_week": 20, "min_interval_s": 600,
                      "cooldown_after_expiry_s": 86400}),
        "quality": j({"min_decided_votes": 20, "min_accuracy": 0.6, "max_no_show_rate": 1,
                      "suspend_days": 30}),
        "quality_v2": j({"min_decided_votes": 20, "min_accuracy": 0.6, "max_no_show_rate": 1,
                         "suspend_days": [2, 7, 30], "min_gold_votes": 5, "min_gold_accuracy": 0.7,
                         "pair_flag_margin": 0.25}),
        "fatigue_pairs": j({"max_open_ballots": 3, "max_per_day": 5, "max_per_week": 20, "min_interval_s": 600,
                            "cooldown_after_expiry_s": 86400, "max_pair_cases_30d": 3}),
        "reward_rule": j({"vote_reward": 10, "majority_bonus": 5, "reporter_reward": 20,
                          "daily_cap_per_user": 1000}),
        "item": j({"name": "Mug \u00e9", "cost": 100, "stock": 0, "active": True}),
        "redeem": j({"item_id": UUID, "quantity": 2}),
        "vote": j({"decision": "violation", "comment": "clear\nspam"}),
        "all_types": j({"s": "abc", "t": "x\ty", "i": -5, "n": 0.5, "b": False, "o": {"k": [1, 2]},
                        "a": [1, "2", None], "sa": ["a", "bc"]}),
        "nulls": j({"reason": None, "comment": None, "s": None}),
        "dup_keys": '{"reason":"a","reason":"b"}',
        "not_json": '{"reason": "unterminated',
        "big_numbers": j({"i": 9223372036854775807, "n": 1e308, "panel_size": -9223372036854775808}),
        "scalar": '"just a string"',
    },
    "events": {
        "panel_requested": j({"event_id": UUID, "occurred_at": "2025-05-01T00:00:00Z", "case_id": UUID,
                              "round": 0, "seats": 5, "report_type": "spam", "reviewer_tags": ["lang:en"],
                              "exclude_user_ids": ["u-1", "u-2"], "deadline": "2025-05-02T00:00:00Z"}),
        "ballot_closed": j({"event_id": UUID, "case_id": UUID, "reviewer_id": "r-1", "outcome": "expired"}),
        "case_decided": j({"event_id": UUID, "occurred_at": "2025-05-01T12:00:00.123Z", "case_id": UUID,
                           "report_type": "spam", "verdict": "violation", "decided_by": "panel",
                           "target_id": "p", "target_owner_id": "o", "reporter_ids": ["u-1"],
                           "ballots": [{"reviewer_id": "r-1", "outcome": "voted", "decision": "violation",
                                        "with_majority": True},
                                       {"reviewer_id": "r-2", "outcome": "voted", "decision": "no_violation"},
                                       {"reviewer_id": "r-3", "outcome": "open", "decision": None},
                                       {"reviewer_id": "r-4", "outcome": "expired"}]}),
        "case_decided_null": j({"case_id": UUID, "report_type": "spam", "verdict": None, "ballots": None,
                                "reporter_ids": None}),
        "case_decided_bad": j({"case_id": "has space", "report_type": "Spam", "verdict": 1,
                               "ballots": [17, {"reviewer_id": ""}]}),
        "case_decided_appeal": j({"case_id": UUID, "report_type": "spam", "verdict": "no_violation",
                                  "opened_at": "2025-04-30T08:00:00Z", "appeal_of": "c-0", "decided_by": "appeal",
                                  "reporter_ids": ["u-1"],
                                  "ballots": [{"reviewer_id": "r-1", "outcome": "voted", "with_majority": False}]}),
        "case_finalized": j({"event_id": UUID, "occurred_at": "2025-05-04T12:00:00Z", "case_id": UUID,
                             "final_verdict": "no_violation", "finalized_by": "appeal", "appeal_case_id": "c-2"}),
        "case_finalized_audit": j({"case_id": UUID, "final_verdict": "violation", "finalized_by": "window",
                                   "appeal_case_id": None, "audit": True, "expected_verdict": "no_violation"}),
        "case_finalized_bad": j({"case_id": UUID, "final_verdict": "violation", "audit": True,
                                 "expected_verdict": None}),
        "activity": j({"event_id": UUID, "user_id": "u-1", "at": "2025-05-31T23:59:60+00:00"}),
        "activity_future": j({"user_id": "u-1", "at": "2025-06-02T00:00:00Z"}),
        "reviewer_status": j({"event_id": UUID, "user_id": "u-1", "status": "suspended", "reason": "low accuracy"}),
        "reviewer_retired": j({"user_id": "u-1", "status": "retired", "reason": None}),
        "array": "[1,2,3]",
    },
    "auth": {
        "key_report": "Bearer k3y-report-web-0001",
        "key_reward_spaces": "bearer   another_key~42",
        "key_wrong": "Bearer k3y-report-web-0002",
        "basic": "Basic dXNlcjpwYXNz",
        "empty_bearer": "Bearer ",
        "jwt_user": "Bearer " + jwt({"sub": "u-1", "role": "user", "iat": 1700000000, "exp": EXP}),
        "jwt_ops": "Bearer " + jwt({"sub": "ops-1", "role": "ops", "exp": EXP}),
        "jwt_expired": "Bearer " + jwt({"sub": "u-1", "role": "user", "exp": 1000}),
        "jwt_wrong_secret": "Bearer " + jwt({"sub": "u-1", "role": "user", "exp": EXP}, secret=b"other"),
        "jwt_hs512": "Bearer " + jwt({"sub": "u", "role": "user", "exp": EXP}, {"alg": "HS512"}),
        "jwt_none": "Bearer " + b64(b'{"alg":"none"}') + "." + b64(j({"sub": "u", "role": "ops", "exp": EXP}).encode()) + ".",
        "jwt_garbage": "Bearer a.b.c",
        "signed_user": "jwt:" + j({"sub": "u-1", "role": "user", "exp": EXP}),
        "sig_good": "sig:t=1764979200,v1=532bc1c29519a7dff6065d258eb76abccd4ab8bd7af713201ea5e44df6a007d6",
        "sig_stale": "sig:t=1764978899,v1=532bc1c29519a7dff6065d258eb76abccd4ab8bd7af713201ea5e44df6a007d6",
        "sig_two": "sig:t=1764979200,v1=0000000000000000000000000000000000000000000000000000000000000000,v1=532bc1c29519a7dff6065d258eb76abccd4ab8bd7af713201ea5e44df6a007d6",
        "scopes_report": "scopes:report:comment|report:forum_post",
        "scopes_all_kinds": "scopes:report:*|profiles|activity",
        "scopes_bad": "scopes:report:Comment||admin",
        "signed_nbf": "jwt:" + j({"sub": "u-1", "role": "ops", "exp": EXP, "nbf": EXP - 1}),
        "signed_nbf_real_past": "jwt:" + j({"sub": "u-1", "role": "user", "exp": EXP, "nbf": 1000000000.5}),
        "signed_role": "jwt:" + j({"sub": "u-1", "role": "admin", "exp": EXP}),
        "signed_sub_space": "jwt:" + j({"sub": "u 1", "role": "user", "exp": EXP}),
        "signed_exp_str": "jwt:" + j({"sub": "u", "role": "user", "exp": str(EXP)}),
        "signed_exp_real": "jwt:" + j({"sub": "u", "role": "user", "exp": 4102444800.5}),
        "signed_hdr_none": "jwt:" + j({"alg": "none"}) + "\n" + j({"sub": "u", "role": "user", "exp": EXP}),
        "signed_hdr_hs384": "jwt:" + j({"alg": "HS384", "typ": "JWT"}) + "\n" + j({"sub": "u", "role": "user", "exp": EXP}),
        "signed_hdr_array": "jwt:[]\n" + j({"sub": "u", "role": "user", "exp": EXP}),
    },
    "values": {
        "uuid": UUID,
        "uuid_upper": UUID.upper(),
        "ts": "2024-02-29T23:59:59Z",
        "ts_frac_off": "1999-12-31t00:00:00.123456789-05:30",
        "ts_bad_day": "2023-02-29T00:00:00Z",
        "ts_leap_sec": "2016-12-31T23:59:60Z",
        "ts_year0": "0000-01-01T00:00:00Z",
        "url": "https://user@[::1]:8443/path?q#f",
        "url_bad_port": "http://host:99999/",
        "url_metadata": "http://169.254.169.254/latest/meta-data/",
        "url_https_token": "https://u:p@hooks.example.com:8443/cb?token=t#frag",
        "url_numeric_ip": "https://2130706433/x",
        "url_v6_mapped": "https://[::ffff:10.0.0.1]/",
        "url_host_decodes_to_del": "https://42614128620000d0-060-10%7f/",
        "cursor": "9223372036854775807",
        "cursor_overflow": "9223372036854775808",
        "key": "idem-key-\x7e~",
        "opaque_utf8": "\u00e9t\u00e9-\U0001F600",
        "bad_utf8": b"\xc0\xaf\xed\xa0\x80",
    },
}

BODY_KEYS = """report_type target_id target_owner_id reporter_id reason description evidence callback_url
panel_size votes_to_decide ballot_timeout_s reminder_before_s max_substitute_rounds case_deadline_s on_deadline
reviewer_tags appeal_window_s appeal_panel_size appeal_votes_to_decide user_id tags credit_score registered_at at
include_tags_any exclude_tags min_credit_score min_account_age_days active_weeks_required max_open_ballots
max_per_day max_per_week min_interval_s cooldown_after_expiry_s min_decided_votes min_accuracy max_no_show_rate
suspend_days min_gold_votes min_gold_accuracy pair_flag_margin max_pair_cases_30d vote_reward majority_bonus reporter_reward daily_cap_per_user name cost stock active item_id quantity
decision comment verdict note status paused s t i n b o a sa expected_verdict""".split()
EVENT_KEYS = """event_id occurred_at case_id round seats report_type reviewer_tags exclude_user_ids deadline reviewer_id
outcome ballots verdict with_majority decision reporter_ids decided_by user_id at status reason final_verdict
finalized_by appeal_case_id audit expected_verdict""".split()
JSON_TOKENS = ["{", "}", "[", "]", ":", ",", "null", "true", "false", "-0", "1e308", "9223372036854775807",
               "-9223372036854775808", "0.5", "\\u0000", "\\u001f", "\\u0085", "\\ud83d\\ude00", "\u0085",
               "2025-05-31T23:59:59Z", "+01:00", ".123456789", "https://", "http://[::1]:", "@", UUID]
DICTS = {
    "body": [f'"{k}":' for k in BODY_KEYS] + JSON_TOKENS
    + ["decide_by_votes_cast", "escalate", "violation", "no_violation", "lang:en"],
    "events": [f'"{k}":' for k in EVENT_KEYS] + JSON_TOKENS
    + ["voted", "expired", "declined", "cancelled", "open", "violation", "no_violation"],
    "auth": ["Bearer ", "bearer ", "jwt:", "\n", ".", "eyJ", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", '"alg":',
             '"HS256"', '"HS512"', '"none"', '"typ":', '"sub":', '"role":', '"user"', '"ops"', '"exp":', '"nbf":',
             "4102444800", "{", "}", "null", "k3y-report-web-0001", "another_key~42", "==",
             "scopes:", "report:", "report:*", "profiles", "activity", "|", "sig:", "t=", ",v1=", "1764979200"],
    "router": ["/v1/", "/", "%", "%2F", "%00", "%C3%A9", "%ED%A0%80", "{", "}", ":batch", ":archive", ".json",
               "cases", "votes", "reviewers", "status", "voting-rules", "versions", "catalog/items", "redemptions",
               "refund", "accounts", "ledger"],
    "values": ["T", "Z", "+", "-", ":", ".", "60", "2024-02-29", "23:59:59", "http://", "https://", "[", "]", "@",
               ":65535", "9223372036854775807", "\u0085", "\U0001F600", b"\xed\xa0\x80"],
}


def dict_entry(tok):
    """libFuzzer dictionary syntax: printable ASCII, \\\\, \\" and \\xNN."""
    out = ""
    for b in tok if isinstance(tok, bytes) else tok.encode():
        if b in (0x5C, 0x22):
            out += "\\" + chr(b)
        elif 0x20 <= b < 0x7F:
            out += chr(b)
        else:
            out += "\\x%02X" % b
    return f'"{out}"'


def main():
    for name, seeds in SEEDS.items():
        d = os.path.join(HERE, "corpus", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for fname, content in seeds.items():
            data = content if isinstance(content, bytes) else content.encode()
            with open(os.path.join(d, fname), "wb") as f:
                f.write(data)
    for name, toks in DICTS.items():
        with open(os.path.join(HERE, name + ".dict"), "w") as f:
            f.write(f"# libFuzzer dictionary of fuzz_{name} (written by gen_seeds.py)\n")
            f.writelines(f"{dict_entry(t)}\n" for t in toks)


if __name__ == "__main__":
    main()

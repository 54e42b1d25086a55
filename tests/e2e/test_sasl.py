"""End to end over SASL/SCRAM-SHA-512 with ACLs: the three services talk to the
devstack's second broker (`scripts/devstack sasl-up`), each as its own
principal with SG_KAFKA_PROPERTIES, and a case goes report → panel → votes →
decision → coins; the reward principal is refused on a topic it does not own.

The SASL broker is started by this module when it is not running, and then
stopped (and its state deleted) at the end. Its ACLs name unprefixed topics,
so the services run with an empty SG_TOPIC_PREFIX against it (it is this
module's broker; PostgreSQL schemas are still per run)."""
import json
import os
import random
import socket
import subprocess
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

import sgtest
from e2elib import REWARD_RULE, SUMMARY, Stack, ledger_by_case, ok, poll, voting_rule

RULES = {"sasl_case": voting_rule(panel_size=3, votes_to_decide=2)}
V = REWARD_RULE["vote_reward"]


def devstack(*args, capture=False, env=None):
    r = subprocess.run([os.path.join(sgtest.ROOT, "scripts", "devstack"), *args], cwd=sgtest.ROOT,
                       capture_output=capture, text=True, env=env)
    return r


def free_port_pair():
    """Two free consecutive ports below the kernel's ephemeral range (32768 and
    up on Linux): the devstack's default 59192 lies inside it, so a busy suite's
    own client connections can hold it when the broker starts mid-run."""
    for _ in range(200):
        p = random.randrange(20000, 32000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", p))
                b.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
    raise AssertionError("no free port pair below 32000")


def parse_exports(text):
    """{name: value} of `export NAME='value'` lines."""
    out = {}
    for line in text.splitlines():
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export "):].split("=", 1)
            out[k] = v.strip("'")
    return out


def client_conf(props, **extra):
    """librdkafka settings of an SG_KAFKA_PROPERTIES value."""
    c = dict(kv.split("=", 1) for kv in props.split(";") if kv)
    c.update(extra)
    return c


@pytest.fixture(scope="module")
def sasl():
    denv = None
    started = devstack("sasl-status", capture=True).returncode != 0
    if started:
        # A broker of its own on ports no client connection can be holding.
        port = free_port_pair()
        denv = dict(os.environ, SG_DEV_SASL_KAFKA_PORT=str(port), SG_DEV_SASL_KAFKA_CONTROLLER_PORT=str(port + 1))
        t0 = time.time()
        assert devstack("sasl-up", env=denv).returncode == 0, "scripts/devstack sasl-up failed"
        SUMMARY.append(f"sasl: broker started with topics and ACLs in {time.time() - t0:.1f}s")
    env = devstack("sasl-env", capture=True, env=denv)
    assert env.returncode == 0, env.stderr
    creds = parse_exports(env.stdout)
    try:
        yield creds
    finally:
        if started:
            devstack("sasl-down", env=denv)


class SaslStack(Stack):
    """The e2e Stack against the SASL broker: per-service principals, no topic prefix,
    topics made by sasl-up, no EventCollector (the plain broker's helpers do not apply)."""

    def __init__(self, creds):
        super().__init__(RULES, n_jurors=12, redis_db=11, tag="s")
        self.prefix = ""
        self.creds = creds
        for n, s in self.svc.items():
            s.prefix = ""
            s.extra.update({"SG_KAFKA_BROKERS": creds["SG_SASL_KAFKA_BROKERS"], "SG_TOPIC_PREFIX": "",
                            "SG_KAFKA_PROPERTIES": creds[f"SG_SASL_KAFKA_PROPERTIES_{n.upper()}"]})

    def start(self):
        for s in self.svc.values():
            s.start(wait=False)
        for s in self.svc.values():
            s.wait_ready()
        self.pids = {n: s.proc.pid for n, s in self.svc.items()}

    def drop(self):
        for s in self.svc.values():
            s.drop_schema(topics=False)


@pytest.fixture(scope="module")
def stack(sasl):
    st = SaslStack(sasl)
    try:
        st.start()
        st.configure()
        yield st
    finally:
        codes = st.stop()
        st.drop()
    bad = {n: c for n, c in codes.items() if c != 0}
    assert not bad, f"services did not exit 0 on SIGTERM: {bad} (logs in {sgtest.LOGDIR}, run {st.run})"


def admin_read(creds, topic, timeout=30):
    """Every message of topic, read as the super user to the end of each partition."""
    c = Consumer(client_conf(creds["SG_SASL_KAFKA_PROPERTIES_ADMIN"],
                             **{"bootstrap.servers": creds["SG_SASL_KAFKA_BROKERS"],
                                "group.id": "sasl-read-" + uuid.uuid4().hex, "enable.auto.commit": False,
                                "enable.partition.eof": True}))
    try:
        parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        done, out, deadline = set(), [], time.time() + timeout
        while len(done) < len(parts) and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    done.add(m.partition())
                continue
            try:
                out.append(json.loads(m.value()))
            except ValueError:
                pass
        return out
    finally:
        c.close()


def test_chain_over_sasl_with_acls(stack):
    run = stack.run
    owner, reporter = f"{run}-owner", f"{run}-rep"
    r = stack.post_report("sasl_case", f"comment:{run}", owner, reporter)
    cid = ok(r, 201)["case_id"]
    case = stack.wait_panel(cid, 3, timeout=30)               # panel.requested → reviewer → panel.assigned
    jurors = [b["reviewer_id"] for b in case["ballots"] if b["status"] == "open"]
    ok(stack.vote(cid, jurors[0], "violation"), 201)
    ok(stack.vote(cid, jurors[1], "violation"), 201)          # decides: ballot.closed, case.decided
    decided = stack.wait_case(cid, ("decided",), timeout=20)
    assert decided.get("verdict") == "violation", decided

    def credited():                                           # case.decided → reward over SASL
        got = {j: ledger_by_case(stack.ledger(j)).get(cid, 0) for j in jurors[:2]}
        return got if all(v >= V for v in got.values()) else None
    poll(credited, 30, interval=0.3, what=f"vote rewards of case {cid} credited")

    granted = poll(lambda: [e for e in admin_read(stack.creds, "sg.reward.granted") if e.get("case_id") == cid],
                   30, interval=0.5, what=f"sg.reward.granted events of case {cid}")
    assert {e.get("user_id") for e in granted} >= set(jurors[:2]), granted

    # Only the keys of SG_KAFKA_PROPERTIES are logged, never the password.
    for n, s in stack.svc.items():
        password = client_conf(s.extra["SG_KAFKA_PROPERTIES"])["sasl.password"]
        with open(s.logpath) as f:
            log = f.read()
        assert password not in log, f"{n}: its SASL password is in its log {s.logpath}"
        assert "sasl.password" in log, f"{n}: the Kafka property keys are not logged"


def test_reward_principal_cannot_produce_decisions(sasl):
    """sg.case.decided is the report service's: the reward principal is refused."""
    errors = []
    p = Producer(client_conf(sasl["SG_SASL_KAFKA_PROPERTIES_REWARD"],
                             **{"bootstrap.servers": sasl["SG_SASL_KAFKA_BROKERS"], "enable.idempotence": True,
                                "message.timeout.ms": 15000}))
    p.produce("sg.case.decided", b'{"forged": true}', key=b"forged", on_delivery=lambda e, m: errors.append(e))
    p.flush(20)
    assert len(errors) == 1 and errors[0] is not None, f"delivery reports: {errors}"
    assert errors[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, errors[0]

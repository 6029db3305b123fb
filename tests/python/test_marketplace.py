"""Message rules, read-backs and entry explanations from Python (issue 14;
marketplace.h): Log.set_rules / classify / observe, default_rules(),
Entry.min_source / rule / explanation, Stats.corrections."""
from __future__ import annotations

import pytest

import stockguard as sg
from conftest import Transport

I = "carrefour"
CARREFOUR = ("Produto ainda não foi catalogado no Carrefour. Para reprocessar essa oferta, "
             "aguarde a confirmação do Carrefour de que o produto foi catalogado.")


def test_default_rules_classify_the_seed_messages():
    rules = sg.default_rules()
    assert rules and all(isinstance(r, sg.MessageRule) for r in rules)
    with sg.Log() as log:
        log.submit(I, "A", 10, sequence=1)
        assert log.classify(I, 400, CARREFOUR) == sg.ErrorClass.NOT_CATALOGUED
        assert log.classify(I, 409, "version mismatch") == sg.ErrorClass.CONFLICT
        assert log.classify(I, 400, "bad field") == sg.ErrorClass.REJECTED


def test_own_rules_replace_or_extend_the_defaults():
    with sg.Log() as log:
        log.submit(I, "A", 10, sequence=1)
        log.set_rules(I, [sg.MessageRule(sg.ErrorClass.TRANSIENT, "try later", 400, 499)])
        assert log.classify(I, 400, "please try later") == sg.ErrorClass.TRANSIENT
        assert log.classify(I, 400, CARREFOUR) == sg.ErrorClass.REJECTED, "defaults replaced"
        log.set_rules(I, [{"error_class": sg.ErrorClass.AUTH, "text": "token", "match": "prefix"}],
                      keep_defaults=True)
        assert log.classify(I, 403, "token expired") == sg.ErrorClass.AUTH
        assert log.classify(I, 400, CARREFOUR) == sg.ErrorClass.NOT_CATALOGUED
        with pytest.raises(sg.InvalidArgument):
            log.set_rules(I, [sg.MessageRule(sg.ErrorClass.AUTH, "")])
        with pytest.raises(sg.InvalidArgument):
            log.set_rules(I, [sg.MessageRule(sg.ErrorClass.AUTH, "x", http_min=500, http_max=400)])
        with pytest.raises(sg.InvalidArgument):
            log.set_rules(I, [sg.MessageRule(sg.ErrorClass.AUTH, "x", match="regex")])
        assert log.classify(I, 403, "token expired") == sg.ErrorClass.AUTH, "nothing changed"


def test_a_read_back_that_differs_queues_a_correction():
    events = []
    t = Transport()
    with sg.Log(transport=t, events=events.append) as log:
        log.submit(I, "A", 10, sequence=1)
        log.pump()
        assert log.observe(I, "A", 10) == "in_sync"
        assert log.observe(I, "A", 3) == "corrected"
        e = log.get(I, "A")
        assert e.reason == sg.Reason.OUT_OF_SYNC and e.job_state == sg.JobState.QUEUED
        assert log.stats(I).corrections == 1
        assert any(ev.type == sg.EventType.OUT_OF_SYNC for ev in events)
        assert log.observe(I, "A", 3) == "pending"
        assert log.observe(I, "A", 3, observed_at=1) == "stale"
        with pytest.raises(sg.InvalidArgument):
            log.observe(I, "A", -1)
        with pytest.raises(sg.NotFound):
            log.observe(I, "nope", 1)


def test_a_missing_sku_is_held_as_not_catalogued():
    with sg.Log(transport=Transport()) as log:
        log.submit(I, "M", 10, sequence=1)
        log.pump()
        assert log.observe(I, "M", None) == "not_catalogued"
        assert log.get(I, "M").job_state == sg.JobState.HELD


def test_an_entry_explains_itself():
    with sg.Log() as log:
        log.set_policy(I, sg.Policy(min_stock=10))
        log.submit(I, "Z", 7, sequence=1)
        e = log.get(I, "Z")
        assert e.published == 0
        assert e.rule == sg.Rule.CUTOFF and e.min_source == sg.MinSource.DEFAULT
        text = e.explanation
        assert "0" in text and text == sg.decode(e.encode()).explanation
        assert sg.Entry(I, "built").min_source is None

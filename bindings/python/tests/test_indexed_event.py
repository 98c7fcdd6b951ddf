"""Step events from the indexed poll: decoded part by part, the same
objects wherever they are read, and the same context for handlers as the
whole event gives."""

import json
import unittest
from pathlib import Path

from tasker_core.indexed_event import (CHECKPOINT, CONTEXT, DEPENDENCY_RESULTS, EVENT, INITIALIZATION, INPUTS, PATHS,
                                       STEP_DEFINITION, TASK, WORKFLOW_STEP, events_of)
from tasker_core.types import StepContext

from .support import indexed, indexed_reply, make_event

TESTDATA = Path(__file__).resolve().parents[2] / "capi" / "testdata"
BENCH_CALLABLE = "tasker_example_rs::step_handlers::linear_workflow::LinearStep2Handler"


def dig(value, path):
    for key in path:
        value = value[key]
    return value


class IndexedEventTest(unittest.TestCase):
    def event(self):
        return make_event("x.ok", step_name="s1", context={"n": 1, "deep": {"a": [1, 2]}}, inputs={"i": 1},
                          initialization={"cfg": True}, deps={"s0": {"success": True, "result": 5}},
                          checkpoint={"cursor": 3}, attempts=2, max_attempts=5, timeout_seconds=9, method="run")

    def test_header_fields_and_parts(self):
        event = self.event()
        ix = indexed(event)
        self.assertEqual((ix.event_id, ix.task_uuid, ix.step_uuid, ix.correlation_id),
                         (event["event_id"], event["task_uuid"], event["step_uuid"], event["correlation_id"]))
        self.assertEqual((ix.callable, ix.method, ix.resolver, ix.timeout_seconds, ix.step_name, ix.attempts,
                          ix.max_attempts), ("x.ok", "run", None, 9, "s1", 2, 5))
        for k, path in enumerate(PATHS):
            self.assertEqual(indexed(event).part(k), dig(event, path), path)
        self.assertEqual(ix.to_dict(), event)

    def test_parts_decoded_once_and_shared(self):
        # inner part first: the enclosing parts decoded later hold that very object
        ix = indexed(self.event())
        ctx, deps, init = ix.part(CONTEXT), ix.part(DEPENDENCY_RESULTS), ix.part(INITIALIZATION)
        self.assertFalse(ix.decoded(TASK))
        self.assertIs(ix.part(TASK)["task"]["context"], ctx)
        full = ix.to_dict()
        tss = full["task_sequence_step"]
        self.assertIs(tss["task"]["task"]["context"], ctx)
        self.assertIs(tss["dependency_results"], deps)
        self.assertIs(tss["step_definition"]["handler"]["initialization"], init)
        self.assertIs(ix.part(WORKFLOW_STEP), tss["workflow_step"])
        # outer part first: inner parts are taken from it
        ix = indexed(self.event())
        ws = ix.part(WORKFLOW_STEP)
        self.assertTrue(ix.decoded(INPUTS))
        self.assertIs(ix.part(INPUTS), ws["inputs"])
        self.assertIs(ix.part(CHECKPOINT), ws["checkpoint"])
        self.assertIs(ix.to_dict()["task_sequence_step"]["workflow_step"], ws)
        self.assertIs(ix.part(STEP_DEFINITION), ix.part(EVENT)["task_sequence_step"]["step_definition"])

    def test_a_changed_enclosing_part_does_not_hide_the_inner_one(self):
        ix = indexed(self.event())
        del ix.part(WORKFLOW_STEP)["inputs"]
        self.assertEqual(ix.part(INPUTS), {"i": 1})

    def test_context_matches_the_whole_event(self):
        event = self.event()
        plain = StepContext.from_ffi_event(event, "h")
        lazy = StepContext.from_indexed(indexed(event), "h")
        for name in ("task_uuid", "step_uuid", "correlation_id", "handler_name", "input_data", "dependency_results",
                     "step_config", "step_inputs", "retry_count", "max_retries", "step_name", "namespace_name",
                     "task_name", "checkpoint", "checkpoint_cursor", "published_events"):
            self.assertEqual(getattr(lazy, name), getattr(plain, name), name)
        self.assertEqual(lazy.get_dependency_result("s0"), 5)
        self.assertEqual(lazy.event.task_sequence_step, event["task_sequence_step"])
        self.assertEqual(lazy.event.task_correlation_id, event["task_correlation_id"])
        self.assertIs(lazy.event.task_sequence_step["task"]["task"]["context"], lazy.input_data,
                      "the handler's input_data is the event's task context, as with the whole event")
        lazy.input_data = {"replaced": True}  # attributes stay assignable
        self.assertEqual(lazy.get_input("replaced"), True)

    def test_reply_written_here_is_the_librarys(self):
        # The library's reply for the captured event (kept equal to what it
        # writes by a Go test) is what indexed_reply writes, and decodes to it.
        golden = (TESTDATA / "step_event_indexed.txt").read_bytes()
        event = json.loads((TESTDATA / "step_event.json").read_text())
        event["task_sequence_step"]["step_definition"]["handler"]["callable"] = BENCH_CALLABLE
        self.assertEqual(indexed_reply([event]), golden)
        events, header = events_of(golden)
        self.assertEqual(header["state"], "running")
        self.assertEqual(events[0].to_dict(), event)

    def test_several_events_and_errors(self):
        a, b = self.event(), make_event("x.other")
        events, header = events_of(indexed_reply([a, b]))
        self.assertEqual([e.to_dict() for e in events], [a, b])
        self.assertEqual(events[1].part(CONTEXT), {})
        events, header = events_of(b'{"ok":false,"error":{"code":"unknown_handle","message":"m"}}')
        self.assertEqual((events, header["error"]["code"]), ([], "unknown_handle"))
        self.assertEqual(events_of(b'{"ok":true,"events":[],"state":"stopped"}\n'), ([], {"ok": True, "events": [], "state": "stopped"}))


if __name__ == "__main__":
    unittest.main()

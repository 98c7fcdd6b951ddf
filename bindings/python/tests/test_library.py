"""The ctypes binding against the real worker library (set TASKER_WORKER_LIB;
the Go test TestLibraryBinding does). Only calls that need no database."""

import os
import unittest

from tasker_core.errors import FFIError
from tasker_core.ffi import ABI_VERSION, Library

LIB = os.environ.get("TASKER_WORKER_LIB")


@unittest.skipUnless(LIB, "TASKER_WORKER_LIB is not set")
class LibraryTest(unittest.TestCase):
    lib = Library(LIB) if LIB else None

    def code(self, fn, *args):
        with self.assertRaises(FFIError) as caught:
            fn(*args)
        return caught.exception.code

    def test_abi_version_and_process_logger(self):
        self.assertEqual(self.lib._lib.tasker_abi_version(), ABI_VERSION)
        self.lib.log(0, "info", "python binding test", {"k": "v"})
        self.lib.log(0, "debug", "no fields")
        self.assertEqual(self.code(self.lib.log, 0, "loud", "x"), "invalid_argument")

    def test_errors_are_codes(self):
        self.assertEqual(self.code(self.lib.poll, 999999, 1, 0), "unknown_handle")
        self.assertTrue(self.lib.indexed, "this library has tasker_poll_step_events_indexed")
        self.assertEqual(self.code(self.lib.poll_indexed, 999999, 1, 0), "unknown_handle")
        self.assertEqual(self.code(self.lib.poll_indexed, 999999, 0, 0), "invalid_argument")
        self.assertEqual(self.code(self.lib.complete, 999999, "e", "{}"), "unknown_handle")
        self.assertEqual(self.code(self.lib.status, 999999), "unknown_handle")
        self.assertEqual(self.code(self.lib.stop, 999999, 10), "unknown_handle")
        self.assertEqual(self.code(self.lib.bootstrap, {"language": "python"}), "invalid_config")
        self.assertEqual(self.code(self.lib._call, "tasker_worker_bootstrap", b"{not json"), "invalid_json")

    def test_bootstrap_without_a_database_fails_cleanly(self):
        config = {"callables": ["x.y"], "language": "python",
                  "database_url": "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"}
        self.assertEqual(self.code(self.lib.bootstrap, config), "bootstrap_failed")

    def test_a_forked_child_is_refused(self):
        # A real fork: the child must refuse before calling into the
        # library (whose Go threads did not survive the fork).
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            try:
                self.lib.status(1)
                answer = "called"
            except FFIError as exc:
                answer = exc.code
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                answer = repr(exc)
            os.write(write, answer.encode())
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as r:
            answer = r.read().decode()
        os.waitpid(pid, 0)
        self.assertEqual(answer, "forked")
        self.assertEqual(self.code(self.lib.status, 999999), "unknown_handle", "the parent still calls the library")

    def test_the_common_reply_is_not_decoded_twice(self):
        # tasker_log answers {"ok":true}: the reply comes back as a new dict
        # each time (a caller may change it).
        first = self.lib._call("tasker_log", 0, b"debug", b"x", None)
        self.assertEqual(first, {"ok": True})
        first["changed"] = 1
        self.assertEqual(self.lib._call("tasker_log", 0, b"debug", b"x", None), {"ok": True})

    def test_free_accepts_null(self):
        self.lib._lib.tasker_free(None)


if __name__ == "__main__":
    unittest.main()

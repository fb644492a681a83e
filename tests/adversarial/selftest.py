#!/usr/bin/env python3
"""Tests of run.py itself (standard library unittest): the corpus loader, the reply parser and the
judge, the last against fake servers on loopback whose misbehaviour the judge must catch."""
import os
import socket
import socketserver
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
BAD = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


class Fake(socketserver.ThreadingTCPServer):
    """A loopback server whose reply is reply(received bytes) -> (bytes, close?)."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, reply):
        self.reply = reply

        class Handler(socketserver.BaseRequestHandler):
            def handle(h):
                h.request.settimeout(0.2)
                data = b""
                try:
                    while True:
                        chunk = h.request.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                except socket.timeout:
                    pass
                out, close = self.reply(data)
                h.request.sendall(out)
                if not close:
                    threading.Event().wait(run.MAX_TIME + 0.5)  # hold the connection open

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def target(self, name):
        return (name, "127.0.0.1", self.server_address[1])


def answer_every_head(data):
    """Lenient and smuggling: one 200 per blank-line-terminated block, never closes."""
    return OK * max(1, data.count(b"\r\n\r\n")), False


def strict(data):
    """Rejects anything that is not a plain GET with Host, then closes; answers one 200 otherwise."""
    if data.startswith(b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n") and data.count(b"\r\n\r\n") == 1:
        return OK, False
    return BAD, True


def reject_open(data):
    return BAD.replace(b"Connection: close\r\n", b""), False


def refuse_431(data):
    """Refuses everything with 431 and closes: right for a too-large head, wrong for anything else."""
    return BAD.replace(b"400 Bad Request", b"431 Request Header Fields Too Large"), True


def first_only(data):
    """Answers one 200 whatever was sent, then closes: leaves pipelined requests unanswered."""
    return OK, True


class CorpusTest(unittest.TestCase):
    def test_unescape(self):
        self.assertEqual(run.unescape(r"a\r\n\t\0\s\\\x7f\{", "t"), b"a\r\n\t\0 \\\x7f{")
        self.assertEqual(run.unescape(r"{{3*ab}}", "t"), b"ababab")
        self.assertEqual(run.unescape(r"{{2*x{{2*y}}\r\n}}", "t"), b"xyy\r\nxyy\r\n")
        with self.assertRaises(ValueError):
            run.unescape(r"\q", "t")
        with self.assertRaises(ValueError):
            run.unescape(r"{{3*ab", "t")
        self.assertEqual(run.unescape_pieces(r"ab\pc\r\p", "t"), [b"ab", b"c\r", b""])
        with self.assertRaises(ValueError):
            run.unescape(r"a\pb", "t")  # no pause inside a repeat macro or other plain context

    def test_corpus_loads(self):
        cases = run.load_cases(os.path.join(run.HERE, "cases.txt"))
        self.assertGreaterEqual(len(cases), 80)
        self.assertEqual(len({c.name for c in cases}), len(cases))
        for c in cases:
            self.assertIn(c.expect, run.EXPECTATIONS, c.name)
            self.assertGreaterEqual(c.max, 1, c.name)
        # The smuggled request inside the probes is 43 bytes; the Content-Lengths depend on it.
        by_name = {c.name: c for c in cases}
        split = by_name["get-bytewise"]
        self.assertEqual(split.pieces, [bytes([b]) for b in split.raw])
        paused = by_name["crlf-split-across-reads"]
        self.assertTrue(all(p.endswith(b"\r") for p in paused.pieces[:-1]), paused.pieces)
        self.assertEqual(b"".join(paused.pieces), paused.raw)
        probe = by_name["get-body-holds-request"]
        self.assertTrue(probe.raw.endswith(b"\r\n\r\n" + b"GET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"))
        self.assertIn(b"Content-Length: 43\r\n", probe.raw)

    def test_allowlist_names_exist(self):
        names = {c.name for c in run.load_cases(os.path.join(run.HERE, "cases.txt"))}
        for name in run.load_allowlist(os.path.join(run.HERE, "DIFFERENCES.md")):
            self.assertIn(name, names)


class ReplyParserTest(unittest.TestCase):
    def test_statuses(self):
        chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
        stream = b"HTTP/1.1 100 Continue\r\n\r\n" + chunked + OK + BAD
        self.assertEqual(run.parse_responses(stream, "closed"), (["100", "200", "200", "400"], ""))
        self.assertEqual(run.parse_responses(b"ok", "closed")[0], ["0.9"])
        self.assertEqual(run.parse_responses(OK[:-1], "closed"), (["200"], "truncated body"))
        head_ok = OK.replace(b"\r\n\r\nok", b"\r\n\r\n")
        self.assertEqual(run.parse_responses(head_ok + OK, "open", heads=1)[0], ["200", "200"])
        # A body sent after a HEAD response shows as garbage where the next status line should be.
        self.assertEqual(run.parse_responses(OK + OK, "open", heads=1)[0], ["200", "garbage"])
        r = run.Result(["100", "200", "200"], "open", "")
        self.assertEqual((r.final, r.verdict, r.cell()), (["200", "200"], "accept", "100,200x2 open"))
        self.assertEqual(run.Result([], "closed", "").verdict, "reject")
        self.assertEqual(run.Result([], "open", "").verdict, "hang")
        self.assertEqual(run.Result(["404"], "open", "").verdict, "accept")
        self.assertEqual(run.Result(["431"], "closed", "").verdict, "reject")

    def test_smuggled(self):
        def why(statuses, most):
            return run.smuggled(run.Result(statuses, "closed", ""), most)
        self.assertIsNone(why(["200", "400"], 1))  # a served request, then garbage refused
        self.assertIsNone(why(["100", "200", "200"], 2))
        self.assertIn("served", why(["200", "200"], 1))
        self.assertIn("leftovers", why(["400", "200"], 1))
        self.assertIn("leftovers", why(["400", "400"], 1))
        self.assertIn("leftovers", why(["200", "400", "400"], 2))
        self.assertIn("not a response", why(["200", "garbage"], 2))


class CrashTest(unittest.TestCase):
    def test_unreachable_sut_fails(self):
        case = run.load_cases(os.path.join(run.HERE, "cases.txt"))[0]
        targets = [("waitless", "127.0.0.1", 1), ("peer", "127.0.0.1", 2)]
        results = {("waitless", case.name): run.Result([], "connect-error refused", ""),
                   ("peer", case.name): run.Result(["200"], "open", "")}
        failures, _, _ = run.judge([case], targets, results, {})
        self.assertEqual(len(failures), 1)
        self.assertTrue(failures[0][1].startswith("(e) "), failures)


class JudgeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        run.IDLE_TIMEOUT, run.MAX_TIME = 0.4, 1.5
        cls.servers = [Fake(answer_every_head), Fake(strict), Fake(reject_open), Fake(refuse_431),
                       Fake(first_only)]

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.shutdown()
            s.server_close()

    def judge(self, sut_server, names, allowed=None):
        cases = [c for c in run.load_cases(os.path.join(run.HERE, "cases.txt")) if c.name in names]
        targets = [sut_server.target("waitless"), self.servers[1].target("peer")]
        results = {(t[0], c.name): run.run_case(t, c) for t in targets for c in cases}
        return run.judge(cases, targets, results, allowed or {})

    def test_lenient_smuggling_server_fails(self):
        failures, _, _ = self.judge(self.servers[0], {"cl-te-smuggle", "get-simple"})
        self.assertEqual(len(failures), 1)
        name, line = failures[0]
        self.assertEqual(name, "cl-te-smuggle")
        self.assertTrue(line.startswith("(a,b,c,d) "), line)
        self.assertIn("served for at most 1", line)

    def test_allow_list_waives_a_and_b_only(self):
        failures, findings, _ = self.judge(self.servers[0], {"cl-te-smuggle"}, {"cl-te-smuggle": "why"})
        self.assertEqual(len(failures), 1)
        self.assertTrue(failures[0][1].startswith("(c,d) "), failures[0][1])

    def test_strict_server_passes_and_keep_open_reject_is_a_finding(self):
        failures, findings, differences = self.judge(self.servers[1], {"cl-te-smuggle", "get-simple"})
        self.assertEqual((failures, differences), ([], []))
        failures, findings, _ = self.judge(self.servers[2], {"cl-plus"})
        self.assertEqual(failures, [])
        self.assertTrue(any("kept the connection open" in f for f in findings), findings)

    def test_valid_request_refused_fails_unless_allow_listed(self):
        failures, _, _ = self.judge(self.servers[1], {"get-query"})  # strict refuses it with 400
        self.assertEqual(len(failures), 1)
        self.assertTrue(failures[0][1].startswith("(f) "), failures[0][1])
        failures, findings, _ = self.judge(self.servers[1], {"get-query"}, {"get-query": "why"})
        self.assertEqual(failures, [])
        self.assertTrue(any("allow-listed (f)" in f for f in findings), findings)

    def test_valid_pipelined_requests_left_unanswered_fail(self):
        failures, _, _ = self.judge(self.servers[4], {"pipelined-get-pair", "get-simple"})
        self.assertEqual([name for name, _ in failures], ["pipelined-get-pair"])
        self.assertIn("1 of 2 served", failures[0][1])

    def test_status_named_by_the_rfc_is_checked(self):
        # 431 is right for a head over the limit, wrong for a target (414) or an invalid Content-Length (400).
        failures, _, _ = self.judge(self.servers[3], {"head-over-16k", "target-20k", "cl-plus"})
        self.assertEqual(sorted(name for name, _ in failures), ["cl-plus", "target-20k"])
        self.assertTrue(all(line.startswith("(g) ") for _, line in failures), failures)
        failures, findings, _ = self.judge(self.servers[3], {"target-20k"}, {"target-20k": "why"})
        self.assertEqual(failures, [])
        self.assertTrue(any("allow-listed (g)" in f for f in findings), findings)

    def test_stale_allow_list_item_is_reported(self):
        failures, findings, _ = self.judge(self.servers[1], {"get-simple"}, {"get-simple": "why"})
        self.assertEqual(failures, [])
        self.assertTrue(any("passes without it" in f for f in findings), findings)


if __name__ == "__main__":
    unittest.main(verbosity=1)

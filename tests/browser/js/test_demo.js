// The demo page's pure helpers: "last seen" in words, the typing line, the connection line.

import {connectionText, lastSeenText, stoppedText, typingLine} from "/static/demo.js";
import {assertEqual, test} from "/js/harness.js";

const NOW = Date.parse("2026-01-01T12:00:00Z");
const ago = (seconds) => new Date(NOW - seconds * 1000);

test("last seen in words, from just now to days", () => {
  const cases = [[null, "never seen"], [ago(10), "last seen just now"], [ago(-5), "last seen just now"],
    [ago(50), "last seen 1 minute ago"], [ago(180), "last seen 3 minutes ago"],
    [ago(44 * 60), "last seen 44 minutes ago"], [ago(50 * 60), "last seen 1 hour ago"],
    [ago(5 * 3600), "last seen 5 hours ago"], [ago(3 * 86400), "last seen 3 days ago"]];
  assertEqual(cases.map(([date]) => lastSeenText(date, NOW)), cases.map(([, text]) => text));
});

test("last seen moves on as time passes", () => {
  const seen = ago(0);
  assertEqual([0, 60, 180, 7200].map((s) => lastSeenText(seen, NOW + s * 1000)),
    ["last seen just now", "last seen 1 minute ago", "last seen 3 minutes ago", "last seen 2 hours ago"]);
});

test("the typing line names one or two typers and counts more", () => {
  assertEqual([[], ["Grace"], ["Grace", "Linus"], ["A", "B", "C"]].map(typingLine),
    ["", "Grace is typing…", "Grace and Linus are typing…", "3 people are typing…"]);
});

test("the connection line says when the next attempt is", () => {
  assertEqual(connectionText({state: "retrying", retryIn: 4, attempt: 3}), "Connection lost: retrying in 4 s (attempt 3)");
  assertEqual(connectionText({state: "unauthorized", reason: "Token expired"}), "Session expired");
  assertEqual(connectionText({state: "live"}), "Live");
});

test("a stopped session says why: an expired token is not a removal from the directory", () => {
  const reasons = ["Token expired", "Removed from the directory", "Token rejected", undefined];
  assertEqual(reasons.map((reason) => connectionText({state: "unauthorized", reason})),
    ["Session expired", "Removed from the directory", "Token rejected", "Signed out by the server"]);
  assertEqual(stoppedText("Token expired"), "Your session expired: presence updates have stopped.");
  assertEqual(stoppedText("Removed from the directory").startsWith("You were removed from the directory"), true);
});

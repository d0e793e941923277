// The client's timing rules on a fake clock: every time below is in seconds of fake time.

import {
  ConnectionState, LocalPresence, PresenceManager, reconnectDelay, tabDeviceId, tokenSubject,
} from "/static/presence.js";
import {FakeClock, FakeFetch, assert, assertEqual, fakeSocketClass, json, test} from "/js/harness.js";

function fakeToken(sub) {
  const part = (value) => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${part({alg: "HS256", typ: "JWT"})}.${part({sub: String(sub), exp: 2000000000})}.c2lnbmF0dXJl`;
}

const TOKEN = fakeToken(1);
const NEW_TOKEN = fakeToken(1) + "x";

function setup({hidden = false, baseUrl = "http://presence.test"} = {}) {
  const clock = new FakeClock();
  const http = new FakeFetch(clock);
  const Socket = fakeSocketClass(clock);
  const manager = new PresenceManager({baseUrl, deviceId: "tab-1", fetch: http.fetch, WebSocket: Socket, clock});
  const states = [];
  const changes = [];
  manager.addEventListener("statechange", (event) => states.push(event.detail.state));
  manager.addEventListener("change", (event) => changes.push(event.detail));
  if (hidden) manager.background();
  return {clock, http, Socket, manager, states, changes, socket: () => Socket.instances.at(-1)};
}

function gaps(times, from) {
  return times.map((t, i) => t - (i === 0 ? from : times[i - 1]));
}

test("reconnectDelay is min(16, 2^attempt)", () => {
  assertEqual([0, 1, 2, 3, 4, 5, 6].map((a) => reconnectDelay(a)), [1, 2, 4, 8, 16, 16, 16]);
});

test("reconnect waits 1, 2, 4, 8, 16, 16 s, then starts over after a healthy connection", async () => {
  const {clock, http, Socket, manager, socket} = setup();
  manager.login(TOKEN);
  socket().accept();
  await clock.advance(10);
  Socket.onCreate = (s) => s.refuse();
  socket().drop(1006);
  await clock.advance(47.5);
  const retries = Socket.instances.slice(1).map((s) => s.openedAt);
  assertEqual(gaps(retries, 10), [1, 2, 4, 8, 16, 16], "delays between attempts");
  assertEqual(manager.state, ConnectionState.RETRYING);
  // each refused handshake asked over REST whether the token still works (it does: retry)
  assert(http.requests.filter((r) => r.method === "GET").length === 6, "one token check per refusal");
  Socket.onCreate = null;
  await clock.advance(16);
  socket().accept(); // healthy: initial_state
  assertEqual(manager.state, ConnectionState.LIVE);
  socket().drop(1001);
  const dropped = clock.now() / 1000;
  await clock.advance(1);
  assertEqual(socket().openedAt - dropped, 1, "the backoff started over");
});

test("a socket that closes before initial_state does not reset the backoff", async () => {
  const {clock, Socket, manager, socket} = setup();
  manager.login(TOKEN);
  socket().accept();
  Socket.onCreate = (s) => {
    s.open();
    s.drop(1011);
  };
  socket().drop(1006);
  await clock.advance(7.5);
  assertEqual(gaps(Socket.instances.slice(1).map((s) => s.openedAt), 0), [1, 2, 4]);
});

test("status updates wait out the 5 s limit and the latest wins", async () => {
  const {clock, http, manager, socket} = setup();
  manager.login(TOKEN);
  socket().accept();
  for (const status of ["away", "online", "away", "online", "away"]) {
    await clock.advance(0.5);
    manager.updateStatus(status);
  }
  await clock.advance(10);
  assertEqual(http.statuses(), [[0, "online"], [5, "away"]], "a burst of five sent one, the last");
});

test("offline skips the queue: sent at once even inside the 5 s window", async () => {
  const {clock, http, manager} = setup();
  manager.login(TOKEN);
  await clock.advance(1);
  manager.updateStatus("offline");
  await clock.advance(0);
  assertEqual(http.statuses(), [[0, "online"], [1, "offline"]]);
});

test("a 429 is retried after its Retry-After", async () => {
  const {clock, http, manager} = setup();
  manager.login(TOKEN);
  http.reply = (r) => (r.at === 6 ? json(429, {detail: "slow down"}, {"Retry-After": "3"}) : json(200, {}));
  await clock.advance(6);
  manager.updateStatus("away");
  await clock.advance(10);
  assertEqual(http.statuses(), [[0, "online"], [6, "away"], [9, "away"]]);
});

test("offline is sent at once, never queued, and outlives the page (keepalive)", async () => {
  const {clock, http, manager} = setup();
  manager.login(TOKEN);
  await clock.advance(1);
  await manager.logout();
  const offline = http.requests.at(-1);
  assertEqual([offline.at, offline.body.status, offline.keepalive], [1, "offline", true]);
});

test("a failed update is kept and sent after the next successful call", async () => {
  const {clock, http, manager} = setup({hidden: true});
  let down = true;
  http.reply = (r) => (down && r.path === "/api/presence/status" ? new TypeError("network down") : json(200, {}));
  manager.login(TOKEN);
  await clock.advance(100);
  assertEqual(http.statuses(), [[0, "away"]], "no retry on a timer while nothing succeeds");
  down = false;
  manager.keystroke(7); // a typing request succeeds: connectivity is back
  await clock.advance(0);
  assertEqual(http.statuses(), [[0, "away"], [100, "away"]]);
});

test("a failed update goes out when the socket connects again", async () => {
  const {clock, http, manager, socket} = setup();
  let down = true;
  http.reply = () => (down ? new TypeError("network down") : json(200, {}));
  manager.login(TOKEN);
  await clock.advance(20);
  down = false;
  socket().accept();
  await clock.advance(0);
  assertEqual(http.statuses(), [[0, "online"], [20, "online"]]);
});

test("a 401 stops every update until login(token)", async () => {
  const {clock, http, Socket, manager, socket} = setup();
  manager.login(TOKEN);
  socket().accept();
  http.reply = (r) => (r.headers.Authorization === `Bearer ${TOKEN}` && r.at > 0 ? json(401, {}) : json(200, {}));
  await clock.advance(6);
  manager.updateStatus("away");
  await clock.advance(0);
  assertEqual(manager.state, ConnectionState.UNAUTHORIZED);
  assertEqual(socket().closedWith, 1000, "the socket is closed");
  const before = http.requests.length;
  manager.updateStatus("online");
  manager.keystroke(7);
  manager.background();
  manager.foreground();
  await clock.advance(120);
  assertEqual([http.requests.length, Socket.instances.length], [before, 1], "nothing sent, no reconnect");
  manager.login(NEW_TOKEN);
  await clock.advance(0);
  assertEqual(socket().url.searchParams.get("token"), NEW_TOKEN);
  assertEqual(http.requests.at(-1).headers.Authorization, `Bearer ${NEW_TOKEN}`);
  assertEqual(http.statuses().at(-1), [126, "online"]);
});

test("close 4401 (token expired) stops every update until login(token)", async () => {
  const {clock, http, Socket, manager, socket} = setup();
  manager.login(TOKEN);
  socket().accept();
  await clock.advance(2);
  socket().drop(4401);
  assertEqual(manager.state, ConnectionState.UNAUTHORIZED);
  const before = http.requests.length;
  manager.keystroke(7);
  await clock.advance(120);
  assertEqual([http.requests.length, Socket.instances.length], [before, 1]);
});

test("close 4403 (removed from the directory) stops every update until login(token)", async () => {
  const {clock, http, Socket, manager, socket} = setup();
  const reasons = [];
  manager.addEventListener("statechange", (event) => reasons.push(event.detail.reason));
  manager.login(TOKEN);
  socket().accept();
  await clock.advance(2);
  const before = http.requests.length;
  socket().drop(4403); // the fake server still answers 200: only the close code can stop it
  assertEqual([manager.state, reasons.at(-1)], [ConnectionState.UNAUTHORIZED, "Removed from the directory"]);
  manager.updateStatus("away");
  manager.keystroke(7);
  await clock.advance(120);
  assertEqual([http.requests.length, Socket.instances.length], [before, 1], "no request, no reconnect");
  manager.login(NEW_TOKEN);
  await clock.advance(0);
  assertEqual([Socket.instances.length, socket().url.searchParams.get("token")], [2, NEW_TOKEN]);
});

test("a refused handshake whose token is rejected over REST stops reconnecting", async () => {
  const {clock, http, Socket, manager, socket} = setup();
  http.reply = (r) => (r.method === "GET" ? json(401, {detail: "Token has expired"}) : json(200, {}));
  manager.login(TOKEN);
  socket().refuse();
  await clock.advance(0);
  assertEqual(http.requests.at(-1).path, "/api/presence/users/1", "asked with the token's own user");
  assertEqual(manager.state, ConnectionState.UNAUTHORIZED);
  await clock.advance(60);
  assertEqual(Socket.instances.length, 1);
});

test("typing: true on the first keystroke, false after 3 s without one", async () => {
  const {clock, http, manager} = setup();
  manager.login(TOKEN);
  manager.keystroke(7);
  await clock.advance(10);
  assertEqual(http.typing(), [[0, true], [3, false]]);
  assertEqual(http.requests.find((r) => r.path.endsWith("/typing")).path, "/api/conversations/7/typing");
});

test("typing: at most one request per 2 s while the keys keep coming", async () => {
  const {clock, http, manager} = setup();
  manager.login(TOKEN);
  for (let i = 0; i < 4; i++) {
    manager.keystroke(7);
    await clock.advance(0.5);
  }
  await clock.advance(10);
  assertEqual(http.typing(), [[0, true], [2, true], [4.5, false]]);
});

test("typing: a keystroke right after false waits for the 2 s window", async () => {
  const {clock, http, manager} = setup();
  manager.login(TOKEN);
  manager.keystroke(7);
  await clock.advance(3.5);
  manager.keystroke(7);
  await clock.advance(10);
  assertEqual(http.typing(), [[0, true], [3, false], [5, true], [7, false]]);
});

test("typing: stopTyping sends false once, within the 2 s rule", async () => {
  const {clock, http, manager} = setup();
  manager.login(TOKEN);
  manager.keystroke(7);
  await clock.advance(0.5);
  manager.stopTyping(7);
  await clock.advance(10);
  assertEqual(http.typing(), [[0, true], [2, false]]);
});

test("heartbeat: a live socket is pinged every 30 s and a silent one replaced", async () => {
  const {clock, Socket, manager, socket} = setup();
  manager.login(TOKEN);
  socket().accept();
  await clock.advance(30);
  assertEqual(socket().sent, [{type: "ping"}]);
  socket().push({type: "pong"});
  await clock.advance(30);
  assertEqual(socket().sent.length, 2);
  await clock.advance(10); // no pong
  assertEqual(Socket.instances[0].closedWith, 4000);
  await clock.advance(1);
  assertEqual(Socket.instances.length, 2, "reconnected after 1 s");
});

test("heartbeat: without a socket, a status POST keeps the device alive; hidden, nothing", async () => {
  const {clock, http, Socket, manager} = setup();
  Socket.onCreate = (s) => s.refuse();
  manager.login(TOKEN);
  await clock.advance(66);
  assertEqual(http.statuses(), [[0, "online"], [30, "online"], [60, "online"]]);
  manager.background();
  await clock.advance(120);
  assertEqual(http.statuses().at(-1), [66, "away"]);
  assertEqual(http.statuses().length, 4);
});

test("hidden sends away, visible online; hidden and back within the window sends nothing", async () => {
  const {clock, http, manager, socket} = setup();
  manager.login(TOKEN);
  socket().accept();
  await clock.advance(1);
  manager.background();
  await clock.advance(1);
  manager.foreground();
  await clock.advance(10);
  assertEqual(http.statuses(), [[0, "online"]]);
  manager.background();
  await clock.advance(1);
  manager.foreground();
  await clock.advance(10);
  assertEqual(http.statuses(), [[0, "online"], [12, "away"], [17, "online"]]);
});

test("a reconnect while hidden says away again (a connect makes a lapsed device online)", async () => {
  const {clock, http, manager, socket} = setup({hidden: true});
  manager.login(TOKEN);
  socket().accept();
  await clock.advance(700);
  socket().drop(1006);
  await clock.advance(1);
  socket().accept();
  await clock.advance(0);
  assertEqual(http.statuses(), [[0, "away"], [701, "away"]]);
});

test("terminate (pagehide) sends offline with keepalive and headers, then nothing", async () => {
  const {clock, http, Socket, manager, socket} = setup();
  manager.login(TOKEN);
  socket().accept();
  await clock.advance(3);
  manager.terminate();
  const offline = http.requests.at(-1);
  assertEqual([offline.at, offline.body.status, offline.keepalive], [3, "offline", true]);
  assertEqual([offline.headers.Authorization, offline.headers["X-Device-ID"]], [`Bearer ${TOKEN}`, "tab-1"]);
  assertEqual(manager.state, ConnectionState.SUSPENDED);
  const before = http.requests.length;
  await clock.advance(100);
  assertEqual([http.requests.length, Socket.instances.length], [before, 1]);
  manager.foreground(); // back from the back/forward cache
  await clock.advance(0);
  assertEqual([Socket.instances.length, http.statuses().at(-1)], [2, [103, "online"]]);
});

test("logout sends offline, forgets the view and sends nothing after", async () => {
  const {clock, http, Socket, manager, socket, changes} = setup();
  manager.login(TOKEN);
  socket().accept({presences: [{user_id: 2, status: "online", last_seen: null}], typing: []});
  await manager.logout();
  assertEqual([manager.state, manager.view.users().length], [ConnectionState.SIGNED_OUT, 0]);
  assertEqual(changes.map((c) => c.kind), ["snapshot", "cleared"]);
  assertEqual(http.statuses().at(-1), [0, "offline"]);
  const before = http.requests.length;
  manager.keystroke(1);
  await clock.advance(100);
  assertEqual([http.requests.length, Socket.instances.length], [before, 1]);
});

test("login with a new token while live reconnects with it, inside the same rate window", async () => {
  const {clock, http, Socket, manager, socket} = setup();
  manager.login(TOKEN);
  socket().accept();
  await clock.advance(1);
  manager.login(NEW_TOKEN);
  assertEqual(Socket.instances[0].closedWith, 1000);
  assertEqual(socket().url.searchParams.get("token"), NEW_TOKEN);
  await clock.advance(10);
  assertEqual(http.statuses(), [[0, "online"], [5, "online"]], "the server's window still holds: no 429");
});

test("the socket URL carries the token and this tab's device id", () => {
  const {manager, socket} = setup({baseUrl: "https://presence.example:8443/app/"});
  manager.login(TOKEN);
  const url = socket().url;
  // a base with a path (a service mounted under a prefix) keeps it
  assertEqual([url.protocol, url.host, url.pathname], ["wss:", "presence.example:8443", "/app/api/presence/subscribe"]);
  assertEqual([url.searchParams.get("token"), url.searchParams.get("device_id")], [TOKEN, "tab-1"]);
});

test("the device id is kept per tab (sessionStorage) and always valid", () => {
  const memory = (initial = {}) => {
    const values = new Map(Object.entries(initial));
    return {getItem: (k) => values.get(k) ?? null, setItem: (k, v) => values.set(k, v)};
  };
  const tab = memory();
  const first = tabDeviceId(tab);
  assert(/^web-[0-9a-f]{16}$/.test(first), first);
  assertEqual(tabDeviceId(tab), first, "a reload keeps it");
  assert(tabDeviceId(memory()) !== first, "another tab gets its own");
  assert(tabDeviceId(memory({"presence.deviceId": "bad id!"})) !== "bad id!", "a bad stored id is replaced");
  const blocked = {getItem: () => { throw new Error("denied"); }, setItem: () => { throw new Error("denied"); }};
  assert(/^web-/.test(tabDeviceId(blocked)), "storage disabled still gives an id");
});

test("tokenSubject reads sub without verifying; junk gives null", () => {
  assertEqual([tokenSubject(TOKEN), tokenSubject("junk"), tokenSubject("a.b.c")], ["1", null, null]);
});

test("the local view follows initial_state, updates, typing and removal; unknown frames are ignored", async () => {
  const {manager, socket, changes} = setup();
  manager.login(TOKEN);
  socket().accept({
    presences: [{user_id: 1, status: "online", last_seen: "2026-01-01T12:00:00Z", is_typing: false},
      {user_id: 2, status: "away", last_seen: null, is_typing: true}],
    typing: [{user_id: 2, conversation_id: 10, is_typing: true}],
  });
  const view = manager.view;
  assertEqual(view.get(2), {userId: 2, status: "away", lastSeen: null, isTyping: true});
  assertEqual(view.get(1).lastSeen.toISOString(), "2026-01-01T12:00:00.000Z");
  socket().push({type: "presence_update", data: {user_id: 3, status: "online", last_seen: "2026-01-01T12:01:00Z"}});
  socket().push({type: "typing_update", data: {user_id: 3, conversation_id: 10, is_typing: true}});
  socket().push({type: "something_new", data: {}});
  socket().push("not json");
  assertEqual(view.typersIn(10), [2, 3]);
  socket().push({type: "presence_removed", data: {user_id: 2}});
  socket().push({type: "typing_update", data: {user_id: 3, conversation_id: 10, is_typing: false}});
  assertEqual([view.users().map((p) => p.userId), view.typersIn(10), view.get(2)], [[1, 3], [], null]);
  assertEqual(changes.map((c) => c.kind), ["snapshot", "presence", "typing", "removed", "typing"]);
});

test("LocalPresence: a new initial_state replaces everything", () => {
  const view = new LocalPresence();
  view.apply({type: "initial_state", data: {presences: [{user_id: 5, status: "online", last_seen: null}],
    typing: [{user_id: 5, conversation_id: 1, is_typing: true}]}});
  view.apply({type: "initial_state", data: {presences: [{user_id: 6, status: "offline", last_seen: null}], typing: []}});
  assertEqual([view.users().map((p) => p.userId), view.typingConversations()], [[6], []]);
});

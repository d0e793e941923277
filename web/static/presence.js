/**
 * presence.js: the browser client of presence-actors (SPEC §14), one dependency-free ES module.
 *
 *   import {PresenceManager, bindPageLifecycle} from "/static/presence.js";
 *   const presence = new PresenceManager();
 *   bindPageLifecycle(presence);            // hidden -> away, visible -> online, pagehide -> offline
 *   presence.addEventListener("change", () => render(presence.view));
 *   presence.login(token);
 *
 * The same behaviour as the seed's iOS PresenceManager and the Python client: status updates
 * queued behind the server's 5 s rate limit (latest wins), a failed update kept in memory and
 * sent after the next successful call, a heartbeat while visible, WebSocket reconnect after
 * min(16, 2^attempt) s, a 401 or close 4401 / 4403 stopping everything until login(token),
 * and the typing rule (true on the first keystroke, false after 3 s without one, at most one
 * request per 2 s). Clock, timers, fetch, WebSocket and storage are injectable, so every
 * deadline is testable on a fake clock (tests/browser/js). docs/web-client.md is the reference.
 */

export const PresenceStatus = Object.freeze({ONLINE: "online", AWAY: "away", OFFLINE: "offline"});

/** The connection lifecycle; `statechange` events carry it. */
export const ConnectionState = Object.freeze({
  SIGNED_OUT: "signed_out", // no token: nothing is sent
  CONNECTING: "connecting", // a socket is opening; no initial_state yet
  LIVE: "live", // initial_state received: pushes arrive
  RETRYING: "retrying", // waiting out the backoff before the next connect
  UNAUTHORIZED: "unauthorized", // 401, close 4401 or 4403: stopped until login(token)
  SUSPENDED: "suspended", // pagehide: offline sent, socket closed; foreground() resumes
});

/** Seconds; the server's defaults (SPEC §12) and the seed's client rules. */
export const DEFAULT_TIMING = Object.freeze({
  statusMinInterval: 5, // the server's rate limit per (user, device)
  heartbeatInterval: 30, // well inside the server's 60 s online TTL
  pongTimeout: 10, // a socket silent this long after our ping is dead
  maxBackoff: 16, // reconnect delays are min(maxBackoff, 2^attempt)
  typingIdle: 3, // seconds without a keystroke, then is_typing false
  typingMinInterval: 2, // between typing requests for one conversation
});

const STATUSES = new Set(Object.values(PresenceStatus));
const RUNNING = new Set([ConnectionState.CONNECTING, ConnectionState.LIVE, ConnectionState.RETRYING]);
const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const DEVICE_KEY = "presence.deviceId";
// Close codes after which this token will only meet 401s: stop until login(token).
const SESSION_OVER = new Map([[4401, "Token expired"], [4403, "Removed from the directory"]]);

/** The reconnect delay in seconds after `attempt` failures in a row: 1, 2, 4, 8, 16, 16, ... */
export function reconnectDelay(attempt, maxBackoff = DEFAULT_TIMING.maxBackoff) {
  return Math.min(maxBackoff, 2 ** attempt);
}

/** This tab's device id: kept in sessionStorage, so a reload keeps it and another tab differs. */
export function tabDeviceId(storage = globalThis.sessionStorage) {
  let id = null;
  try {
    id = storage?.getItem(DEVICE_KEY) ?? null;
  } catch {
    // storage disabled (privacy mode): a fresh id per page load
  }
  if (id !== null && DEVICE_ID.test(id)) return id;
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(8)); // works without https
  id = "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  try {
    storage?.setItem(DEVICE_KEY, id);
  } catch {
    // as above
  }
  return id;
}

/** A token's `sub` claim, read without verifying (the server verifies); null if unreadable. */
export function tokenSubject(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const sub = JSON.parse(atob(payload)).sub;
    return sub === undefined || sub === null ? null : String(sub);
  } catch {
    return null;
  }
}

const realClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id),
};

/** One pending deadline on the injected clock (a slot, not a task per timer). */
class Deadline {
  #clock;
  #id = null;

  constructor(clock) {
    this.#clock = clock;
  }

  get pending() {
    return this.#id !== null;
  }

  at(when, fn) {
    this.cancel();
    const delay = Math.max(0, when - this.#clock.now());
    this.#id = this.#clock.setTimeout(() => {
      this.#id = null;
      fn();
    }, delay);
  }

  cancel() {
    if (this.#id !== null) this.#clock.clearTimeout(this.#id);
    this.#id = null;
  }
}

/**
 * What this client knows: every visible user's presence and who types in which conversation,
 * built from initial_state / presence_update / typing_update / presence_removed frames.
 */
export class LocalPresence {
  #users = new Map(); // userId -> {status, lastSeen}
  #typing = new Map(); // conversationId -> Set of userIds

  /** Applies one server frame; returns the change it made, or null (unknown types are ignored). */
  apply(frame) {
    const data = frame?.data;
    switch (frame?.type) {
      case "initial_state":
        this.clear();
        for (const p of data.presences ?? []) this.#users.set(p.user_id, record(p));
        for (const t of data.typing ?? []) this.#setTyping(t.user_id, t.conversation_id, t.is_typing);
        return {kind: "snapshot"};
      case "presence_update":
        this.#users.set(data.user_id, record(data));
        return {kind: "presence", userId: data.user_id};
      case "typing_update":
        this.#setTyping(data.user_id, data.conversation_id, data.is_typing);
        return {kind: "typing", userId: data.user_id, conversationId: data.conversation_id,
          isTyping: data.is_typing};
      case "presence_removed":
        this.#users.delete(data.user_id);
        for (const typers of this.#typing.values()) typers.delete(data.user_id);
        return {kind: "removed", userId: data.user_id};
      default:
        return null;
    }
  }

  clear() {
    this.#users.clear();
    this.#typing.clear();
  }

  /** The seed's UserPresence: {userId, status, lastSeen: Date | null, isTyping}; or null. */
  get(userId) {
    const known = this.#users.get(userId);
    if (known === undefined) return null;
    const isTyping = [...this.#typing.values()].some((typers) => typers.has(userId));
    return Object.freeze({userId, status: known.status, lastSeen: known.lastSeen, isTyping});
  }

  /** Every visible user (self included), ascending user id. */
  users() {
    return [...this.#users.keys()].sort((a, b) => a - b).map((id) => this.get(id));
  }

  /** Who is typing in `conversationId` now, ascending user id. */
  typersIn(conversationId) {
    return [...(this.#typing.get(conversationId) ?? [])].sort((a, b) => a - b);
  }

  /** Conversations where someone is typing now, ascending id. */
  typingConversations() {
    return [...this.#typing.keys()].sort((a, b) => a - b);
  }

  #setTyping(userId, conversationId, isTyping) {
    const typers = this.#typing.get(conversationId) ?? new Set();
    if (isTyping) typers.add(userId);
    else typers.delete(userId);
    if (typers.size) this.#typing.set(conversationId, typers);
    else this.#typing.delete(conversationId);
  }
}

function record(presence) {
  return {status: presence.status, lastSeen: presence.last_seen ? new Date(presence.last_seen) : null};
}

/** The status queue: `pending` waits for `nextAllowedAt`; `failed` waits for a successful call. */
function newQueue(nextAllowedAt) {
  return {pending: null, accepted: null, failed: false, inFlight: false, nextAllowedAt};
}

function retryAfterSeconds(response) {
  const seconds = Number(response.headers.get("Retry-After"));
  return Number.isFinite(seconds) && seconds > 0 ? seconds : 1;
}

/**
 * The presence client. Events: `change` ({kind: snapshot | presence | typing | removed | cleared}),
 * `statechange` ({state, attempt, retryIn, reason}), `error` ({source, status, detail}).
 */
export class PresenceManager extends EventTarget {
  #baseUrl;
  #fetch;
  #WebSocket;
  #clock;
  #timing;
  #deviceId;
  #view = new LocalPresence();
  #token = null;
  #state = ConnectionState.SIGNED_OUT;
  #session = 0; // bumped on login, logout and stop: late replies of an old session are ignored
  #visible = true;
  #socket = null;
  #attempt = 0;
  #queue = newQueue(-Infinity);
  #typing = new Map(); // conversationId -> {wanted, sent, lastRequestAt, idle, send}
  #statusTimer;
  #heartbeat;
  #pongTimer;
  #retryTimer;

  constructor({baseUrl, deviceId, storage, fetch, WebSocket, clock, timing} = {}) {
    super();
    this.#baseUrl = baseUrl ?? `${globalThis.location.origin}/`;
    this.#fetch = fetch ?? ((...args) => globalThis.fetch(...args));
    this.#WebSocket = WebSocket ?? globalThis.WebSocket;
    this.#clock = clock ?? realClock;
    this.#timing = {...DEFAULT_TIMING, ...timing};
    this.#deviceId = deviceId ?? tabDeviceId(storage);
    if (!DEVICE_ID.test(this.#deviceId)) throw new TypeError("deviceId: 1-64 of [A-Za-z0-9._-]");
    this.#statusTimer = new Deadline(this.#clock);
    this.#heartbeat = new Deadline(this.#clock);
    this.#pongTimer = new Deadline(this.#clock);
    this.#retryTimer = new Deadline(this.#clock);
  }

  get state() {
    return this.#state;
  }

  get view() {
    return this.#view;
  }

  get deviceId() {
    return this.#deviceId;
  }

  /** Start (or restart with a fresh token): connect, then online (or away when hidden). */
  login(token) {
    if (typeof token !== "string" || token === "") throw new TypeError("login(token): a JWT string");
    this.#stop();
    this.#token = token;
    this.#start();
  }

  /** Send offline, close the socket and forget everything; resolves once offline was sent. */
  async logout() {
    const token = this.#token;
    const wasRunning = this.#running;
    this.#stop();
    this.#token = null;
    this.#view.clear();
    this.#setState(ConnectionState.SIGNED_OUT);
    this.#emit("change", {kind: "cleared"});
    if (wasRunning) await this.#sendOffline(token).catch(() => undefined);
  }

  /** Page visible: online, heartbeat on (and resume after a pagehide). */
  foreground() {
    this.#visible = true;
    if (this.#state === ConnectionState.SUSPENDED) {
      this.#start();
      return;
    }
    if (!this.#running) return;
    this.updateStatus(PresenceStatus.ONLINE);
    this.#beatLater();
  }

  /** Page hidden: away, heartbeat off; the socket stays open (seed, "Web Specifics"). */
  background() {
    this.#visible = false;
    if (!this.#running) return;
    this.#heartbeat.cancel();
    this.updateStatus(PresenceStatus.AWAY);
  }

  /** The page is going away (pagehide): offline through a keepalive fetch, then stop. */
  terminate() {
    if (!this.#running) return;
    const token = this.#token;
    this.#stop();
    this.#setState(ConnectionState.SUSPENDED);
    this.#sendOffline(token).catch(() => undefined);
  }

  /** Ask for a status; sent at once if the rate limit allows, else when it does (latest wins). */
  updateStatus(status) {
    if (!STATUSES.has(status)) throw new TypeError(`unknown status ${status}`);
    if (!this.#running) return;
    this.#queue.pending = status;
    this.#queue.failed = false; // a new request is a new try
    this.#pumpStatus();
  }

  /** A keystroke in `conversationId`'s message box. */
  keystroke(conversationId) {
    if (!this.#running) return;
    const typing = this.#typingOf(conversationId);
    typing.wanted = true;
    const idleAt = this.#clock.now() + 1000 * this.#timing.typingIdle;
    typing.idle.at(idleAt, () => this.stopTyping(conversationId));
    this.#flushTyping(conversationId, typing, true);
  }

  /** Typing ended (idle, message sent, box cleared). */
  stopTyping(conversationId) {
    const typing = this.#typing.get(conversationId);
    if (typing === undefined || !this.#running) return;
    typing.idle.cancel();
    typing.wanted = false;
    this.#flushTyping(conversationId, typing);
  }

  get #running() {
    return RUNNING.has(this.#state);
  }

  #start() {
    this.#attempt = 0;
    this.#connect();
    if (this.#visible) {
      this.updateStatus(PresenceStatus.ONLINE);
      this.#beatLater();
    } else {
      this.updateStatus(PresenceStatus.AWAY);
    }
  }

  /** Cancel every deadline, close the socket, drop queued work; the view stays. */
  #stop() {
    this.#session += 1;
    for (const timer of [this.#statusTimer, this.#heartbeat, this.#pongTimer, this.#retryTimer]) {
      timer.cancel();
    }
    for (const typing of this.#typing.values()) {
      typing.idle.cancel();
      typing.send.cancel();
    }
    this.#typing.clear();
    this.#queue = newQueue(this.#queue.nextAllowedAt); // the server's window outlives a restart
    this.#closeSocket(1000);
  }

  #unauthorized(reason) {
    this.#stop();
    this.#setState(ConnectionState.UNAUTHORIZED, {reason});
  }

  #setState(state, extra = {}) {
    this.#state = state;
    this.#emit("statechange", {state, attempt: this.#attempt, ...extra});
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, {detail}));
  }

  /** A call succeeded: the network is back, so a failed status goes out now. */
  #succeeded() {
    if (!this.#queue.failed) return;
    this.#queue.failed = false;
    this.#pumpStatus();
  }

  // --- HTTP -----------------------------------------------------------------------------------

  #request(method, path, body, {token = this.#token, keepalive = false} = {}) {
    const headers = {"Authorization": `Bearer ${token}`, "X-Device-ID": this.#deviceId};
    const init = {method, headers, keepalive};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return this.#fetch(new URL(path, this.#baseUrl).href, init);
  }

  /** offline is never rate limited, and keepalive lets it outlive the page. */
  #sendOffline(token) {
    return this.#request("POST", "api/presence/status", {status: PresenceStatus.OFFLINE},
      {token, keepalive: true});
  }

  #pumpStatus(timerFired = false) {
    const queue = this.#queue;
    if (!this.#running || queue.inFlight || queue.pending === null || queue.failed) return;
    const early = this.#clock.now() < queue.nextAllowedAt;
    if (early && !timerFired && queue.pending !== PresenceStatus.OFFLINE) {
      this.#statusTimer.at(queue.nextAllowedAt, () => this.#pumpStatus(true));
      return;
    }
    if (timerFired && queue.pending === queue.accepted) {
      queue.pending = null; // hidden and shown again within the window: nothing changed
      return;
    }
    this.#statusTimer.cancel();
    this.#sendStatus(queue.pending);
  }

  async #sendStatus(status) {
    const session = this.#session;
    this.#queue.pending = null;
    this.#queue.inFlight = true;
    let response = null;
    try {
      response = await this.#request("POST", "api/presence/status", {status});
    } catch {
      // network failure: handled below as "no response"
    }
    if (session !== this.#session) return;
    this.#queue.inFlight = false;
    this.#statusAnswered(status, response);
    this.#pumpStatus();
  }

  #statusAnswered(status, response) {
    const queue = this.#queue;
    const now = this.#clock.now();
    if (response?.ok) {
      queue.accepted = status;
      queue.nextAllowedAt = now + 1000 * this.#timing.statusMinInterval;
      return this.#succeeded();
    }
    if (response?.status === 401) return this.#unauthorized("Token rejected");
    if (response && response.status !== 429 && response.status < 500) {
      return this.#emit("error", {source: "status", status: response.status});
    }
    queue.pending ??= status; // latest wins: a newer request replaces the one that failed
    if (response?.status === 429) queue.nextAllowedAt = now + 1000 * retryAfterSeconds(response);
    else queue.failed = true; // no answer or 5xx: kept until the next successful call
  }

  // --- typing ---------------------------------------------------------------------------------

  #typingOf(conversationId) {
    let typing = this.#typing.get(conversationId);
    if (typing === undefined) {
      typing = {wanted: false, sent: false, lastRequestAt: -Infinity,
        idle: new Deadline(this.#clock), send: new Deadline(this.#clock)};
      this.#typing.set(conversationId, typing);
    }
    return typing;
  }

  /**
   * Send what the server should believe, at most once per typingMinInterval per conversation.
   * `refresh`: keys were pressed since the last request, so a `true` is renewed (the server
   * forgets it after 5 s); the deferred send only exists because of such a change or keystroke.
   */
  #flushTyping(conversationId, typing, refresh = false) {
    if (typing.wanted === typing.sent && !(refresh && typing.wanted)) return;
    const readyAt = typing.lastRequestAt + 1000 * this.#timing.typingMinInterval;
    if (this.#clock.now() < readyAt) {
      if (!typing.send.pending) typing.send.at(readyAt, () => this.#flushTyping(conversationId, typing, true));
      return;
    }
    typing.send.cancel();
    typing.sent = typing.wanted;
    typing.lastRequestAt = this.#clock.now();
    this.#sendTyping(conversationId, typing.sent);
  }

  async #sendTyping(conversationId, isTyping) {
    const session = this.#session;
    let response = null;
    try {
      const path = `api/conversations/${encodeURIComponent(conversationId)}/typing`;
      response = await this.#request("POST", path, {is_typing: isTyping});
    } catch {
      return; // the server's 5 s expiry covers a lost request
    }
    if (session !== this.#session) return;
    if (response.ok) return this.#succeeded();
    if (response.status === 401) return this.#unauthorized("Token rejected");
    if (response.status !== 429) {
      this.#emit("error", {source: "typing", status: response.status, conversationId});
    }
  }

  // --- heartbeat ------------------------------------------------------------------------------

  #beatLater() {
    const at = this.#clock.now() + 1000 * this.#timing.heartbeatInterval;
    this.#heartbeat.at(at, () => this.#beat());
  }

  /**
   * Runs only while visible and running (background() and #stop cancel it). A live socket is
   * pinged (a silent one is replaced); without one, a status POST keeps the device alive.
   */
  #beat() {
    if (this.#state === ConnectionState.LIVE) {
      this.#socket.send(JSON.stringify({type: "ping"}));
      const deadAt = this.#clock.now() + 1000 * this.#timing.pongTimeout;
      this.#pongTimer.at(deadAt, () => this.#socketDead());
    } else {
      this.updateStatus(PresenceStatus.ONLINE);
    }
    this.#beatLater();
  }

  // --- WebSocket ------------------------------------------------------------------------------

  #socketUrl() {
    const url = new URL("api/presence/subscribe", this.#baseUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.#token); // browsers cannot set headers on a WebSocket
    url.searchParams.set("device_id", this.#deviceId);
    return url.href;
  }

  #connect() {
    this.#setState(ConnectionState.CONNECTING);
    let socket;
    try {
      socket = new this.#WebSocket(this.#socketUrl());
    } catch {
      return this.#retryLater();
    }
    this.#socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
    };
    socket.onmessage = (event) => {
      if (socket === this.#socket) this.#received(event.data);
    };
    socket.onclose = (event) => {
      if (socket !== this.#socket) return; // one we closed ourselves
      this.#socket = null;
      this.#closed(event.code, opened);
    };
  }

  #closeSocket(code) {
    const socket = this.#socket;
    this.#socket = null;
    this.#pongTimer.cancel();
    if (socket === null) return;
    try {
      socket.close(code);
    } catch {
      // already closing
    }
  }

  #received(text) {
    this.#pongTimer.cancel(); // any frame proves the connection alive
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame?.type === "error") return this.#emit("error", {source: "socket", ...frame.data});
    const change = this.#view.apply(frame);
    if (change === null) return;
    if (change.kind === "snapshot") this.#healthy();
    this.#emit("change", change);
  }

  /** initial_state: the connection is healthy, so the backoff starts over. */
  #healthy() {
    this.#attempt = 0;
    this.#setState(ConnectionState.LIVE);
    // A connect makes a device with no live status online; a hidden page says away again.
    if (!this.#visible) this.updateStatus(PresenceStatus.AWAY);
    this.#succeeded();
  }

  #closed(code, opened) {
    this.#pongTimer.cancel();
    if (SESSION_OVER.has(code)) return this.#unauthorized(SESSION_OVER.get(code));
    // A refused handshake does not say why (the browser hides the HTTP status): ask over REST.
    if (!opened) return this.#checkTokenThenRetry();
    this.#retryLater();
  }

  async #checkTokenThenRetry() {
    const session = this.#session;
    const sub = tokenSubject(this.#token);
    let response = null;
    try {
      const path = sub === null ? "api/presence/users" : `api/presence/users/${encodeURIComponent(sub)}`;
      response = await this.#request("GET", path);
    } catch {
      // server unreachable: retry as usual
    }
    if (session !== this.#session) return;
    if (response?.status === 401) return this.#unauthorized("Token rejected");
    this.#retryLater();
  }

  #socketDead() {
    this.#closeSocket(4000);
    this.#retryLater();
  }

  #retryLater() {
    const delay = reconnectDelay(this.#attempt, this.#timing.maxBackoff);
    this.#attempt += 1;
    this.#retryTimer.at(this.#clock.now() + 1000 * delay, () => this.#connect());
    this.#setState(ConnectionState.RETRYING, {retryIn: delay});
  }
}

/**
 * Wire a manager to the page: visibilitychange -> foreground()/background(), pagehide ->
 * terminate(), pageshow from the back/forward cache -> foreground(). Returns an unbind function.
 */
export function bindPageLifecycle(manager, {document = globalThis.document, window = globalThis} = {}) {
  const onVisibility = () => {
    if (document.visibilityState === "hidden") manager.background();
    else manager.foreground();
  };
  const onPageHide = () => manager.terminate();
  const onPageShow = (event) => {
    if (event.persisted) manager.foreground();
  };
  document.addEventListener("visibilitychange", onVisibility);
  window.addEventListener("pagehide", onPageHide);
  window.addEventListener("pageshow", onPageShow);
  onVisibility();
  return () => {
    document.removeEventListener("visibilitychange", onVisibility);
    window.removeEventListener("pagehide", onPageHide);
    window.removeEventListener("pageshow", onPageShow);
  };
}

/**
 * The demo page (served at / in demo mode): sign in as a demo user, watch the people you can
 * see come and go, and type to show "typing…" to the others. Everything about presence is
 * presence.js; this file only draws it. Without demo mode (a configured key) there is no
 * token endpoint and the page asks for a bearer token instead.
 */

import {ConnectionState, PresenceManager, bindPageLifecycle, tokenSubject} from "./presence.js";

const STATUS_WORDS = {online: "Online", away: "Away", offline: "Offline"};
const relative = new Intl.RelativeTimeFormat("en", {numeric: "always"});
const UNITS = [["day", 86400], ["hour", 3600], ["minute", 60]];

/** "last seen 3 minutes ago" for a Date (or null: "never seen") at `now` (ms since the epoch). */
export function lastSeenText(lastSeen, now) {
  if (lastSeen === null) return "never seen";
  const seconds = Math.max(0, (now - lastSeen.getTime()) / 1000);
  if (seconds < 45) return "last seen just now";
  for (const [unit, size] of UNITS) {
    if (seconds >= size * 0.75 || unit === "minute") {
      return `last seen ${relative.format(-Math.max(1, Math.round(seconds / size)), unit)}`;
    }
  }
}

/** "Grace is typing…", "Grace and Linus are typing…", "3 people are typing…", or "". */
export function typingLine(names) {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

// Why presence.js stopped (the `reason` of its unauthorized state): the connection line, and
// the alert under it. A removed user must not read "session expired": signing in again
// cannot help them.
const STOPPED = new Map([
  ["Token expired", ["Session expired", "Your session expired: presence updates have stopped."]],
  ["Removed from the directory", ["Removed from the directory",
    "You were removed from the directory: presence updates have stopped, and this user cannot sign in again."]],
  ["Token rejected", ["Token rejected", "The server refused this token: presence updates have stopped."]],
]);
const STOPPED_UNKNOWN = ["Signed out by the server", "The server ended this session: presence updates have stopped."];

/** The alert shown while presence.js is stopped, from its unauthorized state's `reason`. */
export function stoppedText(reason) {
  return (STOPPED.get(reason) ?? STOPPED_UNKNOWN)[1];
}

/** The connection line under the title, from a `statechange` event's detail. */
export function connectionText({state, retryIn, attempt, reason}) {
  switch (state) {
    case ConnectionState.CONNECTING: return "Connecting…";
    case ConnectionState.LIVE: return "Live";
    case ConnectionState.RETRYING: return `Connection lost: retrying in ${retryIn} s (attempt ${attempt})`;
    case ConnectionState.UNAUTHORIZED: return (STOPPED.get(reason) ?? STOPPED_UNKNOWN)[0];
    case ConnectionState.SUSPENDED: return "Paused";
    default: return "Signed out";
  }
}

function element(doc, tag, className, text) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

class DemoPage {
  constructor(doc) {
    this.doc = doc;
    this.$ = (id) => doc.getElementById(id);
    this.presence = new PresenceManager();
    this.names = new Map();
    this.me = null; // user id
    this.conversations = null; // [{conversation_id, participants}] in demo mode
    this.demo = false;
  }

  async start() {
    bindPageLifecycle(this.presence);
    this.presence.addEventListener("change", () => this.render());
    this.presence.addEventListener("statechange", (event) => this.showState(event.detail));
    this.presence.addEventListener("error", (event) => this.showError(event.detail));
    this.$("device").textContent = this.presence.deviceId;
    this.wireForms();
    this.doc.defaultView.setInterval(() => this.refreshLastSeen(), 1000);
    const response = await fetch("/demo/users").catch(() => null);
    this.demo = response?.ok ?? false;
    if (!this.demo) return this.showSignIn();
    this.fillNames((await response.json()).users);
    const picker = this.$("demo-user");
    for (const [userId, name] of this.names) picker.append(new Option(`${name} (user ${userId})`, userId));
    const wanted = Number(new URL(this.doc.location.href).searchParams.get("user"));
    if (this.names.has(wanted)) return this.signIn(wanted);
    this.showSignIn();
  }

  wireForms() {
    this.$("demo-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.signIn(Number(this.$("demo-user").value));
    });
    this.$("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.useToken(this.$("token").value.trim());
    });
    this.$("sign-out").addEventListener("click", () => this.signOut());
    this.$("sign-in-again").addEventListener("click", () => {
      if (this.demo) this.signIn(this.me);
      else this.showSignIn();
    });
    const message = this.$("message");
    message.addEventListener("input", () => {
      if (message.value.trim()) this.presence.keystroke(this.conversation());
      else this.presence.stopTyping(this.conversation());
    });
    message.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        this.$("compose").requestSubmit();
      }
    });
    this.$("compose").addEventListener("submit", (event) => {
      event.preventDefault();
      this.presence.stopTyping(this.conversation());
      message.value = "";
    });
  }

  conversation() {
    return Number(this.$("conversation").value);
  }

  fillNames(users) {
    for (const user of users) this.names.set(user.user_id, user.display_name);
  }

  nameOf(userId) {
    return this.names.get(userId) ?? `User ${userId}`;
  }

  async signIn(userId) {
    const response = await fetch("/demo/token", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({user_id: userId})}).catch(() => null);
    if (!response?.ok) return this.showSignIn(`Could not sign in (${response?.status ?? "no answer"})`);
    const session = await response.json();
    this.fillNames(session.users);
    this.conversations = session.conversations;
    this.begin(session.user.user_id, session.token);
  }

  useToken(token) {
    const sub = Number(tokenSubject(token));
    if (!token || !Number.isInteger(sub) || sub <= 0) return this.showSignIn("That is not a token of this service");
    this.conversations = null;
    this.begin(sub, token);
  }

  begin(userId, token) {
    this.me = userId;
    this.$("me").textContent = this.nameOf(userId);
    this.fillConversations();
    this.$("sign-in").hidden = true;
    this.$("session").hidden = false;
    this.presence.login(token);
    this.render();
  }

  async signOut() {
    await this.presence.logout();
    this.showSignIn();
  }

  showSignIn(error = "") {
    this.$("session").hidden = true;
    this.$("sign-in").hidden = false;
    this.$("demo-form").hidden = !this.demo;
    this.$("token-form").hidden = this.demo;
    this.$("sign-in-error").hidden = !error;
    this.$("sign-in-error").textContent = error;
  }

  showState(detail) {
    const line = this.$("connection");
    line.textContent = connectionText(detail);
    line.dataset.state = detail.state;
    line.dataset.attempt = detail.attempt;
    const expired = detail.state === ConnectionState.UNAUTHORIZED;
    this.$("expired").hidden = !expired;
    if (expired) this.$("expired-reason").textContent = stoppedText(detail.reason);
    this.$("session").classList.toggle("stale", expired);
  }

  showError(detail) {
    const line = this.$("compose-error");
    line.hidden = !(detail.source === "typing" && detail.status === 404);
    line.textContent = line.hidden ? "" : `You are not in conversation ${detail.conversationId}`;
  }

  /** The conversation picker: the user's conversations, or a number box when they are unknown. */
  fillConversations() {
    const old = this.$("conversation");
    const picker = this.conversations === null ? element(this.doc, "input") : element(this.doc, "select");
    picker.id = old.id;
    picker.name = old.name;
    if (this.conversations === null) Object.assign(picker, {type: "number", min: 1, value: 1, inputMode: "numeric"});
    for (const c of this.conversations ?? []) picker.append(new Option(this.conversationTitle(c), c.conversation_id));
    old.replaceWith(picker);
    let previous = null;
    picker.addEventListener("focus", () => { previous = this.conversation(); });
    picker.addEventListener("change", () => this.presence.stopTyping(previous));
  }

  conversationTitle(conversation) {
    if (conversation.participants.length === 0) return `Conversation ${conversation.conversation_id}`;
    const others = conversation.participants.filter((id) => id !== this.me).map((id) => this.nameOf(id));
    return `${conversation.conversation_id}: with ${others.join(", ") || "nobody else"}`;
  }

  render() {
    const view = this.presence.view;
    if (view.users().some((p) => !this.names.has(p.userId)) && this.demo) this.refreshNames();
    this.$("people").replaceChildren(...view.users().map((p) => this.personItem(p)));
    const conversations = this.conversations ??
      view.typingConversations().map((id) => ({conversation_id: id, participants: []}));
    this.$("conversations").replaceChildren(...conversations.map((c) => this.conversationItem(c)));
  }

  async refreshNames() {
    const response = await fetch("/demo/users").catch(() => null);
    if (!response?.ok) return;
    const before = this.names.size;
    this.fillNames((await response.json()).users);
    if (this.names.size > before) this.render();
  }

  personItem(presence) {
    const item = element(this.doc, "li", "person");
    item.dataset.userId = presence.userId;
    item.dataset.status = presence.status;
    const you = presence.userId === this.me ? " (you)" : "";
    item.append(element(this.doc, "span", "dot"), element(this.doc, "span", "name", this.nameOf(presence.userId) + you),
      element(this.doc, "span", "status", STATUS_WORDS[presence.status] ?? presence.status));
    item.firstChild.setAttribute("aria-hidden", "true");
    if (presence.status !== "online") {
      const seen = element(this.doc, "time", "seen", lastSeenText(presence.lastSeen, Date.now()));
      if (presence.lastSeen) {
        seen.dateTime = presence.lastSeen.toISOString();
        seen.title = presence.lastSeen.toLocaleString();
      }
      item.append(seen);
    }
    if (presence.isTyping && presence.userId !== this.me) item.append(element(this.doc, "span", "typing", "typing…"));
    return item;
  }

  conversationItem(conversation) {
    const item = element(this.doc, "li");
    item.dataset.conversationId = conversation.conversation_id;
    const typers = this.presence.view.typersIn(conversation.conversation_id).filter((id) => id !== this.me);
    item.append(element(this.doc, "span", "title", this.conversationTitle(conversation)), " ",
      element(this.doc, "span", "typing", typingLine(typers.map((id) => this.nameOf(id)))));
    return item;
  }

  /** "3 minutes ago" has to move on while nothing else happens. */
  refreshLastSeen() {
    for (const seen of this.doc.querySelectorAll("#people time.seen[datetime]")) {
      const text = lastSeenText(new Date(seen.dateTime), Date.now());
      if (seen.textContent !== text) seen.textContent = text;
    }
  }
}

export function main(doc = document) {
  const page = new DemoPage(doc);
  page.start();
  return page;
}

if (globalThis.document?.querySelector("[data-presence-demo]")) globalThis.presenceDemo = main();

/**
 * A tiny test runner and the fakes the client's timing tests inject: a clock with timers that
 * only move when told, a scripted fetch that records every request, and a WebSocket the test
 * opens, feeds and closes. Runs in the real browser (tests/browser/test_client_unit.py).
 */

const registered = [];

/** Register a test; `fn` may be async. */
export function test(name, fn) {
  registered.push({name, fn});
}

/** The tests registered since the last call (the runner imports one file, then takes them). */
export function takeRegistered() {
  return registered.splice(0);
}

/** Run tests one by one, each bounded, and report {name, ok, error}. */
export async function runTests(tests, bound = 5000) {
  const results = [];
  for (const {name, fn} of tests) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${bound} ms`)), bound);
    });
    try {
      await Promise.race([fn(), timeout]);
      results.push({name, ok: true, error: null});
    } catch (error) {
      results.push({name, ok: false, error: String(error?.stack ?? error)});
    } finally {
      clearTimeout(timer);
    }
  }
  return results;
}

export function assertEqual(actual, expected, message = "") {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}\n  expected ${e}\n  got      ${a}`);
}

export function assert(condition, message = "assertion failed") {
  if (!condition) throw new Error(message);
}

function macrotask() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Timers that fire only when the test advances the clock; time in milliseconds. */
export class FakeClock {
  #now = 0;
  #timers = new Map();
  #nextId = 1;
  repliesInFlight = 0; // fake fetch replies on their way (FakeFetch counts them here)

  /**
   * Let every fake fetch reply arrive and the code awaiting it run. Replies come on a
   * macrotask, as a real network's do, so a client stuck retrying forever cannot starve the
   * page: the runner's timeout still fires, and only this test's clock is stuck.
   */
  async settle() {
    do {
      await macrotask();
    } while (this.repliesInFlight > 0);
    await macrotask();
  }

  now() {
    return this.#now;
  }

  setTimeout(fn, ms) {
    const id = this.#nextId++;
    this.#timers.set(id, {at: this.#now + Math.max(0, ms), fn});
    return id;
  }

  clearTimeout(id) {
    this.#timers.delete(id);
  }

  /** Move time forward by `seconds`, firing due timers in order (earliest first). */
  async advance(seconds) {
    const end = this.#now + seconds * 1000;
    await this.settle();
    for (;;) {
      let next = null;
      for (const [id, timer] of this.#timers) {
        if (timer.at <= end && (next === null || timer.at < next[1].at)) next = [id, timer];
      }
      if (next === null) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
      await this.settle();
    }
    this.#now = end;
    await this.settle();
  }
}

/**
 * A fetch that records {at (s), method, path, headers, body, keepalive} and answers with
 * `reply(request)` (default 200 with the status body the server would send).
 */
export class FakeFetch {
  constructor(clock) {
    this.clock = clock;
    this.requests = [];
    this.reply = () => json(200, {});
    this.fetch = (url, init = {}) => this.#record(url, init);
  }

  async #record(url, init) {
    const request = {
      at: this.clock.now() / 1000,
      method: init.method ?? "GET",
      path: new URL(url).pathname,
      headers: init.headers ?? {},
      body: init.body === undefined ? null : JSON.parse(init.body),
      keepalive: init.keepalive ?? false,
    };
    this.requests.push(request);
    const answer = this.reply(request);
    this.clock.repliesInFlight += 1;
    try {
      await macrotask();
    } finally {
      this.clock.repliesInFlight -= 1;
    }
    if (answer instanceof Error) throw answer;
    return answer;
  }

  /** [at, status] of every status POST so far. */
  statuses() {
    return this.requests.filter((r) => r.path === "/api/presence/status").map((r) => [r.at, r.body.status]);
  }

  /** [at, is_typing] of every typing POST so far. */
  typing() {
    return this.requests.filter((r) => r.path.endsWith("/typing")).map((r) => [r.at, r.body.is_typing]);
  }
}

export function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {status, headers: {"Content-Type": "application/json", ...headers}});
}

/** A WebSocket class whose instances the test drives from the server's side. */
export function fakeSocketClass(clock) {
  return class FakeSocket {
    static instances = [];

    static onCreate = null; // (socket) => void, run once the client has set its handlers

    constructor(url) {
      this.url = new URL(url);
      this.openedAt = clock.now() / 1000;
      this.sent = [];
      this.closedWith = null;
      this.readyState = 0;
      FakeSocket.instances.push(this);
      if (FakeSocket.onCreate) queueMicrotask(() => FakeSocket.onCreate(this));
    }

    send(text) {
      this.sent.push(JSON.parse(text));
    }

    close(code) {
      this.closedWith = code;
      this.readyState = 3;
    }

    // --- the server's side ---
    open() {
      this.readyState = 1;
      this.onopen?.({});
    }

    accept(initial = {presences: [], typing: []}) {
      this.open();
      this.push({type: "initial_state", data: initial});
    }

    push(frame) {
      this.onmessage?.({data: typeof frame === "string" ? frame : JSON.stringify(frame)});
    }

    refuse() {
      this.readyState = 3;
      this.onclose?.({code: 1006});
    }

    drop(code = 1006) {
      this.readyState = 3;
      this.onclose?.({code});
    }
  };
}

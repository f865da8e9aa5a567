"""The wire of one browser page: every Streamlit websocket message as playwright and the page see
it, and `measure`, which times an interaction from the browser's request to the last message drawn
plus two animation frames, counting the script runs it caused and the bytes the server sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

QUIET_MS = 2_500  # no message for this long, and every run finished: the interaction is over
TIMEOUT_S = 180.0
IGNORED_KINDS = frozenset({"heartbeat_ack", "", None})

# Runs in the page before Streamlit: notes when each websocket message is handled on the main
# thread and two animation frames after it (the frame that shows it drawn), and when the page sends.
# Each frame it also counts what the screen still lacks: a placeholder Streamlit shows while it
# fetches and runs an element's code (its maps, charts and tables load on first use: 1-3 s in a
# fresh browser with no GPU), a map not drawn yet (no WebGL draw call on its canvas), a chart with no
# plot, a table with no grid.
# `drawn` is the second frame after that count last fell to zero: the screen a person looks at
# complete (the first screen only: what is below it is drawn while they read).
RECORDER_JS = """
(() => {
  const Native = window.WebSocket;
  const rec = window.__bench = {recv: [], sent: [], drawn: null};
  class Recorded extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        const entry = {t: performance.now(), settled: null};
        rec.recv.push(entry);
        requestAnimationFrame(() => requestAnimationFrame(() => { entry.settled = performance.now(); }));
      });
    }
    send(data) { rec.sent.push(performance.now()); return super.send(data); }
  }
  window.WebSocket = Recorded;
  // a map counts as drawn once its WebGL context has drawn into it (deck.gl's first frame comes a
  // few frames after its canvas, and software WebGL takes up to a second to draw it)
  for (const Context of [window.WebGLRenderingContext, window.WebGL2RenderingContext]) {
    for (const name of ["drawArrays", "drawElements", "drawArraysInstanced", "drawElementsInstanced"]) {
      const native = Context && Context.prototype[name];
      if (native) {
        Context.prototype[name] = function (...args) {
          if (this.canvas) { this.canvas.__drawn = true; }
          return native.apply(this, args);
        };
      }
    }
  }
  const seen = (el) => { const r = el.getBoundingClientRect();
                         return r.width > 0 && r.bottom > 0 && r.top < window.innerHeight; };
  const lacking = (sel, done, where) =>
    [...document.querySelectorAll(sel)].filter((el) => where(el) && !done(el)).length;
  const missing = (where) => lacking('[data-testid="stSkeleton"]', () => false, where)
      + lacking('[data-testid="stDeckGlJsonChart"]', (el) => (el.querySelector("canvas") || {}).__drawn, where)
      + lacking('[data-testid="stPlotlyChart"]', (el) => el.querySelector(".main-svg"), where)
      + lacking('[data-testid="stDataFrame"]', (el) => el.querySelector("canvas"), where);
  // the whole page, below the first screen too (what is laid out: a closed tab's content is not)
  rec.wholePageLacking = () => missing((el) => el.getBoundingClientRect().width > 0);
  let clear = 0;
  const frame = () => {
    if (missing(seen)) { clear = 0; rec.drawn = null; }
    else if (++clear === 2) { rec.drawn = performance.now(); }
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
})();
"""
TWO_FRAMES_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


# ---- the wire: Streamlit's messages as playwright sees them -------------------------------------

def message_kind(payload: bytes | str, *, sent: bool) -> str | None:
    """The type of a Streamlit websocket message (ForwardMsg from the server, BackMsg to it)."""
    if isinstance(payload, str):
        return None
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    try:
        msg = (BackMsg if sent else ForwardMsg).FromString(payload)
    except Exception:
        return None
    return msg.WhichOneof("type")


@dataclass
class Wire:
    """Every websocket message of one page, in order: (kind, bytes) received, kinds sent."""

    received: list[tuple[str | None, int]] = field(default_factory=list)
    sent: list[str | None] = field(default_factory=list)

    def attach(self, page) -> None:
        def on_socket(ws) -> None:
            ws.on("framereceived", lambda p: self.received.append(
                (message_kind(p, sent=False), len(p) if isinstance(p, bytes) else len(p.encode()))))
            ws.on("framesent", lambda p: self.sent.append(message_kind(p, sent=True)))

        page.on("websocket", on_socket)

    def runs(self, start: int) -> int:
        """Script runs finished among the messages received from index start."""
        return sum(kind == "script_finished" for kind, _ in self.received[start:])

    def started(self, start: int) -> int:
        return sum(kind == "new_session" for kind, _ in self.received[start:])


@dataclass(frozen=True)
class Measure:
    """One interaction: seconds until the last message was drawn, script runs it caused, bytes sent."""

    seconds: float
    runs: int
    bytes: int
    reruns_asked: int
    first_message_s: float  # when the first answer was handled (server time plus a busy main thread)
    last_message_s: float
    drawn_s: float  # when the first screen was complete (no placeholder, every map, chart and table drawn)
    settled_s: float  # two animation frames after the last message handled


def measure(page, wire: Wire, action: Callable[[], None], *, first_load: bool = False,
            quiet_ms: int = QUIET_MS, timeout_s: float = TIMEOUT_S) -> Measure:
    """Do action, wait until the page is quiet, and say what it cost.

    Time starts at navigation (first_load) or when the page sends its first message after the
    action (the widget's value); it ends two animation frames after the last message handled, or
    when the first screen is drawn (RECORDER_JS), whichever is later.
    """
    if first_load:  # a navigation: the page's recorder starts afresh, the wire goes on
        js_recv, js_sent, py_recv, py_sent, t_action = 0, 0, len(wire.received), len(wire.sent), 0.0
    else:
        js_recv, js_sent = page.evaluate("[window.__bench.recv.length, window.__bench.sent.length]")
        py_recv, py_sent = len(wire.received), len(wire.sent)
        t_action = page.evaluate("performance.now()")
    action()
    after_action = page.evaluate(TWO_FRAMES_JS)
    deadline = time.monotonic() + timeout_s
    while True:
        page.wait_for_timeout(250)
        state = page.evaluate(f"""() => ({{now: performance.now(), drawn: window.__bench.drawn,
            recv: window.__bench.recv.slice({js_recv}), sent: window.__bench.sent.slice({js_sent})}})""")
        kinds = [k for k, _ in wire.received[py_recv:py_recv + len(state["recv"])]]
        counted = [e for e, k in zip(state["recv"], kinds, strict=False) if k not in IGNORED_KINDS]
        last = max([e["t"] for e in counted] + [t_action])
        asked = first_load or "rerun_script" in wire.sent[py_sent:]
        busy = (wire.started(py_recv) > wire.runs(py_recv) or (asked and not wire.runs(py_recv))
                or any(e["settled"] is None for e in counted) or state["drawn"] is None)
        if not busy and state["now"] - last > quiet_ms:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the page did not settle within {timeout_s:.0f} s")
    sent_kinds = wire.sent[py_sent:py_sent + len(state["sent"])]
    asked = [t for t, k in zip(state["sent"], sent_kinds, strict=False) if k not in (None, "app_heartbeat")]
    start = 0.0 if first_load else (asked[0] if asked else t_action)
    drawn = max(state["drawn"], start)  # a screen complete before the action (nothing was missing) counts as then
    end = max([e["settled"] for e in counted] + [drawn]) if counted else max(after_action, drawn)
    received = wire.received[py_recv:]
    handled = [e["t"] for e in counted] or [end]
    settled = max([e["settled"] for e in counted] or [after_action])
    return Measure(round((end - start) / 1000, 3), wire.runs(py_recv),
                   sum(n for k, n in received if k not in IGNORED_KINDS),
                   sum(k == "rerun_script" for k in sent_kinds),
                   round((handled[0] - start) / 1000, 3), round((handled[-1] - start) / 1000, 3),
                   round((drawn - start) / 1000, 3), round((settled - start) / 1000, 3))



def new_page(browser, *, lang: str = "zh"):
    """A fresh context (no cache shared with earlier runs) with the recorder installed."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
    context.add_init_script(RECORDER_JS)
    page = context.new_page()
    wire = Wire()
    wire.attach(page)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page, wire

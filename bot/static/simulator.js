/* Faro simulator: one conversation, shown as SMS, WhatsApp or Telegram would show it,
 * and a phone call to the voice line, shown as what the caller hears.
 *
 * Every exchange keeps the server's full answer (all three renderings), so switching
 * tabs re-draws the whole history in the other channel's style. Message text is only
 * ever put in the page with textContent / text nodes, never as HTML.
 */
(function () {
  "use strict";

  var CHANNELS = ["sms", "whatsapp", "telegram"];
  var VIEWS = CHANNELS.concat(["call"]);
  var DEMO_LOCATION = { lat: 32.5149, lon: -117.0382, name: "Tijuana" };
  var STORE_KEY = "faro-simulator";

  var state = { channel: "sms", history: [], busy: false, call: newCall() };

  var els = {};

  function $(id) {
    return document.getElementById(id);
  }

  function init() {
    els.chat = $("chat");
    els.list = $("messages");
    els.empty = $("empty");
    els.status = $("status");
    els.form = $("send-form");
    els.input = $("text");
    els.send = $("send");
    els.location = $("location");
    els.reset = $("reset");
    els.tabs = Array.prototype.slice.call(document.querySelectorAll("[role=tab]"));
    els.call = $("call");
    els.heard = $("heard");
    els.callLog = $("call-log");
    els.callEmpty = $("call-empty");
    els.callNumber = $("call-number");
    els.callWait = $("call-wait");
    els.callRecord = $("call-record");
    els.callToggle = $("call-toggle");
    els.callSilence = $("call-silence");
    els.readAloud = $("read-aloud");
    els.keys = Array.prototype.slice.call(document.querySelectorAll("#keypad [data-key]"));

    load();

    els.form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = els.input.value;
      if (!text.trim()) {
        els.input.focus();
        return;
      }
      if (state.busy) return;
      els.input.value = "";
      send({ text: text }, { kind: "text", text: text }).then(function (ok) {
        if (!ok && !els.input.value) els.input.value = text; // let them try again
      });
    });

    els.location.addEventListener("click", function () {
      send(
        { text: "", location: { lat: DEMO_LOCATION.lat, lon: DEMO_LOCATION.lon } },
        { kind: "location", lat: DEMO_LOCATION.lat, lon: DEMO_LOCATION.lon,
          name: DEMO_LOCATION.name }
      );
    });

    els.reset.addEventListener("click", newPerson);

    els.tabs.forEach(function (tab, i) {
      tab.addEventListener("click", function () {
        choose(tab.getAttribute("data-channel"));
      });
      tab.addEventListener("keydown", function (event) {
        var next = null;
        if (event.key === "ArrowRight") next = (i + 1) % els.tabs.length;
        else if (event.key === "ArrowLeft") next = (i - 1 + els.tabs.length) % els.tabs.length;
        else if (event.key === "Home") next = 0;
        else if (event.key === "End") next = els.tabs.length - 1;
        if (next === null) return;
        event.preventDefault();
        els.tabs[next].focus();
        choose(els.tabs[next].getAttribute("data-channel"));
      });
    });

    // Telegram buttons are drawn again on every render: listen once, on the list.
    els.list.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-callback]");
      if (!button || !els.list.contains(button)) return;
      send(
        { text: "", choice: button.getAttribute("data-callback") },
        { kind: "choice", text: button.textContent }
      );
    });

    els.callToggle.addEventListener("click", function () {
      if (state.call.wait) hangUp();
      else startCall();
    });
    els.callSilence.addEventListener("click", waitSilently);
    $("call-skip").addEventListener("click", function () { press("1"); });
    els.keys.forEach(function (key) {
      key.addEventListener("click", function () { press(key.getAttribute("data-key")); });
    });
    if ("speechSynthesis" in window) {
      els.readAloud.addEventListener("change", function () {
        if (!els.readAloud.checked) stopReading();
      });
    } else {
      $("read-aloud-label").hidden = true; // this browser cannot speak
    }

    choose(state.channel, true);
    if (state.channel !== "call") els.input.focus();
  }

  /* ---------- talking to the server ---------- */

  function send(body, person) {
    if (state.busy) return Promise.resolve(false);
    setBusy(true);
    setStatus("");
    var entry = { who: "person", at: Date.now() };
    Object.keys(person).forEach(function (k) { entry[k] = person[k]; });
    add(entry);
    return post("/simulator/send", body)
      .then(function (answer) {
        add({ who: "faro", at: Date.now(), answer: normalise(answer) });
        return true;
      })
      .catch(function (err) {
        entry.failed = true;
        save();
        render();
        setStatus(err.message, true);
        return false;
      })
      .then(function (ok) {
        setBusy(false);
        return ok;
      });
  }

  function newPerson() {
    if (state.busy) return;
    setBusy(true);
    post("/simulator/reset", {})
      .then(function () {
        state.history = [];
        state.call = newCall();
        stopReading();
        save();
        render();
        renderCall();
        setStatus("New person: their first message starts a new conversation.");
        els.input.value = "";
        els.input.focus();
      })
      .catch(function (err) {
        setStatus(err.message, true);
      })
      .then(function () {
        setBusy(false);
      });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(
      function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.ok) return data;
          var why = data && typeof data.error === "string" ? data.error : response.statusText;
          if (response.status === 403) {
            why = "the simulator is only for developers and signed-in staff";
          }
          throw new Error("Faro could not answer: " + why + " (HTTP " + response.status + ").");
        });
      },
      function () {
        throw new Error("Could not reach the server. Is Faro running?");
      }
    );
  }

  /* ---------- the phone call ---------- */

  function newCall() {
    return { lines: [], wait: null, keyed: "", caller: "" };
  }

  function startCall() {
    stopReading();
    state.call = newCall();
    renderCall();
    move({ action: "start" }, "You call Faro.");
  }

  function hangUp() {
    stopReading();
    move({ action: "hangup" }, "You hang up.");
  }

  /* A key of the keypad: one key answers a menu at once; a date, a time or a number is
   * keyed, then # sends it, as on a phone. */
  function press(key) {
    var wait = state.call.wait;
    if (!wait || state.busy) return;
    if (!wait.finish) {
      move({ action: "press", keys: key }, "You press " + key + ".");
      return;
    }
    if (key !== wait.finish) {
      state.call.keyed = (state.call.keyed + key).slice(0, 31);
      save();
      showWait();
      return;
    }
    sendKeyed();
  }

  /* Silence. Keys already pressed are sent when the wait ends, as Twilio sends them. */
  function waitSilently() {
    if (!state.call.wait || state.busy) return;
    if (state.call.keyed) sendKeyed();
    else move({ action: "silence" }, "You say nothing.");
  }

  function sendKeyed() {
    var keys = state.call.keyed + "#";
    state.call.keyed = "";
    move({ action: "press", keys: keys }, "You press " + keys.split("").join(" ") + ".");
  }

  function move(body, said) {
    if (state.busy) return;
    stopReading();
    setBusy(true);
    setStatus("");
    hearLine({ kind: "you", text: said });
    post("/simulator/call", body)
      .then(hearAnswer)
      .catch(function (err) {
        setStatus(err.message, true);
      })
      .then(function () {
        setBusy(false);
      });
  }

  function hearAnswer(answer) {
    answer = answer && typeof answer === "object" ? answer : {};
    var heard = (Array.isArray(answer.heard) ? answer.heard : []).filter(function (item) {
      return item && (typeof item.say === "string" ||
                      (typeof item.play === "string" && item.play.indexOf("/audio/") === 0));
    });
    heard.forEach(function (item) {
      if (typeof item.say === "string") {
        hearLine({ kind: "say", text: item.say, lang: String(item.lang || "") });
      } else {
        hearLine({ kind: "play", url: item.play });
      }
    });
    if (typeof answer.caller === "string") state.call.caller = answer.caller;
    state.call.keyed = "";
    state.call.wait = answer.ended || !answer.wait || answer.wait === "none" ? null : {
      wait: String(answer.wait),
      digits: Number(answer.digits) || 0,
      finish: typeof answer.finish === "string" ? answer.finish : "",
      timeout: Number(answer.timeout) || 0
    };
    if (answer.ended) hearLine({ kind: "system", text: "The call has ended." });
    save();
    showCall();
    readAloud(heard);
  }

  function hearLine(line) {
    state.call.lines.push(line);
    save();
    els.callEmpty.hidden = true;
    els.heard.appendChild(lineItem(line));
    els.callLog.scrollTop = els.callLog.scrollHeight;
  }

  function renderCall() {
    els.heard.textContent = "";
    state.call.lines.forEach(function (line) { els.heard.appendChild(lineItem(line)); });
    els.callEmpty.hidden = state.call.lines.length > 0;
    showCall();
    els.callLog.scrollTop = els.callLog.scrollHeight;
  }

  /* <li class="line say"><span class="lang">es-MX</span><span lang="es-MX">...</span></li> */
  function lineItem(line) {
    if (line.kind === "you" || line.kind === "system") {
      var note = el("li", "line " + line.kind, line.text);
      note.setAttribute("data-testid", "call-" + line.kind);
      return note;
    }
    var li = el("li", "line " + line.kind);
    li.setAttribute("data-testid", "call-line");
    if (line.kind === "play") {
      li.appendChild(el("span", "lang", "Recording"));
      var player = document.createElement("audio");
      player.controls = true;
      player.preload = "none";
      player.src = line.url;
      player.setAttribute("aria-label", "Recording played to the caller");
      player.setAttribute("data-testid", "call-audio");
      li.appendChild(player);
      return li;
    }
    li.appendChild(el("span", "lang", line.lang || "?"));
    var text = el("span", "said", line.text);
    if (line.lang) text.setAttribute("lang", line.lang);
    li.appendChild(text);
    return li;
  }

  function showCall() {
    var calling = Boolean(state.call.wait);
    els.callToggle.textContent = calling ? "Hang up" : "Call";
    els.callToggle.classList.toggle("danger", calling);
    els.callSilence.disabled = state.busy || !calling;
    els.keys.forEach(function (key) { key.disabled = !calling; });
    els.callNumber.textContent = state.call.caller ?
      ", from " + state.call.caller + " (a fictional number)" : "";
    els.callRecord.hidden = !calling || state.call.wait.wait !== "record";
    showWait();
  }

  function showWait() {
    var wait = state.call.wait;
    var text = "Not in a call.";
    if (wait && wait.wait === "record") {
      text = "Faro waits " + wait.timeout + " s for 1 to skip, then records what the caller says.";
    } else if (wait && wait.finish) {
      text = "Faro waits for keys, then " + wait.finish + "." +
        (state.call.keyed ? " Keyed: " + state.call.keyed.split("").join(" ") : "");
    } else if (wait) {
      text = "Faro waits " + wait.timeout + " s for a key.";
    }
    els.callWait.textContent = text;
  }

  /* "Read aloud": each line in the browser's voice for its language, each recording
   * played, one after another. */
  var reading = { turn: 0, audio: null };

  function readAloud(items) {
    if (!els.readAloud.checked || !("speechSynthesis" in window)) return;
    var turn = reading.turn;
    var queue = items.slice();
    (function next() {
      if (turn !== reading.turn || !queue.length) return;
      var item = queue.shift();
      if (typeof item.say === "string") {
        var utterance = new SpeechSynthesisUtterance(item.say);
        utterance.lang = String(item.lang || "");
        utterance.onend = next;
        utterance.onerror = next;
        window.speechSynthesis.speak(utterance);
      } else {
        reading.audio = new Audio(item.play);
        reading.audio.onended = next;
        reading.audio.play().catch(next);
      }
    })();
  }

  function stopReading() {
    reading.turn += 1;
    if (reading.audio) reading.audio.pause();
    reading.audio = null;
    if ("speechSynthesis" in window) window.speechSynthesis.cancel();
  }

  function normalise(answer) {
    answer = answer && typeof answer === "object" ? answer : {};
    var out = {};
    CHANNELS.forEach(function (c) {
      out[c] = Array.isArray(answer[c]) ? answer[c] : [];
    });
    return out;
  }

  /* ---------- state ---------- */

  function add(entry) {
    state.history.push(entry);
    save();
    els.empty.hidden = true;
    appendEntry(entry);
    scrollDown();
  }

  function save() {
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (e) {
      /* private mode or full: the page still works, it just forgets on reload */
    }
  }

  function load() {
    try {
      var saved = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
      if (saved && Array.isArray(saved.history)) state.history = saved.history;
      if (saved && VIEWS.indexOf(saved.channel) >= 0) state.channel = saved.channel;
      if (saved && saved.call && Array.isArray(saved.call.lines)) state.call = saved.call;
    } catch (e) {
      state.history = [];
      state.call = newCall();
    }
    state.busy = false;
  }

  function setBusy(busy) {
    state.busy = busy;
    els.send.disabled = busy;
    els.location.disabled = busy;
    els.reset.disabled = busy;
    els.callToggle.disabled = busy;
    els.callSilence.disabled = busy || !state.call.wait;
    els.list.setAttribute("aria-busy", busy ? "true" : "false");
    els.heard.setAttribute("aria-busy", busy ? "true" : "false");
    document.body.classList.toggle("busy", busy);
  }

  function setStatus(text, isError) {
    els.status.textContent = text;
    els.status.classList.toggle("error", Boolean(isError));
  }

  function choose(channel, initial) {
    if (VIEWS.indexOf(channel) < 0) return;
    var calling = channel === "call";
    state.channel = channel;
    els.tabs.forEach(function (tab) {
      var on = tab.getAttribute("data-channel") === channel;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      if (on && !calling) els.chat.setAttribute("aria-labelledby", tab.id);
    });
    els.chat.hidden = calling;
    els.call.hidden = !calling;
    if (!calling) els.chat.setAttribute("data-channel", channel);
    document.body.setAttribute("data-channel", channel);
    if (!initial) save();
    if (calling) renderCall();
    else render();
  }

  /* ---------- drawing ---------- */

  function render() {
    els.list.textContent = "";
    els.empty.hidden = state.history.length > 0;
    state.history.forEach(appendEntry);
    scrollDown();
  }

  function appendEntry(entry) {
    var nodes = entry.who === "person" ? [personBubble(entry)] : faroBubbles(entry);
    nodes.forEach(function (node) { els.list.appendChild(node); });
  }

  function scrollDown() {
    els.chat.scrollTop = els.chat.scrollHeight;
  }

  function personBubble(entry) {
    var li = item("person", "person-message");
    var box = li.firstChild;
    var body = el("div", "body");
    if (entry.kind === "location") {
      li.classList.add("location");
      body.appendChild(el("strong", "", "Shared location"));
      body.appendChild(document.createTextNode(
        "\n" + (entry.name ? entry.name + " " : "") + entry.lat + ", " + entry.lon));
      if (state.channel === "sms") {
        li.appendChild(el("div", "note", "SMS cannot carry a location; WhatsApp and Telegram can."));
      }
    } else {
      body.textContent = entry.text;
    }
    if (entry.kind === "choice") li.classList.add("choice");
    box.appendChild(body);
    box.appendChild(meta(entry));
    if (entry.failed) {
      li.classList.add("failed");
      li.appendChild(el("div", "note failed-note", "Not delivered"));
    }
    return li;
  }

  function faroBubbles(entry) {
    var parts = entry.answer[state.channel] || [];
    if (!parts.length) {
      var li = el("li", "system");
      li.setAttribute("data-testid", "no-reply");
      li.textContent = "Faro sent no reply.";
      return [li];
    }
    return parts.map(function (part) {
      var li = item("faro", "faro-message");
      var box = li.firstChild;
      if (state.channel === "sms") {
        box.appendChild(el("div", "body", part.body));
        var n = Number(part.segments) || 0;
        var note = el("div", "note segments", n + " SMS segment" + (n === 1 ? "" : "s"));
        note.setAttribute("data-testid", "sms-segments");
        li.appendChild(note);
      } else if (state.channel === "whatsapp") {
        var body = el("div", "body");
        body.appendChild(whatsappText(String(part.body == null ? "" : part.body)));
        box.appendChild(body);
        box.appendChild(meta(entry));
        voiceNotes(li, part.audio);
      } else {
        voiceNotes(box, part.audio);
        box.appendChild(el("div", "body", part.text));
        box.appendChild(meta(entry));
        var rows = part.reply_markup && part.reply_markup.inline_keyboard;
        if (Array.isArray(rows) && rows.length) li.appendChild(keyboard(rows));
      }
      return li;
    });
  }

  /* A reply's recording, as the voice note WhatsApp (after the text) or Telegram (before
   * it) sends. Only the pack's own /audio/ paths are played. */
  function voiceNotes(parent, urls) {
    (Array.isArray(urls) ? urls : []).forEach(function (url) {
      if (typeof url !== "string" || url.indexOf("/audio/") !== 0) return;
      var player = document.createElement("audio");
      player.className = "voice-note";
      player.controls = true;
      player.preload = "none";
      player.src = url;
      player.setAttribute("aria-label", "Voice note");
      player.setAttribute("data-testid", "voice-note");
      parent.appendChild(player);
    });
  }

  function keyboard(rows) {
    var box = el("div", "keyboard");
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", "Buttons");
    rows.forEach(function (row) {
      var line = el("div", "kb-row");
      (Array.isArray(row) ? row : []).forEach(function (b) {
        var button = el("button", "kb-button", b.text);
        button.type = "button";
        button.setAttribute("data-callback", String(b.callback_data == null ? "" : b.callback_data));
        button.setAttribute("data-testid", "tg-button");
        line.appendChild(button);
      });
      box.appendChild(line);
    });
    return box;
  }

  /* <li class="msg who"><div class="bubble"><span>Who: </span>...</div>extras</li> */
  function item(who, testid) {
    var li = el("li", "msg " + who);
    li.setAttribute("data-testid", testid);
    var box = el("div", "bubble");
    box.appendChild(el("span", "visually-hidden", (who === "faro" ? "Faro" : "You") + ": "));
    li.appendChild(box);
    return li;
  }

  function meta(entry) {
    var time = new Date(entry.at || Date.now());
    var span = el("span", "meta", time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    span.setAttribute("aria-hidden", "true");
    return span;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  /* WhatsApp's own markup: *bold*, _italic_, ~strike~. The markers must hug the text
   * and sit at word boundaries, as in WhatsApp. Builds DOM nodes, never HTML. */
  var MARKS = { "*": "strong", "_": "em", "~": "s" };
  var MARKED = /([*_~])(\S(?:[^\n]*?\S)?)\1/g;

  function whatsappText(text) {
    var frag = document.createDocumentFragment();
    var at = 0;
    var match;
    MARKED.lastIndex = 0;
    while ((match = MARKED.exec(text)) !== null) {
      var start = match.index;
      var end = start + match[0].length;
      if (!boundary(text.charAt(start - 1)) || !boundary(text.charAt(end))) {
        MARKED.lastIndex = start + 1;
        continue;
      }
      if (start > at) frag.appendChild(document.createTextNode(text.slice(at, start)));
      var node = document.createElement(MARKS[match[1]]);
      var saved = MARKED.lastIndex;
      node.appendChild(whatsappText(match[2]));
      MARKED.lastIndex = saved;
      frag.appendChild(node);
      at = end;
    }
    if (at < text.length) frag.appendChild(document.createTextNode(text.slice(at)));
    return frag;
  }

  function boundary(ch) {
    return ch === "" || !/[0-9A-Za-z\u00C0-\u024F]/.test(ch);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

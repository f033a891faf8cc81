// realtime playground: the page. Plain JS, no build step, nothing loaded from elsewhere.
//
// One call = one RTCPeerConnection to the playground server: the microphone (and the camera for
// providers with video input) go up on tracks, the agent's voice comes down on a track, and events and
// commands travel as JSON on the "realtime" data channel. window.playground exposes the page's state
// (status, audio levels, errors) for debugging and for the browser tests.

const $ = (id) => document.getElementById(id);
const ui = {
  mode: $("mode"), provider: $("provider"), note: $("provider-note"), start: $("start"), stop: $("stop"),
  status: $("status"), caps: $("caps"), capsSource: $("caps-source"), errors: $("errors"),
  interrupt: $("interrupt"), mute: $("mute"), camera: $("camera"), micLevel: $("mic-level"),
  agentLevel: $("agent-level"), preview: $("preview"), conversation: $("conversation"),
  textForm: $("text-form"), text: $("text"), turns: document.querySelector("#turns tbody"),
  timeline: $("timeline"), agentAudio: $("agent-audio"),
};

const pg = (window.playground = {
  status: "loading", callId: null, sessionId: null, micOn: false, cameraOn: false,
  agentLevel: 0, agentPeak: 0, micLevel: 0, errors: [], eventCount: 0,
});

const CAPABILITY_LABELS = {
  transport: "transport", input_sample_rate: "audio in (Hz)", output_sample_rate: "audio out (Hz)",
  text_input: "text input", video_input: "video input", tools: "tools", interruption: "interruption",
  truncation: "truncation", user_transcript: "user transcript", agent_transcript: "agent transcript",
  server_vad: "server turn detection", usage: "token usage", session_resumption: "session resumption",
  say: "say (verbatim)", manual_turns: "manual turns", max_session_seconds: "session limit (s)",
};

let providers = new Map();
let call = null; // the current call, see startCall()

// ------------------------------------------------------------------ status and errors
function setStatus(state, text) {
  pg.status = state;
  ui.status.dataset.state = state;
  ui.status.textContent = text;
}

function showError(context, error) {
  const info = normaliseError(error);
  pg.errors.push({ context, ...info });
  const item = document.createElement("div");
  item.className = "error";
  item.dataset.context = context;
  item.setAttribute("role", "alert");
  const text = document.createElement("span");
  text.textContent = `${context}: ${info.type}: ${info.message}`;
  const dismiss = document.createElement("button");
  dismiss.textContent = "×";
  dismiss.title = "Dismiss";
  dismiss.addEventListener("click", () => item.remove());
  item.append(text, dismiss);
  ui.errors.append(item);
  addTimeline("error", `${context}: ${info.message}`, { context });
}

function normaliseError(error) {
  if (error && typeof error === "object" && "message" in error) {
    return { type: error.type || error.name || "Error", message: String(error.message) };
  }
  return { type: "Error", message: String(error) };
}

// ------------------------------------------------------------------ start-up
async function init() {
  let config;
  try {
    config = await requestJSON("/api/config");
  } catch (error) {
    setStatus("error", "Could not load the configuration.");
    showError("loading the page", error);
    return;
  }
  ui.mode.textContent = config.emulator ? `emulator · scenario ${config.scenario}` : "live services";
  ui.mode.dataset.mode = config.emulator ? "emulator" : "live";
  providers = new Map(config.providers.map((p) => [p.name, p]));
  for (const p of config.providers) {
    const option = new Option(p.available ? p.name : `${p.name} (${p.note})`, p.name);
    option.disabled = !p.available;
    ui.provider.append(option);
  }
  for (const failure of config.plugin_errors) showError("plugin", { type: "PluginLoadFailure", message: failure });
  if (!config.providers.length) {
    setStatus("error", "No provider installed: pip install realtime-openai (or another provider).");
    return;
  }
  if (config.provider) ui.provider.value = config.provider;
  ui.provider.disabled = false;
  ui.provider.addEventListener("change", showProvider);
  ui.start.addEventListener("click", () => startCall().catch((error) => failCall("starting the call", error)));
  ui.stop.addEventListener("click", () => hangUp("stopped"));
  ui.interrupt.addEventListener("click", () => command({ type: "interrupt" }));
  ui.mute.addEventListener("click", toggleMic);
  ui.camera.addEventListener("click", toggleCamera);
  ui.textForm.addEventListener("submit", sendText);
  window.addEventListener("pagehide", () => hangUp("the page was closed"));
  showProvider();
  setStatus("idle", "Ready: press Start and allow the microphone.");
}

function showProvider() {
  const p = providers.get(ui.provider.value);
  ui.start.disabled = !p || !p.available || call !== null;
  ui.note.textContent = p ? [p.description, p.note].filter(Boolean).join(" · ") : "";
  if (p) showCapabilities(p.capabilities, "defaults");
}

function showCapabilities(caps, source) {
  ui.capsSource.textContent = `(${source})`;
  ui.caps.replaceChildren();
  for (const [key, label] of Object.entries(CAPABILITY_LABELS)) {
    if (!(key in caps)) continue;
    const value = caps[key];
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.dataset.capability = key;
    dd.textContent = value === true ? "yes" : value === false ? "no" : value === null ? "none" : String(value);
    dd.className = value === false || value === "none" ? "off" : "on";
    ui.caps.append(dt, dd);
  }
}

// ------------------------------------------------------------------ the call
async function startCall() {
  const provider = providers.get(ui.provider.value);
  if (!provider || call) return;
  resetView();
  ui.start.disabled = true;
  ui.provider.disabled = true;
  ui.stop.disabled = false;
  setStatus("connecting", `Connecting to ${provider.name}…`);
  const pc = new RTCPeerConnection({ iceServers: [] });
  call = {
    provider: provider.name, pc, id: null, open: false, ended: false, t0: performance.now(),
    capabilities: provider.capabilities, audioContext: new AudioContext(), timers: [], mic: null, camera: null,
    userKey: null, turns: new Map(),
  };
  const current = call;
  current.audio = pc.addTransceiver("audio", { direction: "sendrecv" });
  current.video = provider.capabilities.video_input ? pc.addTransceiver("video", { direction: "sendonly" }) : null;
  const channel = (current.channel = pc.createDataChannel("realtime", { ordered: true }));
  channel.onopen = () => channelOpen(current);
  channel.onmessage = (event) => receive(current, event.data);
  channel.onclose = () => { if (call === current && !current.ended) endCall("the server closed the call"); };
  pc.ontrack = (event) => playAgent(current, event.streams[0] || new MediaStream([event.track]));
  pc.onconnectionstatechange = () => {
    if (call !== current) return;
    addTimeline("webrtc", pc.connectionState);
    if (pc.connectionState === "failed") failCall("WebRTC", new Error("the connection to the server failed"));
  };

  await pc.setLocalDescription(await pc.createOffer());
  await iceGatheringDone(pc, 5000);
  const answer = await requestJSON("/api/calls", { provider: provider.name, sdp: pc.localDescription.sdp, type: "offer" });
  if (call !== current) return; // stopped meanwhile; the server closes it when the peer goes away
  current.id = pg.callId = answer.id;
  pg.sessionId = answer.session_id;
  current.capabilities = answer.capabilities;
  showCapabilities(answer.capabilities, "this session");
  await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
  setStatus("connecting", "Session ready; connecting audio (WebRTC)…");
  current.timers.push(setTimeout(() => {
    if (call === current && !current.open) {
      failCall("WebRTC", new Error(
        "no connection within 20 s: ICE found no path between this browser and the server " +
        "(the server needs a non-loopback network interface; see its log)"));
    }
  }, 20000));
}

function channelOpen(current) {
  if (call !== current) return;
  current.open = true;
  setStatus("connected", `Connected to ${current.provider}. Speak!`);
  ui.interrupt.disabled = !current.capabilities.interruption;
  ui.mute.disabled = false;
  ui.camera.hidden = !current.video;
  ui.camera.disabled = !current.video;
  ui.textForm.hidden = !current.capabilities.text_input;
  startMic(current);
}

function iceGatheringDone(pc, timeoutMs) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const timer = setTimeout(resolve, timeoutMs); // send what was gathered so far
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
    });
  });
}

function command(message) {
  if (!call || !call.open || call.channel.readyState !== "open") return false;
  call.channel.send(JSON.stringify(message));
  return true;
}

function hangUp(reason) {
  const current = call;
  if (!current) return;
  command({ type: "hangup" });
  if (current.id) {
    // keepalive: still sent while the tab is closing; the server also notices the peer going away
    fetch(`/api/calls/${current.id}/close`, {
      method: "POST", keepalive: true, headers: { "Content-Type": "application/json" }, body: "{}",
    }).catch(() => {});
  }
  endCall(reason);
}

function endCall(reason) {
  const current = call;
  if (!current) return;
  current.ended = true;
  call = null;
  for (const timer of [...current.timers, current.micMeter]) { clearTimeout(timer); clearInterval(timer); }
  for (const stream of [current.mic, current.camera]) stream?.getTracks().forEach((t) => t.stop());
  current.pc.close();
  current.audioContext.close();
  ui.agentAudio.srcObject = null;
  ui.preview.hidden = true;
  pg.micOn = pg.cameraOn = false;
  pg.agentLevel = pg.micLevel = 0;
  ui.agentLevel.value = ui.micLevel.value = 0;
  for (const b of [ui.interrupt, ui.mute, ui.camera, ui.stop]) b.disabled = true;
  ui.mute.textContent = "Mute mic";
  ui.camera.textContent = "Camera on";
  ui.textForm.hidden = true;
  ui.provider.disabled = false;
  showProvider();
  addTimeline("call ended", reason);
  setStatus("ended", `Call ended: ${reason}.`);
}

function failCall(context, error) {
  showError(context, error);
  if (call) endCall(`${context} failed`);
  else setStatus("error", `${context} failed.`);
}

// ------------------------------------------------------------------ media
async function startMic(current) {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    if (call !== current) { stream.getTracks().forEach((t) => t.stop()); return; }
    current.mic = stream;
    await current.audio.sender.replaceTrack(stream.getAudioTracks()[0]);
    pg.micOn = true;
    ui.mute.textContent = "Mute mic";
    current.micMeter = meter(current, stream, (level) => { pg.micLevel = level; ui.micLevel.value = level; });
  } catch (error) {
    showError("microphone", error);
  }
}

async function stopMic(current) {
  clearInterval(current.micMeter);
  current.mic?.getTracks().forEach((t) => t.stop());
  current.mic = null;
  await current.audio.sender.replaceTrack(null);
  pg.micOn = false;
  pg.micLevel = 0;
  ui.micLevel.value = 0;
  ui.mute.textContent = "Unmute mic";
}

function toggleMic() {
  if (!call) return;
  (call.mic ? stopMic(call) : startMic(call)).catch((error) => showError("microphone", error));
}

async function toggleCamera() {
  const current = call;
  if (!current || !current.video) return;
  try {
    if (current.camera) {
      command({ type: "camera", on: false });
      current.camera.getTracks().forEach((t) => t.stop());
      current.camera = null;
      await current.video.sender.replaceTrack(null);
      ui.preview.hidden = true;
      ui.camera.textContent = "Camera on";
      pg.cameraOn = false;
      return;
    }
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
    if (call !== current) { stream.getTracks().forEach((t) => t.stop()); return; }
    current.camera = stream;
    await current.video.sender.replaceTrack(stream.getVideoTracks()[0]);
    ui.preview.srcObject = stream;
    ui.preview.hidden = false;
    ui.preview.play().catch(() => {});
    ui.camera.textContent = "Camera off";
    pg.cameraOn = true;
    command({ type: "camera", on: true });
  } catch (error) {
    showError("camera", error);
  }
}

function playAgent(current, stream) {
  ui.agentAudio.srcObject = stream;
  ui.agentAudio.play().catch((error) => showError("playing the agent's voice", error));
  current.timers.push(meter(current, stream, (level) => {
    pg.agentLevel = level;
    pg.agentPeak = Math.max(pg.agentPeak, level);
    ui.agentLevel.value = level;
  }));
}

// RMS of the stream every 50 ms, measured with an AnalyserNode (not connected to the speakers).
function meter(current, stream, onLevel) {
  const analyser = current.audioContext.createAnalyser();
  analyser.fftSize = 2048;
  current.audioContext.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  return setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    onLevel(Math.sqrt(sum / samples.length));
  }, 50);
}

function sendText(event) {
  event.preventDefault();
  const text = ui.text.value.trim();
  if (!text) return;
  if (command({ type: "text", text })) {
    addBubble("user", null, text, true).classList.add("typed");
    addTimeline("text sent", `"${text}"`);
    ui.text.value = "";
  }
}

// ------------------------------------------------------------------ messages from the server
function receive(current, data) {
  if (call !== current) return;
  let message;
  try {
    message = JSON.parse(data);
  } catch (error) {
    showError("data channel", error);
    return;
  }
  if (message.kind === "event") handleEvent(current, message.event);
  else if (message.kind === "error") showError(message.context, message.error);
  else if (message.kind === "ended") {
    addTimeline("session ended", message.reason);
    hangUp(`the session ended (${message.reason})`);
  }
}

function handleEvent(current, ev) {
  pg.eventCount += 1;
  switch (ev.type) {
    case "realtime.connected":
      pg.sessionId = ev.session_id;
      addTimeline("connected", `${ev.provider} session ${ev.session_id.slice(0, 8)} via ${ev.capabilities.transport}`);
      break;
    case "realtime.user_speech_started":
      addTimeline("user speech started", "");
      ui.conversation.dataset.userSpeaking = "true";
      break;
    case "realtime.user_speech_stopped":
      addTimeline("user speech stopped", "");
      delete ui.conversation.dataset.userSpeaking;
      break;
    case "realtime.user_transcription": {
      const key = ev.item_id || current.userKey || `user-${pg.eventCount}`;
      current.userKey = ev.mode === "final" ? null : key;
      addBubble("user", key, ev.text, ev.mode === "final");
      if (ev.mode === "final") addTimeline("user transcript", `"${ev.text}"`);
      break;
    }
    case "realtime.agent_transcription":
      addBubble("agent", ev.response_id, ev.text, ev.mode === "final");
      if (ev.mode === "final") addTimeline("agent transcript", `"${ev.text}"`);
      break;
    case "realtime.response":
      addBubble("agent", ev.response_id, ev.text, ev.is_complete);
      if (ev.is_complete) addTimeline("response text", `"${ev.text}"`);
      break;
    case "realtime.agent_speech_started":
      addTimeline("agent speech started", ev.response_id);
      addBubble("agent", ev.response_id, "", false); // speaking before its transcript arrives
      turn(current, ev.response_id);
      break;
    case "realtime.agent_speech_stopped":
      break; // the done event says the same, with the reply's fate
    case "realtime.audio_output_done":
      addTimeline("audio done", `${ev.response_id}${ev.interrupted ? " (interrupted)" : ""}`, { interrupted: ev.interrupted });
      turn(current, ev.response_id).reply = ev.interrupted ? "interrupted" : "done";
      renderTurns(current);
      break;
    case "realtime.interrupted":
      addTimeline("interrupted", `${ev.source}${ev.heard_ms != null ? `, heard ${Math.round(ev.heard_ms)} ms` : ""}`, { source: ev.source });
      markInterrupted(ev.response_id);
      break;
    case "realtime.tool_call_started":
      addTimeline("tool call", `${ev.name}(${JSON.stringify(ev.arguments)})`, { tool: ev.name });
      break;
    case "realtime.tool_call_finished":
      addTimeline("tool result", `${ev.name} → ${ev.error ? `error: ${ev.error}` : JSON.stringify(ev.result)} (${Math.round(ev.duration_ms)} ms)`,
        { tool: ev.name, failed: Boolean(ev.error) });
      break;
    case "realtime.usage": {
      const t = turn(current, ev.response_id || `usage-${pg.eventCount}`);
      t.tokensIn = (t.tokensIn || 0) + (ev.input_tokens || 0);
      t.tokensOut = (t.tokensOut || 0) + (ev.output_tokens || 0);
      renderTurns(current);
      addTimeline("usage", `in ${ev.input_tokens ?? "?"}, out ${ev.output_tokens ?? "?"} tokens`);
      break;
    }
    case "realtime.metrics":
      if (ev.response_id) {
        turn(current, ev.response_id).ttfa = ev.time_to_first_audio_ms;
        renderTurns(current);
      }
      addTimeline("metrics", `time to first audio ${ev.time_to_first_audio_ms != null ? `${Math.round(ev.time_to_first_audio_ms)} ms` : "n/a"}`);
      break;
    case "realtime.error":
      showError(`provider (${ev.context || "session"})`, ev.error);
      break;
    case "realtime.disconnected":
      addTimeline("disconnected", `${ev.reason || "closed"}${ev.will_reconnect ? ", reconnecting…" : ""}`, { reconnecting: ev.will_reconnect });
      if (ev.will_reconnect) setStatus("reconnecting", "Connection lost; reconnecting…");
      break;
    case "realtime.reconnected":
      addTimeline("reconnected", `${ev.reason}; conversation ${ev.state_restored ? "restored" : "NOT restored"}`);
      setStatus("connected", `Reconnected to ${current.provider}.`);
      break;
    case "realtime.rate_limits":
      addTimeline("rate limits", ev.limits.map((l) => `${l.name} ${l.remaining}/${l.limit}`).join(", "));
      break;
    default:
      break; // audio chunks never come here; new event types are ignored rather than misread
  }
}

// ------------------------------------------------------------------ rendering
function resetView() {
  ui.conversation.replaceChildren();
  ui.timeline.replaceChildren();
  ui.turns.replaceChildren();
  ui.errors.replaceChildren();
  pg.errors = [];
  pg.agentPeak = 0;
  pg.eventCount = 0;
}

function addBubble(who, key, text, final) {
  let bubble = key ? ui.conversation.querySelector(`.bubble[data-key="${CSS.escape(key)}"]`) : null;
  if (!bubble) {
    bubble = document.createElement("div");
    bubble.className = `bubble ${who}`;
    if (key) bubble.dataset.key = key;
    const label = document.createElement("span");
    label.className = "who";
    label.textContent = who === "user" ? "You" : "Agent";
    const body = document.createElement("p");
    bubble.append(label, body);
    ui.conversation.append(bubble);
  }
  const body = bubble.querySelector("p");
  body.textContent = final ? text : body.textContent + text;
  bubble.dataset.final = String(final);
  ui.conversation.scrollTop = ui.conversation.scrollHeight;
  return bubble;
}

function markInterrupted(responseId) {
  if (!responseId) return;
  const bubble = ui.conversation.querySelector(`.bubble.agent[data-key="${CSS.escape(responseId)}"]`);
  bubble?.classList.add("interrupted");
}

function addTimeline(kind, detail, data = {}) {
  const item = document.createElement("li");
  item.dataset.kind = kind;
  for (const [key, value] of Object.entries(data)) item.dataset[key] = String(value);
  const when = document.createElement("time");
  when.textContent = call ? `+${((performance.now() - call.t0) / 1000).toFixed(2)}s` : "";
  const label = document.createElement("b");
  label.textContent = kind;
  const text = document.createElement("span");
  text.textContent = detail;
  item.append(when, label, text);
  ui.timeline.append(item);
  while (ui.timeline.childElementCount > 500) ui.timeline.firstElementChild.remove();
  item.scrollIntoView({ block: "nearest" });
}

function turn(current, responseId) {
  let t = current.turns.get(responseId);
  if (!t) {
    t = { n: current.turns.size + 1, responseId, ttfa: null, tokensIn: null, tokensOut: null, reply: "playing" };
    current.turns.set(responseId, t);
    renderTurns(current);
  }
  return t;
}

function renderTurns(current) {
  ui.turns.replaceChildren(...[...current.turns.values()].map((t) => {
    const row = document.createElement("tr");
    row.dataset.response = t.responseId;
    row.dataset.reply = t.reply;
    const cells = [
      t.n, t.responseId.slice(0, 14), t.ttfa != null ? `${Math.round(t.ttfa)} ms` : "–",
      t.tokensIn != null || t.tokensOut != null ? `${t.tokensIn ?? 0} / ${t.tokensOut ?? 0}` : "–", t.reply,
    ];
    for (const value of cells) {
      const td = document.createElement("td");
      td.textContent = String(value);
      row.append(td);
    }
    return row;
  }));
}

// ------------------------------------------------------------------ HTTP
async function requestJSON(url, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(url, options);
  let payload;
  try {
    payload = await response.json();
  } catch {
    throw new Error(`${url} answered ${response.status} ${response.statusText}`);
  }
  if (!response.ok) {
    const error = new Error(payload.error?.message || `${url} answered ${response.status}`);
    error.type = payload.error?.type || `HTTP ${response.status}`;
    throw error;
  }
  return payload;
}

init();

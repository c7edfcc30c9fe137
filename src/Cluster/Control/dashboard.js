// MiniMind.Actors dashboard (issue 14): our own canvas drawing, no library, no CDN.
// The first part holds pure functions (formatting, EMA, downsampling, ticks, series merging); tests run them under node
// (tests/Cluster.Tests/Control/DashboardScriptTests.cs). The second part, in a browser only, draws the page.
"use strict";

const MM = (() => {
  const finite = Number.isFinite;

  /** Counts and rates as a person reads them: 4,612 · 12.5 · 0.873 · 4.27e-4 (only below 1e-3) · 1.2e+9 never: 1,200,000,000. */
  function fmtNumber(v) {
    if (v === null || v === undefined) return "-";
    v = Number(v);
    if (Number.isNaN(v)) return "NaN";
    if (!finite(v)) return v > 0 ? "∞" : "-∞";
    const a = Math.abs(v);
    if (a === 0) return "0";
    if (a < 1e-3) return fmtExp(v);
    if (a >= 1000) return Math.round(v).toLocaleString("en-US");
    if (a >= 100) return trimZeros(v.toFixed(1));
    if (a >= 10) return trimZeros(v.toFixed(2));
    return trimZeros(v.toFixed(4));
  }

  /** Scientific notation with 3 significant digits and a plain exponent: 4.27e-4, 1e-3. */
  function fmtExp(v) {
    const [m, e] = Number(v).toExponential(2).split("e");
    return trimZeros(m) + "e" + (e.startsWith("+") ? e.slice(1) : e);
  }

  function trimZeros(t) { return t.includes(".") ? t.replace(/\.?0+$/, "") : t; }

  /** A learning rate: 4.27e-4 below 0.01 (where an lr lives), else as a number. */
  function fmtLr(v) {
    v = Number(v);
    if (!finite(v)) return fmtNumber(v);
    const a = Math.abs(v);
    return a !== 0 && a < 1e-2 ? fmtExp(v) : fmtNumber(v);
  }

  /** Seconds as h:mm:ss (m:ss under an hour; "0.41 s" under a minute). */
  function fmtDuration(s) {
    s = Number(s);
    if (!finite(s)) return "-";
    if (Math.abs(s) < 60) return trimZeros(s.toFixed(Math.abs(s) < 10 ? 2 : 1)) + " s";
    const t = Math.round(s), h = Math.floor(t / 3600), m = Math.floor(t / 60) % 60, sec = t % 60;
    const p2 = n => String(n).padStart(2, "0");
    return h > 0 ? `${h}:${p2(m)}:${p2(sec)}` : `${m}:${p2(sec)}`;
  }

  /** A short latency in seconds with its digits (0.0042 s, 1.23 s; h:mm:ss from a minute): a rollout's or a reward's time. */
  function fmtSeconds(v) {
    if (v === null || v === undefined) return "-";
    v = Number(v);
    return finite(v) && Math.abs(v) >= 60 ? fmtDuration(v) : fmtNumber(v) + (finite(v) ? " s" : "");
  }

  function fmtBytes(v) {
    if (v === null || v === undefined || !finite(Number(v))) return "-";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    v = Number(v);
    while (Math.abs(v) >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i === 0 ? String(v) : v.toFixed(1)) + " " + u[i];
  }

  /** The metrics the page draws: key (the history's column), title, formatter, unit. `sparse`: a held-out evaluation's
   *  column (a point every --eval-interval steps, from the history's `eval`), drawn with a marker at each point, unsmoothed.
   *  `rl`: an RL (GRPO) run's per-step column, null in the other stages: drawn like loss, its chart shown once a selected
   *  run has a value in it. */
  const METRICS = [
    { key: "loss", title: "loss", fmt: fmtNumber, unit: "" },
    { key: "lr", title: "learning rate", fmt: fmtLr, unit: "" },
    { key: "gradNorm", title: "grad norm (before clipping)", fmt: fmtNumber, unit: "" },
    { key: "tokensPerSecond", title: "tokens/s", fmt: fmtNumber, unit: " tok/s" },
    { key: "stepSeconds", title: "step time", fmt: fmtDuration, unit: "" },
    { key: "evalLoss", title: "eval loss (held-out, --eval-data)", fmt: fmtNumber, unit: "", sparse: true },
    { key: "rewardMean", title: "reward mean (GRPO)", fmt: fmtNumber, unit: "", rl: true },
    { key: "rewardStd", title: "reward std (within the step)", fmt: fmtNumber, unit: "", rl: true },
    { key: "kl", title: "KL to the reference (k3, per token)", fmt: fmtNumber, unit: "", rl: true },
    { key: "completionLength", title: "completion length (tokens to EOS)", fmt: fmtNumber, unit: " tok", rl: true },
    { key: "clipFraction", title: "clip fraction (tokens)", fmt: fmtNumber, unit: "", rl: true },
    { key: "rolloutSeconds", title: "rollout time per step", fmt: fmtSeconds, unit: "", rl: true },
    { key: "rewardSeconds", title: "reward scoring time per step", fmt: fmtSeconds, unit: "", rl: true },
  ];

  /** The RL columns of the history and the stream (null where a point has none). */
  const RL_KEYS = METRICS.filter(m => m.rl).map(m => m.key);

  /** Whether column `key` of a series holds any value (a non-RL run's RL columns are all null). */
  function hasValues(series, key) {
    return !!series && Array.isArray(series[key]) && series[key].some(v => v !== null && v !== undefined);
  }

  /** Exponential moving average as TensorBoard's smoothing slider does it: weight w on the past, debiased so the first
   *  points are not pulled toward 0; a non-finite value is passed through and does not enter the average. */
  function ema(values, weight) {
    const out = new Array(values.length);
    if (!(weight > 0)) { for (let i = 0; i < values.length; i++) out[i] = values[i]; return out; }
    let acc = 0, n = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!finite(v)) { out[i] = v; continue; }
      acc = weight * acc + (1 - weight) * v;
      n++;
      out[i] = acc / (1 - Math.pow(weight, n));
    }
    return out;
  }

  /** Points to draw at most `buckets` columns wide: per column, the first, min, max and last point (in x order), so every
   *  spike survives and a line through them looks like the full curve. xs ascending. Returns indexes. */
  function downsample(xs, ys, x0, x1, buckets) {
    const idx = [];
    const n = xs.length;
    if (n === 0) return idx;
    let lo = 0, hi = n - 1;
    while (lo < n && xs[lo] < x0) lo++;
    while (hi >= 0 && xs[hi] > x1) hi--;
    if (lo > 0) lo--;              // one point outside each edge: the line reaches the border
    if (hi < n - 1) hi++;
    if (hi - lo + 1 <= buckets * 4) { for (let i = lo; i <= hi; i++) idx.push(i); return idx; }
    const span = (x1 - x0) || 1;
    let col = -1, first = -1, min = -1, max = -1, last = -1;
    const flush = () => {
      if (first < 0) return;
      const set = [first, min, max, last].filter((v, i, a) => v >= 0 && a.indexOf(v) === i).sort((a, b) => a - b);
      for (const i of set) idx.push(i);
    };
    for (let i = lo; i <= hi; i++) {
      const c = Math.max(-1, Math.min(buckets, Math.floor((xs[i] - x0) / span * buckets)));
      if (c !== col) { flush(); col = c; first = min = max = last = i; continue; }
      last = i;
      if (finite(ys[i])) {
        if (!finite(ys[min]) || ys[i] < ys[min]) min = i;
        if (!finite(ys[max]) || ys[i] > ys[max]) max = i;
      }
    }
    flush();
    return idx;
  }

  /** About `count` round tick values between min and max (1, 2, 5 × 10^k steps). */
  function niceTicks(min, max, count) {
    if (!finite(min) || !finite(max)) return [];
    if (min === max) return [min];
    const raw = (max - min) / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw) || 10 * mag;
    const ticks = [];
    for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
    return ticks;
  }

  /** Powers of ten between min and max (> 0), with 2 and 5 between them when there are few decades. */
  function logTicks(min, max) {
    if (!(min > 0) || !(max > 0)) return [];
    const ticks = [];
    const decades = Math.log10(max) - Math.log10(min);
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++)
      for (const m of decades < 3 ? [1, 2, 5] : [1]) {
        const t = m * Math.pow(10, e);
        if (t >= min * (1 - 1e-9) && t <= max * (1 + 1e-9)) ticks.push(t);
      }
    return ticks;
  }

  /** The history API's columns (NaN/∞ arrive as strings) as numbers; null (no value: RL columns of other stages) stays null. */
  function parseColumns(cols) {
    const out = {};
    for (const k of Object.keys(cols)) out[k] = cols[k].map(v => v === null ? null : Number(v));
    return out;
  }

  const empty = () => ({ step: [], first: [], count: [], loss: [], lossMin: [], lossMax: [], lr: [], gradNorm: [],
    tokensPerSecond: [], lossTokensPerSecond: [], stepSeconds: [], rssBytes: [], wallTimeMs: [],
    ...Object.fromEntries(RL_KEYS.map(k => [k, []])) });

  /** A series with `points` (columns) appended: only steps after its newest one (a stream that repeats a step adds nothing);
   *  a column the points lack gets null (no value) there. */
  function append(series, points) {
    const s = series || empty();
    const newest = s.step.length ? s.step[s.step.length - 1] : 0;
    for (let i = 0; i < points.step.length; i++) {
      if (points.step[i] <= newest) continue;
      for (const k of Object.keys(s)) s[k].push(points[k] !== undefined ? points[k][i] : null);
    }
    return s;
  }

  const emptyEval = () => ({ step: [], evalLoss: [], evalPpl: [] });

  /** Held-out evaluations with `points` (the API's eval columns: step, loss, perplexity) merged in by step: a step
   *  evaluated again (redone after a resume) replaces its point; steps stay ascending. */
  function mergeEval(evals, points) {
    const e = evals || emptyEval();
    const at = new Map(e.step.map((st, i) => [st, i]));
    for (let i = 0; i < points.step.length; i++) {
      const st = points.step[i], loss = points.loss[i], ppl = points.perplexity[i];
      if (at.has(st)) { e.evalLoss[at.get(st)] = loss; e.evalPpl[at.get(st)] = ppl; continue; }
      at.set(st, e.step.length);
      e.step.push(st); e.evalLoss.push(loss); e.evalPpl.push(ppl);
    }
    const order = e.step.map((_, i) => i).sort((a, b) => e.step[a] - e.step[b]);
    return { step: order.map(i => e.step[i]), evalLoss: order.map(i => e.evalLoss[i]), evalPpl: order.map(i => e.evalPpl[i]) };
  }

  /** A series without the points after `afterStep` (a resume redoes them; the stream sends them again). */
  function rewind(series, afterStep) {
    if (!series) return series;
    let n = series.step.length;
    while (n > 0 && series.step[n - 1] > afterStep) n--;
    for (const k of Object.keys(series)) series[k].length = n;
    return series;
  }

  /** The few settings a run list shows of a run's TrainingSettings JSON (its model config is JSON inside it). */
  function configSummary(s) {
    if (!s) return "";
    const parts = [];
    if (s.LearningRate !== undefined) parts.push("lr " + fmtLr(s.LearningRate));
    if (s.BatchSize !== undefined) parts.push(`batch ${s.BatchSize}${s.AccumulationSteps !== undefined ? " × " + s.AccumulationSteps : ""}`);
    if (s.MaxSeqLen !== undefined) parts.push("seq " + s.MaxSeqLen);
    if (s.MaxSteps) parts.push("max steps " + fmtNumber(s.MaxSteps)); else if (s.Epochs !== undefined) parts.push(s.Epochs + " epoch(s)");
    try {
      const c = typeof s.ConfigJson === "string" ? JSON.parse(s.ConfigJson) : null;
      if (c && c.hidden_size !== undefined) parts.push(`hidden ${c.hidden_size}, layers ${c.num_hidden_layers}`);
    } catch (e) { /* no model config */ }
    if (s.Device) parts.push(s.Device);
    return parts.join(", ");
  }

  return { fmtNumber, fmtExp, fmtLr, fmtDuration, fmtSeconds, fmtBytes, METRICS, RL_KEYS, hasValues, ema, downsample, niceTicks, logTicks, parseColumns, append, rewind, configSummary, empty,
    emptyEval, mergeEval };
})();

if (typeof module !== "undefined" && module.exports) module.exports = MM;

// ---------------------------------------------------------------------------------------------------------------------
// The page (a browser only).
if (typeof document !== "undefined") (() => {
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  const headers = token ? { "Authorization": "Bearer " + token } : {};
  const withToken = url => token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : url;
  const $ = id => document.getElementById(id);
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
    for (const c of children) e.append(c);
    return e;
  };

  const state = {
    runs: [],                 // the run list (/api/metrics/runs)
    selected: [],             // run ids, in the order picked (colors follow it)
    series: {},               // run → the whole curve (history + live rows)
    evals: {},                // run → its held-out evaluations (every one: they are sparse)
    zoomed: {},               // run → the curve of the zoomed range (per-step when it fits)
    range: null,              // [x0, x1] when zoomed or panned, else null (everything)
    smooth: Math.min(0.99, Math.max(0, Number(params.get("smooth") ?? 0.6))),
    log: new Set((params.get("log") || "").split(",").filter(Boolean)),
    stream: null,
    alerts: [],
    probe: params.get("probe") === "1",
    overview: Math.max(10, Number(params.get("max")) || 4000),   // points of a whole-run curve (a zoom reads its range again)
  };

  async function getJson(url) {
    const res = await fetch(url, { headers });
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.status);
    return body;
  }

  function status(text) { $("status").textContent = text; }

  // ---- charts ----
  const charts = MM.METRICS.map(m => {
    const canvas = el("canvas", { "data-metric": m.key, "data-points": "0", "data-runs": "0" });
    const logBox = el("input", { type: "checkbox" });
    logBox.checked = state.log.has(m.key);
    logBox.addEventListener("change", () => { if (logBox.checked) state.log.add(m.key); else state.log.delete(m.key); drawAll(); });
    const readout = el("div", { class: "readout" });
    const box = el("div", { class: "chart" }, el("div", { class: "chart-head" }, el("h2", {}, m.title), el("label", {}, logBox, " log")), readout, canvas);
    $("charts").append(box);
    const chart = { m, canvas, readout, view: null, hoverX: null, box };
    if (m.sparse || m.rl) box.hidden = true;   // shown once a selected run has an evaluation (RL values)
    attachMouse(chart);
    return chart;
  });

  function colorOf(run) { return COLORS[state.selected.indexOf(run) % COLORS.length]; }

  function dataOf(run, m) {
    if (m && m.sparse) return state.evals[run];
    const z = state.zoomed[run];
    if (state.range && z && z.range[0] <= state.range[0] && z.range[1] >= state.range[1]) return z.series;
    return state.series[run];
  }

  function fullExtent() {
    let lo = Infinity, hi = -Infinity;
    for (const run of state.selected) {
      const s = state.series[run];
      if (!s || !s.step.length) continue;
      lo = Math.min(lo, s.first.length ? s.first[0] : s.step[0]);
      hi = Math.max(hi, s.step[s.step.length - 1]);
    }
    return Number.isFinite(lo) ? [lo, Math.max(hi, lo + 1)] : [0, 1];
  }

  function draw(chart) {
    const { canvas, m } = chart;
    if (m.sparse || m.rl) {
      chart.box.hidden = !state.selected.some(run => m.sparse ? state.evals[run] && state.evals[run].step.length : MM.hasValues(state.series[run], m.key));
      if (chart.box.hidden) { canvas.dataset.points = "0"; canvas.dataset.runs = "0"; return; }
    }
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 600, h = canvas.clientHeight || 240;
    canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const pad = { l: 70, r: 12, t: 8, b: 24 };
    const pw = w - pad.l - pad.r, ph = h - pad.t - pad.b;
    const [x0, x1] = state.range || fullExtent();
    const log = state.log.has(m.key);
    // y range over what is visible (raw values: the smoothed line lies within them)
    let y0 = Infinity, y1 = -Infinity, drawn = 0;
    const lines = [];
    for (const run of state.selected) {
      const s = dataOf(run, m);
      if (!s || !s.step.length || (m.rl && !MM.hasValues(s, m.key))) continue;   // an RL chart: the RL runs only
      const ys = s[m.key];
      const idx = MM.downsample(s.step, ys, x0, x1, Math.max(50, Math.floor(pw)));
      const smooth = MM.ema(ys, m.key === "lr" || m.sparse ? 0 : state.smooth);   // a schedule is not noisy, evaluations are few: drawn as they are
      for (const i of idx) {
        const v = ys[i];
        if (!Number.isFinite(v) || (log && v <= 0) || s.step[i] < x0 || s.step[i] > x1) continue;
        y0 = Math.min(y0, v); y1 = Math.max(y1, v);
      }
      drawn += idx.filter(i => s.step[i] >= x0 && s.step[i] <= x1).length;
      lines.push({ run, s, ys, idx, smooth });
    }
    canvas.dataset.points = String(drawn);
    canvas.dataset.runs = String(lines.length);
    chart.view = { x0, x1, pad, pw, ph, w, h };
    if (!lines.length || !Number.isFinite(y0)) {
      g.fillStyle = "#888"; g.font = "13px system-ui"; g.fillText(lines.length ? "no finite values" : "no run selected", pad.l + 8, pad.t + 20);
      return;
    }
    if (y0 === y1) { const d = Math.abs(y0) * 0.05 || 1; y0 -= d; y1 += d; }
    let ty = v => log ? Math.log10(v) : v;
    const [a, b] = [ty(y0), ty(y1)];
    const margin = (b - a) * 0.04;
    const Y = v => pad.t + ph - (ty(v) - (a - margin)) / ((b + margin) - (a - margin)) * ph;
    const X = x => pad.l + (x - x0) / (x1 - x0) * pw;
    chart.view.Y = Y; chart.view.X = X;
    // grid and axes
    g.strokeStyle = "#eee"; g.fillStyle = "#555"; g.font = "11px system-ui"; g.lineWidth = 1;
    const yt = log ? MM.logTicks(y0, y1) : MM.niceTicks(y0, y1, 5);
    g.textAlign = "right"; g.textBaseline = "middle";
    for (const t of yt) { const y = Y(t); g.beginPath(); g.moveTo(pad.l, y); g.lineTo(pad.l + pw, y); g.stroke(); g.fillText(m.fmt(t), pad.l - 6, y); }
    g.textAlign = "center"; g.textBaseline = "top";
    for (const t of MM.niceTicks(x0, x1, Math.max(2, Math.floor(pw / 90)))) {
      if (!Number.isInteger(t)) continue;
      const x = X(t); g.beginPath(); g.moveTo(x, pad.t); g.lineTo(x, pad.t + ph); g.stroke(); g.fillText(MM.fmtNumber(t), x, pad.t + ph + 6);
    }
    g.strokeStyle = "#999"; g.strokeRect(pad.l, pad.t, pw, ph);
    g.save(); g.beginPath(); g.rect(pad.l, pad.t, pw, ph); g.clip();
    for (const { run, s, ys, idx, smooth } of lines) {
      const color = colorOf(run);
      const path = (vals, width, alpha) => {
        g.globalAlpha = alpha; g.strokeStyle = color; g.lineWidth = width; g.beginPath();
        let pen = false;
        for (const i of idx) {
          const v = vals[i];
          if (!Number.isFinite(v) || (log && v <= 0)) { pen = false; continue; }
          const x = X(s.step[i]), y = Y(v);
          if (pen) g.lineTo(x, y); else { g.moveTo(x, y); pen = true; }
        }
        g.stroke();
      };
      if (state.smooth > 0 && m.key !== "lr" && !m.sparse) { path(ys, 1, 0.25); path(smooth, 1.8, 1); } else path(ys, 1.5, 1);
      g.globalAlpha = 1;
      if (m.sparse) {   // a marker at every evaluation
        g.fillStyle = color;
        for (const i of idx) {
          const v = ys[i];
          if (!Number.isFinite(v) || (log && v <= 0)) continue;
          g.beginPath(); g.arc(X(s.step[i]), Y(v), 3.5, 0, 2 * Math.PI); g.fill();
        }
      }
      // non-finite values: a red mark at the top
      g.fillStyle = "#d00";
      for (const i of idx) if (ys[i] !== null && !Number.isFinite(ys[i])) g.fillRect(X(s.step[i]) - 1, pad.t, 3, 8);
    }
    g.restore();
    // alerts of the drawn runs: a dashed line at their step
    g.strokeStyle = "#d00"; g.setLineDash([3, 3]);
    for (const al of state.alerts) if (state.selected.includes(al.run) && al.step >= x0 && al.step <= x1) { const x = X(al.step); g.beginPath(); g.moveTo(x, pad.t); g.lineTo(x, pad.t + ph); g.stroke(); }
    g.setLineDash([]);
    if (chart.drag) {
      g.fillStyle = "rgba(30,120,220,0.15)";
      const [p, q] = [chart.drag.from, chart.drag.to].sort((u, v) => u - v);
      if (!chart.drag.pan) g.fillRect(p, pad.t, q - p, ph);
    }
    if (chart.hoverX !== null) readoutAt(chart, lines);
  }

  function readoutAt(chart, lines) {
    const v = chart.view;
    const step = v.x0 + (chart.hoverX - v.pad.l) / v.pw * (v.x1 - v.x0);
    const parts = [`step ${MM.fmtNumber(Math.round(step))}`];
    for (const { run, s, ys, smooth } of lines) {
      let best = -1, d = Infinity;
      for (let i = 0; i < s.step.length; i++) { const e = Math.abs(s.step[i] - step); if (e < d) { d = e; best = i; } }
      if (best < 0) continue;
      const name = runName(run);
      if (chart.m.sparse) { parts.push(`${name} @${MM.fmtNumber(s.step[best])}: loss ${chart.m.fmt(ys[best])}, perplexity ${MM.fmtNumber(s.evalPpl[best])}`); continue; }
      parts.push(`${name} @${MM.fmtNumber(s.step[best])}: ${chart.m.fmt(ys[best])}${state.smooth > 0 ? ` (smoothed ${chart.m.fmt(smooth[best])})` : ""}`);
    }
    chart.readout.textContent = parts.join(" · ");
  }

  function drawAll() { for (const c of charts) draw(c); probe(); }

  // ---- zoom (drag), reset (double-click), pan (shift+drag or wheel with shift), zoom around the cursor (wheel) ----
  function attachMouse(chart) {
    const c = chart.canvas;
    const xOf = e => e.clientX - c.getBoundingClientRect().left;
    c.addEventListener("mousedown", e => { chart.drag = { from: xOf(e), to: xOf(e), pan: e.shiftKey, range: state.range || fullExtent() }; });
    c.addEventListener("mousemove", e => {
      chart.hoverX = xOf(e);
      if (chart.drag) {
        chart.drag.to = xOf(e);
        if (chart.drag.pan && chart.view) {
          const [a, b] = chart.drag.range, dx = (chart.drag.from - chart.drag.to) / chart.view.pw * (b - a);
          setRange([a + dx, b + dx], false);
          return;
        }
      }
      draw(chart);
    });
    c.addEventListener("mouseleave", () => { chart.hoverX = null; chart.readout.textContent = ""; draw(chart); });
    window.addEventListener("mouseup", () => {
      const d = chart.drag;
      if (!d) return;
      chart.drag = null;
      const v = chart.view;
      if (!v) return;
      if (d.pan) { setRange(state.range, true); return; }
      if (Math.abs(d.to - d.from) < 5) { draw(chart); return; }
      const toX = px => v.x0 + (Math.min(Math.max(px, v.pad.l), v.pad.l + v.pw) - v.pad.l) / v.pw * (v.x1 - v.x0);
      const [p, q] = [toX(d.from), toX(d.to)].sort((u, w) => u - w);
      setRange([Math.floor(p), Math.ceil(q)], true);
    });
    c.addEventListener("dblclick", () => setRange(null, true));
    c.addEventListener("wheel", e => {
      if (!chart.view) return;
      e.preventDefault();
      const [a, b] = state.range || fullExtent();
      const v = chart.view, at = a + (xOf(e) - v.pad.l) / v.pw * (b - a);
      if (e.shiftKey) { const dx = (b - a) * 0.1 * Math.sign(e.deltaY || e.deltaX); setRange([a + dx, b + dx], true); return; }
      const f = e.deltaY > 0 ? 1.25 : 0.8;
      setRange([at - (at - a) * f, at + (b - at) * f], true);
    }, { passive: false });
  }

  let zoomTimer = null;
  function setRange(range, fetchNow) {
    if (range) {
      const [lo, hi] = fullExtent();
      let [a, b] = range;
      if (b - a < 4) { const mid = (a + b) / 2; a = mid - 2; b = mid + 2; }
      if (a <= lo && b >= hi) range = null; else range = [a, b];
    }
    state.range = range;
    $("range").textContent = range ? `steps ${MM.fmtNumber(Math.max(0, Math.round(range[0])))}–${MM.fmtNumber(Math.round(range[1]))} (double-click to reset)` : "all steps";
    drawAll();
    updateUrl();
    if (fetchNow && range) { clearTimeout(zoomTimer); zoomTimer = setTimeout(fetchZoom, 150); }
  }

  /** The zoomed range at the resolution the canvas can show: per step when it fits. */
  async function fetchZoom() {
    const range = state.range;
    if (!range) return;
    const width = Math.max(200, Math.floor(charts[0].canvas.clientWidth || 600));
    const from = Math.max(1, Math.floor(range[0])), to = Math.ceil(range[1]);
    await Promise.all(state.selected.map(async run => {
      const full = state.series[run];
      if (full && full.count.every(c => c === 1)) return;   // already every step
      const h = await getJson(withToken(`/api/metrics/history?run=${encodeURIComponent(run)}&from=${from}&to=${to}&max=${width * 2}`));
      state.zoomed[run] = { range: [from, to], series: MM.append(null, MM.parseColumns(h.points)) };
    }));
    drawAll();
  }

  // ---- runs ----
  function runName(id) {
    const r = state.runs.find(x => x.run === id);
    if (!r) return id;
    const same = state.runs.filter(x => x.name === r.name).length > 1;
    return same ? `${r.name} (${r.runDir.split("/").filter(Boolean).pop() || r.runDir})` : r.name;
  }

  function renderRuns() {
    const body = $("runs").querySelector("tbody");
    body.replaceChildren();
    for (const r of state.runs.slice().reverse()) {
      const box = el("input", { type: "checkbox", "data-run": r.run });
      box.checked = state.selected.includes(r.run);
      box.addEventListener("change", () => select(r.run, box.checked));
      const swatch = el("i", { class: "swatch", style: box.checked ? `background:${colorOf(r.run)}` : "" });
      const details = el("details", {}, el("summary", {}, MM.configSummary(r.settings) || "-"), el("pre", {}, JSON.stringify(r.settings, null, 1)));
      body.append(el("tr", { "data-run": r.run }, el("td", {}, box, swatch), el("td", {}, runName(r.run)), el("td", {}, r.stage || "-"),
        el("td", { class: "status-" + r.status }, r.status), el("td", { class: "num" }, MM.fmtNumber(r.newestStep)),
        el("td", {}, new Date(r.began).toLocaleString()), el("td", { class: "dir" }, r.runDir || "-"), el("td", {}, details)));
    }
    $("legend").replaceChildren(...state.selected.map(id => el("span", {}, el("i", { style: `background:${colorOf(id)}` }), runName(id))));
  }

  async function loadHistory(run) {
    const h = await getJson(withToken(`/api/metrics/history?run=${encodeURIComponent(run)}&max=${state.overview}`));
    state.series[run] = MM.append(null, MM.parseColumns(h.points));
    state.evals[run] = MM.mergeEval(null, MM.parseColumns(h.eval || { step: [], loss: [], perplexity: [] }));
    delete state.zoomed[run];
  }

  async function select(run, on) {
    state.selected = on ? [...state.selected.filter(r => r !== run), run] : state.selected.filter(r => r !== run);
    if (on && !state.series[run]) await loadHistory(run);
    updateUrl();
    renderRuns();
    drawAll();
    openStream();
  }

  function updateUrl() {
    const p = new URLSearchParams(location.search);
    p.set("runs", state.selected.join(","));
    p.set("smooth", String(state.smooth));
    if (state.range) p.set("range", `${Math.round(state.range[0])}-${Math.round(state.range[1])}`); else p.delete("range");
    history.replaceState(null, "", "?" + p.toString());
  }

  // ---- live: only new points (Server-Sent Events), resumed from the newest step on reconnect ----
  function openStream() {
    if (state.stream) { state.stream.close(); state.stream = null; }
    const live = state.selected.filter(id => (state.runs.find(r => r.run === id) || {}).status === "running");
    if (!live.length || params.get("live") === "off") return;
    const after = live.map(id => { const s = state.series[id]; return s && s.step.length ? s.step[s.step.length - 1] : 0; }).join(",");
    const q = live.map(id => "run=" + encodeURIComponent(id)).join("&");
    const es = new EventSource(withToken(`/api/metrics/stream?${q}&after=${after}`));
    es.addEventListener("rows", e => {
      const d = JSON.parse(e.data);
      state.series[d.run] = MM.append(state.series[d.run], MM.parseColumns(d.points));
      const r = state.runs.find(x => x.run === d.run);
      if (r) r.newestStep = state.series[d.run].step[state.series[d.run].step.length - 1];
      scheduleDraw();
    });
    es.addEventListener("eval", e => { const d = JSON.parse(e.data); state.evals[d.run] = MM.mergeEval(state.evals[d.run], MM.parseColumns(d.points)); scheduleDraw(); });
    es.addEventListener("rewind", e => {
      const d = JSON.parse(e.data);
      MM.rewind(state.series[d.run], d.after);
      MM.rewind(state.evals[d.run], d.after);
      delete state.zoomed[d.run];
      scheduleDraw();
    });
    es.addEventListener("reload", async e => { await loadHistory(JSON.parse(e.data).run); scheduleDraw(); });
    es.addEventListener("alert", e => { state.alerts.push(JSON.parse(e.data)); renderAlerts(); scheduleDraw(); });
    es.onopen = () => status(`live: ${live.map(runName).join(", ")}`);
    es.onerror = () => status("live stream interrupted; reconnecting…");
    state.stream = es;
  }

  let drawPending = false;
  function scheduleDraw() {
    if (drawPending) return;
    drawPending = true;
    requestAnimationFrame(() => { drawPending = false; renderRuns(); drawAll(); });
  }

  // ---- alerts and system panel ----
  function renderAlerts() {
    const list = $("alerts");
    list.replaceChildren(...state.alerts.slice(-50).reverse().map(a =>
      el("li", { class: "alert-" + a.kind }, `${new Date(a.at).toLocaleTimeString()} ${a.kind.replace("_", " ")} in ${runName(a.run)} at step ${MM.fmtNumber(a.step)}: ${a.text}`)));
    $("alerts-box").hidden = state.alerts.length === 0;
  }

  async function refreshSide() {
    try {
      const a = await getJson(withToken("/api/alerts"));
      const seen = new Set(state.alerts.map(x => x.run + x.kind + x.step));
      for (const x of a.alerts) if (!seen.has(x.run + x.kind + x.step)) state.alerts.push(x);
      renderAlerts();
      const sys = await getJson(withToken("/api/system"));
      $("system").querySelector("tbody").replaceChildren(...sys.nodes.map(n => el("tr", {}, el("td", {}, n.address), el("td", {}, "[" + n.roles.join(",") + "]"),
        el("td", { class: "num" }, n.cpuPercent === null ? "-" : MM.fmtNumber(Math.round(n.cpuPercent)) + " %"), el("td", { class: "num" }, String(n.cores || "-")),
        el("td", { class: "num" }, MM.fmtBytes(n.rssBytes)), el("td", {}, n.device || "none (coordinator only)"), el("td", {}, n.error || ""))));
    } catch (e) { status("could not refresh: " + e.message); }
  }

  // ---- the test probe (?probe=1): what is drawn, as JSON in the DOM ----
  function probe() {
    if (!state.probe) return;
    const out = { smooth: state.smooth, range: state.range, runs: {} };
    for (const run of state.selected) {
      const s = state.series[run];
      if (!s) continue;
      const ev = state.evals[run] || MM.emptyEval();
      out.runs[run] = { name: runName(run), steps: s.step, count: s.count, loss: s.loss, lr: s.lr, gradNorm: s.gradNorm, smoothedLoss: MM.ema(s.loss, state.smooth),
        eval: { steps: ev.step, loss: ev.evalLoss, perplexity: ev.evalPpl } };
      if (MM.RL_KEYS.some(k => MM.hasValues(s, k))) out.runs[run].rl = Object.fromEntries(MM.RL_KEYS.map(k => [k, s[k]]));
      const z = state.zoomed[run];
      if (z) out.runs[run].zoomed = { range: z.range, steps: z.series.step, count: z.series.count, loss: z.series.loss };
    }
    $("probe").textContent = JSON.stringify(out);
  }

  async function start() {
    const slider = $("smooth");
    slider.value = String(state.smooth);
    $("smooth-value").textContent = state.smooth.toFixed(2);
    slider.addEventListener("input", () => { state.smooth = Number(slider.value); $("smooth-value").textContent = state.smooth.toFixed(2); updateUrl(); drawAll(); });
    window.addEventListener("resize", drawAll);
    try {
      state.runs = (await getJson(withToken("/api/metrics/runs"))).runs;
    } catch (e) {
      status("no run history here: " + e.message);
      await refreshSide();
      return;
    }
    const wanted = (params.get("runs") || "").split(",").filter(id => state.runs.some(r => r.run === id));
    const initial = wanted.length ? wanted : state.runs.length ? [state.runs[state.runs.length - 1].run] : [];
    state.selected = initial;
    await Promise.all(initial.map(loadHistory));
    const asked = /^(\d+)-(\d+)$/.exec(params.get("range") || "");   // a shared view: its zoom
    if (asked) {
      state.range = [Number(asked[1]), Number(asked[2])];
      $("range").textContent = `steps ${MM.fmtNumber(state.range[0])}–${MM.fmtNumber(state.range[1])} (double-click to reset)`;
      await fetchZoom();
    }
    status(`${state.runs.length} run(s) in this journal; showing ${initial.map(runName).join(", ") || "none"}`);
    updateUrl();
    renderRuns();
    drawAll();
    openStream();
    await refreshSide();
    document.body.dataset.ready = "1";
    setInterval(refreshSide, 5000);
    setInterval(async () => {   // new runs appear in the list; a run that ended stops streaming
      try {
        const runs = (await getJson(withToken("/api/metrics/runs"))).runs;
        const changed = runs.length !== state.runs.length || runs.some((r, i) => r.status !== (state.runs[i] || {}).status);
        state.runs = runs.map(r => ({ ...r, newestStep: Math.max(r.newestStep, (state.runs.find(x => x.run === r.run) || {}).newestStep || 0) }));
        if (changed) { renderRuns(); openStream(); }
      } catch (e) { /* the next refresh says it */ }
    }, 5000);
  }
  start();
})();

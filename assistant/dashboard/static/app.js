// The guardian's dashboard: reads /api/status and /api/history once, then follows
// /api/events (health once a second, alerts and actions as they happen). Read-only.
// Every text from the service is put in with textContent, never parsed as HTML.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const SILENCE = 3.5; // seconds without a health event before the page says it is out of contact
  const HOURS = 6;
  const $ = (id) => document.getElementById(id);

  const page = {
    status: null, // the last `status --json` body
    guardian: null, // mode, pause, readiness, alert tiers
    problem: "", // why there is no status, when there is none
    serverAt: 0, // the service's clock at the last health event (ms)
    heardAt: 0, // this browser's clock then
    connected: false,
    series: { t: [], ratio: [], distance: [] },
    charts: {},
  };

  // The token opened the page and a cookie keeps it open: keep it out of the address bar.
  if (new URLSearchParams(location.search).has("token")) {
    history.replaceState(null, "", location.pathname);
  }

  // ---- numbers --------------------------------------------------------------------------

  // A decimal string as a percentage, truncated (never rounded up): "0.12345" -> "12.34%".
  function pct(text, places = 2) {
    if (text === null || text === undefined || text === "") return "—";
    let s = String(text);
    if (/e/i.test(s)) return (Number(s) * 100).toFixed(places) + "%";
    const negative = s.startsWith("-");
    if (negative) s = s.slice(1);
    const [whole, frac = ""] = s.split(".");
    const digits = frac.padEnd(2 + places, "0");
    const head = (whole + digits.slice(0, 2)).replace(/^0+(?=\d)/, "");
    const tail = places ? "." + digits.slice(2, 2 + places) : "";
    return (negative ? "-" : "") + head + tail + "%";
  }

  function money(text) {
    if (text === null || text === undefined) return "—";
    return Number(text).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function price(value) {
    const n = Number(value);
    const places = n >= 1000 ? 2 : n >= 1 ? 4 : 6;
    return n.toLocaleString("en-US", { minimumFractionDigits: places, maximumFractionDigits: places });
  }

  function side(p) {
    if (p.positionSide !== "BOTH") return p.positionSide;
    return Number(p.positionAmt) < 0 ? "SHORT" : "LONG";
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
  }

  function seconds(s) {
    return s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`;
  }

  // ---- drawing --------------------------------------------------------------------------

  function el(tag, attrs = {}, text) {
    const node = tag.startsWith("svg:")
      ? document.createElementNS(SVG, tag.slice(4))
      : document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function zone(value, tiers) {
    let z = 0;
    tiers.forEach((tier, i) => { if (value >= tier) z = Math.min(3, i + 1); });
    return "z" + z;
  }

  function arc(from, to, radius = 80) {
    // The gauge's half circle: 0 at the left, 1 (liquidation) at the right.
    const at = (v) => {
      const angle = Math.PI * (1 - Math.max(0, Math.min(1, v)));
      return [100 + radius * Math.cos(angle), 100 - radius * Math.sin(angle)];
    };
    const [x1, y1] = at(from);
    const [x2, y2] = at(to);
    return `M ${x1.toFixed(2)} ${y1.toFixed(2)} A ${radius} ${radius} 0 0 1 ${x2.toFixed(2)} ${y2.toFixed(2)}`;
  }

  function gauge(ratioText, tiersText, balanceText) {
    const svg = el("svg:svg", { viewBox: "0 0 200 125", role: "img" });
    const tiers = tiersText.map(Number);
    svg.append(el("svg:path", { class: "track", d: arc(0, 1) }));
    const edges = [0, ...tiers, 1];
    for (let i = 0; i + 1 < edges.length; i++) {
      svg.append(el("svg:path", { class: `zone z${Math.min(3, i)}`, d: arc(edges[i], edges[i + 1], 94) }));
    }
    // No ratio with a balance at or below zero: past liquidation, not "unknown".
    const broke = (ratioText === null || ratioText === undefined) && balanceText != null && Number(balanceText) <= 0;
    const ratio = broke ? Infinity : ratioText === null || ratioText === undefined ? null : Number(ratioText);
    if (ratio !== null && ratio > 0) {
      svg.append(el("svg:path", { class: `value-arc ${zone(ratio, tiers)}`, d: arc(0, Math.min(ratio, 1)) }));
    }
    for (const tier of tiers) {
      const angle = Math.PI * (1 - tier);
      const [cx, cy] = [100 + 70 * Math.cos(angle), 100 - 70 * Math.sin(angle)];
      const [ox, oy] = [100 + 97 * Math.cos(angle), 100 - 97 * Math.sin(angle)];
      svg.append(el("svg:line", { class: "tick", x1: cx, y1: cy, x2: ox, y2: oy }));
    }
    svg.append(el("svg:text", { class: "gauge-value", x: 100, y: 94, "data-ratio": ratioText ?? "" },
      broke ? "≥ 100%" : ratio === null ? "n/a" : pct(ratioText)));
    const caption = tiers.length ? `margin ratio · alerts at ${tiers.map((t) => pct(String(t), 0)).join(" / ")}` : "margin ratio";
    svg.append(el("svg:text", { class: "gauge-caption", x: 100, y: 118 }, caption));
    return svg;
  }

  // Distance falls towards liquidation: below the last tier is the worst zone.
  function distanceZone(value, tiers) {
    let z = 0;
    tiers.forEach((tier, i) => { if (value <= tier) z = Math.min(3, i + 1); });
    return "z" + z;
  }

  function distanceBar(distText, tiersText) {
    const tiers = tiersText.map(Number);
    const top = Math.max(0.15, ...tiers.map((t) => t * 1.5));
    const x = (v) => 6 + (Math.max(0, Math.min(v, top)) / top) * 188;
    const svg = el("svg:svg", { viewBox: "0 0 200 46", role: "img", class: "distance" });
    const value = distText === null || distText === undefined ? null : Number(distText);
    svg.append(el("svg:text", { class: "distance-caption", x: 6, y: 12 }, "distance to liquidation"));
    svg.append(el("svg:text", { class: `distance-value ${value === null ? "z0" : distanceZone(value, tiers)}`, x: 194, y: 14, "data-distance": distText ?? "" },
      value === null ? "none" : pct(distText)));
    svg.append(el("svg:rect", { class: "bar-track", x: 6, y: 20, width: 188, height: 12 }));
    const edges = [top, ...tiers, 0];
    for (let i = 0; i + 1 < edges.length; i++) {
      const [a, b] = [x(edges[i + 1]), x(edges[i])];
      svg.append(el("svg:rect", { class: `bar-zone z${Math.min(3, i)}`, x: a, y: 34, width: Math.max(0, b - a), height: 3 }));
    }
    if (value !== null) {
      svg.append(el("svg:rect", { class: `bar-value ${distanceZone(value, tiers)}`, x: 6, y: 20, width: Math.max(1, x(value) - 6), height: 12 }));
    }
    for (const tier of tiers) {
      svg.append(el("svg:line", { class: "tick", x1: x(tier), y1: 18, x2: x(tier), y2: 38 }));
      svg.append(el("svg:text", { class: "bar-label", x: x(tier), y: 45 }, pct(String(tier), 0)));
    }
    return svg;
  }

  function card(id, title, ratio, tiers, distance, lines, balance = null) {
    const box = el("div", { class: "pool", id });
    box.append(el("h3", {}, title), gauge(ratio, tiers, balance));
    if (distance) box.append(distanceBar(distance.value, distance.tiers));
    for (const line of lines) box.append(el("p", {}, line));
    return box;
  }

  // Figures resting on an assumption rather than on Binance's data, said out loud.
  function renderAssumed() {
    const s = page.status;
    const said = s ? [...(s.assumptions || [])] : [];
    for (const [symbol, rate] of Object.entries((s && s.assumed_brackets) || {})) {
      said.push(`${symbol} is computed at an assumed maintenance rate of ${pct(rate)}: Binance sent no leverage brackets for it`);
    }
    $("assumed").replaceChildren(...said.map((text) => el("li", {}, "ASSUMED: " + text)));
  }

  function renderPools() {
    const holder = $("pools");
    const s = page.status;
    const tiers = page.guardian ? page.guardian.tiers : { margin_ratio: [], isolated_ratio: [], distance: [] };
    holder.replaceChildren();
    if (!s) {
      holder.append(el("p", { class: "empty" }, page.problem || "no figures yet"));
      return;
    }
    const dist = s.distance_to_liquidation || {};
    const moves = [dist.down, dist.up].filter((v) => v !== null && v !== undefined);
    const nearest = moves.length ? moves.reduce((a, b) => (Number(b) < Number(a) ? b : a)) : null;
    const pools = Array.isArray(s.pools) && s.pools.length ? s.pools : [{
      asset: "USDT", margin_ratio: s.margin_ratio, margin_balance: s.margin_balance,
      maintenance_margin: s.maintenance_margin, wallet_balance: s.wallet_balance,
    }];
    // The top-level figures (distance included) describe the pool closest to liquidation.
    const closest = pools.find((p) => p.asset === s.pool)
      || pools.reduce((a, b) => (Number(b.margin_ratio ?? 0) > Number(a.margin_ratio ?? 0) ? b : a));
    const mode = s.account_mode && s.account_mode !== "single-asset" ? ` (${s.account_mode})` : "";
    for (const pool of pools) {
      const lines = [];
      let distance = null;
      if (pool === closest) {
        distance = { value: nearest, tiers: tiers.distance };
        lines.push(`every mark down ${dist.down ? pct(dist.down) : "never"}, up ${dist.up ? pct(dist.up) : "never"}`);
      }
      lines.push(`margin balance ${money(pool.margin_balance)} · maintenance ${money(pool.maintenance_margin)}`);
      lines.push(`wallet ${money(pool.wallet_balance)}`);
      holder.append(card(`pool-${pool.asset}`, `${pool.asset} pool${mode}`, pool.margin_ratio, tiers.margin_ratio, distance, lines, pool.margin_balance));
    }
    for (const p of s.positions || []) {
      if (p.marginType !== "isolated") continue;
      const gap = p.liquidation_price ? Math.abs(Number(p.markPrice) - Number(p.liquidation_price)) / Number(p.markPrice) : null;
      holder.append(card(`isolated-${p.symbol}-${p.positionSide}`, `${p.symbol} ${side(p)} isolated`,
        p.margin_ratio, tiers.isolated_ratio, { value: gap === null ? null : String(gap), tiers: tiers.distance },
        [`isolated wallet ${money(p.isolatedWallet)}`]));
    }
  }

  function rung(symbol, positions, W) {
    const box = el("div", { class: "rung" });
    const mark = Number(positions[0].markPrice);
    const liqs = positions.filter((p) => p.liquidation_price).map((p) => Number(p.liquidation_price));
    const values = [mark, ...liqs];
    let lo = Math.min(...values);
    let hi = Math.max(...values);
    const pad = Math.max((hi - lo) * 0.15, mark * 0.02);
    lo -= pad;
    hi += pad;
    const x = (v) => 20 + ((v - lo) / (hi - lo)) * (W - 40);
    const height = 70 + 14 * Math.max(1, liqs.length);
    const svg = el("svg:svg", { viewBox: `0 0 ${W} ${height}` });
    const title = positions.map((p) => `${side(p)} ${p.positionAmt.replace("-", "")}`).join(", ");
    box.append(el("h3", {}, `${symbol}  `), svg);
    box.firstChild.append(el("span", { class: "dim" }, title));
    svg.append(el("svg:line", { class: "axis", x1: 20, y1: 40, x2: W - 20, y2: 40 }));
    for (const p of positions) {
      if (!p.liquidation_price) continue;
      const liq = Number(p.liquidation_price);
      const short = Number(p.positionAmt) < 0;
      const [a, b] = short ? [x(liq), W - 20] : [20, x(liq)];
      svg.append(el("svg:rect", { class: "danger", x: a, y: 22, width: Math.max(0, b - a), height: 36 }));
    }
    positions.forEach((p, i) => {
      if (!p.liquidation_price) return;
      const liq = Number(p.liquidation_price);
      const lx = x(liq);
      const gap = Math.abs(mark - liq) / mark;
      const past = Number(p.positionAmt) < 0 ? mark >= liq : mark <= liq;
      svg.append(el("svg:line", { class: "liq-line", x1: lx, y1: 20, x2: lx, y2: 60 }));
      const anchor = lx > W * 0.8 ? "end" : lx < W * 0.2 ? "start" : "middle";
      svg.append(el("svg:text", { class: "liq-label", x: lx, y: 78 + 14 * i, "text-anchor": anchor },
        past ? `liq ${price(liq)}: PAST IT by ${pct(String(gap))}` : `liq ${price(liq)} (${pct(String(gap))} away)`));
      const mx = x(mark);
      svg.append(el("svg:line", { class: "gap-line", x1: Math.min(lx, mx), y1: 40, x2: Math.max(lx, mx), y2: 40 }));
    });
    const mx = x(mark);
    svg.append(el("svg:line", { class: "mark-line", x1: mx, y1: 16, x2: mx, y2: 64 }));
    const anchor = mx > W * 0.8 ? "end" : mx < W * 0.2 ? "start" : "middle";
    svg.append(el("svg:text", { class: "mark-label", x: mx, y: 12, "text-anchor": anchor }, `mark ${price(mark)}`));
    if (!liqs.length) box.append(el("p", { class: "dim" }, "no liquidation price: this mark alone cannot liquidate it"));
    return box;
  }

  function renderLadder() {
    const holder = $("ladder");
    const s = page.status;
    holder.replaceChildren();
    if (!s || !(s.positions || []).length) {
      holder.append(el("p", { class: "empty" }, s ? "no open positions" : "no figures yet"));
      return;
    }
    const bySymbol = new Map();
    for (const p of s.positions) {
      if (!bySymbol.has(p.symbol)) bySymbol.set(p.symbol, []);
      bySymbol.get(p.symbol).push(p);
    }
    const width = Math.max(360, Math.round(holder.clientWidth - 30)); // 1 unit ≈ 1 pixel
    for (const [symbol, positions] of bySymbol) holder.append(rung(symbol, positions, width));
    holder.append(el("p", { class: "dim" },
      "blue: the mark · red: the liquidation price (computed by the guardian), and the prices beyond it"));
  }

  // ---- the charts (uPlot) ----------------------------------------------------------------

  function tierLines(key) {
    return (u) => {
      const tiers = page.guardian ? page.guardian.tiers[key] : [];
      const ctx = u.ctx;
      ctx.save();
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.font = `${11 * devicePixelRatio}px sans-serif`;
      tiers.forEach((tier, i) => {
        const y = u.valToPos(Number(tier) * 100, "y", true);
        if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) return;
        const colour = ["#f0b429", "#f08c29", "#ef4444"][Math.min(2, i)];
        ctx.strokeStyle = colour;
        ctx.fillStyle = colour;
        ctx.beginPath();
        ctx.moveTo(u.bbox.left, y);
        ctx.lineTo(u.bbox.left + u.bbox.width, y);
        ctx.stroke();
        ctx.fillText(pct(tier, 0), u.bbox.left + (4 + 34 * i) * devicePixelRatio, y - 3 * devicePixelRatio);
      });
      ctx.restore();
    };
  }

  // Times on the axis in 24-hour local time; seconds only when the span is short.
  function timeLabels(u, splits) {
    const span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
    const places = span > 600 ? 5 : 8;
    return splits.map((t) => new Date(t * 1000).toLocaleTimeString("en-GB", { hour12: false }).slice(0, places));
  }

  function chart(id, label, key, colour, range) {
    const holder = $(id);
    const options = {
      width: Math.max(300, holder.clientWidth - 2),
      height: 200,
      scales: { x: { time: true }, y: { range } },
      axes: [
        { stroke: "#8b95a1", grid: { stroke: "#242b33" }, ticks: { stroke: "#2a313a" }, values: timeLabels },
        { stroke: "#8b95a1", grid: { stroke: "#242b33" }, ticks: { stroke: "#2a313a" }, values: (u, v) => v.map((n) => n + "%") },
      ],
      series: [{}, { label, stroke: colour, width: 2, value: (u, v) => (v === null ? "—" : v.toFixed(2) + "%") }],
      hooks: { draw: [tierLines(key)] },
    };
    return new uPlot(options, [[], []], holder);
  }

  function setupCharts() {
    if (typeof uPlot === "undefined") return;
    page.charts.ratio = chart("chart-ratio", "margin ratio", "margin_ratio", "#4aa3ff",
      (u, min, max) => [0, Math.max(100, max === null ? 0 : max * 1.05)]);
    page.charts.distance = chart("chart-distance", "distance", "distance", "#2fbf71",
      (u, min, max) => {
        const tiers = page.guardian ? page.guardian.tiers.distance.map(Number) : [0.1];
        return [0, Math.max(Math.max(...tiers, 0.05) * 150, max === null ? 0 : max * 1.1)];
      });
    addEventListener("resize", () => {
      for (const [key, u] of Object.entries(page.charts)) {
        u.setSize({ width: Math.max(300, $(`chart-${key}`).clientWidth - 2), height: 200 });
      }
    });
  }

  function addPoint(at, ratio, distance) {
    const s = page.series;
    const t = at / 1000;
    if (s.t.length && t <= s.t[s.t.length - 1]) return;
    s.t.push(t);
    s.ratio.push(ratio === null || ratio === undefined ? null : Number(ratio) * 100);
    s.distance.push(distance === null || distance === undefined ? null : Number(distance) * 100);
    const since = t - HOURS * 3600;
    while (s.t.length && s.t[0] < since) { s.t.shift(); s.ratio.shift(); s.distance.shift(); }
  }

  function drawCharts() {
    const s = page.series;
    if (page.charts.ratio) page.charts.ratio.setData([s.t, s.ratio]);
    if (page.charts.distance) page.charts.distance.setData([s.t, s.distance]);
  }

  // ---- alerts ----------------------------------------------------------------------------

  function alertRow(a, fresh) {
    const action = a.outcome !== null && a.outcome !== undefined && a.outcome !== "";
    const li = el("li", { class: fresh ? "fresh" : "" });
    li.append(el("time", {}, clock(a.at)));
    li.append(el("span", { class: `sev ${action ? "action" : a.severity}` }, action ? a.outcome : a.severity));
    li.append(el("span", {}, a.text));
    return li;
  }

  function showAlerts(list) {
    const holder = $("alerts");
    holder.replaceChildren(...list.map((a) => alertRow(a, false)));
    if (!list.length) holder.append(el("li", { class: "empty" }, "none yet"));
  }

  function addAlert(a) {
    const holder = $("alerts");
    const empty = holder.querySelector(".empty");
    if (empty) empty.remove();
    holder.prepend(alertRow(a, true));
    while (holder.children.length > 100) holder.lastChild.remove();
  }

  // ---- the header and the banner ---------------------------------------------------------

  function renderFacts() {
    const g = page.guardian;
    const s = page.status;
    if (g) {
      const source = s && s.mode_source ? ` (${s.mode_source})` : "";
      $("mode").textContent = g.mode + source;
      $("paused").textContent = g.paused ? "PAUSED" : "on";
      $("paused").className = g.paused ? "loud" : "good";
    }
    $("account-mode").textContent = s ? (s.account_mode || "single-asset") : "—";
  }

  function now() {
    // The service's clock, carried forward by this browser's since the last event.
    return page.serverAt ? page.serverAt + (Date.now() - page.heardAt) : Date.now();
  }

  function banner() {
    const silent = page.heardAt ? (Date.now() - page.heardAt) / 1000 : Infinity;
    const s = page.status;
    const age = s && s.updated_at ? (now() - s.updated_at) / 1000 : Infinity;
    let title = "";
    let text = "";
    if (!page.connected || silent > SILENCE) {
      title = "NO CONTACT WITH THE GUARDIAN";
      text = isFinite(silent)
        ? `nothing heard for ${seconds(silent)}: the figures below are old, and the service may be down`
        : "nothing heard from the service yet";
    } else if (!s) {
      title = "NO HEALTH";
      text = page.problem || "the guardian cannot compute the account's health";
    } else if (s.stale) {
      title = "DATA IS STALE";
      text = `no fresh prices for ${seconds(age)}: the guardian is blind to the market, and so are these figures`;
    } else if (page.guardian && !page.guardian.ready) {
      title = "NOT MIRRORED";
      text = page.guardian.not_ready || "waiting for a fresh snapshot of the account";
    }
    document.body.classList.toggle("blind", title !== "");
    $("banner-title").textContent = title;
    $("banner-text").textContent = text;
    $("freshness").textContent = s && isFinite(age) ? `${age.toFixed(1)} s old` : "—";
    $("freshness").className = s && s.stale ? "bad" : "good";
    $("link").textContent = page.connected && silent <= SILENCE ? "live" : "lost";
    $("link").className = page.connected && silent <= SILENCE ? "good" : "bad";
  }

  function health(data) {
    page.serverAt = data.at;
    page.heardAt = Date.now();
    page.status = data.status;
    page.problem = data.problem;
    page.guardian = data.guardian;
    const s = data.status;
    if (s) {
      const d = s.distance_to_liquidation || {};
      const moves = [d.down, d.up].filter((v) => v !== null && v !== undefined).map(Number);
      addPoint(data.at, s.margin_ratio, moves.length ? Math.min(...moves) : null);
    }
    render();
    $("updated").textContent = `Updated ${clock(data.at)}.`;
  }

  function render() {
    renderFacts();
    renderAssumed();
    renderPools();
    renderLadder();
    drawCharts();
    banner();
  }

  // ---- talking to the service ------------------------------------------------------------

  async function getJSON(path) {
    const response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
    if (!response.ok && response.status !== 503) throw new Error(`${path}: HTTP ${response.status}`);
    return [response.status, await response.json()];
  }

  async function load() {
    try {
      const [, history] = await getJSON(`api/history?hours=${HOURS}`);
      page.guardian = history.guardian;
      page.series = { t: [], ratio: [], distance: [] };
      for (const row of history.series) addPoint(row.at, row.margin_ratio, row.distance);
      showAlerts(history.alerts);
      const [code, body] = await getJSON("api/status");
      page.status = code === 200 ? body : null;
      page.problem = code === 200 ? "" : body.error;
      page.serverAt = history.at;
      page.heardAt = Date.now();
      render();
    } catch (error) {
      page.problem = String(error);
      banner();
    }
  }

  function follow() {
    const events = new EventSource("api/events");
    events.addEventListener("open", () => {
      const reconnected = page.connected === false && page.heardAt !== 0;
      page.connected = true;
      page.heardAt = Date.now();
      if (reconnected) load(); // alerts said while away, and the series, come again
      banner();
    });
    events.addEventListener("error", () => { page.connected = false; banner(); });
    events.addEventListener("health", (e) => health(JSON.parse(e.data)));
    events.addEventListener("alert", (e) => addAlert(JSON.parse(e.data)));
    events.addEventListener("action", (e) => addAlert(JSON.parse(e.data)));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".hours").forEach((n) => { n.textContent = String(HOURS); });
    setupCharts();
    load().then(follow);
    setInterval(banner, 500);
  });
})();

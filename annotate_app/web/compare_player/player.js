// The comparison player of the clip page (an st.components.v2 component; plain ES module, no build step).
//
// All candidates of a clip in one grid sized to the viewport, on one clock: the focused candidate's
// video is the master (and the only one with sound); the others follow it, nudged by playback rate
// for small drift and re-seeked for large drift. The scores, broken flags, comments, watched
// fractions and the key focus live here, so a key press moves the focus outline at once, without a
// Streamlit rerun. Python gets the whole draft (debounced) as state `draft`, and `submit` when the
// annotator asks for it and nothing is missing. Python's data is read once per mount (the saved
// draft), except `refusal`, a server-side refusal to show.
//
// Trusted code: nothing from the data is ever written as HTML (textContent and attributes only).

const SPEEDS = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 2];
const SAVE_MS = 250;
const PANEL_MIN_W = 196;

function el(tag, cls, parent) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (parent) parent.appendChild(e);
  return e;
}

function playedSeconds(v) {
  let s = 0;
  for (let i = 0; i < v.played.length; i++) s += v.played.end(i) - v.played.start(i);
  return s;
}

function typing(t) {
  return t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName)
               && !['checkbox', 'range', 'button'].includes(t.type));
}

export default function (component) {
  const { data, setStateValue, parentElement } = component;
  const root = parentElement;
  const d = data || {};
  if (root.__cp && root.__cp.aid === d.aid) {
    root.__cp.update(d);
    return root.__cp.cleanup;
  }
  if (root.__cp) root.__cp.cleanup();
  root.__cp = build(root, d, setStateValue);
  return root.__cp.cleanup;
}

function build(root, d, setStateValue) {
  const axes = d.axes || [];
  const slots = (d.slots || []).map((s) => s.label);
  const nFields = slots.length * axes.length;
  const fps = d.fps || 25;
  const minFrac = d.min_fraction || 0.95;
  const crop = d.crop || [1 / 3, 2 / 3, 2 / 3, 1];
  const draft = d.draft || {};
  const st = {
    scores: JSON.parse(JSON.stringify(draft.scores || {})),
    broken: Object.assign({}, draft.broken || {}),
    comments: Object.assign({}, draft.comments || {}),
    watched: JSON.parse(JSON.stringify(draft.watched || {})),
    focus: Math.max(0, Math.min(draft.focus || 0, nFields - 1)),
    playing: false, rate: 1, loopA: null, loopB: null, solo: null, zoom: {},
    submitN: 0, refusalN: (d.refusal && d.refusal.n) || 0, aspect: 1,
  };
  let saveTimer = null, raf = 0, lastFix = 0;

  // ---- DOM --------------------------------------------------------------------------------
  const box = el('div', 'cp', root);  // beside the component's own <style>, which must stay
  box.dataset.aid = String(d.aid);
  const bar = el('div', 'cp-bar', box);
  if (d.ref_src) {
    const ref = el('img', 'cp-ref', bar);
    ref.src = d.ref_src; ref.alt = 'Reference image'; ref.title = 'Reference image (hover to enlarge)';
  }
  const title = el('div', 'cp-title', bar);
  title.textContent = d.title || '';
  const btn = (label, tip, fn, cls) => {
    const b = el('button', 'cp-btn' + (cls ? ' ' + cls : ''), bar);
    b.type = 'button'; b.textContent = label; b.title = tip;
    b.addEventListener('click', (e) => { e.preventDefault(); fn(); b.blur(); });
    return b;
  };
  btn('◀|', 'Frame back (,)', () => step(-1));
  const playBtn = btn('▶', 'Play / pause all (Space, K)', () => toggle(), 'cp-play');
  btn('|▶', 'Frame forward (.)', () => step(1));
  const scrub = el('input', 'cp-scrub', bar);
  scrub.type = 'range'; scrub.min = '0'; scrub.max = '1000'; scrub.value = '0'; scrub.title = 'Scrub all';
  scrub.addEventListener('input', () => seekAll(Number(scrub.value) / 1000 * duration()));
  const clock = el('span', 'cp-time', bar);
  const speed = el('select', 'cp-speed', bar);
  speed.title = 'Speed (- / =)';
  for (const s of SPEEDS) {
    const o = el('option', '', speed); o.value = String(s); o.textContent = s + '×';
  }
  speed.value = '1';
  speed.addEventListener('change', () => { setRate(Number(speed.value)); speed.blur(); });
  const loopBtn = btn('⟲ loop', 'Loop: [ sets start, ] sets end, \\ clears', () => toggleLoop());
  btn('Submit ⏎', 'Submit and next clip (Enter)', () => submit(), 'cp-submit');
  const msg = el('div', 'cp-msg', box);
  msg.setAttribute('role', 'alert');
  msg.hidden = true;
  const grid = el('div', 'cp-grid', box);

  const cells = {}, videos = {}, fieldEls = [];
  (d.slots || []).forEach((s, si) => {
    const cell = el('div', 'cp-cell', grid);
    cell.dataset.slot = s.label;
    cell.addEventListener('contextmenu', (e) => e.preventDefault());  // no "Save video as..."
    const head = el('div', 'cp-head', cell);
    el('b', 'cp-label', head).textContent = s.label;
    const badge = el('span', 'cp-watch', head);
    const solo = el('button', 'cp-mini', head);
    solo.type = 'button'; solo.textContent = 'solo'; solo.title = 'Show this candidate alone (S)';
    solo.addEventListener('click', () => { setFocus(si * axes.length); toggleSolo(); });
    const zoom = el('button', 'cp-mini', head);
    zoom.type = 'button'; zoom.textContent = 'mouth'; zoom.title = 'Zoom on the mouth region (Z)';
    zoom.addEventListener('click', () => { setFocus(si * axes.length); toggleZoom(); });
    const vbox = el('div', 'cp-vbox', cell);
    const v = el('video', 'cp-video', vbox);
    v.muted = true; v.preload = 'auto'; v.playsInline = true; v.controls = false;
    v.setAttribute('controlslist', 'nodownload noplaybackrate noremoteplayback');
    v.disablePictureInPicture = true; v.disableRemotePlayback = true;
    v.src = s.src;
    v.addEventListener('click', () => { setFocus(si * axes.length); toggle(); });
    v.addEventListener('loadedmetadata', () => {
      if (v.videoWidth && v.videoHeight && si === 0) { st.aspect = v.videoWidth / v.videoHeight; layout(); }
      showTime();
    });
    v.addEventListener('timeupdate', () => watch(s.label, v));
    v.addEventListener('pause', () => watch(s.label, v, true));
    v.addEventListener('ended', () => { watch(s.label, v, true); if (v === master()) onEnded(); });
    videos[s.label] = v;
    axes.forEach((ax, ai) => {
      const f = el('div', 'cp-field', cell);
      f.dataset.slot = s.label; f.dataset.axis = ax.name;
      const lab = el('span', 'cp-axis', f);
      lab.textContent = ax.short; lab.title = ax.help || ax.short;
      for (let k = 1; k <= 5; k++) {
        const b = el('button', 'cp-score', f);
        b.type = 'button'; b.textContent = String(k); b.dataset.v = String(k);
        b.addEventListener('click', () => { setFocus(si * axes.length + ai); score(k, false); b.blur(); });
      }
      fieldEls.push(f);
    });
    const foot = el('div', 'cp-foot', cell);
    const com = el('input', 'cp-comment', foot);
    com.type = 'text'; com.maxLength = 500; com.placeholder = 'comment (optional)';
    com.value = st.comments[s.label] || '';
    com.addEventListener('input', () => { st.comments[s.label] = com.value; scheduleSave(); });
    com.addEventListener('keydown', (e) => { if (e.key === 'Escape' || e.key === 'Enter') com.blur(); });
    const brk = el('label', 'cp-broken', foot);
    const cb = el('input', '', brk);
    cb.type = 'checkbox'; cb.checked = !!st.broken[s.label];
    brk.appendChild(document.createTextNode(' broken'));
    brk.title = 'Broken video: does not play, black, corrupt (B)';
    cb.addEventListener('change', () => { setBroken(s.label, cb.checked); cb.blur(); });
    cells[s.label] = { cell, badge, cb, vbox, com };
  });

  // ---- state -> DOM -----------------------------------------------------------------------
  function paintField(i) {
    const f = fieldEls[i], slot = f.dataset.slot, val = (st.scores[slot] || {})[f.dataset.axis];
    for (const b of f.querySelectorAll('.cp-score')) b.classList.toggle('on', Number(b.dataset.v) === val);
    if (val) f.classList.remove('cp-missing');
  }
  function paintWatch(slot) {
    const w = st.watched[slot] || { frac: 0 }, ok = w.frac >= minFrac;
    const c = cells[slot];
    c.badge.textContent = ok ? 'watched' : Math.round(100 * w.frac) + '% watched';
    c.badge.classList.toggle('ok', ok);
    if (ok) c.cell.classList.remove('cp-unwatched');
  }
  function setFocus(i) {
    st.focus = Math.max(0, Math.min(i, nFields - 1));
    fieldEls.forEach((f, j) => f.classList.toggle('focused', j === st.focus));
    const slot = focusSlot();
    for (const s of slots) cells[s].cell.classList.toggle('focused', s === slot);
    box.dataset.focus = String(st.focus);
    box.dataset.focusSlot = slot || '';
    for (const s of slots) videos[s].muted = s !== slot;  // one audio source: the focused candidate
    scheduleSave();
  }
  function focusSlot() { return fieldEls.length ? fieldEls[st.focus].dataset.slot : null; }

  // ---- answers ----------------------------------------------------------------------------
  function score(k, advance) {
    const f = fieldEls[st.focus];
    if (!f) return;
    (st.scores[f.dataset.slot] = st.scores[f.dataset.slot] || {})[f.dataset.axis] = k;
    paintField(st.focus);
    setFocus(advance ? st.focus + 1 : st.focus);
  }
  function setBroken(slot, on) {
    if (on) st.broken[slot] = true; else delete st.broken[slot];
    cells[slot].cb.checked = !!on;
    if (on) cells[slot].cell.classList.remove('cp-unwatched');
    scheduleSave();
  }
  function watch(slot, v, force) {
    if (!v.duration || !isFinite(v.duration)) return;
    const secs = playedSeconds(v), frac = Math.min(1, secs / v.duration);
    const old = st.watched[slot] || { frac: 0, seconds: 0 };
    const crossed = old.frac < minFrac && frac >= minFrac;
    st.watched[slot] = { frac: Math.max(old.frac, frac), seconds: Math.max(old.seconds, secs) };
    if (crossed || force || Math.floor(frac * 10) > Math.floor(old.frac * 10)) { paintWatch(slot); scheduleSave(); }
  }
  function snapshot() {
    return { aid: d.aid, scores: st.scores, broken: st.broken, comments: st.comments,
             watched: st.watched, focus: st.focus };
  }
  function flush() {
    clearTimeout(saveTimer); saveTimer = null;
    setStateValue('draft', JSON.parse(JSON.stringify(snapshot())));
  }
  function scheduleSave() { clearTimeout(saveTimer); saveTimer = setTimeout(flush, SAVE_MS); }

  function missing() {
    const out = [];
    slots.forEach((slot, si) => {
      const names = axes.filter((ax) => !(st.scores[slot] || {})[ax.name]).map((ax) => ax.short);
      if (names.length) out.push({ text: slot + ': give ' + names.join(' and ') + '.', field: si * axes.length
        + axes.findIndex((ax) => !(st.scores[slot] || {})[ax.name]), slot });
      if (!st.broken[slot] && (st.watched[slot] || { frac: 0 }).frac < minFrac)
        out.push({ text: slot + ': play it to the end first (or mark it broken).', field: null, slot });
    });
    return out;
  }
  function refuse(lines, firstSlot, firstField) {
    msg.hidden = false;
    msg.className = 'cp-msg err';
    msg.textContent = 'Not submitted: ' + lines.join(' ');
    for (const f of fieldEls) f.classList.toggle('cp-missing', !(st.scores[f.dataset.slot] || {})[f.dataset.axis]);
    for (const s of slots)
      cells[s].cell.classList.toggle('cp-unwatched', !st.broken[s] && (st.watched[s] || { frac: 0 }).frac < minFrac);
    layout();  // the message took room above the grid
    if (firstField != null) setFocus(firstField);
    const target = firstField != null ? fieldEls[firstField] : (firstSlot ? cells[firstSlot].cell : null);
    // The message sits above the grid; bring both into view (the grid fits the viewport).
    box.scrollIntoView({ block: 'start' });
    if (target && target.getBoundingClientRect().bottom > window.innerHeight) target.scrollIntoView({ block: 'center' });
  }
  function submit() {
    const miss = missing();
    if (miss.length) {
      const first = miss.find((m) => m.field != null) || miss[0];
      refuse(miss.map((m) => m.text), first.slot, first.field);
      return;
    }
    msg.hidden = false; msg.className = 'cp-msg ok'; msg.textContent = 'Saving…';
    layout();
    pause();
    clearTimeout(saveTimer);
    setStateValue('submit', { aid: d.aid, n: ++st.submitN, draft: JSON.parse(JSON.stringify(snapshot())) });
  }

  // ---- one clock --------------------------------------------------------------------------
  const visible = () => slots.filter((s) => st.solo === null || s === st.solo).map((s) => videos[s]);
  function master() {
    const f = focusSlot();
    if (f && (st.solo === null || st.solo === f)) return videos[f];
    return visible()[0];
  }
  function duration() {
    let m = Infinity;
    for (const v of visible()) if (v.duration && isFinite(v.duration)) m = Math.min(m, v.duration);
    return isFinite(m) ? m : 0;
  }
  function seekAll(t) {
    const dur = duration();
    t = Math.max(0, dur ? Math.min(t, dur) : t);
    for (const s of slots) videos[s].currentTime = t;
    showTime(t);
  }
  function play() {
    const m = master();
    if (!m) return;
    const dur = duration();
    let t = m.currentTime;
    if (dur && t >= dur - 0.5 / fps) t = st.loopA != null ? st.loopA : 0;
    for (const v of visible()) { v.currentTime = t; v.playbackRate = st.rate; }
    st.playing = true; playBtn.textContent = '⏸';
    for (const v of visible()) { const p = v.play(); if (p && p.catch) p.catch(() => {}); }
    cancelAnimationFrame(raf); raf = requestAnimationFrame(tick);
  }
  function pause() {
    const m = master();
    st.playing = false; playBtn.textContent = '▶';
    cancelAnimationFrame(raf);
    for (const s of slots) videos[s].pause();
    if (m) seekAll(m.currentTime);  // every video shows the same frame when stopped
  }
  function toggle() { st.playing ? pause() : play(); }
  function step(n) {
    if (st.playing) pause();
    const m = master();
    if (!m) return;
    const frame = Math.floor(m.currentTime * fps + 1e-3) + n;  // the frame on screen at t is floor(t * fps)
    seekAll(frame / fps + 0.0001);  // a hair past the frame boundary shows that frame in every browser
  }
  function setRate(r) {
    st.rate = r; speed.value = String(r);
    for (const s of slots) videos[s].playbackRate = r;
  }
  function onEnded() {
    if (st.loopA != null) { seekAll(st.loopA); play(); return; }
    // Followers a frame or two behind play on to their own end (so they count as watched too).
    st.playing = false; playBtn.textContent = '▶';
    cancelAnimationFrame(raf);
    showTime();
  }
  function tick(now) {
    if (!st.playing) return;
    const m = master();
    const t = m.currentTime;
    if (st.loopB != null && t >= st.loopB) { seekAll(st.loopA || 0); play(); return; }
    if (now - lastFix > 100) {
      // Small drift: run the follower a little faster or slower (no visible jump); more than
      // three frames: jump it to the master's time (a seek stutters, but sync is what is judged).
      lastFix = now;
      for (const v of visible()) {
        if (v === m) continue;
        const drift = v.currentTime - t;
        if (Math.abs(drift) > 3 / fps) v.currentTime = t + 0.05 * st.rate;  // a seek lands a little late
        else if (Math.abs(drift) > 0.25 / fps) v.playbackRate = st.rate * (1 - Math.max(-0.25, Math.min(0.25, drift * 3)));
        else v.playbackRate = st.rate;
        if (v.paused && !m.paused && !v.ended) { const p = v.play(); if (p && p.catch) p.catch(() => {}); }
      }
    }
    showTime(t);
    raf = requestAnimationFrame(tick);
  }
  function showTime(t) {
    const m = master();
    if (t === undefined) t = m ? m.currentTime : 0;
    const dur = duration();
    clock.textContent = t.toFixed(2) + ' / ' + dur.toFixed(2) + ' s · frame ' + Math.floor(t * fps + 1e-6);
    if (dur && document.activeElement !== scrub) scrub.value = String(Math.round(1000 * t / dur));
  }
  function toggleLoop() {
    if (st.loopA != null || st.loopB != null) { st.loopA = st.loopB = null; }
    else { const m = master(); st.loopA = m ? m.currentTime : 0; }
    paintLoop();
  }
  function paintLoop() {
    const on = st.loopA != null;
    loopBtn.classList.toggle('on', on);
    loopBtn.textContent = on ? '⟲ ' + st.loopA.toFixed(2) + '–' + (st.loopB != null ? st.loopB.toFixed(2) : 'end') : '⟲ loop';
  }
  function toggleSolo() {
    const f = focusSlot();
    const wasPlaying = st.playing;
    if (wasPlaying) pause();
    st.solo = st.solo === f ? null : f;
    for (const s of slots) cells[s].cell.hidden = st.solo !== null && s !== st.solo;
    box.classList.toggle('solo', st.solo !== null);
    layout();
    if (wasPlaying) play();
  }
  function toggleZoom() {
    const f = focusSlot();
    if (!f) return;
    st.zoom[f] = !st.zoom[f];
    const v = videos[f];
    if (st.zoom[f]) {
      // Scale the crop box up to the frame and move its centre to the frame's centre.
      const [x0, y0, x1, y1] = crop, s = 1 / Math.max(x1 - x0, y1 - y0);
      const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
      v.style.transformOrigin = '0 0';
      v.style.transform = `translate(${(0.5 - s * cx) * 100}%, ${(0.5 - s * cy) * 100}%) scale(${s})`;
    } else v.style.transform = '';
    cells[f].cell.classList.toggle('zoomed', !!st.zoom[f]);
  }

  // ---- layout: the grid fills the viewport below its top edge -----------------------------
  function layout() {
    const shown = st.solo === null ? slots.length : 1;
    if (!shown) return;
    const W = grid.clientWidth || box.clientWidth || 800;
    const top = grid.getBoundingClientRect().top + window.scrollY;
    const H = Math.max(260, window.innerHeight - top - 8);
    const first = cells[slots[0]];
    const panel = first.cell.offsetHeight - first.vbox.offsetHeight || 110;
    const gap = 8, frame = 10;  // grid gap; a cell's border + padding
    let best = { h: 0, c: 1 };
    for (let c = 1; c <= shown; c++) {
      const r = Math.ceil(shown / c);
      const cellW = (W - gap * (c - 1)) / c - frame;
      if (cellW < PANEL_MIN_W && c > 1) break;
      const h = Math.min(cellW / st.aspect, (H - gap * (r - 1)) / r - panel);
      if (h > best.h) best = { h, c };
    }
    const h = Math.max(60, Math.floor(best.h));
    const w = Math.floor(h * st.aspect);
    grid.style.gridTemplateColumns = `repeat(${best.c}, ${Math.max(w, PANEL_MIN_W) + frame}px)`;
    for (const s of slots) { cells[s].vbox.style.height = h + 'px'; cells[s].vbox.style.width = w + 'px'; }
    box.dataset.cols = String(best.c);
  }

  // ---- keys -------------------------------------------------------------------------------
  function onKey(e) {
    // The real target: a document listener sees keys from inside the shadow root as coming from its host.
    const target = (e.composedPath && e.composedPath()[0]) || e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || typing(target)) return;
    const k = e.key;
    if (k >= '1' && k <= '5') score(Number(k), true);
    else if (k === 'Backspace' || k === 'ArrowLeft') setFocus(st.focus - 1);
    else if (k === 'ArrowRight' || k === 'Tab') setFocus(st.focus + 1);
    else if (k === 'ArrowUp') setFocus(st.focus - axes.length);
    else if (k === 'ArrowDown') setFocus(st.focus + axes.length);
    else if (k === 'b' || k === 'B') { const s = focusSlot(); if (s) setBroken(s, !st.broken[s]); }
    else if (k === 'Enter') submit();
    else if (k === ' ') toggle();
    else if (k === 'k' || k === 'K') pause();
    else if (k === 'l' || k === 'L') {
      if (st.playing) setRate(SPEEDS[Math.min(SPEEDS.length - 1, SPEEDS.indexOf(st.rate) + 1)]); else play();
    } else if (k === 'j' || k === 'J') { const m = master(); if (m) seekAll(m.currentTime - 1); }
    else if (k === ',') step(-1);
    else if (k === '.') step(1);
    else if (k === '-') setRate(SPEEDS[Math.max(0, SPEEDS.indexOf(st.rate) - 1)]);
    else if (k === '=' || k === '+') setRate(SPEEDS[Math.min(SPEEDS.length - 1, SPEEDS.indexOf(st.rate) + 1)]);
    else if (k === '[') { const m = master(); st.loopA = m ? m.currentTime : 0; if (st.loopB != null && st.loopB <= st.loopA) st.loopB = null; paintLoop(); }
    else if (k === ']') { const m = master(); if (m) { st.loopB = m.currentTime; if (st.loopA == null || st.loopA >= st.loopB) st.loopA = 0; } paintLoop(); }
    else if (k === '\\') { st.loopA = st.loopB = null; paintLoop(); }
    else if (k === 's' || k === 'S') toggleSolo();
    else if (k === 'z' || k === 'Z') toggleZoom();
    else if (k === 'Home') seekAll(0);
    else if (k === 'Escape') { if (st.solo !== null) toggleSolo(); }
    else return;
    e.preventDefault();
    e.stopPropagation();
    if (target && target.blur && target !== document.body) target.blur();
  }
  const onHide = () => { if (saveTimer) flush(); };
  document.addEventListener('keydown', onKey, true);
  window.addEventListener('resize', layout);
  document.addEventListener('visibilitychange', onHide);
  window.addEventListener('pagehide', onHide);

  // ---- start ------------------------------------------------------------------------------
  for (let i = 0; i < fieldEls.length; i++) paintField(i);
  for (const s of slots) paintWatch(s);
  setFocus(st.focus);
  clearTimeout(saveTimer); saveTimer = null;  // restoring is not a change
  layout();
  requestAnimationFrame(layout);  // once the page around it has its final size
  showTime(0);

  function update(nd) {
    const r = nd.refusal;
    if (r && r.n > st.refusalN) {
      st.refusalN = r.n;
      refuse(r.problems || [], r.slot || null, null);
    }
    if (nd.title) title.textContent = nd.title;
  }
  function cleanup() {
    clearTimeout(saveTimer);
    cancelAnimationFrame(raf);
    document.removeEventListener('keydown', onKey, true);
    window.removeEventListener('resize', layout);
    document.removeEventListener('visibilitychange', onHide);
    window.removeEventListener('pagehide', onHide);
    for (const s of slots) { videos[s].pause(); videos[s].removeAttribute('src'); videos[s].load(); }
    box.remove();
  }
  return { aid: d.aid, update, cleanup, state: st };
}

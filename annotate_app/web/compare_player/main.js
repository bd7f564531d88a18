// The comparison player of the clip page (an st.components.v2 component; plain ES modules, no build
// step). annotate_app/web/player.py mounts a small entry that imports this module from the app's
// own route; the modules beside it import one another by relative paths.
//
// All candidates of a clip in one grid sized to the viewport, on one clock (clock.js). The scores,
// broken flags, comments, watched fractions and the key focus live here, so a key press moves the
// focus outline at once, without a Streamlit rerun. Python gets the whole draft (debounced) as state
// `draft`, and `submit` when the annotator asks for it and nothing is missing (by the server's rule:
// rule.js). Python's data is read once per mount (the saved draft), except `refusal`, a server-side
// refusal to show. Keys: keys.js, one table.
//
// Trusted code: nothing from the data is ever written as HTML (textContent and attributes only).

import { SPEEDS, makeClock } from './clock.js';
import { el, playedSeconds, typing } from './dom.js';
import { actionFor, keyActions, keyHint } from './keys.js';
import { makeLayout } from './layout.js';
import { missing, unwatched, watchedEnough, watchedPercent } from './rule.js';
import { prefetch } from './prefetch.js';

const SAVE_MS = 250;

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

function initialState(d, nFields) {
  const draft = d.draft || {};
  return {
    scores: JSON.parse(JSON.stringify(draft.scores || {})),
    broken: Object.assign({}, draft.broken || {}),
    comments: Object.assign({}, draft.comments || {}),
    watched: JSON.parse(JSON.stringify(draft.watched || {})),
    focus: Math.max(0, Math.min(draft.focus || 0, nFields - 1)),
    playing: false, rate: 1, loopA: null, loopB: null, solo: null, zoom: {},
    submitN: 0, refusalN: (d.refusal && d.refusal.n) || 0, aspect: 1,
  };
}

// The bar above the grid: reference image, title, transport, speed, loop, submit.
function buildBar(p) {
  const { d, box } = p;
  const bar = el('div', 'cp-bar', box);
  if (d.ref_src) {
    const ref = el('img', 'cp-ref', bar);
    ref.src = d.ref_src; ref.alt = 'Reference image'; ref.title = 'Reference image (hover to enlarge)';
    ref.addEventListener('error', () => { ref.hidden = true; });  // nothing to compare with: the candidates still play
  }
  p.title = el('div', 'cp-title', bar);
  p.title.textContent = d.title || '';
  const btn = (label, tip, fn, cls) => {
    const b = el('button', 'cp-btn' + (cls ? ' ' + cls : ''), bar);
    b.type = 'button'; b.textContent = label; b.title = tip;
    b.addEventListener('click', (e) => { e.preventDefault(); fn(); b.blur(); });
    return b;
  };
  btn('◀|', `Frame back (${keyHint('frameBack')})`, () => p.step(-1));
  // The play/pause icon is drawn by player.css (U+23F8 is a missing glyph in Debian's fonts).
  p.playBtn = btn('', `Play / pause all (${keyHint('toggle', 'pause')})`, () => p.toggle(), 'cp-play');
  p.playBtn.dataset.state = 'paused'; p.playBtn.setAttribute('aria-label', 'Play / pause');
  btn('|▶', `Frame forward (${keyHint('frameForward')})`, () => p.step(1));
  const scrub = p.scrub = el('input', 'cp-scrub', bar);
  scrub.type = 'range'; scrub.min = '0'; scrub.max = '1000'; scrub.value = '0'; scrub.title = 'Scrub all';
  scrub.addEventListener('input', () => p.seekAll(Number(scrub.value) / 1000 * p.duration()));
  p.clock = el('span', 'cp-time', bar);
  const speed = p.speed = el('select', 'cp-speed', bar);
  speed.title = `Speed (${keyHint('slower')} / ${keyHint('faster')})`;
  for (const s of SPEEDS) {
    const o = el('option', '', speed); o.value = String(s); o.textContent = s + '×';
  }
  speed.value = '1';
  speed.addEventListener('change', () => { p.setRate(Number(speed.value)); speed.blur(); });
  p.loopBtn = btn('⟲ loop', `Loop: ${keyHint('loopStart')} sets start, ${keyHint('loopEnd')} sets end, `
                  + `${keyHint('loopClear')} clears`, () => p.toggleLoop());
  btn('Submit ⏎', `Submit and next clip (${keyHint('submit')})`, () => p.submit(), 'cp-submit');
}

// One cell per candidate: head (label, watched badge, solo, mouth), video, score fields, comment, broken.
function buildCell(p, s, si) {
  const { st, axes, grid } = p;
  const cell = el('div', 'cp-cell', grid);
  cell.dataset.slot = s.label;
  cell.addEventListener('contextmenu', (e) => e.preventDefault());  // no "Save video as..."
  const head = el('div', 'cp-head', cell);
  el('b', 'cp-label', head).textContent = s.label;
  const badge = el('span', 'cp-watch', head);
  const solo = el('button', 'cp-mini', head);
  solo.type = 'button'; solo.textContent = 'solo'; solo.title = `Show this candidate alone (${keyHint('solo')})`;
  solo.addEventListener('click', () => { p.setFocus(si * axes.length); p.toggleSolo(); });
  const zoom = el('button', 'cp-mini', head);
  zoom.type = 'button'; zoom.textContent = 'mouth'; zoom.title = `Zoom on the mouth region (${keyHint('zoom')})`;
  zoom.addEventListener('click', () => { p.setFocus(si * axes.length); p.toggleZoom(); });
  const vbox = el('div', 'cp-vbox', cell);
  const v = el('video', 'cp-video', vbox);
  // Per tile: "loading" until the video can play; "could not load" (no path, no reason) if it fails.
  const note = el('div', 'cp-note', vbox);
  note.setAttribute('role', 'status');
  note.textContent = 'loading…';
  v.muted = true; v.preload = 'auto'; v.playsInline = true; v.controls = false;
  v.setAttribute('controlslist', 'nodownload noplaybackrate noremoteplayback');
  v.disablePictureInPicture = true; v.disableRemotePlayback = true;
  v.src = s.src;
  v.addEventListener('click', () => { p.setFocus(si * axes.length); p.toggle(); });
  v.addEventListener('loadedmetadata', () => {
    if (v.videoWidth && v.videoHeight && !st.aspectSet) { st.aspectSet = true; st.aspect = v.videoWidth / v.videoHeight; p.layout(); }
    p.showTime();
  });
  const loaded = () => {
    if (p.failed[s.label] || v.readyState < 3) return;
    cell.classList.remove('cp-loading'); p.onReady(); p.tileReady();
  };
  v.addEventListener('canplay', loaded);
  v.addEventListener('canplaythrough', loaded);
  v.addEventListener('seeked', () => { if (v.readyState >= 3) p.onReady(); });
  v.addEventListener('error', () => p.fail(s.label));
  cell.classList.add('cp-loading');
  v.addEventListener('timeupdate', () => p.watch(s.label, v));
  v.addEventListener('pause', () => p.watch(s.label, v, true));
  v.addEventListener('ended', () => { p.watch(s.label, v, true); if (v === p.master()) p.onEnded(); });
  p.videos[s.label] = v;
  axes.forEach((ax, ai) => {
    const f = el('div', 'cp-field', cell);
    f.dataset.slot = s.label; f.dataset.axis = ax.name;
    const lab = el('span', 'cp-axis', f);
    lab.textContent = ax.short; lab.title = ax.help || ax.short;
    for (let k = 1; k <= 5; k++) {
      const b = el('button', 'cp-score', f);
      b.type = 'button'; b.textContent = String(k); b.dataset.v = String(k);
      b.title = k === 1 ? ax.low || ax.short + ' 1' : k === 5 ? ax.high || ax.short + ' 5' : `${ax.short} ${k}`;
      b.addEventListener('click', () => {
        b.blur();
        if (p.failed[s.label]) return;  // could not load: nothing to score
        p.setFocus(si * axes.length + ai); p.score(k, false);
      });
    }
    p.fieldEls.push(f);
  });
  const foot = el('div', 'cp-foot', cell);
  const com = el('input', 'cp-comment', foot);
  com.type = 'text'; com.maxLength = 500; com.placeholder = 'comment (optional)';
  com.value = st.comments[s.label] || '';
  com.addEventListener('input', () => { st.comments[s.label] = com.value; p.scheduleSave(); });
  com.addEventListener('keydown', (e) => { if (e.key === 'Escape' || e.key === 'Enter') com.blur(); });
  const brk = el('label', 'cp-broken', foot);
  const cb = el('input', '', brk);
  cb.type = 'checkbox'; cb.checked = !!st.broken[s.label];
  brk.appendChild(document.createTextNode(' broken'));
  brk.title = `Broken video: does not play, black, corrupt (${keyHint('broken')})`;
  cb.addEventListener('change', () => { p.setBroken(s.label, cb.checked); cb.blur(); });
  p.cells[s.label] = { cell, badge, cb, vbox, com, note };
}

function build(root, d, setStateValue) {
  const axes = d.axes || [];
  const slots = (d.slots || []).map((s) => s.label);
  const nFields = slots.length * axes.length;
  const rule = d.rule;
  const st = initialState(d, nFields);
  const p = {
    d, st, axes, slots, rule, SPEEDS, fps: d.fps || 25, crop: d.crop || [1 / 3, 2 / 3, 2 / 3, 1],
    crops: Object.fromEntries((d.slots || []).map((s) => [s.label, s.crop || d.crop || [1 / 3, 2 / 3, 2 / 3, 1]])),
    cells: {}, videos: {}, fieldEls: [], failed: {},
  };
  const { cells, videos, fieldEls } = p;
  let saveTimer = null;

  // ---- DOM --------------------------------------------------------------------------------
  const box = p.box = el('div', 'cp', root);  // beside the component's own <style>, which must stay
  box.dataset.aid = String(d.aid);
  buildBar(p);
  const msg = el('div', 'cp-msg', box);
  msg.setAttribute('role', 'alert');
  msg.hidden = true;
  p.grid = el('div', 'cp-grid', box);
  (d.slots || []).forEach((s, si) => buildCell(p, s, si));
  Object.assign(p, makeClock(p), makeLayout(p));

  // ---- state -> DOM -----------------------------------------------------------------------
  function paintField(i) {
    const f = fieldEls[i], slot = f.dataset.slot, val = (st.scores[slot] || {})[f.dataset.axis];
    for (const b of f.querySelectorAll('.cp-score')) b.classList.toggle('on', Number(b.dataset.v) === val);
    if (val) f.classList.remove('cp-missing');
  }
  function paintWatch(slot) {
    const w = st.watched[slot] || { frac: 0 }, ok = watchedEnough(rule, w.frac);
    const c = cells[slot];
    if (p.failed[slot]) { c.badge.textContent = 'could not load'; c.badge.classList.remove('ok'); return; }
    c.badge.textContent = ok ? 'watched' : watchedPercent(rule, w.frac) + '% watched';
    c.badge.classList.toggle('ok', ok);
    if (ok) c.cell.classList.remove('cp-unwatched');
  }
  function setFocus(i, dir) {
    i = Math.max(0, Math.min(i, nFields - 1));
    // A tile that could not load takes no keys: go on past it (the way the keys moved, else forward).
    const step = dir || (i >= st.focus ? 1 : -1);
    for (let n = 0; n < nFields && fieldEls[i] && p.failed[fieldEls[i].dataset.slot]; n++) {
      i += step;
      if (i < 0 || i >= nFields) { i = Math.max(0, Math.min(i, nFields - 1)); break; }
    }
    if (fieldEls[i] && p.failed[fieldEls[i].dataset.slot]) {  // nothing past it that way: try the other
      const j = fieldEls.findIndex((f) => !p.failed[f.dataset.slot]);
      if (j >= 0) i = j;
    }
    st.focus = i;
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
    if (!on && p.failed[slot]) return;  // a video that could not load stays reported
    if (on) st.broken[slot] = true; else delete st.broken[slot];
    cells[slot].cb.checked = !!on;
    if (on) cells[slot].cell.classList.remove('cp-unwatched');
    scheduleSave();
  }
  function watch(slot, v, force) {
    if (!v.duration || !isFinite(v.duration)) return;
    const secs = playedSeconds(v), frac = Math.min(1, secs / v.duration);
    const old = st.watched[slot] || { frac: 0, seconds: 0 };
    const crossed = !watchedEnough(rule, old.frac) && watchedEnough(rule, frac);
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

  function refuse(lines, firstSlot, firstField) {
    msg.hidden = false;
    msg.className = 'cp-msg err';
    msg.textContent = 'Not submitted: ' + lines.join(' ');
    for (const f of fieldEls) f.classList.toggle('cp-missing', !(st.scores[f.dataset.slot] || {})[f.dataset.axis]);
    for (const s of slots) cells[s].cell.classList.toggle('cp-unwatched', unwatched(p, s));
    p.layout();  // the message took room above the grid
    if (firstField != null) setFocus(firstField);
    const target = firstField != null ? fieldEls[firstField] : (firstSlot ? cells[firstSlot].cell : null);
    // The message sits above the grid; bring both into view (the grid fits the viewport).
    box.scrollIntoView({ block: 'start' });
    if (target && target.getBoundingClientRect().bottom > window.innerHeight) target.scrollIntoView({ block: 'center' });
  }
  function submit() {
    const miss = missing(p);
    if (miss.length) {
      const first = miss.find((m) => m.field != null) || miss[0];
      refuse(miss.map((m) => m.text), first.slot, first.field);
      return;
    }
    msg.hidden = false; msg.className = 'cp-msg ok'; msg.textContent = 'Saving…';
    p.layout();
    p.pause();
    clearTimeout(saveTimer);
    setStateValue('submit', { aid: d.aid, n: ++st.submitN, draft: JSON.parse(JSON.stringify(snapshot())) });
  }
  // A video that could not load (missing, refused, corrupt): a tile that says so, marked broken (so it
  // needs no scores and is reported), out of the clock. The browser's error names no file.
  function fail(slot) {
    if (p.failed[slot]) return;
    p.failed[slot] = true;
    const c = cells[slot], v = videos[slot];
    c.cell.classList.remove('cp-loading', 'cp-unwatched');
    c.cell.classList.add('cp-failed');
    c.note.textContent = 'Could not load this video. It is reported as broken and needs no scores.';
    v.pause(); v.removeAttribute('src'); v.load();
    c.cb.disabled = true;
    setBroken(slot, true);
    if (focusSlot() === slot) setFocus(st.focus, 1);  // the keys move on to a tile that plays
    paintWatch(slot);
    if (st.solo === slot) p.toggleSolo();
    p.onReady();  // a play waiting for this tile goes on without it
    p.tileReady();
    if (st.playing && !p.master()) p.pause();
  }
  // Once every tile has loaded or failed, load the next clip's videos into the browser's cache.
  function tileReady() {
    if (st.prefetched) return;
    if (slots.every((s) => p.failed[s] || !cells[s].cell.classList.contains('cp-loading'))) {
      st.prefetched = true;
      prefetch(d.prefetch || []);
    }
  }
  Object.assign(p, { setFocus, focusSlot, score, setBroken, watch, scheduleSave, submit, fail, tileReady });

  // ---- keys -------------------------------------------------------------------------------
  const actions = keyActions(p);
  function onKey(e) {
    // The real target: a document listener sees keys from inside the shadow root as coming from its host.
    const target = (e.composedPath && e.composedPath()[0]) || e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || typing(target)) return;
    const action = actionFor(e.key);
    if (!action) return;
    actions[action](e.key);
    e.preventDefault();
    e.stopPropagation();
    if (target && target.blur && target !== document.body) target.blur();
  }
  const onHide = () => { if (saveTimer) flush(); };
  const layout = p.layout;
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
  p.showTime(0);

  function update(nd) {
    const r = nd.refusal;
    if (r && r.n > st.refusalN) {
      st.refusalN = r.n;
      refuse(r.problems || [], r.slot || null, null);
    }
    if (nd.title) p.title.textContent = nd.title;
  }
  function cleanup() {
    clearTimeout(saveTimer);
    p.stopClock();
    document.removeEventListener('keydown', onKey, true);
    window.removeEventListener('resize', layout);
    document.removeEventListener('visibilitychange', onHide);
    window.removeEventListener('pagehide', onHide);
    for (const s of slots) { videos[s].pause(); videos[s].removeAttribute('src'); videos[s].load(); }
    box.remove();
  }
  return { aid: d.aid, update, cleanup, state: st };
}
